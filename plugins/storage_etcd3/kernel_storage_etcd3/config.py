"""The etcd connection: kube's --etcd-* flags parsed into a config, and the pyetcd client built from it.

The client is python-etcd3's ``MultiEndpointEtcd3Client`` (package ``etcd-sdk-python``, imported as
``pyetcd``), with the settings measured to matter:

- every ``Endpoint`` has ``time_retry=0``: the client otherwise refuses a node for 300 s after one
  UNAVAILABLE/DEADLINE_EXCEEDED. Failover between several --etcd-servers is ours (see
  :meth:`EtcdClient.failover`), since with ``time_retry=0`` the client itself never moves on;
- ``grpc.max_receive_message_length`` is unlimited, so lists over 4 MiB work;
- reconnect backoff is capped at 1 s, so the server notices a returning etcd within a second
  instead of gRPC's default of up to 2 minutes; keepalive pings (30 s / 10 s, kube's values)
  detect a silently dead connection under a long-lived watch.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the gRPC stack is imported when a client is made, not when the plugin loads
    import grpc
    import pyetcd

DEFAULT_PREFIX = "/registry"
DEFAULT_COMPACTION_INTERVAL = 300.0
DEFAULT_HEALTHCHECK_TIMEOUT = 2.0
DEFAULT_READYCHECK_TIMEOUT = 2.0
DEFAULT_REQUEST_TIMEOUT = 60.0

GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.keepalive_time_ms", 30000),
    ("grpc.keepalive_timeout_ms", 10000),
]


@dataclass(frozen=True)
class Server:
    """One --etcd-servers entry."""

    secure: bool
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.secure else 'http'}://{host}:{self.port}"


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


@dataclass(frozen=True)
class EtcdConfig:
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


@dataclass
class EtcdClient:
    """The pyetcd client and the endpoint choice across --etcd-servers."""

    config: EtcdConfig
    client: pyetcd.MultiEndpointEtcd3Client = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        import grpc
        import pyetcd

        credentials = None
        if any(server.secure for server in self.config.servers):
            credentials = grpc.ssl_channel_credentials(
                _read(self.config.ca_file), _read(self.config.key_file),
                _read(self.config.cert_file))
        endpoints = [pyetcd.Endpoint(f"[{server.host}]" if ":" in server.host else server.host,
                                     server.port, secure=server.secure,
                                     creds=credentials if server.secure else None,
                                     time_retry=0, opts=GRPC_OPTIONS)
                     for server in self.config.servers]
        self.client = pyetcd.MultiEndpointEtcd3Client(
            endpoints=endpoints, timeout=self.config.request_timeout, failover=False)

    @property
    def endpoint(self) -> str:
        """The endpoint in use (``host:port``)."""
        return str(self.client._current_endpoint_label)

    def channel(self) -> grpc.Channel:
        return self.client.channel

    def failover(self, failed: str) -> None:
        """After a connection failure on endpoint ``failed``, use the next endpoint (if any).

        A no-op when another caller already moved on, so that concurrent failures advance once.
        """
        with self._lock:
            labels = list(self.client.endpoints)
            current = self.client._current_endpoint_label
            if len(labels) < 2 or current != failed:
                return
            self.client._current_endpoint_label = labels[(labels.index(current) + 1) % len(labels)]

    def close(self) -> None:
        self.client.close()


def _read(path: str) -> bytes | None:
    if not path:
        return None
    with open(path, "rb") as file:
        return file.read()
