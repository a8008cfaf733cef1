"""The authenticator contract suite: what every ``kernel_authenticators`` component must do.

Subclass :class:`AuthenticatorContract` and give it the plugin's name and four fixtures::

    class TestMyAuthenticator(AuthenticatorContract):
        plugin = "authn_apikey"                       # the name --plugins selects it by

        @pytest.fixture
        def authenticator(self): ...                  # the instance under test
        @pytest.fixture
        def credentials(self): ...                    # valid Credentials, two users at least
        @pytest.fixture
        def bad_credential(self): ...                 # one of its kind that it must reject
        @pytest.fixture
        def kernel_args(self): ...                    # flags that make a server accept them

Half the suite calls the authenticator in-process (through the kernel's real authentication filter
and chain); the other half runs ``kernel serve`` with the plugin selected and asks
``selfsubjectreviews`` who the server thinks the caller is, so TLS client certificates work too.
"""

from __future__ import annotations

import itertools
import re
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trio

from kernel.authentication import ANONYMOUS, AuthenticationError, Authenticator, AuthenticatorChain
from kernel.server.filters.authentication import with_authentication
from kernel.endpoints.request import Request
from kernel.testing import KernelProcess, start_kernel
from kernel.testing.suite import ContractSuite

WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
#: kube's body for a request that failed authentication (clients match on reason and code).
UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?", re.S)


@dataclass(frozen=True)
class Credential:
    """What a client presents: headers and/or a TLS client certificate, and who it is."""

    user: str = ""  # the user name it authenticates as; ignored for a bad credential
    headers: Mapping[str, str] = field(default_factory=dict)
    client_cert: tuple[str, str] | None = None  # (certificate file, key file), PEM

    def request(self, send: Any = None) -> Request:
        """The request as the kernel's filters get it from the HTTP server."""
        scope: dict[str, Any] = {
            "type": "http", "method": "GET", "path": "/api", "query_string": b"",
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1"))
                        for k, v in self.headers.items()]}
        if self.client_cert is not None:
            chain = PEM_BLOCK.findall(Path(self.client_cert[0]).read_text())
            scope["extensions"] = {"tls": {"client_cert_chain": chain}}
        return Request(scope, _never, send or _never)

    def client(self, kernel: KernelProcess, **kwargs: Any) -> Any:
        """An httpx.AsyncClient to ``kernel`` presenting this credential (and nothing else)."""
        import httpx

        context = ssl.create_default_context(cafile=kernel.ca_file)
        if self.client_cert is not None:
            context.load_cert_chain(*self.client_cert)
        return httpx.AsyncClient(base_url=kernel.url, verify=context, headers=dict(self.headers),
                                 **kwargs)


async def _never(*args: Any) -> Any:
    raise AssertionError("the authenticator must not read the body or answer the request")


class _Recorder:
    """The handler behind the authentication filter: keeps what it was handed."""

    def __init__(self) -> None:
        self.seen: list[Request] = []

    async def __call__(self, request: Request) -> None:
        self.seen.append(request)


async def _whoami(client: Any) -> tuple[int, Any]:
    response = await client.post(WHOAMI, json=REVIEW)
    return response.status_code, response.json()


class AuthenticatorContract(ContractSuite):
    """The contract of an authenticator (``async authenticate(request) -> UserInfo | None``).

    ``plugin`` is its --plugins name (the suite adds api_authentication and storage_memory);
    ``kernel_args`` must give the flags that make a server accept the credentials.
    """

    #: Concurrent authentications in the concurrency tests.
    concurrency = 40

    @pytest.fixture
    def contract_kernel(self, tmp_path: Path, kernel_args: Sequence[str],
                        kernel_env: dict[str, str] | None) -> Any:
        assert self.plugin, "set `plugin` to the name --plugins selects the plugin by"
        kernel = start_kernel(tmp_path / "contract-kernel",
                              f"--plugins=api_authentication,storage_memory,{self.plugin}",
                              "--anonymous-auth=true", "--authorization-mode=AlwaysAllow",
                              *kernel_args, env=kernel_env)
        yield kernel
        kernel.stop()

    # --- in-process -------------------------------------------------------------------------

    async def test_fixtures_are_usable(self, credentials: Sequence[Credential],
                                       bad_credential: Credential) -> None:
        assert len({c.user for c in credentials}) >= 2, "give credentials of two users at least"
        assert all(c.headers or c.client_cert for c in (*credentials, bad_credential))

    async def test_valid_credentials_authenticate(self, authenticator: Authenticator,
                                                  credentials: Sequence[Credential]) -> None:
        for credential in credentials:
            user = await authenticator.authenticate(credential.request())
            assert user is not None and user.name == credential.user, (credential, user)

    async def test_no_credential_is_none(self, authenticator: Authenticator) -> None:
        assert await authenticator.authenticate(Credential().request()) is None

    @pytest.fixture
    def foreign_credentials(self) -> Sequence[Credential]:
        """Credentials of other kinds, which must pass on (``None``); override for a Basic-auth
        authenticator."""
        return [Credential(headers={"Authorization": "Basic Y29udHJhY3Q6c3VpdGU="})]

    async def test_credentials_of_other_kinds_are_none(
            self, authenticator: Authenticator, foreign_credentials: Sequence[Credential]) -> None:
        for credential in foreign_credentials:
            assert await authenticator.authenticate(credential.request()) is None, credential

    async def test_bad_credential_is_never_a_user(self, authenticator: Authenticator,
                                                  bad_credential: Credential) -> None:
        try:
            user = await authenticator.authenticate(bad_credential.request())
        except AuthenticationError:
            user = None
        assert user is None
        # Behind it, in the kernel's chain, the anonymous authenticator is never reached.
        chain = AuthenticatorChain([(self.plugin, authenticator)], anonymous=_Anonymous())
        with pytest.raises(AuthenticationError):
            await chain.authenticate(bad_credential.request())

    async def test_handler_never_sees_the_credential(self, authenticator: Authenticator,
                                                     credentials: Sequence[Credential],
                                                     bad_credential: Credential) -> None:
        recorder = _Recorder()
        handler = with_authentication(recorder, AuthenticatorChain([(self.plugin, authenticator)], None))
        for credential in credentials:
            await handler(credential.request())
        assert [r.user.name for r in recorder.seen] == [c.user for c in credentials]
        for request, credential in zip(recorder.seen, credentials):
            secrets = [v for v in credential.headers.values() if v]
            visible = [*request.headers.values(), *(v.decode("latin-1") for _, v in request.scope["headers"])]
            leaked = [s for s in secrets if any(s in v for v in visible)]
            assert not leaked, f"the handler can read the credential: {leaked}"
        # A bad credential is answered by the filter (401); the handler never runs.
        sent = _Sent()
        await handler(bad_credential.request(sent))
        assert len(recorder.seen) == len(credentials) and sent.status == 401

    async def test_concurrent_authentications_get_their_own_user(
            self, authenticator: Authenticator, credentials: Sequence[Credential]) -> None:
        results: list[tuple[str, str | None]] = []

        async def one(credential: Credential) -> None:
            user = await authenticator.authenticate(credential.request())
            results.append((credential.user, user and user.name))

        async with trio.open_nursery() as nursery:
            for credential in itertools.islice(itertools.cycle(credentials), self.concurrency):
                nursery.start_soon(one, credential)
        assert len(results) == self.concurrency
        assert all(expected == got for expected, got in results), results

    # --- through a real server --------------------------------------------------------------

    async def test_server_answers_a_bad_credential_401_not_anonymous(
            self, contract_kernel: KernelProcess, bad_credential: Credential) -> None:
        async with Credential().client(contract_kernel) as client:  # anonymous auth is on ...
            code, body = await _whoami(client)
            assert (code, body["status"]["userInfo"]["username"]) == (201, ANONYMOUS), body
        async with bad_credential.client(contract_kernel) as client:  # ... and never reached
            for _ in range(2):
                code, body = await _whoami(client)
                assert (code, body) == (401, UNAUTHORIZED)

    async def test_server_concurrent_users_and_no_leak_to_the_log(
            self, contract_kernel: KernelProcess, credentials: Sequence[Credential]) -> None:
        clients = [c.client(contract_kernel, timeout=30) for c in credentials]
        results: list[tuple[str, int, str]] = []

        async def one(index: int) -> None:
            code, body = await _whoami(clients[index])
            results.append((credentials[index].user, code,
                            body.get("status", {}).get("userInfo", {}).get("username", "")))

        try:
            async with trio.open_nursery() as nursery:
                for index in itertools.islice(itertools.cycle(range(len(credentials))), self.concurrency):
                    nursery.start_soon(one, index)
        finally:
            for client in clients:
                await client.aclose()
        assert sorted(results) == sorted((user, 201, user) for user, _, _ in results)
        log = contract_kernel.log()
        leaked = [v for c in credentials for v in c.headers.values() if v and v in log]
        assert not leaked, f"the server log holds credentials: {leaked}"


class _Anonymous:
    async def authenticate(self, request: Request) -> Any:
        from kernel.authentication import UNAUTHENTICATED, UserInfo
        return UserInfo(ANONYMOUS, groups=(UNAUTHENTICATED,))


class _Sent:
    """The ASGI send of a request the filter answers: keeps the status."""

    def __init__(self) -> None:
        self.status = 0

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
