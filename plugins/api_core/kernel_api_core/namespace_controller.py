"""The namespace controller: empties a terminating namespace, then lets it go.

A deleted namespace keeps ``spec.finalizers: [kubernetes]`` and turns Terminating. The
controller follows namespaces through the shared informer; for a terminating one it deletes every
namespaced object in it, waits until none is left, then removes the ``kubernetes`` finalizer
through the ``finalize`` subresource, after which the registry removes the namespace. Like kube's
namespace controller it writes through the API (the loopback client, as system:apiserver), so
authorization, admission, validation and finalizers apply to its deletes.
"""

from __future__ import annotations

import logging

import trio

from kernel.apimachinery import status
from kernel.apimachinery.meta import Object
from kernel.context import ServerContext
from kernel.server.loopback import LoopbackClient

log = logging.getLogger("kernel_api_core.namespaces")

FINALIZER = "kubernetes"
RETRY = 0.5
USER_AGENT = "kernel/namespace-controller"


def _collections(context: ServerContext, namespace: str) -> list[str]:
    """The path of every namespaced resource's collection in ``namespace``."""
    paths = []
    for group, plural in context.resources():
        spec = context.store(group, plural).spec
        if spec.namespaced:
            root = "/api" if not group else "/apis"
            paths.append(f"{root}/{spec.group_version}/namespaces/{namespace}/{plural}")
    return paths


async def _remaining(context: ServerContext, client: LoopbackClient, namespace: str) -> int:
    """Delete what is left in ``namespace``; return how many objects are still there."""
    left = 0
    for collection in _collections(context, namespace):
        listed = await client.list(collection)
        for obj in listed["items"]:
            meta = obj["metadata"]
            left += 1
            if meta.get("deletionTimestamp"):
                continue  # waiting for its finalizers
            try:
                await client.delete(f"{collection}/{meta['name']}")
            except status.StatusError as error:
                if error.code not in (404, 409):
                    raise
    return left


async def finalize(context: ServerContext, name: str) -> None:
    client = context.loopback_client(USER_AGENT)
    while await _remaining(context, client, name):
        await trio.sleep(RETRY)
    path = f"/api/v1/namespaces/{name}"
    while True:  # client-go's RetryOnConflict: the PUT carries the read resourceVersion
        try:
            current = await client.get(path)
            spec = current.setdefault("spec", {})
            spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != FINALIZER]
            await client.update(f"{path}/finalize", current)
        except status.StatusError as error:
            if error.code == 409:
                continue
            if error.code != 404:
                raise
        break
    log.info("namespace %s finalized", name)


async def run(context: ServerContext) -> None:
    """Post-start hook: follow namespaces through the shared informer and return (ready at once).

    The informer lists and watches through the watch cache, relists after a 410 or a cache
    restart, and gives a new handler every current namespace as an add: so a namespace that
    was Terminating before the server started is finalized too, with no loop of our own.
    """
    in_progress: set[str] = set()

    def handle(obj: Object) -> None:  # plain: the informer's dispatcher must not wait on us
        meta, spec = obj["metadata"], obj.get("spec") or {}
        name = meta["name"]
        if meta.get("deletionTimestamp") and FINALIZER in (spec.get("finalizers") or []) \
                and name not in in_progress:
            in_progress.add(name)
            context.spawn(f"namespace-controller:{name}", _finalize_once, context, name,
                          in_progress)

    context.informer("", "namespaces").add_event_handler(
        on_add=handle, on_update=lambda old, new: handle(new))


async def _finalize_once(context: ServerContext, name: str, in_progress: set[str]) -> None:
    try:
        while True:
            try:
                await finalize(context, name)
                return
            except Exception:  # storage down, say: keep trying, the namespace stays Terminating
                log.exception("finalizing namespace %s failed; retrying", name)
                await trio.sleep(RETRY * 4)
    finally:
        in_progress.discard(name)
