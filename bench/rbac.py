"""RBAC's cost: GET of one configmap as a non-admin user allowed by RBAC, while RBAC holds 1000
Roles and 1000 RoleBindings (plus kube's bootstrap policy), against the same GET on a server
with ``--authorization-mode=AlwaysAllow``; and the memory RBAC's informers and subject index take
for those objects.

Throughput: two ``kernel serve`` processes with the same plugins
(api_core, storage_memory, authn_token, api_rbac, authz_rbac) and the same objects, differing
only in ``--authorization-mode``; the same bearer-token user (not in system:masters) GETs the
same configmap through ``wrk`` (bench/api.py's runner: one thread, keep-alive, TLS), rounds
interleaved; servers pinned to one core, wrk to the other when two are available.

Memory: tracemalloc in this process over the four RBAC informers (over watch caches on the
memory backend) and the subject index, synced over the same 2000 objects, against the floor of
the same objects decoded into a list.

    .venv/bin/python bench/rbac.py [--objects 1000] [--rounds 5] [--duration 3]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import tracemalloc
from pathlib import Path

import httpx
import msgspec
import trio

from api import WRK_REPORT, Load, Server, _pinning, combine, run_wrk
from kernel.server.informers import Informer
from kernel.storage.cacher import open_cacher
from kernel.testing import KernelProcess, start_kernel
from kernel_api_rbac.ruleresolver import informer_resolver
from kernel_storage_memory import MemoryStorage

G = "rbac.authorization.k8s.io"
PLUGINS = "--plugins=api_core,storage_memory,authn_token,api_rbac,authz_rbac"
TOKEN, USER = "bench-token", "bench-user"
NAMESPACES = 10
TARGET = "/api/v1/namespaces/bench/configmaps/target"


def policy(objects: int) -> list[tuple[str, dict]]:
    """``objects`` Roles and RoleBindings (one user each) across namespaces, and the bench user's."""
    out: list[tuple[str, dict]] = []
    for i in range(objects):
        ns = f"team-{i % NAMESPACES}"
        out.append((f"roles/{ns}", {"metadata": {"name": f"role-{i}", "namespace": ns}, "rules": [
            {"apiGroups": [""], "resources": ["configmaps", "pods"], "verbs": ["get", "list"]},
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}]}))
        out.append((f"rolebindings/{ns}", {
            "metadata": {"name": f"binding-{i}", "namespace": ns},
            "roleRef": {"apiGroup": G, "kind": "Role", "name": f"role-{i}"},
            "subjects": [{"kind": "User", "apiGroup": G, "name": f"user-{i}"}]}))
    out.append(("roles/bench", {"metadata": {"name": "reader", "namespace": "bench"}, "rules": [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}))
    out.append(("rolebindings/bench", {
        "metadata": {"name": "reader", "namespace": "bench"},
        "roleRef": {"apiGroup": G, "kind": "Role", "name": "reader"},
        "subjects": [{"kind": "User", "apiGroup": G, "name": USER}]}))
    return out


def fill(kernel: KernelProcess, objects: int) -> None:
    with kernel.client(timeout=30) as client:
        for ns in ["bench", *(f"team-{i}" for i in range(NAMESPACES))]:
            client.post("/api/v1/namespaces", json={"metadata": {"name": ns}})
        client.post("/api/v1/namespaces/bench/configmaps",
                    json={"metadata": {"name": "target"}, "data": {"payload": "x" * 300}})
        for where, obj in policy(objects):
            plural, ns = where.split("/")
            response = client.post(f"/apis/{G}/v1/namespaces/{ns}/{plural}", json=obj)
            assert response.status_code == 201, response.text
        with kernel.client(token=TOKEN) as user:
            assert user.get(TARGET).status_code == 200


def serve(work: Path, mode: str, pin: list[str], objects: int) -> tuple[KernelProcess, Server]:
    (work / "tokens.csv").write_text(f"{TOKEN},{USER},{USER}\n")
    kernel = start_kernel(work / mode, PLUGINS, f"--token-auth-file={work / 'tokens.csv'}",
                          f"--authorization-mode={mode}", command_prefix=pin)
    fill(kernel, objects)
    port = int(kernel.url.rsplit(":", 1)[1])
    server = Server(mode, kernel.process, port, {"Authorization": f"Bearer {TOKEN}"},  # type: ignore[arg-type]
                    TARGET, "", "", "", "")
    return kernel, server


def throughput(objects: int, rounds: int, seconds: int) -> None:
    server_pin, load_pin, pinning = _pinning()
    with tempfile.TemporaryDirectory(prefix="bench-rbac-") as tmp:
        work = Path(tmp)
        script = work / "report.lua"
        script.write_text(WRK_REPORT)
        kernels = {mode: serve(work, mode, server_pin, objects) for mode in ("AlwaysAllow", "RBAC")}
        try:
            loads: dict[str, list[Load]] = {mode: [] for mode in kernels}
            for _ in range(rounds):
                for mode, (_, server) in kernels.items():
                    loads[mode].append(run_wrk(server, load_pin, TARGET, script, 32, seconds))
        finally:
            for kernel, _ in kernels.values():
                kernel.stop()
    print(f"GET one configmap as {USER!r} (RBAC: {objects} Roles + {objects} RoleBindings + "
          f"bootstrap policy); {pinning}")
    print(f"  {'mode':14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'cpu µs':>10}")
    result = {mode: combine(rounds_) for mode, rounds_ in loads.items()}
    for mode, load in result.items():
        print(f"  {mode:14}{load.req_s:>10.0f}{load.p50_ms:>10.2f}{load.p99_ms:>10.2f}"
              f"{load.cpu_us:>10.0f}  {load.errors}")
    rbac, allow = result["RBAC"], result["AlwaysAllow"]
    per_round = [r.req_s / a.req_s for r, a in zip(loads["RBAC"], loads["AlwaysAllow"])]
    print(f"  ratio RBAC/AlwaysAllow: req/s {rbac.req_s / allow.req_s:.3f} (target >= 0.9), "
          f"cpu/request {rbac.cpu_us / allow.cpu_us:.3f}; per round "
          + ", ".join(f"{r:.2f}" for r in per_round) + f" (median {statistics.median(per_round):.2f})")


def traced(base: int) -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0] - base


async def memory(objects: int) -> None:
    backend = MemoryStorage(history=2 * objects + 10)
    for where, obj in policy(objects):
        plural, ns = where.split("/")
        await backend.create(f"/registry/{G}/{plural}/{ns}/{obj['metadata']['name']}", obj)
    encoded = [msgspec.json.encode(obj) for _, obj in policy(objects)]
    async with open_cacher(backend, f"/registry/{G}/roles/") as roles, \
            open_cacher(backend, f"/registry/{G}/rolebindings/") as bindings, \
            open_cacher(backend, f"/registry/{G}/clusterroles/") as cluster_roles, \
            open_cacher(backend, f"/registry/{G}/clusterrolebindings/") as cluster_bindings:
        tracemalloc.start()
        base = traced(0)
        floor_items = [msgspec.json.decode(raw) for raw in encoded]
        floor = traced(base)
        del floor_items
        base = traced(0)
        informers = {plural: Informer(cacher) for plural, cacher in (
            ("roles", roles), ("rolebindings", bindings), ("clusterroles", cluster_roles),
            ("clusterrolebindings", cluster_bindings))}
        async with trio.open_nursery() as nursery:
            informer_resolver(lambda group, plural: informers[plural])
            for informer in informers.values():
                await nursery.start(informer.run)
                await informer.wait_synced()
            used = traced(base)
            nursery.cancel_scope.cancel()
        tracemalloc.stop()
    await backend.close()
    count = len(encoded)
    print(f"\nmemory of RBAC's informers + subject index over {count} objects "
          f"({statistics.mean(map(len, encoded)):.0f} B of JSON each, tracemalloc)")
    print(f"  floor (decoded dicts in a list): {floor / 1024:8.0f} KiB  {floor / count:6.0f} B/object")
    print(f"  informers + index:               {used / 1024:8.0f} KiB  {used / count:6.0f} B/object")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=3)
    args = parser.parse_args()
    throughput(args.objects, args.rounds, args.duration)
    trio.run(memory, args.objects)


if __name__ == "__main__":
    main()
