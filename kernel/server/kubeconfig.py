"""The admin kubeconfig written by --write-kubeconfig (server URL, CA data, loopback token)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import msgspec


def render(server_url: str, ca_pem: bytes, token: str, name: str = "kernel") -> bytes:
    # JSON is YAML: kubectl and client libraries read it as a kubeconfig.
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {
            "server": server_url,
            "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": f"{name}-admin", "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
        "current-context": name,
        "preferences": {},
    }
    return msgspec.json.format(msgspec.json.encode(config), indent=2) + b"\n"


def write(path: str, content: bytes) -> None:
    """Write atomically with mode 0600: the file holds a cluster-admin token."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    os.replace(tmp, target)
