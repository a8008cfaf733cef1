"""The operator's handlers.

Two kinds of source, one reconciliation: a ConfigMap labelled
``greetings.example.kernel.dev/source=true`` (its ``data.name``) and a ``Greeting`` custom
resource (``example.kernel.dev/v1``, its ``spec.name``; the CRD is crd/greeting.yaml). Beside
each it keeps a ConfigMap ``<name>-greeting`` with ``greeting: Hello, <name>!``, owned by the
source (ownerReferences). Where the Greeting CRD is not installed kopf only warns that the
resource is not served, and the ConfigMap sources work alone.
"""

from __future__ import annotations

import os
from typing import Any

import kopf
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

RESOURCE = ("", "v1", "configmaps")  # group, version, plural
CUSTOM_RESOURCE = ("example.kernel.dev", "v1", "greetings")
SOURCE_LABEL = "greetings.example.kernel.dev/source"
LABELS = {SOURCE_LABEL: "true"}
CHILD_SUFFIX = "-greeting"
MANAGER = "sample-operator"


def source_fields(body: kopf.Body) -> dict[str, Any]:
    """What the greeting is made of: a ConfigMap's data, a Greeting's spec."""
    return dict((body.get("data") if body.get("kind") == "ConfigMap" else body.get("spec")) or {})


def render(name: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The child ConfigMap the source should have (pure, so tests can check it alone)."""
    who = fields.get("name") or "world"
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"{name}{CHILD_SUFFIX}",
                         "labels": {"app.kubernetes.io/managed-by": MANAGER}},
            "data": {"greeting": f"Hello, {who}!"}}


def core_v1() -> client.CoreV1Api:
    """A client from $KUBECONFIG when set (tests, a laptop), else the pod's service account."""
    configuration = client.Configuration()
    kubeconfig = os.environ.get("KUBECONFIG")
    if kubeconfig:
        config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    else:
        config.load_incluster_config(client_configuration=configuration)
    return client.CoreV1Api(client.ApiClient(configuration))


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    return kopf.login_with_kubeconfig(**kwargs) or kopf.login_with_service_account(**kwargs)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.peering.standalone = True  # one replica: no peering objects needed
    settings.persistence.finalizer = f"{MANAGER}/finalizer"
    memo.core_v1 = core_v1()


@kopf.on.resume(*CUSTOM_RESOURCE)
@kopf.on.create(*CUSTOM_RESOURCE)
@kopf.on.update(*CUSTOM_RESOURCE)
@kopf.on.resume(*RESOURCE, labels=LABELS)
@kopf.on.create(*RESOURCE, labels=LABELS)
@kopf.on.update(*RESOURCE, labels=LABELS)
def reconcile(body: kopf.Body, name: str, namespace: str, memo: kopf.Memo,
              logger: kopf.Logger, **_: Any) -> dict[str, str]:
    child = render(name, source_fields(body))
    kopf.adopt(child, owner=body)
    api: client.CoreV1Api = memo.core_v1
    try:
        api.create_namespaced_config_map(namespace, child)
        logger.info("created %s", child["metadata"]["name"])
    except ApiException as error:
        if error.status != 409:
            raise
        api.patch_namespaced_config_map(child["metadata"]["name"], namespace, child)
        logger.info("updated %s", child["metadata"]["name"])
    return {"child": child["metadata"]["name"]}
