"""Durability with real processes: acknowledged writes survive SIGKILL of the server."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from kernel.testing import KernelProcess, start_kernel

PLUGINS = "--plugins=api_core,storage_sqlite"
ROUNDS = 20
WRITERS = 4  # concurrent writers, so commits group several writes
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def write_until_killed(kernel: KernelProcess, prefix: str, acked: dict[str, str],
                       lock: threading.Lock) -> None:
    """Create configmaps until the server dies; record each acknowledged one's resourceVersion."""
    with kernel.client(timeout=5) as client:
        for i in range(100000):
            name = f"{prefix}-{i}"
            try:
                response = client.post(CONFIGMAPS, json={"metadata": {"name": name},
                                                         "data": {"i": str(i)}})
            except httpx.HTTPError:
                return  # killed mid-request: not acknowledged
            if response.status_code != 201:
                return
            with lock:
                acked[name] = response.json()["metadata"]["resourceVersion"]


def stored(kernel: KernelProcess) -> dict[str, str]:
    with kernel.client() as client:
        response = client.get(CONFIGMAPS)
        assert response.status_code == 200, response.text
        return {item["metadata"]["name"]: item["metadata"]["resourceVersion"]
                for item in response.json()["items"]}


def test_acknowledged_creates_survive_sigkill(tmp_path: Path) -> None:
    acked: dict[str, str] = {}
    lock = threading.Lock()
    lost: list[str] = []
    for round_ in range(ROUNDS):
        kernel = start_kernel(tmp_path, PLUGINS, append_log=True)
        try:
            present = stored(kernel)
            lost += [f"{name}@{rv}" for name, rv in acked.items() if present.get(name) != rv]
            writers = [threading.Thread(target=write_until_killed,
                                        args=(kernel, f"r{round_}w{w}", acked, lock))
                       for w in range(WRITERS)]
            before = len(acked)
            for writer in writers:
                writer.start()
            while len(acked) < before + 20:  # mid-load: writes are in flight
                time.sleep(0.005)
        finally:
            kernel.process.kill()
            kernel.process.wait()
        for writer in writers:
            writer.join()
    kernel = start_kernel(tmp_path, PLUGINS, append_log=True)
    try:
        present = stored(kernel)
    finally:
        kernel.stop()
    lost += [f"{name}@{rv}" for name, rv in acked.items() if present.get(name) != rv]
    print(f"durability: {len(acked)} acknowledged creates over {ROUNDS} SIGKILLs, {len(lost)} lost")
    assert len(acked) >= ROUNDS * 20
    assert lost == []
