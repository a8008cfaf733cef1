"""Apply a directory of manifests before the tests start, as ``kubectl apply -f DIR`` would.

Order: Namespaces, then CustomResourceDefinitions (waited for until Established, so that their
resources are served), then everything else. An object that exists already is replaced.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

CRD_GROUP_VERSION = "apiextensions.k8s.io/v1"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
SUFFIXES = (".yaml", ".yml", ".json")
WAIT_TIMEOUT = 30.0


class ManifestError(Exception):
    """A manifest could not be read or applied; the message names the file and the object."""


def load(directories: Iterable[Path]) -> list[tuple[Path, dict[str, Any]]]:
    """Every object of every manifest file in the directories (sorted by name, recursively);
    ``List`` kinds are flattened."""
    objects: list[tuple[Path, dict[str, Any]]] = []
    for directory in directories:
        if not directory.is_dir():
            raise ManifestError(f"kernel manifests: {directory} is not a directory")
        for path in sorted(p for p in directory.rglob("*") if p.suffix in SUFFIXES):
            try:
                docs = list(yaml.safe_load_all(path.read_text()))
            except yaml.YAMLError as error:
                raise ManifestError(f"{path}: {error}") from error
            for doc in docs:
                if doc is None:
                    continue
                if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
                    raise ManifestError(f"{path}: not a Kubernetes object (apiVersion and kind)")
                items = doc.get("items", []) if doc["kind"].endswith("List") else [doc]
                objects += [(path, item) for item in items]
    return objects


def _rank(obj: dict[str, Any]) -> int:
    if obj["apiVersion"] == "v1" and obj["kind"] == "Namespace":
        return 0
    return 1 if obj["kind"] == "CustomResourceDefinition" else 2


def apply(client: Any, directories: Iterable[Path]) -> list[dict[str, Any]]:
    """Apply the manifests through ``client`` (an admin httpx.Client); returns what the server
    answered for each object, in the order applied."""
    objects = sorted(load(directories), key=lambda entry: _rank(entry[1]))
    mapper = RESTMapper(client)
    applied: list[dict[str, Any]] = []
    crds: list[str] = []
    for path, obj in objects:
        if _rank(obj) == 2 and crds:
            for name in crds:
                wait_established(client, name)
            crds = []
        applied.append(apply_object(client, mapper, path, obj))
        if obj["kind"] == "CustomResourceDefinition":
            crds.append(obj["metadata"]["name"])
            mapper.crd_groups.add(obj.get("spec", {}).get("group", ""))
    for name in crds:
        wait_established(client, name)
    return applied


def apply_object(client: Any, mapper: RESTMapper, path: Path, obj: dict[str, Any]) -> Any:
    """Create ``obj``, or replace it (with the stored resourceVersion) when it exists."""
    name = obj.get("metadata", {}).get("name", "")
    what = f"{path}: {obj['kind']} {name!r}"
    collection = mapper.collection(obj, what)
    response = client.post(collection, json=obj)
    if response.status_code == 409 and name:
        current = client.get(f"{collection}/{name}")
        if current.status_code == 200:
            obj = {**obj, "metadata": {**obj["metadata"],
                                       "resourceVersion": current.json()["metadata"]["resourceVersion"]}}
            response = client.put(f"{collection}/{name}", json=obj)
    if response.status_code >= 300:
        raise ManifestError(f"{what}: {response.status_code} {_message(response)}")
    return response.json()


def _message(response: Any) -> str:
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return str(response.text)


class RESTMapper:
    """kind → resource path, from the server's discovery (asked again for a group-version
    that was not served yet: a CRD's arrives once it is Established)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.resources: dict[str, list[dict[str, Any]]] = {}
        self.crd_groups: set[str] = set()  # groups of applied CRDs: worth waiting for

    def _discover(self, group_version: str) -> list[dict[str, Any]]:
        prefix = "/api" if group_version == "v1" else "/apis"
        deadline = time.monotonic() + WAIT_TIMEOUT
        while True:
            response = self.client.get(f"{prefix}/{group_version}")
            if response.status_code == 200:
                return list(response.json().get("resources", []))
            if response.status_code != 404 or group_version.split("/")[0] not in self.crd_groups \
                    or time.monotonic() > deadline:
                return []
            time.sleep(0.01)

    def collection(self, obj: dict[str, Any], what: str) -> str:
        group_version, kind = obj["apiVersion"], obj["kind"]
        if group_version not in self.resources:
            self.resources[group_version] = self._discover(group_version)
        found = [r for r in self.resources[group_version] if r["kind"] == kind and "/" not in r["name"]]
        if not found:
            hint = (" (CustomResourceDefinitions need the api_apiextensions plugin: install "
                    "kernel-api-apiextensions and add it to kernel_plugins)"
                    if group_version == CRD_GROUP_VERSION else "")
            raise ManifestError(f"{what}: the server does not serve kind {kind} in "
                                f"{group_version}{hint}")
        prefix = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        if found[0].get("namespaced"):
            namespace = obj.get("metadata", {}).get("namespace") or "default"
            return f"{prefix}/namespaces/{namespace}/{found[0]['name']}"
        return f"{prefix}/{found[0]['name']}"


def established(crd: dict[str, Any]) -> bool:
    conditions = crd.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def wait_established(client: Any, name: str, timeout: float = WAIT_TIMEOUT) -> dict[str, Any]:
    """Poll the CRD until its Established condition is True; its conditions in the error."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"{CRD_PATH}/{name}")
        crd = response.json() if response.status_code == 200 else {}
        if established(crd):
            return crd
        if time.monotonic() > deadline:
            conditions = crd.get("status", {}).get("conditions") or _message(response)
            raise ManifestError(f"CustomResourceDefinition {name!r} not Established after "
                                f"{timeout:.0f}s: {conditions}")
        time.sleep(0.01)
