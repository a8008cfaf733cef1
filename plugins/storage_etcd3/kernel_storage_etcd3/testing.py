"""A real single-node etcd for tests and benchmarks (Debian's ``etcd-server``).

Started on loopback, on free ports, with the fast election flags (ready in ~0.1 s), its data in a
temporary directory (on /dev/shm when there is one: each data dir preallocates a 62 MB WAL, and
tmpfs makes writes 5x faster) that is removed afterwards::

    with etcd_server() as etcd:
        storage = Etcd3Storage(EtcdConfig.for_servers(etcd.url))

``stop()``/``start()`` restart it on the same ports and data, for fault tests.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyetcd

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
ETCDCTL = shutil.which("etcdctl") or "/usr/bin/etcdctl"
INSTALLED = os.path.exists(ETCD) and os.path.exists(ETCDCTL)
MISSING = "etcd is not installed (apt-get install etcd-server etcd-client)"


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free loopback port below the ephemeral range, so that no outgoing connection (gRPC
    reconnecting to a stopped etcd, say) can take it while etcd is down."""
    low = max(1025, min(_ephemeral_low(), 65536) - 12000)
    for _ in range(100):
        port = random.randrange(low, low + 11000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port found")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _scratch_dir() -> str | None:
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


@dataclass
class TLSFiles:
    """A CA, etcd's serving certificate (for 127.0.0.1) and a client certificate, both from the
    CA, which etcd then requires of every client."""

    ca_file: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str


@dataclass
class EtcdProcess:
    data_dir: Path
    tls: TLSFiles | None = None
    client_port: int = field(default_factory=free_port)
    peer_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        while self.peer_port == self.client_port:
            self.peer_port = free_port()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.client_port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / "etcd.log"

    def command(self) -> list[str]:
        peer = f"http://127.0.0.1:{self.peer_port}"
        args = [ETCD, "--name", "t", "--data-dir", str(self.data_dir),
                "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"t={peer}", "--heartbeat-interval", "10",
                "--election-timeout", "100", "--log-level", "warn", "--logger", "zap"]
        if self.tls:
            args += ["--cert-file", self.tls.server_cert, "--key-file", self.tls.server_key,
                     "--client-cert-auth", "--trusted-ca-file", self.tls.ca_file]
        return args

    def start(self, *, wait: bool = True) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 20) -> None:
        """Until a linearizable read succeeds (etcd has a leader and serves clients)."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.process.returncode}:\n{self.log()}")
            # etcdctl waits a second before redialling a refused port: probe the port first.
            if _accepts(self.client_port) and \
                    self.ctl("get", "health", check=False, timeout=5).returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"etcd did not become ready:\n{self.log()}")
            time.sleep(0.01)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def ctl(self, *args: str, check: bool = True, timeout: float = 10,
            ) -> subprocess.CompletedProcess[str]:
        """Run ``etcdctl`` (API v3) against this etcd."""
        flags = [f"--endpoints={self.url}", "--dial-timeout=2s", "--command-timeout=5s"]
        if self.tls:
            flags += [f"--cacert={self.tls.ca_file}", f"--cert={self.tls.client_cert}",
                      f"--key={self.tls.client_key}"]
        env = {**os.environ, "ETCDCTL_API": "3"}
        return subprocess.run([ETCDCTL, *flags, *args], capture_output=True, text=True,
                              env=env, timeout=timeout, check=check)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


@contextmanager
def etcd_server(tls: TLSFiles | None = None) -> Iterator[EtcdProcess]:
    """A running etcd; stopped and its data removed on exit."""
    base = Path(tempfile.mkdtemp(prefix="kernel-etcd-", dir=_scratch_dir()))
    etcd = EtcdProcess(base / "data", tls)
    try:
        etcd.start()
        yield etcd
    finally:
        etcd.stop(signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)


def raw_client(url: str, timeout: float = 30) -> pyetcd.MultiEndpointEtcd3Client:
    """A plain python-etcd3 client of ``url`` (``http://host:port``), for tests and benchmarks
    that read or write etcd behind the backend's back; lists of any size."""
    import pyetcd

    host, port = url.removeprefix("http://").rsplit(":", 1)
    options = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
    return pyetcd.MultiEndpointEtcd3Client(endpoints=[pyetcd.Endpoint(
        host, int(port), secure=False, time_retry=0, opts=options)], timeout=timeout)
