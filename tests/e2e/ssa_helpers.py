"""Helpers for the server-side apply tests: apply requests, managedFields lookups and the
objects the merge-case table applies (a Deployment, a ConfigMap, a custom resource)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import trio
import yaml

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
RFC3339_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")  # metav1.Time on the wire


async def apply(client: httpx.AsyncClient, path: str, body: dict[str, Any] | str,
                manager: str | None, force: bool | None = None,
                dry_run: bool = False) -> httpx.Response:
    """PATCH ``path`` with an apply patch (YAML unless ``body`` is already text)."""
    params: dict[str, str] = {}
    if manager is not None:
        params["fieldManager"] = manager
    if force is not None:
        params["force"] = "true" if force else "false"
    if dry_run:
        params["dryRun"] = "All"
    text = body if isinstance(body, str) else yaml.safe_dump(body)
    return await client.patch(path, content=text, params=params,
                              headers={"Content-Type": APPLY})


async def applied(client: httpx.AsyncClient, path: str, body: dict[str, Any] | str,
                  manager: str, force: bool | None = None, code: int = 200) -> dict[str, Any]:
    """An apply that must succeed with ``code``; the object it answers."""
    response = await apply(client, path, body, manager, force)
    assert response.status_code == code, response.text
    return response.json()


async def patch(client: httpx.AsyncClient, path: str, body: Any, content_type: str,
                manager: str | None = None, **headers: str) -> dict[str, Any]:
    params = {"fieldManager": manager} if manager else {}
    response = await client.patch(path, content=json.dumps(body), params=params,
                                  headers={"Content-Type": content_type, **headers})
    assert response.status_code == 200, response.text
    return response.json()


def entry(obj: dict[str, Any], manager: str, operation: str = "Apply",
          subresource: str | None = None) -> dict[str, Any] | None:
    """The managedFields entry of ``manager`` for ``operation`` (and subresource), if any."""
    for item in obj["metadata"].get("managedFields") or []:
        if (item["manager"], item["operation"], item.get("subresource")) == (manager, operation, subresource):
            return item
    return None


def fields(obj: dict[str, Any], manager: str, operation: str = "Apply",
           subresource: str | None = None) -> dict[str, Any]:
    """The FieldsV1 of ``manager``'s entry; {} when it has none."""
    found = entry(obj, manager, operation, subresource)
    return found["fieldsV1"] if found else {}


def managers(obj: dict[str, Any]) -> set[tuple[str, str]]:
    return {(item["manager"], item["operation"]) for item in obj["metadata"].get("managedFields") or []}


def deployment(name: str, containers: list[dict[str, Any]] | None = None,
               **spec: Any) -> dict[str, Any]:
    """A complete apps/v1 Deployment (selector and template labels ``app: name``)."""
    template_spec = {"containers": containers or [{"name": "main", "image": "nginx"}]}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}}, **spec,
                     "template": {"metadata": {"labels": {"app": name}}, "spec": template_spec}}}


def partial_deployment(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A Deployment apply configuration holding only ``spec`` (what a second manager sends)."""
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def containers_spec(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"template": {"spec": {"containers": list(containers)}}}


def configmap(name: str, data: dict[str, str] | None = None, **metadata: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": name, **metadata}}
    if data is not None:
        body["data"] = data
    return body


def containers_of(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in obj["spec"]["template"]["spec"]["containers"]}


def container_fields(obj: dict[str, Any], manager: str, name: str) -> dict[str, Any] | None:
    """FieldsV1 of one container (``k:{"name":...}``) in ``manager``'s Apply entry."""
    spec = fields(obj, manager).get("f:spec", {}).get("f:template", {}).get("f:spec", {})
    return spec.get("f:containers", {}).get(f'k:{{"name":"{name}"}}')


# A CRD whose schema carries every merge extension the table checks.
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"
WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "properties": {"spec": {"type": "object", "properties": {
                     "items": {"type": "array", "x-kubernetes-list-type": "map",
                               "x-kubernetes-list-map-keys": ["name"],
                               "items": {"type": "object", "required": ["name"], "properties": {
                                   "name": {"type": "string"}, "size": {"type": "integer"}}}},
                     "tags": {"type": "array", "x-kubernetes-list-type": "set",
                              "items": {"type": "string"}},
                     "args": {"type": "array", "x-kubernetes-list-type": "atomic",
                              "items": {"type": "string"}},
                     "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                                  "additionalProperties": {"type": "string"}},
                     "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                 }}}}}}]}}


def widget(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


async def install_widgets(client: httpx.AsyncClient, guard: float) -> None:
    """Create the Widget CRD and wait until its custom resources are served."""
    response = await client.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                                 json=WIDGET_CRD)
    assert response.status_code == 201, response.text
    with trio.fail_after(guard):
        while (await client.get(WIDGETS)).status_code != 200:
            await trio.sleep(0.05)
