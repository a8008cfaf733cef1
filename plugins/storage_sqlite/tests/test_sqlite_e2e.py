"""storage_sqlite end to end with real processes: kubectl, restarts, watches, the file lock."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from kernel.testing import KERNEL, KUBECTL, KernelProcess, start_kernel

PLUGINS = "--plugins=api_core,storage_sqlite"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def watch_events(kernel: KernelProcess, resource_version: str, count: int) -> tuple[int, list[dict]]:
    """The status and the first ``count`` events of a watch of configmaps from ``resource_version``."""
    events: list[dict] = []
    with kernel.client(timeout=10) as client:
        with client.stream("GET", CONFIGMAPS, params={"watch": "1",
                                                      "resourceVersion": resource_version}) as response:
            if response.status_code != 200:
                response.read()
                return response.status_code, [response.json()]
            for line in response.iter_lines():
                events.append(json.loads(line))
                if len(events) == count:
                    break
    return 200, events


def test_kubectl_and_watch_resume_across_a_restart(tmp_path: Path) -> None:
    kernel = start_kernel(tmp_path, PLUGINS)
    try:
        assert "storage backend: sqlite" in kernel.log()
        kernel.kubectl("create", "configmap", "one", "--from-literal=a=1")
        kernel.kubectl("create", "configmap", "two", "--from-literal=b=2")
        one = kernel.kubectl_json("get", "configmap", "one")
        watcher = subprocess.Popen([KUBECTL, "--kubeconfig", kernel.kubeconfig, "get", "configmaps",
                                    "--watch-only", "--output-watch-events", "-o", "name"],
                                   stdout=subprocess.PIPE, text=True, env=kernel.kubectl_env)
        try:
            time.sleep(1)  # the watch is open before the write
            kernel.kubectl("delete", "configmap", "two")
            assert watcher.stdout is not None
            assert watcher.stdout.readline().strip() == "configmap/two"
        finally:
            watcher.kill()
            watcher.wait()
        with kernel.client() as client:  # (kubectl's -o json list has no resourceVersion)
            listed = client.get(CONFIGMAPS).json()
        last = listed["metadata"]["resourceVersion"]
        names = [item["metadata"]["name"] for item in listed["items"]]
        assert "one" in names and "two" not in names
    finally:
        assert kernel.stop() == 0
    kernel = start_kernel(tmp_path, PLUGINS, append_log=True)
    try:
        again = kernel.kubectl_json("get", "configmap", "one")
        assert again["metadata"]["resourceVersion"] == one["metadata"]["resourceVersion"]
        assert again["metadata"]["uid"] == one["metadata"]["uid"] and again["data"] == {"a": "1"}
        assert "two" not in kernel.kubectl("get", "configmaps", "-o", "name").stdout
        # The list's resourceVersion before the stop is the store's revision after the restart:
        # a watch from it resumes with the changes after it.
        with kernel.client(timeout=10) as client, client.stream(
                "GET", CONFIGMAPS, params={"watch": "1", "resourceVersion": last}) as response:
            assert response.status_code == 200
            kernel.kubectl("create", "configmap", "three")
            for line in response.iter_lines():  # (the root CA publisher may write too)
                event = json.loads(line)
                assert int(event["object"]["metadata"]["resourceVersion"]) > int(last), event
                if event["object"]["metadata"]["name"] == "three":
                    break
            assert event["type"] == "ADDED"
        # An older one is before the watch cache's window, which starts at the restart: 410, as
        # kube's watch cache answers (clients relist).
        status, events = watch_events(kernel, one["metadata"]["resourceVersion"], 1)
        assert status == 200 and events[0]["type"] == "ERROR"
        assert events[0]["object"]["code"] == 410
        assert "too old resource version" in events[0]["object"]["message"]
    finally:
        assert kernel.stop() == 0


def test_watch_from_a_compacted_revision_is_410(tmp_path: Path) -> None:
    kernel = start_kernel(tmp_path, PLUGINS, "--sqlite-compaction-interval=500ms")
    try:
        kernel.kubectl("create", "configmap", "old")
        old = kernel.kubectl_json("get", "configmap", "old")["metadata"]["resourceVersion"]
        kernel.kubectl("create", "configmap", "new")
        time.sleep(2)  # two compaction rounds: the second compacts past both writes
        with kernel.client() as client:  # an exact read at a compacted revision: kube's 410
            response = client.get(CONFIGMAPS, params={"resourceVersion": old,
                                                      "resourceVersionMatch": "Exact"})
        assert response.status_code == 410, response.text
        assert response.json()["reason"] == "Expired"
        assert "too old" in response.json()["message"]
    finally:
        assert kernel.stop() == 0
    kernel = start_kernel(tmp_path, PLUGINS, "--sqlite-compaction-interval=0", append_log=True)
    try:  # the compaction is in the file: still 410 after a restart, and the objects are there
        with kernel.client() as client:
            response = client.get(CONFIGMAPS, params={"resourceVersion": old,
                                                      "resourceVersionMatch": "Exact"})
        assert response.status_code == 410, response.text
        assert {"old", "new"} <= set(kernel.kubectl("get", "configmaps", "-o", "name").stdout
                                     .replace("configmap/", "").split())
    finally:
        assert kernel.stop() == 0


def test_a_second_server_on_the_same_file_gets_a_clear_error(tmp_path: Path) -> None:
    kernel = start_kernel(tmp_path / "first", PLUGINS)
    try:
        second = subprocess.run(
            [KERNEL, "serve", PLUGINS, "--secure-port=0", "--bind-address=127.0.0.1",
             f"--cert-dir={tmp_path / 'second' / 'certs'}", f"--data-dir={tmp_path / 'first' / 'data'}"],
            capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert "Traceback" not in second.stderr
        db = tmp_path / "first" / "data" / "kernel.db"
        assert (f"Error: storage_sqlite: {db} is in use by another process "
                f"(pid {kernel.process.pid})") in second.stderr
    finally:
        assert kernel.stop() == 0
