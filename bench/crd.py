"""What a large CustomResourceDefinition costs: a CRD with hundreds of versions of a wide schema
against a one-version CRD with a few fields, on one server in one run.

For each CRD: the time from its create until it is Established, then CREATE and GET of its
custom resources (sequential, keep-alive, medians) — the big one's per-request latency divided by
the small one's is the figure (schemas are compiled once per CRD change, so it should stay ~1) —
and the server's RSS growth. Also the time to fetch aggregated discovery and the OpenAPI v3 index
after both exist.

    python bench/crd.py [--versions 200] [--fields 100] [--requests 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from kernel.testing import start_kernel  # noqa: E402

GROUP = "bench.example.com"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _schema(fields: int) -> dict[str, Any]:
    kinds = ("string", "integer", "boolean")
    properties = {f"field{i}": {"type": kinds[i % 3], **({"maxLength": 64} if i % 3 == 0 else {})}
                  for i in range(fields)}
    return {"type": "object", "properties": {
        "spec": {"type": "object", "properties": properties, "required": ["field0"]},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}


def crd(plural: str, kind: str, versions: int, fields: int) -> dict[str, Any]:
    schema = _schema(fields)
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind,
                               "listKind": f"{kind}List"},
                     "versions": [{"name": f"v{i + 1}", "served": True, "storage": i == versions - 1,
                                   "schema": {"openAPIV3Schema": schema},
                                   "subresources": {"status": {}}} for i in range(versions)]}}


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _established(client: Any, name: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        conditions = client.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
                                ).json().get("status", {}).get("conditions", [])
        if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
            return
        time.sleep(0.01)
    raise SystemExit(f"{name} never became Established")


def _measure(client: Any, pid: int, plural: str, kind: str, versions: int, fields: int,
             requests: int) -> dict[str, float]:
    before = _rss_kib(pid)
    started = time.perf_counter()
    response = client.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                           json=crd(plural, kind, versions, fields))
    assert response.status_code == 201, response.text
    _established(client, f"{plural}.{GROUP}")
    established = time.perf_counter() - started
    version = f"v{versions}"
    base = f"/apis/{GROUP}/{version}/namespaces/default/{plural}"
    spec = {f"field{i}": ("x" if i % 3 == 0 else i if i % 3 == 1 else True) for i in range(fields)}
    creates, gets = [], []
    for i in range(requests):
        body = {"apiVersion": f"{GROUP}/{version}", "kind": kind, "metadata": {"name": f"o{i}"},
                "spec": spec}
        t = time.perf_counter()
        assert client.post(base, json=body).status_code == 201
        creates.append(time.perf_counter() - t)
        t = time.perf_counter()
        assert client.get(f"{base}/o{i}").status_code == 200
        gets.append(time.perf_counter() - t)
    return {"established s": established, "create ms": statistics.median(creates) * 1e3,
            "get ms": statistics.median(gets) * 1e3, "rss MiB": (_rss_kib(pid) - before) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=200)
    parser.add_argument("--fields", type=int, default=100)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        kernel = start_kernel(Path(work), "--plugins=api_core,api_apiextensions,storage_memory",
                              "--authorization-mode=AlwaysAllow")
        try:
            with kernel.client(timeout=120) as client:
                small = _measure(client, kernel.process.pid, "smalls", "Small", 1, 5, args.requests)
                big = _measure(client, kernel.process.pid, "bigs", "Big", args.versions, args.fields,
                               args.requests)
                t = time.perf_counter()
                assert client.get("/apis", headers={"Accept": AGGREGATED}).status_code == 200
                discovery = time.perf_counter() - t
                t = time.perf_counter()
                assert client.get("/openapi/v3").status_code == 200
                openapi = time.perf_counter() - t
        finally:
            kernel.stop()
    print(f"CRD with {args.versions} versions x {args.fields} fields against 1 version x 5 fields; "
          f"{args.requests} custom resources each")
    print(f"  {'':8}{'established s':>15}{'create ms':>11}{'get ms':>9}{'rss MiB':>9}")
    for name, figures in (("small", small), ("big", big)):
        print(f"  {name:8}" + "".join(f"{figures[k]:>{w}.{p}f}" for k, w, p in (
            ("established s", 15, 3), ("create ms", 11, 2), ("get ms", 9, 2), ("rss MiB", 9, 1))))
    print(f"  ratio big/small: create {big['create ms'] / small['create ms']:.2f}, "
          f"get {big['get ms'] / small['get ms']:.2f}")
    print(f"  aggregated discovery {discovery * 1e3:.1f} ms, OpenAPI v3 index {openapi * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
