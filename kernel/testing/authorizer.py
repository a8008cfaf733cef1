"""The authorizer contract suite: what every ``kernel_authorizers`` component (mode) must do.

Subclass :class:`AuthorizerContract`, name the plugin and its mode, and give two fixtures::

    class TestMyAuthorizer(AuthorizerContract):
        plugin, mode = "authz_allowlist", "Allowlist"  # --plugins and --authorization-mode names

        @pytest.fixture
        def authorizer(self): ...                     # the instance under test
        @pytest.fixture
        def cases(self):                              # what it must decide, as Case objects
            return [Case(resource("jane", "get", "pods", namespace="dev"), Decision.ALLOW),
                    Case(resource("jane", "get", "pods", subresource="log"), Decision.NO_OPINION),
                    Case(non_resource("jane", "get", "/metrics"), Decision.DENY)]

and, if the mode needs flags (a policy file), a ``kernel_args`` fixture. The cases must include a
non-resource URL and a subresource. In-process the suite checks each decision, the chain
semantics around it (its Allow and Deny are final, its NoOpinion passes on) and concurrent calls;
then it runs ``kernel serve`` with the mode first in ``--authorization-mode`` and users from a
token file, and sends each case as an HTTP request: an Allow gets past authorization, anything
else is kube's 403 Status whose message carries the mode's reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
import trio

from kernel.authentication import ANONYMOUS, UserInfo
from kernel.authorization import Attributes, Authorizer, AuthorizerChain, Decision, forbidden_message
from kernel.testing import KernelProcess, start_kernel
from kernel.testing.suite import ContractSuite

#: Verbs a plain request expresses: (method, has a name). watch, bind, impersonate... are not sent.
RESOURCE_METHODS = {"get": ("GET", True), "list": ("GET", False), "create": ("POST", False),
                    "update": ("PUT", True), "patch": ("PATCH", True), "delete": ("DELETE", True),
                    "deletecollection": ("DELETE", False)}
NON_RESOURCE_METHODS = {"get": "GET", "post": "POST", "put": "PUT", "patch": "PATCH",
                        "delete": "DELETE"}


def resource(user: str | UserInfo, verb: str, resource: str, *, namespace: str = "",
             api_group: str = "", api_version: str = "v1", name: str = "",
             subresource: str = "") -> Attributes:
    """The attributes of a resource request (``user`` a name or a UserInfo with groups)."""
    info = user if isinstance(user, UserInfo) else UserInfo(user)
    return Attributes(info, verb, True, _path(namespace, api_group, api_version, resource, name,
                                              subresource), namespace, api_group, api_version,
                      resource, subresource, name)


def non_resource(user: str | UserInfo, verb: str, path: str) -> Attributes:
    """The attributes of a request for a non-resource URL (``/metrics``, ``/logs/...``)."""
    info = user if isinstance(user, UserInfo) else UserInfo(user)
    return Attributes(info, verb, False, path)


def _path(namespace: str, group: str, version: str, resource: str, name: str, sub: str) -> str:
    parts = ["/api/" + version if not group else f"/apis/{group}/{version}"]
    if namespace:
        parts.append(f"namespaces/{namespace}")
    parts += [p for p in (resource, name, sub) if p]
    return "/".join(parts)


@dataclass(frozen=True)
class Case:
    """A request and the decision the authorizer must give it."""

    attributes: Attributes
    decision: Decision


class _Fixed:
    """An authorizer that always decides the same: the neighbours in the chain tests."""

    def __init__(self, decision: Decision, reason: str = "") -> None:
        self.decision, self.reason = decision, reason

    async def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        return self.decision, self.reason


def _request_of(attributes: Attributes) -> tuple[str, str] | None:
    """The (method, path) that makes the server see ``attributes``; None if none does simply."""
    if not attributes.resource_request:
        method = NON_RESOURCE_METHODS.get(attributes.verb)
        return (method, attributes.path) if method else None
    found = RESOURCE_METHODS.get(attributes.verb)
    if found is None or found[1] != bool(attributes.name):
        return None
    return found[0], attributes.path


class AuthorizerContract(ContractSuite):
    """The contract of an authorizer (``async authorize(attributes) -> (Decision, reason)``)."""

    #: Its mode for ``--authorization-mode`` (``plugin`` is its --plugins name).
    mode = ""

    async def test_cases_cover_the_contract(self, cases: Sequence[Case]) -> None:
        assert any(not c.attributes.resource_request for c in cases), "add a non-resource URL case"
        assert any(c.attributes.subresource for c in cases), "add a subresource case"

    async def test_decisions(self, authorizer: Authorizer, cases: Sequence[Case]) -> None:
        for case in cases:
            decision, reason = await authorizer.authorize(case.attributes)
            assert isinstance(decision, Decision) and isinstance(reason, str), (decision, reason)
            assert decision is case.decision, (case, reason)

    async def test_in_a_chain_allow_and_deny_are_final_no_opinion_passes_on(
            self, authorizer: Authorizer, cases: Sequence[Case]) -> None:
        for case in cases:
            for follower in (Decision.ALLOW, Decision.DENY):
                chain = AuthorizerChain([(self.mode, authorizer), ("next", _Fixed(follower, "next"))],
                                        "system:masters")
                decision, _ = await chain.authorize(case.attributes)
                expected = follower if case.decision is Decision.NO_OPINION else case.decision
                assert decision is expected, (case, follower)
            # An earlier mode without an opinion hands the request on to this one.
            chain = AuthorizerChain([("first", _Fixed(Decision.NO_OPINION)), (self.mode, authorizer)],
                                    "system:masters")
            assert (await chain.authorize(case.attributes))[0] is case.decision, case

    async def test_concurrent_calls_get_their_own_decision(self, authorizer: Authorizer,
                                                           cases: Sequence[Case]) -> None:
        results: list[tuple[Decision, Decision]] = []

        async def one(case: Case) -> None:
            results.append((case.decision, (await authorizer.authorize(case.attributes))[0]))

        async with trio.open_nursery() as nursery:
            for _ in range(self.concurrency):
                for case in cases:
                    nursery.start_soon(one, case)
        assert len(results) == self.concurrency * len(cases)
        assert all(expected is got for expected, got in results), results

    @pytest.mark.parametrize("follower", ["", "AlwaysAllow"], ids=["alone", "then-AlwaysAllow"])
    async def test_server_enforces_the_decisions(
            self, tmp_path: Path, authorizer: Authorizer, cases: Sequence[Case], follower: str,
            kernel_args: Sequence[str], kernel_env: dict[str, str] | None) -> None:
        assert self.plugin and self.mode, "set `plugin` and `mode`"
        sendable = [c for c in cases if _request_of(c.attributes) is not None]
        assert sendable, "no case is a plain request (get, list, create, update, patch, delete)"
        tokens = _token_file(tmp_path / "tokens.csv", [c.attributes.user for c in sendable])
        modes = ",".join(filter(None, [self.mode, follower]))
        kernel = start_kernel(tmp_path / "contract-kernel",
                              f"--plugins=authn_token,storage_memory,{self.plugin}",
                              f"--token-auth-file={tmp_path / 'tokens.csv'}",
                              f"--authorization-mode={modes}", *kernel_args, env=kernel_env)
        try:
            for case in sendable:
                await self._check(kernel, authorizer, case, tokens, allowed_after=bool(follower))
        finally:
            kernel.stop()

    async def _check(self, kernel: KernelProcess, authorizer: Authorizer, case: Case,
                     tokens: dict[str, str], allowed_after: bool) -> None:
        method, path = _request_of(case.attributes)  # type: ignore[misc]
        token = tokens.get(case.attributes.user.name)
        body = b"{}" if method in ("POST", "PUT", "PATCH") else None
        content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
        with kernel.client(token=token, timeout=30) as client:
            response = client.request(method, path, content=body,
                                      headers={"Content-Type": content_type} if body else {})
        allowed = case.decision is Decision.ALLOW or (
            case.decision is Decision.NO_OPINION and allowed_after)
        if allowed:
            assert response.status_code != 403, f"{case} was not allowed: {response.text}"
            return
        _, reason = await authorizer.authorize(case.attributes)
        # The server adds system:authenticated; the message names only the user.
        expected = forbidden_message(msgspec.structs.replace(case.attributes, path=path), reason)
        status = response.json()
        assert (response.status_code, status.get("reason"), status.get("message")) == (
            403, "Forbidden", expected), f"{case} got {response.status_code} {response.text}"


def _token_file(path: Path, users: Sequence[UserInfo]) -> dict[str, str]:
    """One bearer token per user (anonymous sends none); kube's CSV with the user's groups."""
    tokens: dict[str, str] = {}
    lines = []
    for user in users:
        if user.name == ANONYMOUS or user.name in tokens:
            continue
        tokens[user.name] = f"contract-token-{len(tokens)}"
        groups = ",".join(g for g in user.groups if g != "system:authenticated")
        lines.append(f'{tokens[user.name]},{user.name},{user.uid or user.name},"{groups}"')
    path.write_text("\n".join(lines) + "\n")
    return tokens
