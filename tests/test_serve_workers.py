"""``kernel serve --workers=N``: several processes on one port and one etcd (kernel/server/workers.py).

Which worker a connection reached is told by ``kernel_worker_pid`` in /metrics, asked on the
same keep-alive connection that then carries the request or the watch.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from kernel.testing import KERNEL, KernelProcess, start_kernel

etcd_testing = pytest.importorskip("kernel_storage_etcd3.testing")

WORKER_PID = re.compile(r'^kernel_worker_pid\{worker="(\d+)"\} ([0-9.e+]+)$', re.M)


@pytest.fixture(scope="module")
def etcd() -> Iterator[Any]:
    if not etcd_testing.INSTALLED:
        pytest.skip(etcd_testing.MISSING)
    with etcd_testing.etcd_server() as server:
        yield server


class Connection:
    """One keep-alive HTTPS connection, so one worker, with the admin token."""

    def __init__(self, kernel: KernelProcess, timeout: float = 20) -> None:
        url = urlsplit(kernel.url)
        self.http = http.client.HTTPSConnection(url.hostname, url.port, timeout=timeout,
                                                context=ssl.create_default_context(cafile=kernel.ca_file))
        self.headers = {"Authorization": f"Bearer {kernel.token}"}
        self.worker, self.pid = self._worker()

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body) if body is not None else None
        headers = {**self.headers, **({"Content-Type": "application/json"} if data else {})}
        self.http.request(method, path, body=data, headers=headers)
        response = self.http.getresponse()
        raw = response.read()
        kind = response.getheader("Content-Type", "")
        return response.status, json.loads(raw) if kind.startswith("application/json") else raw.decode()

    def _worker(self) -> tuple[int, int]:
        code, text = self.request("GET", "/metrics")
        assert code == 200, text
        match = WORKER_PID.search(text)
        assert match, "no kernel_worker_pid in /metrics"
        return int(match.group(1)), int(float(match.group(2)))

    def watch(self, path: str) -> http.client.HTTPResponse:
        self.http.request("GET", path, headers=self.headers)
        response = self.http.getresponse()
        assert response.status == 200
        return response

    def close(self) -> None:
        self.http.close()


def next_event(response: http.client.HTTPResponse) -> dict[str, Any]:
    line = response.readline()
    assert line, "the watch ended"
    return json.loads(line)


def connections_on_every_worker(kernel: KernelProcess, workers: int,
                                per_worker: int = 1) -> dict[int, list[Connection]]:
    """Open connections until each worker holds ``per_worker`` of them (the kernel spreads new
    connections over the SO_REUSEPORT sockets by hash, so a few dozen are plenty)."""
    found: dict[int, list[Connection]] = {}
    spare = []
    for _ in range(200):
        conn = Connection(kernel)
        bucket = found.setdefault(conn.pid, [])
        (bucket if len(bucket) < per_worker else spare).append(conn)
        if len(found) == workers and all(len(b) >= per_worker for b in found.values()):
            break
    for conn in spare:
        conn.close()
    assert len(found) == workers, f"connections reached only {sorted(found)}"
    return found


def wait_for(condition: Any, timeout: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet has exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def serve_fails(tmp_path: Path, *args: str) -> str:
    result = subprocess.run([KERNEL, "serve", "--secure-port=0", "--bind-address=127.0.0.1",
                             f"--cert-dir={tmp_path / 'certs'}", f"--data-dir={tmp_path / 'data'}",
                             *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    return result.stderr


def test_workers_need_shared_storage(tmp_path: Path) -> None:
    stderr = serve_fails(tmp_path, "--plugins=api_core,storage_memory", "--workers=2")
    assert ("--workers > 1 needs a shared storage backend (--storage-backend=etcd3): "
            "--storage-backend=memory") in stderr
    stderr = serve_fails(tmp_path, "--plugins=api_core,storage_sqlite", "--workers=3")
    assert "--workers > 1 needs a shared storage backend" in stderr
    assert "--storage-backend=sqlite" in stderr
    assert "--workers: must be at least 1" in serve_fails(
        tmp_path, "--plugins=api_core,storage_memory", "--workers=0")
    assert not (tmp_path / "certs").exists()  # refused before complete() made anything


def test_two_workers_share_one_port_and_etcd(tmp_path: Path, etcd: Any) -> None:
    kernel = start_kernel(tmp_path, "--workers=2", "--storage-backend=etcd3",
                          f"--etcd-servers={etcd.url}", "--etcd-prefix=/workers")
    try:
        _check_two_workers(kernel, tmp_path)
    finally:
        if kernel.process.poll() is None:
            kernel.process.kill()
            kernel.process.wait()


def _check_two_workers(kernel: KernelProcess, tmp_path: Path) -> None:
    by_worker = connections_on_every_worker(kernel, 2, per_worker=3)
    assert sorted(conns[0].worker for conns in by_worker.values()) == [0, 1]
    pids = sorted(by_worker)
    for pid in pids:  # every worker ran every post-start hook: ready, not just the first
        wait_for(lambda: by_worker[pid][0].request("GET", "/readyz")[0] == 200, what=f"{pid} ready")

    # A write through either worker reaches the watches on both.
    watches = {pid: [conn.watch("/api/v1/namespaces/default/configmaps?watch=1&labelSelector=test%3Dworkers")
                     for conn in conns[1:]] for pid, conns in by_worker.items()}
    for writer in pids:
        name = f"from-{writer}"
        code, created = by_worker[writer][0].request(
            "POST", "/api/v1/namespaces/default/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"test": "workers"}},
             "data": {"a": "b"}})
        assert code == 201, created
        for pid in pids:
            for response in watches[pid]:
                event = next_event(response)
                assert event["type"] == "ADDED"
                assert event["object"]["metadata"]["name"] == name
                assert (event["object"]["metadata"]["resourceVersion"]
                        == created["metadata"]["resourceVersion"])
    for conns in by_worker.values():
        for conn in conns:
            conn.close()

    # Bootstrapping ran in both workers at once: each object once, complete.
    conn = Connection(kernel)
    _, namespaces = conn.request("GET", "/api/v1/namespaces")
    names = [ns["metadata"]["name"] for ns in namespaces["items"]]
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert names.count(name) == 1
    code, endpoints = conn.request("GET", "/api/v1/namespaces/default/endpoints/kubernetes")
    assert code == 200, endpoints
    (subset,) = endpoints["subsets"]
    assert len(subset["addresses"]) == 1
    assert subset["ports"][0]["port"] == int(urlsplit(kernel.url).port)
    code, classes = conn.request("GET", "/apis/scheduling.k8s.io/v1/priorityclasses")
    assert {c["metadata"]["name"] for c in classes["items"]} >= {"system-cluster-critical",
                                                                 "system-node-critical"}
    code, roles = conn.request("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin")
    assert code == 200 and roles["rules"], roles  # aggregated once the policy was in place
    code, services = conn.request("GET", "/apis/apiregistration.k8s.io/v1/apiservices/v1.")
    assert code == 200, services
    conn.close()

    # kubectl against the shared port.
    kernel.kubectl("create", "configmap", "by-kubectl", "--from-literal=k=v")
    assert kernel.kubectl_json("get", "configmap", "by-kubectl")["data"] == {"k": "v"}

    # A worker killed after it served is restarted; the port stays served meanwhile.
    victim = pids[0]
    os.kill(victim, signal.SIGKILL)
    def both_again() -> set[int]:
        try:
            found = connections_on_every_worker(kernel, 2)
        except (OSError, AssertionError):  # reset: queued on the killed worker's socket
            return set()
        for conns in found.values():
            conns[0].close()
        return set(found) if victim not in found else set()
    new_pids = wait_for(both_again, what="the killed worker restarted")
    assert pids[1] in new_pids and len(new_pids) == 2
    assert "worker 0 exited on signal SIGKILL; restarting it" in kernel.log() or \
           "worker 1 exited on signal SIGKILL; restarting it" in kernel.log()

    # SIGTERM drains every worker, then the parent exits 0.
    assert kernel.stop() == 0
    for pid in new_pids:
        assert not alive(pid)
    log = kernel.log()
    assert log.count("server stopped") >= 2
    assert "all workers stopped" in log
    for bad in ("Traceback", "post-start hook", "exiting immediately"):
        if bad == "post-start hook":  # hooks finish; none fails
            assert "failed" not in "\n".join(l for l in log.splitlines() if bad in l)
        else:
            assert bad not in log, log


# -- the supervisor's policy, with real child processes standing in for kernel workers ------------

def script_supervisor(script: str, tmp_path: Path) -> tuple[Any, socket.socket]:
    """A Supervisor whose workers run ``script`` (a Python program, given ``tmp_path``) instead
    of ``kernel serve``; and the port socket it holds."""
    from kernel.server import options as opts
    from kernel.server.workers import Supervisor

    option_set = opts.OptionSet()
    opts.add_server_run_options(option_set)
    options = opts.parse(option_set, []).options
    options.loopback_token, options.loopback_uid = "token", "uid"
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    supervisor = Supervisor([], options, sock)
    supervisor.command = lambda: [sys.executable, "-c", script, str(tmp_path)]  # type: ignore[method-assign]
    return supervisor, sock


# A stand-in worker: reads its spec like kernel serve does, says ready, notes its start in a file.
WORKER_THAT_SERVES_THEN_DIES = """
import os, socket, sys, time
from pathlib import Path
from kernel.server import workers
channel = workers.worker_channel()
spec = workers.read_spec(channel)
starts = Path(sys.argv[1]) / f"starts-{spec.index}"
with open(starts, "a") as f:
    f.write("x")
channel.sendall(workers.READY)
time.sleep(0.2 if len(starts.read_text()) < 3 else 60)
sys.exit(5)
"""


def test_a_worker_failing_before_it_served_stops_all(tmp_path: Path) -> None:
    import trio

    from kernel.server.workers import _supervise

    supervisor, sock = script_supervisor("import sys, time; time.sleep(0.5); sys.exit(3)", tmp_path)
    with sock:
        trio.run(_supervise, supervisor, 2)
    assert supervisor.failed
    assert all(p.returncode is not None for p in supervisor.processes.values())


def test_a_worker_dying_after_it_served_is_restarted(tmp_path: Path, monkeypatch: Any) -> None:
    import trio

    from kernel.server import workers

    monkeypatch.setattr(workers, "RESTART_BACKOFF", 0.05)
    supervisor, sock = script_supervisor(WORKER_THAT_SERVES_THEN_DIES, tmp_path)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(workers._supervise, supervisor, 1)
            while not (tmp_path / "starts-0").exists() or len((tmp_path / "starts-0").read_text()) < 3:
                await trio.sleep(0.05)
            await trio.sleep(0.3)
            supervisor.stop()  # the third one is still running: SIGTERM ends it

    with sock:
        trio.run(main)
    assert not supervisor.failed
    assert (tmp_path / "starts-0").read_text() == "xxx"  # started, died twice, restarted twice
    assert supervisor.exit_codes == {0: -signal.SIGTERM}


def test_workers_stop_when_the_supervisor_dies(tmp_path: Path, etcd: Any) -> None:
    kernel = start_kernel(tmp_path, "--workers=2", "--plugins=api_core,storage_etcd3",
                          "--storage-backend=etcd3", f"--etcd-servers={etcd.url}",
                          "--etcd-prefix=/orphans")
    try:
        pids = set(connections_on_every_worker(kernel, 2))
        kernel.process.kill()  # no chance to forward anything
        kernel.process.wait()
        wait_for(lambda: not any(alive(pid) for pid in pids), what="workers to exit")
        log = kernel.log()
        assert log.count("the --workers supervisor is gone: shutting down") == 2
        assert log.count("server stopped") == 2
    finally:
        if kernel.process.poll() is None:
            kernel.process.kill()
            kernel.process.wait()


def test_workers_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:  # a listener without SO_REUSEPORT: the workers cannot share it
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([KERNEL, "serve", f"--secure-port={port}", "--bind-address=127.0.0.1",
                                 f"--cert-dir={tmp_path / 'certs'}", "--workers=2",
                                 "--plugins=api_core,storage_etcd3", "--storage-backend=etcd3",
                                 "--etcd-servers=http://127.0.0.1:9"],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"Error: failed to listen on 127.0.0.1:{port}: address already in use" in result.stderr
    assert "starting 2 workers" not in result.stderr
