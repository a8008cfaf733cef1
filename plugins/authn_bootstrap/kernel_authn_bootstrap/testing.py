"""Bootstrap token secrets for tests.

    secret = token_secret("abcdef", "0123456789abcdef", extra_groups="system:bootstrappers:nodes")
    kernel.kubectl("create", "-f", "-", input=json.dumps(secret))
    headers = {"Authorization": "Bearer abcdef.0123456789abcdef"}

:class:`StaticSecrets` stands in for the secrets informer when the authenticator runs in process
(it has the informer's ``get``, ``has_synced`` and ``wait_synced``).
"""

from __future__ import annotations

import base64
from typing import Any

from kernel_authn_bootstrap import secrets


def token_secret(token_id: str, token_secret_value: str, *, usage: str | None = "true",
                 expiration: str = "", extra_groups: str = "", type_: str = secrets.SECRET_TYPE,
                 **metadata: Any) -> dict[str, Any]:
    """The Secret of a bootstrap token as kubeadm writes it (``usage`` None: the key is left out)."""
    data = {secrets.TOKEN_ID_KEY: token_id, secrets.TOKEN_SECRET_KEY: token_secret_value}
    if usage is not None:
        data[secrets.USAGE_AUTHENTICATION_KEY] = usage
    if expiration:
        data[secrets.EXPIRATION_KEY] = expiration
    if extra_groups:
        data[secrets.EXTRA_GROUPS_KEY] = extra_groups
    return {"apiVersion": "v1", "kind": "Secret", "type": type_,
            "metadata": {"name": secrets.SECRET_PREFIX + token_id, "namespace": secrets.NAMESPACE,
                         **metadata},
            "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}}


class StaticSecrets:
    """Fixed secrets, read as the authenticator reads the informer."""

    has_synced = True

    def __init__(self, *items: dict[str, Any]) -> None:
        self.items = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in items}

    def get(self, name: str, namespace: str = "") -> Any:
        return self.items.get((namespace, name))

    async def wait_synced(self) -> None:
        return None
