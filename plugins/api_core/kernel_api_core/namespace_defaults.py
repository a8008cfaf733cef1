"""Two kube-controller-manager controllers that put an object into every namespace:

- the service-account controller: a ``default`` ServiceAccount (pods run as it unless told
  otherwise; ServiceAccount admission looks it up);
- the root-CA publisher: a ConfigMap ``kube-root-ca.crt`` whose ``ca.crt`` is the CA bundle
  clients should trust for this server (the token volume projects it into pods).

Each follows namespaces and its own kind through the shared informers and recreates (or, for the
ConfigMap, restores) its object when it is deleted or changed. A single worker per controller
drains a queue of namespace names, as kube's workqueue does, so a burst of events for one
namespace costs one reconcile at a time. Writes go through the loopback client, so admission
(NamespaceLifecycle refuses new content in a terminating namespace) applies.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import msgspec
import trio

from kernel.apimachinery import status
from kernel.apimachinery.meta import Object
from kernel.context import ServerContext
from kernel.server.certs import trust_anchor_pem

log = logging.getLogger("kernel_api_core.namespace_defaults")

RETRY = 1.0


class PerNamespace(msgspec.Struct, frozen=True):
    """One object every active namespace must hold."""
    resource: str  # core v1 plural
    name: str
    user_agent: str
    desired: Callable[[str], Object]  # namespace -> the object to create
    # (current, desired) -> the object to write back, or None when current is fine
    repair: Callable[[Object, Object], Object | None] = lambda current, desired: None


async def _reconcile(client: Any, want: PerNamespace, namespace: str) -> None:
    collection = f"/api/v1/namespaces/{namespace}/{want.resource}"
    desired = want.desired(namespace)
    try:
        current = await client.get(f"{collection}/{want.name}")
    except status.StatusError as error:
        if error.code != 404:
            raise
        current = None
    try:
        if current is None:
            await client.create(collection, desired)
        elif (repaired := want.repair(current, desired)) is not None:
            await client.update(f"{collection}/{want.name}", repaired)
    except status.StatusError as error:
        # 409: created or changed meanwhile (the informer brings it back to us if it matters);
        # 403/404: the namespace is terminating or gone.
        if error.code not in (403, 404, 409):
            raise


async def run_controller(context: ServerContext, want: PerNamespace) -> None:
    """Post-start hook: register on the informers, start the worker, return."""
    send, receive = trio.open_memory_channel[str](math.inf)
    namespaces = context.informer("", "namespaces")

    def active(namespace: str) -> bool:
        obj = namespaces.get(namespace)
        return obj is not None and not obj["metadata"].get("deletionTimestamp")

    def on_namespace(obj: Object) -> None:
        if not obj["metadata"].get("deletionTimestamp"):
            send.send_nowait(obj["metadata"]["name"])

    def on_object(obj: Object) -> None:
        meta = obj["metadata"]
        if meta["name"] == want.name and active(meta.get("namespace", "")):
            send.send_nowait(meta["namespace"])

    namespaces.add_event_handler(on_add=on_namespace, on_update=lambda old, new: on_namespace(new))
    # only the objects of that name: an informer of the whole resource would keep every
    # configmap of the cluster decoded in memory
    context.informer("", want.resource, want.name).add_event_handler(
        on_update=lambda old, new: on_object(new), on_delete=on_object)

    async def worker() -> None:
        client = context.loopback_client(want.user_agent)
        async for namespace in receive:
            if not active(namespace):
                continue
            try:
                await _reconcile(client, want, namespace)
            except Exception:  # storage down, say: try that namespace again later
                log.exception("%s: reconciling namespace %s failed; retrying", want.user_agent,
                              namespace)
                await trio.sleep(RETRY)
                send.send_nowait(namespace)

    context.spawn(want.user_agent, worker)


DEFAULT_SERVICE_ACCOUNT = PerNamespace(
    resource="serviceaccounts", name="default", user_agent="kernel/serviceaccount-controller",
    desired=lambda namespace: {"apiVersion": "v1", "kind": "ServiceAccount",
                               "metadata": {"name": "default", "namespace": namespace}})

ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
# kube's publisher marks the ConfigMap so that tooling can tell it is managed
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using "
               "internal endpoints such as the internal service IP or kubernetes.default.svc. No "
               "other usage is guaranteed across distributions of Kubernetes clusters.")


def root_ca(pem: str) -> PerNamespace:
    def desired(namespace: str) -> Object:
        return {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": ROOT_CA_CONFIGMAP, "namespace": namespace,
                             "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                "data": {"ca.crt": pem}}

    def repair(current: Object, want: Object) -> Object | None:
        # as kube: the data is ours; other annotations and binaryData are left alone
        annotations = current["metadata"].get("annotations") or {}
        if current.get("data") == want["data"] and annotations.get(DESCRIPTION_ANNOTATION):
            return None
        metadata = {**current["metadata"],
                    "annotations": {**annotations, DESCRIPTION_ANNOTATION: DESCRIPTION}}
        return {**current, "metadata": metadata, "data": want["data"]}

    return PerNamespace(resource="configmaps", name=ROOT_CA_CONFIGMAP,
                        user_agent="kernel/root-ca-cert-publisher", desired=desired, repair=repair)


async def run_serviceaccount_controller(context: ServerContext) -> None:
    await run_controller(context, DEFAULT_SERVICE_ACCOUNT)


async def run_root_ca_publisher(context: ServerContext) -> None:
    pem = trust_anchor_pem(context.options.serving).decode()
    await run_controller(context, root_ca(pem))
