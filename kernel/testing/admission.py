"""The admission contract suite: what every ``kernel_admission_plugins`` component must do.

Subclass :class:`AdmissionContract`, name the plugin, and give two fixtures::

    class TestMyAdmission(AdmissionContract):
        plugin, name = "my_plugin", "MyAdmission"  # --plugins and --enable-admission-plugins names

        @pytest.fixture
        def admission(self): ...                   # the built plugin under test
        @pytest.fixture
        def cases(self):                           # attributes and what must come of them
            return [AdmissionCase(create("configmaps", "dev", cm), UNCHANGED),
                    AdmissionCase(create("configmaps", "dev", labelled), Mutated(expected)),
                    AdmissionCase(create("configmaps", "dev", bad), Refused("no bad labels"))]

and, if the server needs them, ``kernel_args`` / ``kernel_env`` fixtures. In-process the suite
checks the interfaces, ``handles()``, each outcome (through a real :class:`Admission` chain, also
as a dry run), that a later plugin sees the object this one leaves, and concurrent calls. Then it
runs ``kernel serve`` with the plugin in ``--enable-admission-plugins`` and sends each CREATE and
DELETE case (a DELETE's ``old_object`` is created first): a refusal is kube's 403 Forbidden Status
and stores nothing; a dry run is admitted the same way and stores nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio

from kernel.admission import (Admission, Attributes, GroupVersionKind, GroupVersionResource,
                              MutatingAdmission, Operation, ValidatingAdmission, options_object)
from kernel.apimachinery.status import StatusError
from kernel.authentication.user import UserInfo
from kernel.testing import start_kernel
from kernel.testing.suite import ContractSuite

OPERATIONS: tuple[Operation, ...] = ("CREATE", "UPDATE", "DELETE", "CONNECT")
_OPTIONS = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions",
            "CONNECT": "CreateOptions"}


@dataclass(frozen=True)
class Unchanged:
    """Admitted, the object as it came."""


@dataclass(frozen=True)
class Mutated:
    """Admitted, the object changed to ``object``."""

    object: dict[str, Any]


@dataclass(frozen=True)
class Refused:
    """Refused with kube's admission Forbidden; ``reason`` is the text after ``is forbidden: ``."""

    reason: str


UNCHANGED = Unchanged()
Outcome = Unchanged | Mutated | Refused


@dataclass(frozen=True)
class AdmissionCase:
    attributes: Attributes
    outcome: Outcome


def request(operation: Operation, resource: str, namespace: str, obj: dict[str, Any] | None, *,
            name: str = "", old: dict[str, Any] | None = None, group: str = "",
            version: str = "v1", kind: str = "", user: UserInfo | None = None,
            dry_run: bool = False) -> Attributes:
    """The attributes of one request (``name`` defaults to the object's)."""
    name = name or ((obj or old or {}).get("metadata") or {}).get("name", "")
    kind = kind or (obj or old or {}).get("kind", "")
    return Attributes(user or UserInfo("contract-user", groups=("system:authenticated",)),
                      operation, obj, old, options_object(_OPTIONS[operation], dry_run), dry_run,
                      GroupVersionKind(group, version, kind),
                      GroupVersionResource(group, version, resource), "", namespace, name)


def _copy(value: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value))


def _fresh(attributes: Attributes, dry_run: bool | None = None) -> Attributes:
    """Attributes with their own objects (so one run cannot leak into the next)."""
    copied = attributes.copied()
    if dry_run is None:
        return copied
    return msgspec.structs.replace(copied, dry_run=dry_run, options=options_object(
        _OPTIONS[attributes.operation], dry_run))


class _Later(MutatingAdmission, ValidatingAdmission):
    """A plugin after the one under test: records the object each phase hands on."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    def handles(self, operation: Operation) -> bool:
        return True

    async def admit(self, attributes: Attributes) -> None:
        self.seen["admit"] = _copy(attributes.object)

    async def validate(self, attributes: Attributes) -> None:
        self.seen["validate"] = _copy(attributes.object)


async def _run(plugin: object, attributes: Attributes, name: str = "plugin") -> StatusError | None:
    chain = Admission()
    chain.install([(name, plugin)])
    try:
        await chain(attributes)
    except StatusError as error:
        return error
    return None


def _assert_outcome(case: AdmissionCase, attributes: Attributes, error: StatusError | None) -> None:
    original = case.attributes.object
    match case.outcome:
        case Refused(reason):
            assert error is not None, f"{case} was admitted"
            _assert_forbidden(case.attributes, error.code, error.reason, error.message, reason)
        case Mutated(expected):
            assert error is None, f"{case} was refused: {error and error.message}"
            assert attributes.object == expected, (case, attributes.object)
        case _:
            assert error is None, f"{case} was refused: {error and error.message}"
            assert attributes.object == original, (case, attributes.object)


def _assert_forbidden(attributes: Attributes, code: int, reason: str, message: str,
                      expected_reason: str) -> None:
    name = attributes.name or ((attributes.object or {}).get("metadata") or {}).get("name", "")
    expected = f'{attributes.resource.qualified} "{name}" is forbidden: {expected_reason}'
    assert (code, reason, message) == (403, "Forbidden", expected), (code, reason, message)


class AdmissionContract(ContractSuite):
    """The contract of an admission plugin (``MutatingAdmission`` and/or ``ValidatingAdmission``)."""

    #: Its admission name for ``--enable-admission-plugins`` (``plugin`` is its --plugins name).
    name = ""

    async def test_implements_an_interface(self, admission: object) -> None:
        assert isinstance(admission, (MutatingAdmission, ValidatingAdmission)), (
            f"{admission!r} implements neither MutatingAdmission nor ValidatingAdmission")

    async def test_cases_cover_the_contract(self, cases: Sequence[AdmissionCase]) -> None:
        # A plugin that never refuses (a pure defaulter) has no refused case to give.
        assert any(not isinstance(c.outcome, Refused) for c in cases), "add an admitted case"

    async def test_handles_is_consistent(self, admission: Any, cases: Sequence[AdmissionCase]) -> None:
        for operation in OPERATIONS:
            answers = {admission.handles(operation) for _ in range(3)}
            assert answers in ({True}, {False}), (operation, answers)
        for case in cases:
            if not isinstance(case.outcome, Unchanged):
                assert admission.handles(case.attributes.operation), (
                    f"{case} expects the plugin to act but it does not handle "
                    f"{case.attributes.operation}")

    @pytest.mark.parametrize("dry_run", [False, True], ids=["request", "dry-run"])
    async def test_outcomes(self, admission: object, cases: Sequence[AdmissionCase],
                            dry_run: bool) -> None:
        for case in cases:
            attributes = _fresh(case.attributes, dry_run)
            _assert_outcome(case, attributes, await _run(admission, attributes, self.name))

    async def test_later_plugins_see_what_this_one_leaves(
            self, admission: object, cases: Sequence[AdmissionCase]) -> None:
        for case in cases:
            if isinstance(case.outcome, Refused) or case.attributes.object is None:
                continue
            later = _Later()
            chain = Admission()
            chain.install([(self.name, admission), ("Later", later)])
            attributes = _fresh(case.attributes)
            await chain(attributes)
            expected = (case.outcome.object if isinstance(case.outcome, Mutated)
                        else case.attributes.object)
            # A validating plugin's changes to its copy never reach the later validating plugin.
            assert later.seen.get("validate") == expected, (case, later.seen)
            if not isinstance(admission, MutatingAdmission):
                assert later.seen.get("admit") == case.attributes.object, (case, later.seen)

    async def test_concurrent_calls_get_their_own_outcome(
            self, admission: object, cases: Sequence[AdmissionCase]) -> None:
        failures: list[BaseException] = []
        done = 0

        async def one(case: AdmissionCase) -> None:
            nonlocal done
            attributes = _fresh(case.attributes)
            try:
                _assert_outcome(case, attributes, await _run(admission, attributes, self.name))
            except AssertionError as failure:
                failures.append(failure)
            done += 1

        async with trio.open_nursery() as nursery:
            for _ in range(self.concurrency):
                for case in cases:
                    nursery.start_soon(one, case)
        assert done == self.concurrency * len(cases)
        assert not failures, failures[:3]

    async def test_server_enforces_the_outcomes(
            self, tmp_path: Path, cases: Sequence[AdmissionCase], kernel_args: Sequence[str],
            kernel_env: dict[str, str] | None) -> None:
        assert self.plugin and self.name, "set `plugin` and `name`"
        sendable = [c for c in cases if _path(c.attributes) is not None]
        assert sendable, "no case is a CREATE (with an object) or DELETE the server can be sent"
        plugins = ",".join(dict.fromkeys(["api_core", "storage_memory", self.plugin]))
        kernel = start_kernel(tmp_path / "contract-kernel", f"--plugins={plugins}",
                              f"--enable-admission-plugins={self.name}", *kernel_args,
                              env=kernel_env)
        try:
            with kernel.client(timeout=30) as client:
                for case in sendable:
                    for dry_run in (True, False):
                        _send(client, case, dry_run)
        finally:
            kernel.stop()


def _path(attributes: Attributes) -> str | None:
    """The collection path of a CREATE with an object or a DELETE with an old object."""
    if attributes.operation not in ("CREATE", "DELETE") or attributes.subresource:
        return None
    if (attributes.object if attributes.operation == "CREATE" else attributes.old_object) is None:
        return None
    gvr = attributes.resource
    parts = ["/api/" + gvr.version if not gvr.group else f"/apis/{gvr.group}/{gvr.version}"]
    if attributes.namespace:
        parts.append(f"namespaces/{attributes.namespace}")
    parts.append(gvr.resource)
    return "/".join(parts)


def _send(client: Any, case: AdmissionCase, dry_run: bool) -> None:
    attributes = case.attributes
    collection = _path(attributes)
    assert collection is not None
    if attributes.namespace and attributes.resource.resource != "namespaces":
        client.post("/api/v1/namespaces", json={"metadata": {"name": attributes.namespace}})
    params = {"dryRun": "All"} if dry_run else {}
    item = f"{collection}/{attributes.name}"
    if attributes.operation == "DELETE":  # the object to delete (409 if it is there already)
        client.post(collection, json=attributes.old_object)
    if attributes.operation == "CREATE":
        response = client.post(collection, json=attributes.object, params=params)
        stored_after = not dry_run and not isinstance(case.outcome, Refused)
    else:
        stored_after = True if isinstance(case.outcome, Refused) or dry_run else None
        response = client.delete(item, params=params)
    tag = f"{case} ({'dry run' if dry_run else 'request'})"
    if isinstance(case.outcome, Refused):
        status = response.json()
        _assert_forbidden(attributes, response.status_code, status.get("reason"),
                          status.get("message"), case.outcome.reason)
    else:
        assert response.status_code < 300, f"{tag}: {response.status_code} {response.text}"
        if isinstance(case.outcome, Mutated) and attributes.operation == "CREATE":
            # The server adds metadata (uid, resourceVersion...): compare what the plugin owns.
            body, expected = response.json(), case.outcome.object
            for key in ("labels", "annotations"):
                want = (expected.get("metadata") or {}).get(key) or {}
                assert (body["metadata"].get(key) or {}) == want, (tag, key, body)
            for key, value in expected.items():
                if key != "metadata":
                    assert body.get(key) == value, (tag, key, body)
    if stored_after is None:  # a real DELETE: gone, or still terminating
        return
    found = client.get(item).status_code
    assert found == (200 if stored_after else 404), f"{tag}: GET {item} answered {found}"
    if stored_after and attributes.operation == "CREATE":
        client.delete(item)  # the next case may create the same name
