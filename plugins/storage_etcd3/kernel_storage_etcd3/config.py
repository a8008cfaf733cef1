"""The etcd connection settings: kube's --etcd-* flags parsed into a config, and the choice of
endpoint among --etcd-servers (failover to the next after a connection failure).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import msgspec

DEFAULT_PREFIX = "/registry"
DEFAULT_COMPACTION_INTERVAL = 300.0
DEFAULT_HEALTHCHECK_TIMEOUT = 2.0
DEFAULT_READYCHECK_TIMEOUT = 2.0
DEFAULT_REQUEST_TIMEOUT = 60.0

class Server(msgspec.Struct, frozen=True):
    """One --etcd-servers entry."""

    secure: bool
    host: str
    port: int

    @property
    def endpoint(self) -> str:
        """``host:port`` (an IPv6 host in brackets), as errors and metrics name an endpoint."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.endpoint}"


def parse_server(text: str) -> Server:
    """``http://host:port``, ``https://host:port`` or ``host:port`` (plain http); ValueError if not."""
    url = text.strip()
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{text}: the scheme must be http or https")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{text}: expected scheme://host:port")
    try:
        port = parts.port
    except ValueError as error:
        raise ValueError(f"{text}: {error}") from None
    if not parts.hostname:
        raise ValueError(f"{text}: no host")
    return Server(parts.scheme == "https", parts.hostname, port or 2379)


def normalize_prefix(prefix: str) -> str:
    """The key root for --etcd-prefix, as kube joins it: ``registry`` and ``/registry/`` give
    ``/registry``; ``/`` gives the empty root (keys ``/configmaps/...``)."""
    return "/" + prefix.strip("/") if prefix.strip("/") else ""


class EtcdConfig(msgspec.Struct, frozen=True):
    servers: tuple[Server, ...]
    prefix: str = DEFAULT_PREFIX
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    compaction_interval: float = DEFAULT_COMPACTION_INTERVAL
    healthcheck_timeout: float = DEFAULT_HEALTHCHECK_TIMEOUT
    readycheck_timeout: float = DEFAULT_READYCHECK_TIMEOUT
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT  # the deadline of every etcd call

    @classmethod
    def for_servers(cls, *urls: str, **kwargs: object) -> EtcdConfig:
        return cls(tuple(parse_server(url) for url in urls), **kwargs)  # type: ignore[arg-type]


def validate(servers: list[str], ca_file: str, cert_file: str, key_file: str) -> list[str]:
    """Problems with the connection flags, each naming its flag."""
    errors = []
    if not servers:
        errors.append("--etcd-servers: must be specified when --storage-backend=etcd3")
    parsed = []
    for text in servers:
        try:
            parsed.append(parse_server(text))
        except ValueError as error:
            errors.append(f"--etcd-servers: {error}")
    if bool(cert_file) != bool(key_file):
        errors.append("--etcd-certfile and --etcd-keyfile: give both or neither")
    if (ca_file or cert_file) and any(not server.secure for server in parsed):
        errors.append("--etcd-servers: use https:// endpoints with --etcd-cafile/--etcd-certfile "
                      "(the TLS files are ignored over plain http)")
    for flag, path in (("--etcd-cafile", ca_file), ("--etcd-certfile", cert_file),
                       ("--etcd-keyfile", key_file)):
        if path:
            try:
                with open(path, "rb"):
                    pass
            except OSError as error:
                errors.append(f"{flag}: {error.strerror}: {path}")
    return errors


class Endpoints:
    """The endpoint in use among --etcd-servers, and the move to the next after a failure."""

    def __init__(self, servers: tuple[Server, ...]) -> None:
        self.servers = {etcd.endpoint: etcd for etcd in servers}
        self.current = next(iter(self.servers))

    def failover(self, failed: str) -> None:
        """After a connection failure on endpoint ``failed``, use the next endpoint (if any).

        A no-op when another caller already moved on, so that concurrent failures advance once.
        """
        labels = list(self.servers)
        if len(labels) < 2 or self.current != failed:
            return
        self.current = labels[(labels.index(failed) + 1) % len(labels)]
