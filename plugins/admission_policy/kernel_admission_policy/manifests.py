"""Static policies and bindings from a directory (kube's policy/manifest loader, the
``staticManifestsDir`` of ValidatingAdmissionPolicyConfiguration): in force from startup,
before and beside those of the API, and never stored.

Every ``.yaml``, ``.yml`` and ``.json`` file of the directory is read (YAML documents, or a
``List``); only admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy and
ValidatingAdmissionPolicyBinding are accepted, each name ending in ``.static.k8s.io`` and unique,
no paramKind or paramRef, and each binding's policy in the directory, as kube requires.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

API_VERSION = "admissionregistration.k8s.io/v1"
POLICY, BINDING = "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"
SUFFIX = ".static.k8s.io"
EXTENSIONS = (".yaml", ".yml", ".json")


def _documents(path: Path) -> Iterator[Mapping[str, Any]]:
    import yaml  # only a server given a manifests directory reads YAML here

    try:
        documents = list(yaml.safe_load_all(path.read_text()))
    except yaml.YAMLError as error:
        raise ValueError(f"error loading {path}: {error}") from None
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, dict):
            raise ValueError(f"error loading {path}: not an object")
        if document.get("kind") == "List" or str(document.get("kind", "")).endswith("List"):
            yield from (item for item in document.get("items") or () if isinstance(item, dict))
        else:
            yield document


def _check(obj: Mapping[str, Any], path: Path, seen: dict[str, str]) -> str:
    kind, name = obj.get("kind"), (obj.get("metadata") or {}).get("name") or ""
    if obj.get("apiVersion") != API_VERSION or kind not in (POLICY, BINDING):
        raise ValueError(f"error loading {path}: unrecognized resource type "
                         f"{obj.get('apiVersion')}, Kind={kind}")
    if not name.endswith(SUFFIX):
        raise ValueError(f"error loading {path}: {kind} name {name!r} must end with {SUFFIX!r}")
    if f"{kind}/{name}" in seen:
        raise ValueError(f"error loading {path}: {kind} {name!r} is also in {seen[f'{kind}/{name}']}")
    seen[f"{kind}/{name}"] = str(path)
    spec = obj.get("spec") or {}
    if kind == POLICY and spec.get("paramKind"):
        raise ValueError(f"{POLICY} {name!r}: spec.paramKind is not supported for static manifests")
    if kind == BINDING:
        policy = spec.get("policyName") or ""
        if not policy:
            raise ValueError(f"binding {name!r} must reference a policy (spec.policyName)")
        if not policy.endswith(SUFFIX):
            raise ValueError(f"binding {name!r}: spec.policyName {policy!r} must end with {SUFFIX!r}")
        if spec.get("paramRef"):
            raise ValueError(f"binding {name!r}: spec.paramRef is not supported for static manifests")
    return kind  # type: ignore[return-value]


def load(directory: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The directory's policies and bindings; ValueError with kube's reason when refused."""
    root = Path(directory)
    if not root.is_dir():
        raise ValueError(f"{directory} is not a directory")
    policies: list[dict[str, Any]] = []
    bindings: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for path in sorted(p for p in root.iterdir() if p.suffix in EXTENSIONS and p.is_file()):
        for obj in _documents(path):
            (policies if _check(obj, path, seen) == POLICY else bindings).append(dict(obj))
    names = {p["metadata"]["name"] for p in policies}
    for binding in bindings:
        policy = binding["spec"]["policyName"]
        if policy not in names:
            raise ValueError(f"binding {binding['metadata']['name']!r} references policy "
                             f"{policy!r} which does not exist in the manifest directory")
    return policies, bindings
