"""The namespace controller: empties a terminating namespace, then lets it go.

A deleted namespace keeps ``spec.finalizers: [kubernetes]`` and turns Terminating. This loop
deletes every namespaced object in it, waits until none is left, then removes the ``kubernetes``
finalizer through the ``finalize`` subresource, after which the registry removes the namespace.
Like kube's namespace controller it writes through the API (the loopback client, as
system:apiserver), so authorization, admission, validation and finalizers apply to its deletes.
"""

from __future__ import annotations

import logging

import trio

from kernel.apimachinery import status
from kernel.apimachinery.registry import ListOptions
from kernel.context import ServerContext
from kernel.loopback import LoopbackClient

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
    """Post-start hook: start the controller loop in the background and return (ready at once)."""
    context.spawn("namespace-controller", _controller, context)


async def _controller(context: ServerContext) -> None:
    namespaces = context.store("", "namespaces")
    in_progress: set[str] = set()

    async def handle(obj, nursery) -> None:
        meta, spec = obj["metadata"], obj.get("spec") or {}
        name = meta["name"]
        if meta.get("deletionTimestamp") and FINALIZER in (spec.get("finalizers") or []) \
                and name not in in_progress:
            in_progress.add(name)
            nursery.start_soon(_finalize_once, context, name, in_progress)

    async with trio.open_nursery() as nursery:
        while True:
            listed = await namespaces.list("", ListOptions())
            for obj in listed.items:
                await handle(obj, nursery)
            try:
                async with namespaces.watch("", listed.revision, None) as events:
                    async for event in events:
                        if event.type in ("ADDED", "MODIFIED"):
                            await handle(event.object, nursery)
            except status.StatusError as error:
                log.info("namespace watch ended (%s); relisting", error.message)
            await trio.sleep(RETRY)


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
