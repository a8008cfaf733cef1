"""``kernel serve --storage-backend=etcd3`` end to end: kubectl, keys in etcd, restarts, two
servers on one etcd, etcd outages, and mTLS to etcd."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import trio

from kernel.storage.errors import StorageUnavailableError

from kernel_storage_etcd3 import Etcd3Storage, EtcdConfig
from kernel_storage_etcd3.testing import INSTALLED, MISSING, etcd_server, free_port

from etcd3_helpers import KERNEL, KUBECTL, Kernel, make_tls

pytestmark = [pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl is not installed"),
              pytest.mark.skipif(not INSTALLED, reason=MISSING)]

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def configmap(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


@contextmanager
def watching(kernel: Kernel, path: str, resource_version: str) -> Iterator[queue.Queue]:
    """Watch events of ``path`` from ``resource_version``, read in a thread into a queue (a
    final ``None`` when the stream ends)."""
    events: queue.Queue = queue.Queue()
    client = kernel.client(timeout=httpx.Timeout(5, read=None))

    def read() -> None:
        try:
            with client.stream("GET", path, params={"watch": "1",
                                                    "resourceVersion": resource_version}) as response:
                assert response.status_code == 200, response.read()
                for line in response.iter_lines():
                    if line:
                        events.put(json.loads(line))
        except (httpx.HTTPError, RuntimeError):
            pass
        events.put(None)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        yield events
    finally:
        client.close()


def wait_for_names(events: queue.Queue, names: set[str], timeout: float = 15) -> list[dict]:
    """Events until every name in ``names`` was ADDED; all events seen."""
    seen, missing = [], set(names)
    deadline = time.monotonic() + timeout
    while missing:
        try:
            event = events.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no ADDED event for {sorted(missing)}; saw "
                                 f"{[(e['type'], e['object']['metadata'].get('name')) for e in seen]}")
        assert event is not None, f"the watch ended; still missing {missing}"
        seen.append(event)
        if event["type"] == "ADDED":
            missing.discard(event["object"]["metadata"]["name"])
    return seen


def test_kubectl_keys_in_etcd_and_restart(own_etcd, kernels) -> None:
    kernel = kernels("a", f"--etcd-servers={own_etcd.url}")
    kernel.kubectl("create", "configmap", "app-config", "--from-literal=color=blue")
    created = kernel.kubectl_json("get", "configmap", "app-config")
    keys = own_etcd.ctl("get", "--prefix", "/registry", "--keys-only").stdout.split()
    assert "/registry/configmaps/default/app-config" in keys
    assert "/registry/namespaces/default" in keys
    stored = json.loads(own_etcd.ctl("get", "/registry/configmaps/default/app-config",
                                     "--print-value-only").stdout)
    assert stored["data"] == {"color": "blue"} and "resourceVersion" not in stored["metadata"]
    assert kernel.stop() == 0

    again = kernels("b", f"--etcd-servers={own_etcd.url}")
    survived = again.kubectl_json("get", "configmap", "app-config")
    assert survived["data"] == {"color": "blue"}
    assert survived["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert survived["metadata"]["uid"] == created["metadata"]["uid"]


def test_two_servers_share_one_etcd(own_etcd, kernels) -> None:
    a = kernels("a", f"--etcd-servers={own_etcd.url}", "--etcd-prefix=/cluster-1")
    b = kernels("b", f"--etcd-servers={own_etcd.url}", "--etcd-prefix=/cluster-1/")
    with b.client() as client:
        start = client.get(CONFIGMAPS).json()["metadata"]["resourceVersion"]
    with watching(b, CONFIGMAPS, start) as events:
        a.kubectl("create", "configmap", "shared", "--from-literal=x=1")
        added = wait_for_names(events, {"shared"})[-1]
        assert added["object"]["data"] == {"x": "1"}
        listed = b.kubectl_json("get", "configmaps")
        # besides the root-CA publisher's kube-root-ca.crt, as on any cluster
        assert [i["metadata"]["name"] for i in listed["items"] if i["metadata"]["name"] != "kube-root-ca.crt"] \
            == ["shared"]
        keys = own_etcd.ctl("get", "--prefix", "/", "--keys-only").stdout.split()
        assert "/cluster-1/configmaps/default/shared" in keys
        assert not [k for k in keys if k.startswith("/registry")]
        # and the other way round, with optimistic concurrency across servers
        b.kubectl("label", "configmap", "shared", "owner=b")
        assert a.kubectl_json("get", "configmap", "shared")["metadata"]["labels"] == {"owner": "b"}
        stale = dict(added["object"], data={"x": "2"})
        with a.client() as client:
            conflict = client.put(f"{CONFIGMAPS}/shared", json=stale)
        assert conflict.status_code == 409 and conflict.json()["reason"] == "Conflict"


def test_etcd_outage_and_recovery(own_etcd, kernels) -> None:
    kernel = kernels("a", f"--etcd-servers={own_etcd.url}")
    acknowledged: list[str] = []
    with kernel.client(timeout=10) as client:
        for i in range(3):
            assert client.post(CONFIGMAPS, json=configmap(f"before-{i}")).status_code == 201
            acknowledged.append(f"before-{i}")
        start = client.get(CONFIGMAPS).json()["metadata"]["resourceVersion"]

    stop_writing = threading.Event()
    outcomes: list[int] = []

    def write() -> None:  # keeps writing through the outage
        with kernel.client(timeout=10) as client:
            i = 0
            while not stop_writing.is_set():
                response = client.post(CONFIGMAPS, json=configmap(f"during-{i}"))
                outcomes.append(response.status_code)
                if response.status_code == 201:
                    acknowledged.append(f"during-{i}")
                else:
                    assert response.json()["kind"] == "Status"
                i += 1
                time.sleep(0.02)

    with watching(kernel, CONFIGMAPS, start) as events:
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        time.sleep(0.2)
        own_etcd.stop()
        with kernel.client(timeout=5) as client:  # answers, fast, never hangs
            readyz = client.get("/readyz", params={"verbose": "1"})
            assert readyz.status_code == 500 and "[-]etcd failed" in readyz.text
            livez = client.get("/livez", params={"verbose": "1"})
            assert livez.status_code == 500 and "[-]etcd failed" in livez.text
            for response in (client.get(f"{CONFIGMAPS}/before-0"), client.get(CONFIGMAPS),
                             client.post(CONFIGMAPS, json=configmap("refused"))):
                status = response.json()
                assert response.status_code in (503, 504) and status["kind"] == "Status"
                assert status["reason"] in ("ServiceUnavailable", "Timeout")
            # resourceVersion=0 asks for any state: the watch cache answers, as kube's does.
            cached = client.get(CONFIGMAPS, params={"resourceVersion": "0"})
            assert cached.status_code == 200
            assert {i["metadata"]["name"] for i in cached.json()["items"]} >= {"before-0", "before-1"}
        refused = kernel.kubectl("get", "configmap", "before-0", check=False)
        assert refused.returncode != 0 and "ServiceUnavailable" in refused.stderr

        own_etcd.start()
        kernel.wait_ready(timeout=20)
        with kernel.client(timeout=10) as client:
            assert client.post(CONFIGMAPS, json=configmap("after")).status_code == 201
            acknowledged.append("after")
        time.sleep(0.2)
        stop_writing.set()
        writer.join(10)
        assert 503 in outcomes or 504 in outcomes  # the writer did hit the outage
        # The watch went on through the outage: every acknowledged write arrives, in order.
        seen = wait_for_names(events, {n for n in acknowledged if not n.startswith("before-")})
        versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in seen]
        assert versions == sorted(versions)

    with kernel.client(timeout=10) as client:
        names = {item["metadata"]["name"] for item in client.get(CONFIGMAPS).json()["items"]}
    assert set(acknowledged) <= names  # no acknowledged write lost
    assert "refused" not in names


def test_mutual_tls_to_etcd(tmp_path, kernels) -> None:
    tls = make_tls(tmp_path / "pki")
    with etcd_server(tls) as etcd:
        assert etcd.url.startswith("https://")
        kernel = kernels("a", f"--etcd-servers={etcd.url}", f"--etcd-cafile={tls.ca_file}",
                         f"--etcd-certfile={tls.client_cert}", f"--etcd-keyfile={tls.client_key}")
        kernel.kubectl("create", "configmap", "secure", "--from-literal=a=b")
        keys = etcd.ctl("get", "--prefix", "/registry/configmaps", "--keys-only").stdout.split()
        assert "/registry/configmaps/default/secure" in keys
        assert all(k == "/registry/configmaps/default/secure" or k.endswith("/kube-root-ca.crt") for k in keys)

        async def without_client_certificate() -> None:  # etcd requires one
            store = Etcd3Storage(EtcdConfig.for_servers(etcd.url, ca_file=tls.ca_file))
            with pytest.raises(StorageUnavailableError):
                await store.health()
            await store.close()

        trio.run(without_client_certificate)


def test_sigterm_while_waiting_for_etcd_at_startup_exits_cleanly(tmp_path) -> None:
    """etcd is down at start: the watch caches wait for it, and a SIGTERM meanwhile still ends
    the process at once with 0 (it must not need a second signal)."""
    log = tmp_path / "kernel.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [KERNEL, "serve", "--secure-port=0", "--bind-address=127.0.0.1",
             f"--cert-dir={tmp_path / 'certs'}", "--plugins=api_core,storage_etcd3",
             "--storage-backend=etcd3", f"--etcd-servers=http://127.0.0.1:{free_port()}"],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while "storage backend: etcd3" not in log.read_text():  # startup reached the caches
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0, log.read_text()
    finally:
        process.kill()
    text = log.read_text()
    assert "shutdown requested before the server started serving" in text
    assert "Serving securely" not in text


def test_a_namespace_left_terminating_is_finalized_by_the_next_server(etcd, etcd_prefix,
                                                                      kernels) -> None:
    """The namespace controller learns of namespaces from the shared informer, whose first list
    reaches a new handler as adds: a namespace that was Terminating when one server stopped is
    emptied and removed by the next one, with no namespace event on the second."""
    flags = (f"--etcd-servers={etcd.url}", f"--etcd-prefix={etcd_prefix}")
    held = "/api/v1/namespaces/doomed/configmaps/held"
    first = kernels("a", *flags)
    with first.client() as client:
        assert client.post("/api/v1/namespaces",
                           json={"metadata": {"name": "doomed"}}).status_code == 201
        assert client.post("/api/v1/namespaces/doomed/configmaps", json={"metadata": {
            "name": "held", "finalizers": ["example.com/hold"]}}).status_code == 201
        assert client.delete("/api/v1/namespaces/doomed").status_code == 200
        deadline = time.monotonic() + 20  # a hang guard only
        while not client.get(held).json()["metadata"].get("deletionTimestamp"):
            assert time.monotonic() < deadline, "the controller never deleted the configmap"
            time.sleep(0.05)
    assert first.stop() == 0

    second = kernels("b", *flags)
    with second.client() as client:
        assert client.get("/api/v1/namespaces/doomed").json()["status"]["phase"] == "Terminating"
        released = client.patch(held, json={"metadata": {"finalizers": None}},
                                headers={"Content-Type": "application/merge-patch+json"})
        assert released.status_code == 200, released.text
        deadline = time.monotonic() + 20
        while client.get("/api/v1/namespaces/doomed").status_code != 404:
            assert time.monotonic() < deadline, second.log()[-4000:]
            time.sleep(0.05)
