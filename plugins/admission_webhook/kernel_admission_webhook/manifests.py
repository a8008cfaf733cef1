"""Webhook configurations from files (kube 1.36's ``staticManifestsDir`` of the WebhookAdmission
configuration, ManifestBasedAdmissionControlConfig): MutatingWebhookConfigurations and
ValidatingWebhookConfigurations in ``*.yaml``/``*.yml``/``*.json`` files of a directory, read once
at startup. Their webhooks run before those stored through the API, also for the admission
configuration resources the API ones never see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kernel_admission_webhook.accessor import Hook, hooks_of

KINDS = {"MutatingWebhookConfiguration": True, "ValidatingWebhookConfiguration": False}
API_VERSION = "admissionregistration.k8s.io/v1"


def _documents(path: Path) -> list[Any]:
    import yaml  # only a server given a manifests directory reads YAML here

    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    items = []
    for doc in documents:
        items += doc.get("items") or [] if isinstance(doc, dict) and doc.get("kind", "").endswith("List") else [doc]
    return items


def load(directory: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The configuration objects in ``directory``'s files (sorted by file name), and the errors."""
    root = Path(directory)
    if not root.is_dir():
        return [], [f"{directory}: not a directory"]
    import yaml

    found, errors = [], []
    for path in sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml", ".json")):
        try:
            documents = _documents(path)
        except (OSError, yaml.YAMLError) as error:
            errors.append(f"{path}: {error}")
            continue
        for doc in documents:
            if not isinstance(doc, dict) or doc.get("kind") not in KINDS or doc.get("apiVersion") != API_VERSION:
                errors.append(f"{path}: only {API_VERSION} MutatingWebhookConfiguration and "
                              "ValidatingWebhookConfiguration objects are allowed")
            elif not (doc.get("metadata") or {}).get("name"):
                errors.append(f"{path}: metadata.name is required")
            else:
                found.append(doc)
    return found, errors


def static_hooks(directory: str, mutating: bool) -> list[Hook]:
    """The webhooks of one kind, configurations in name order as the API ones are."""
    if not directory:
        return []
    configurations, _ = load(directory)
    chosen = sorted((c for c in configurations if KINDS[c["kind"]] is mutating), key=lambda c: c["metadata"]["name"])
    return [hook for configuration in chosen for hook in hooks_of(configuration, mutating)]
