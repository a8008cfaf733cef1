"""The ``rbac/bootstrap-roles`` post-start hook (kube's storage_rbac.go PostStartHook): kube's
bootstrap policy created where missing and reconciled where present, through the loopback
client (so validation and admission apply), then waited for in the RBAC informers so that
/readyz passes only once the authorizer sees the policy."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import trio

from kernel.apimachinery.status import StatusError
from kernel.context import ServerContext
from kernel.server.loopback import LoopbackClient

from kernel_api_rbac import bootstrappolicy
from kernel_api_rbac.reconciliation import reconcile_binding, reconcile_role
from kernel_api_rbac.validation import GROUP

USER_AGENT = "kernel/rbac-bootstrap-roles"
PREFIX = f"/apis/{GROUP}/v1"
RETRY_FOR = 30.0  # kube retries the policy for 30 seconds before giving up
CONCURRENCY = 16
log = logging.getLogger("kernel_api_rbac.bootstrap")
Object = dict[str, Any]


def collection(plural: str, namespace: str = "") -> str:
    return f"{PREFIX}/namespaces/{namespace}/{plural}" if namespace else f"{PREFIX}/{plural}"


class PolicyWriter:
    """Ensures one object at a time; remembers the newest resourceVersion written per resource."""

    def __init__(self, client: LoopbackClient) -> None:
        self.client = client
        self.written: dict[str, int] = {}

    def _wrote(self, plural: str, obj: Any) -> None:
        rv = int(((obj or {}).get("metadata") or {}).get("resourceVersion") or 0)
        self.written[plural] = max(self.written.get(plural, 0), rv)

    async def _get(self, path: str) -> Object | None:
        try:
            return await self.client.get(path)
        except StatusError as error:
            if error.code == 404:
                return None
            raise

    async def listed(self, plural: str) -> dict[tuple[str, str], Object]:
        """Every object of ``plural`` there is, by namespace and name: one LIST per kind rather
        than a GET per object (a first start finds none, a restart all 135)."""
        return {(item["metadata"].get("namespace") or "", item["metadata"]["name"]): item
                for item in (await self.client.list(collection(plural)))["items"]}

    async def ensure(self, plural: str, expected: Object, binding: bool,
                     existing: Object | None) -> None:
        """Create ``expected``, or reconcile ``existing`` (listed before) with it."""
        meta = expected["metadata"]
        base = collection(plural, meta.get("namespace") or "")
        if existing is None:
            try:
                self._wrote(plural, await self.client.create(base, expected))
                return
            except StatusError as error:  # created since the LIST: another --workers process
                existing = await self._get(f"{base}/{meta['name']}") if error.code == 409 else None
                if existing is None:
                    raise
        else:  # a list's items carry no apiVersion and kind (a GET's would)
            existing = {"apiVersion": expected["apiVersion"], "kind": expected["kind"], **existing}
        if not binding:
            result = reconcile_role(existing, expected)
            operation = "update" if result is not None else "none"
        else:
            operation, result = reconcile_binding(existing, expected)
        if operation == "none":
            return
        if operation == "recreate":
            await self.client.delete(f"{base}/{meta['name']}")
            self._wrote(plural, await self.client.create(base, result))
        else:
            self._wrote(plural, await self.client.update(f"{base}/{meta['name']}", result))
        log.info("reconciled %s %s", plural, meta["name"])

    @staticmethod
    def up_to_date(expected: Object, binding: bool, existing: Object) -> bool:
        """Whether ``existing`` (listed before) already has all of ``expected``: no write."""
        if binding:
            return reconcile_binding(existing, expected)[0] == "none"
        return reconcile_role(existing, expected) is None

    async def ensure_namespace(self, namespace: str) -> None:
        """kube's tryEnsureNamespace: namespaced bootstrap roles need their namespace (read
        first, so a restart finds it without a write)."""
        await self.client.ensure("/api/v1/namespaces", {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})


async def ensure_policy(context: ServerContext, writer: PolicyWriter) -> None:
    """Namespaces first, then each kind in kube's order; the objects of one kind concurrently
    (they are independent; on etcd the round trips overlap)."""
    plan: list[tuple[str, Callable[[], list[Object]], bool]] = [
        ("clusterroles", bootstrappolicy.cluster_roles, False),
        ("clusterrolebindings", bootstrappolicy.cluster_role_bindings, True),
        ("roles", bootstrappolicy.namespaced_roles, False),
        ("rolebindings", bootstrappolicy.namespaced_role_bindings, True)]
    if ("", "namespaces") in context.resources():
        namespaces = {obj["metadata"]["namespace"] for _, objects, _ in plan for obj in objects()
                      if obj["metadata"].get("namespace")}
        for namespace in sorted(namespaces):
            await writer.ensure_namespace(namespace)
    limiter = trio.CapacityLimiter(CONCURRENCY)
    for plural, objects, binding in plan:
        errors: list[StatusError] = []
        existing = await writer.listed(plural)

        async def ensure(expected: Object) -> None:
            meta = expected["metadata"]
            async with limiter:
                try:
                    await writer.ensure(plural, expected, binding,
                                        existing.get((meta.get("namespace") or "", meta["name"])))
                except StatusError as error:  # kept, so one failure does not cancel the rest
                    errors.append(error)

        async with trio.open_nursery() as nursery:
            for expected in objects():
                meta = expected["metadata"]
                current = existing.get((meta.get("namespace") or "", meta["name"]))
                # A restart finds nearly all as written: decided here, without a task each.
                if current is None or not writer.up_to_date(expected, binding, current):
                    nursery.start_soon(ensure, expected)
        if errors:
            raise errors[0]


async def wait_observed(context: ServerContext, written: dict[str, int]) -> None:
    """Until every RBAC informer has seen the policy's writes."""
    for plural in ("clusterroles", "clusterrolebindings", "roles", "rolebindings"):
        informer = context.informer(GROUP, plural)
        await informer.wait_synced()
        while informer.revision < written.get(plural, 0):
            await trio.sleep(0.01)


async def bootstrap_roles(context: ServerContext) -> None:
    writer = PolicyWriter(context.loopback_client(USER_AGENT))
    with trio.move_on_after(RETRY_FOR) as scope:
        while True:
            try:
                await ensure_policy(context, writer)
                break
            except StatusError as error:  # a conflict with the aggregation controller, a race
                log.warning("unable to reconcile the RBAC bootstrap policy, retrying: %s", error)
                await trio.sleep(1)
    if scope.cancelled_caught:
        raise RuntimeError("unable to initialize the RBAC bootstrap policy within "
                           f"{RETRY_FOR:g}s (see the log)")
    await wait_observed(context, writer.written)
    log.info("RBAC bootstrap policy in place")
