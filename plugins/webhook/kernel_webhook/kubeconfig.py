"""A webhook's kubeconfig file (kube's ``--*-webhook-config-file`` flags): where the webhook is
and how to reach it. Shared by the authorization, token authentication and audit webhooks.

As kube's (client-go clientcmd) for a webhook: the current context's cluster (``server``,
``certificate-authority`` / ``-data``, ``insecure-skip-tls-verify``, ``tls-server-name``) and
user (``client-certificate`` / ``-data``, ``client-key`` / ``-data``, ``token`` /
``tokenFile``); without a current context, the file's only cluster and user. Relative paths are
relative to the kubeconfig's folder. Requests go to the exact ``server`` URL.
"""

from __future__ import annotations

import base64
import ssl
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec


class KubeconfigError(ValueError):
    """The file cannot be used; the message says why."""


class ClientConfig(msgspec.Struct, frozen=True):
    server: str
    ca_pem: str = ""  # empty: the system's trust store
    insecure: bool = False
    server_name: str = ""
    cert_pem: bytes = b""
    key_pem: bytes = b""
    token: str = ""

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.ca_pem or None)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert_pem:
            # load_cert_chain reads files only: hand it private temporary copies.
            with tempfile.TemporaryDirectory(prefix="webhook-client-") as folder:
                cert, key = Path(folder, "client.crt"), Path(folder, "client.key")
                cert.write_bytes(self.cert_pem)
                key.write_bytes(self.key_pem)
                context.load_cert_chain(cert, key)
        return context


def _named(items: Any, name: str, what: str) -> Mapping[str, Any]:
    for item in items or ():
        if isinstance(item, Mapping) and item.get("name") == name:
            return item.get(what) or {}
    raise KubeconfigError(f'{what} "{name}" not found')


def _only(items: Any, what: str) -> Mapping[str, Any]:
    items = [i for i in items or () if isinstance(i, Mapping)]
    if len(items) != 1:
        raise KubeconfigError(f"no current-context and {len(items)} {what}s: set current-context")
    return items[0].get(what) or {}


def _bytes(section: Mapping[str, Any], key: str, base: Path) -> bytes:
    data = section.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(data, validate=True)
        except ValueError:
            raise KubeconfigError(f"{key}-data: not valid base64") from None
    path = section.get(key)
    if not path:
        return b""
    try:
        return (base / path).read_bytes()
    except OSError as error:
        raise KubeconfigError(f"{key}: {base / path}: {error.strerror or error}") from None


def _sections(document: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    current = document.get("current-context")
    if current:
        context = _named(document.get("contexts"), current, "context")
        cluster = _named(document.get("clusters"), context.get("cluster", ""), "cluster")
        user_name = context.get("user")
        user = _named(document.get("users"), user_name, "user") if user_name else {}
        return cluster, user
    cluster = _only(document.get("clusters"), "cluster")
    user = _only(document.get("users"), "user") if document.get("users") else {}
    return cluster, user


def load(path: str) -> ClientConfig:
    import yaml  # only a server configured with a webhook kubeconfig reads YAML here

    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise KubeconfigError(f"{path}: {error.strerror or error}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise KubeconfigError(f"{path}: not a kubeconfig: {error}") from None
    if not isinstance(document, Mapping):
        raise KubeconfigError(f"{path}: not a kubeconfig (expected a YAML object)")
    try:
        return _client_config(document, Path(path).resolve().parent)
    except KubeconfigError as error:
        raise KubeconfigError(f"{path}: {error}") from None


def _client_config(document: Mapping[str, Any], base: Path) -> ClientConfig:
    cluster, user = _sections(document)
    server = cluster.get("server") or ""
    parts = urlsplit(server)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise KubeconfigError(f'cluster server "{server}" is not an https:// URL')
    cert, key = _bytes(user, "client-certificate", base), _bytes(user, "client-key", base)
    if bool(cert) != bool(key):
        raise KubeconfigError("client-certificate and client-key must be given together")
    token = user.get("token") or ""
    if not token and user.get("tokenFile"):
        token = _bytes({"tokenFile": user["tokenFile"]}, "tokenFile", base).decode().strip()
    config = ClientConfig(server=server, ca_pem=_bytes(cluster, "certificate-authority", base).decode(),
                          insecure=bool(cluster.get("insecure-skip-tls-verify")),
                          server_name=cluster.get("tls-server-name") or "",
                          cert_pem=cert, key_pem=key, token=token)
    try:
        config.ssl_context()
    except (ssl.SSLError, ValueError, OSError) as error:
        raise KubeconfigError(f"TLS configuration: {error}") from None
    return config
