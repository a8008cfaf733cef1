"""ServiceAccount admission (kube's plugin of that name): a pod runs as a service account that
exists, and gets that account's API credentials mounted unless it or the account opts out.

On pod CREATE (mirror pods excepted, as in kube) it defaults ``spec.serviceAccountName`` to
``default``, refuses a pod whose service account does not exist, adds the projected
``kube-api-access-<random>`` volume (bound token, root CA, namespace) and mounts it read-only at
the well-known path in every container and init container that does not mount that path already,
and copies the account's imagePullSecrets to a pod that has none.
"""

from __future__ import annotations

import random
from typing import Any

import trio

from kernel.admission import Attributes, Operation
from kernel.apimachinery import status
from kernel.context import ServerContext

DEFAULT_SERVICE_ACCOUNT = "default"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
VOLUME_PREFIX = "kube-api-access-"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
TOKEN_EXPIRATION_SECONDS = 3607  # kube's default: one hour plus a little, so kubelet refreshes early
DEFAULT_MODE = 0o644
# kube's names.SimpleNameGenerator alphabet: no vowels (no words), no confusable characters
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# The service-account controller may not have created ``default`` in a brand-new namespace yet:
# kube looks ``default`` up 10 times, 100-200 ms apart, before refusing.
DEFAULT_ATTEMPTS = 10


def token_volume(name: str) -> dict[str, Any]:
    return {"name": name, "projected": {
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
            {"configMap": {"name": ROOT_CA_CONFIGMAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ],
        "defaultMode": DEFAULT_MODE}}


def should_automount(pod_spec: dict[str, Any], account: dict[str, Any]) -> bool:
    """The pod's ``automountServiceAccountToken`` wins; unset, the account's; unset, true."""
    if pod_spec.get("automountServiceAccountToken") is not None:
        return bool(pod_spec["automountServiceAccountToken"])
    if account.get("automountServiceAccountToken") is not None:
        return bool(account["automountServiceAccountToken"])
    return True


def mount_token(pod_spec: dict[str, Any]) -> None:
    """Mount the token volume (an existing ``kube-api-access-*`` one, else a new one) into every
    container and init container that does not mount the well-known path; add the volume only
    if some container needed it."""
    volumes = pod_spec.get("volumes") or []
    existing = next((v["name"] for v in volumes if v.get("name", "").startswith(VOLUME_PREFIX)), None)
    name = existing or VOLUME_PREFIX + "".join(random.choices(_NAME_ALPHABET, k=5))
    needed = False
    for key in ("initContainers", "containers"):
        for container in pod_spec.get(key) or []:
            mounts = container.get("volumeMounts") or []
            if not any(m.get("mountPath") == MOUNT_PATH for m in mounts):
                container["volumeMounts"] = [*mounts, {"name": name, "readOnly": True,
                                                       "mountPath": MOUNT_PATH}]
                needed = True
    if needed and existing is None:
        pod_spec["volumes"] = [*volumes, token_volume(name)]


class ServiceAccountAdmission:
    """Mutating only: kube's Validate re-checks what Admit already enforced on CREATE (an
    account name is set and the account exists), which cannot fail after this admit ran."""

    def __init__(self, context: ServerContext) -> None:
        self.context = context

    def handles(self, operation: Operation) -> bool:
        return operation == "CREATE"

    async def admit(self, attributes: Attributes) -> None:
        resource = attributes.resource
        if resource.group != "" or resource.resource != "pods" or attributes.subresource:
            return
        pod = attributes.object or {}
        if MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {}):
            return  # static pods mirrored by the kubelet are left as they are
        spec = pod.setdefault("spec", {})
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = DEFAULT_SERVICE_ACCOUNT
        name = spec["serviceAccountName"]
        account = await self._lookup(attributes.namespace, name)
        if account is None:
            raise attributes.forbidden(f"error looking up service account {attributes.namespace}/"
                                       f'{name}: serviceaccount "{name}" not found')
        if should_automount(spec, account):
            mount_token(spec)
        if not spec.get("imagePullSecrets") and account.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [{"name": s["name"]} for s in account["imagePullSecrets"]
                                        if s.get("name")]

    async def _lookup(self, namespace: str, name: str) -> dict[str, Any] | None:
        store = self.context.store("", "serviceaccounts")
        attempts = DEFAULT_ATTEMPTS if name == DEFAULT_SERVICE_ACCOUNT else 1
        for attempt in range(attempts):
            if attempt:
                await trio.sleep(random.uniform(0.1, 0.2))
            try:
                return await store.get(namespace, name)
            except status.StatusError as error:
                if error.code != 404:
                    raise
        return None
