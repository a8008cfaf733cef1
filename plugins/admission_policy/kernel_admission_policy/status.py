"""The ValidatingAdmissionPolicy status controller (kube's
pkg/controller/validatingadmissionpolicystatus): for a policy whose ``metadata.generation`` is
past ``status.observedGeneration``, type-check its expressions and write
``status.observedGeneration`` and ``status.typeChecking.expressionWarnings`` through /status."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import trio

from kernel.apimachinery.status import StatusError
from kernel.context import ServerContext

from .source import GROUP, POLICIES
from .typechecking import KindSchema, check

CONTROLLER_NAME = "validatingadmissionpolicy-status-controller"
MERGE_PATCH = "application/merge-patch+json"
log = logging.getLogger("kernel.admission.policy.status")


class Schemas:
    """The served kinds' schemas, looked up by resource or by kind."""

    def __init__(self, context: ServerContext) -> None:
        self.context = context

    def _find(self, group: str, version: str, match: Any) -> KindSchema | None:
        for store_group, resource in self.context.resources():
            if store_group != group:
                continue
            spec = self.context.store(store_group, resource).spec
            if spec.version == version and match(spec):
                return KindSchema(spec.group, spec.version, spec.kind, spec.schema_name,
                                  spec.schemas or {})
        return None

    def kind_for(self, group: str, version: str, resource: str) -> KindSchema | None:
        return self._find(group, version, lambda spec: spec.plural == resource)

    def schema_for(self, group: str, version: str, kind: str) -> KindSchema | None:
        return self._find(group, version, lambda spec: spec.kind == kind)


async def reconcile(context: ServerContext, schemas: Schemas, policy: Mapping[str, Any]) -> None:
    meta = policy.get("metadata") or {}
    generation = int(meta.get("generation") or 0)
    if generation <= int((policy.get("status") or {}).get("observedGeneration") or 0):
        return
    warnings = check(policy, schemas.kind_for, schemas.schema_for)
    body = {"status": {"observedGeneration": generation,
                       "typeChecking": {"expressionWarnings": warnings or None}}}
    client = context.loopback_client(user_agent=CONTROLLER_NAME)
    path = f"/apis/{GROUP}/v1/{POLICIES}/{meta['name']}/status"
    try:
        await client.patch(path, body, content_type=MERGE_PATCH,
                           params={"fieldManager": CONTROLLER_NAME})
    except StatusError as error:
        if error.code != 404:  # deleted meanwhile: nothing to report
            log.warning("%s: status of %s: %s", CONTROLLER_NAME, meta["name"], error.message)


async def run_status_controller(context: ServerContext) -> None:
    """Post-start hook: start the controller (if the policies are served) and return."""
    try:
        policies = context.informer(GROUP, POLICIES)
    except KeyError:
        return
    schemas = Schemas(context)
    queue_send, queue_receive = trio.open_memory_channel[Mapping[str, Any]](1000)

    def enqueue(*objects: Mapping[str, Any]) -> None:
        try:
            queue_send.send_nowait(objects[-1])
        except trio.WouldBlock:
            log.warning("%s: queue full, %s skipped", CONTROLLER_NAME,
                        objects[-1]["metadata"]["name"])

    async def work() -> None:
        async for policy in queue_receive:
            current = policies.get(policy["metadata"]["name"]) or policy
            try:
                await reconcile(context, schemas, current)
            except Exception:  # one policy's failure must not stop the controller
                log.exception("%s: reconciling %s", CONTROLLER_NAME, current["metadata"]["name"])

    policies.add_event_handler(on_add=enqueue, on_update=enqueue)
    context.spawn(CONTROLLER_NAME, work)
