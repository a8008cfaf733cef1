"""The namespace controller: empties a terminating namespace, then lets it go.

A deleted namespace keeps ``spec.finalizers: [kubernetes]`` and turns Terminating. This loop
deletes every namespaced object in it (through the registries, so admission and finalizers
apply), waits until none is left, then removes the ``kubernetes`` finalizer through the
``finalize`` subresource, after which the registry removes the namespace.
"""

from __future__ import annotations

import logging

import trio

from kernel.apimachinery import status
from kernel.apimachinery.registry import ListOptions
from kernel.authentication import APISERVER_USER, MASTERS, UserInfo
from kernel.context import ServerContext

log = logging.getLogger("kernel_api_core.namespaces")

CONTROLLER = UserInfo(APISERVER_USER, "", (MASTERS,))
FINALIZER = "kubernetes"
RETRY = 0.5


async def _remaining(context: ServerContext, namespace: str) -> int:
    """Delete what is left in ``namespace``; return how many objects are still there."""
    left = 0
    for group, plural in context.resources():
        store = context.store(group, plural)
        if not store.spec.namespaced:
            continue
        listed = await store.list(namespace, ListOptions())
        for obj in listed.items:
            meta = obj["metadata"]
            left += 1
            if meta.get("deletionTimestamp"):
                continue  # waiting for its finalizers
            try:
                await store.delete(namespace, meta["name"], CONTROLLER)
            except status.StatusError as error:
                if error.code not in (404, 409):
                    raise
    return left


async def finalize(context: ServerContext, name: str) -> None:
    namespaces = context.store("", "namespaces")
    while await _remaining(context, name):
        await trio.sleep(RETRY)

    def drop_finalizer(current):
        spec = current.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != FINALIZER]
        return current

    try:
        await namespaces.update("", name, drop_finalizer, CONTROLLER, subresource="finalize")
    except status.StatusError as error:
        if error.code != 404:
            raise
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
