"""What server-side apply costs: UPDATE with managedFields bookkeeping against the same UPDATE
before it existed, and apply against a plain UPDATE, in one run.

Two servers run side by side on the same core (``kernel serve --plugins=api_core,storage_memory``):

- **current**: this tree's kernel (the venv running this script);
- **baseline**: the tree at ``--baseline-rev`` (default 15737be, the commit before server-side
  apply), extracted with ``git archive`` into ``--baseline-dir`` and installed (kernel, api_core,
  storage_memory) into a venv of its own the first time; later runs reuse it.

``wrk`` drives, closed loop over TLS (HTTP/1.1, keep-alive), from the other core when there are
two:

- (a) UPDATE: PUT of a 50-field ConfigMap (48 data keys, a counter key that changes on every
  request, a label), round-robin over 64 objects, without resourceVersion (an unconditional
  update, as kube allows for configmaps), on current and on baseline;
- (b) APPLY: PATCH ``application/apply-patch+yaml`` ``?fieldManager=bench`` of the same
  50-field object (the same manager every time, so no conflicts) on current.

Rounds are interleaved (baseline, current UPDATE, current APPLY) and each figure is the median
of the rounds. The issue's targets: UPDATE current/baseline ≥ 0.8; APPLY/UPDATE ≥ 0.5.

    python bench/apply.py [--rounds 3] [--duration 3] [--connections 16] [--baseline-rev REV]
"""

from __future__ import annotations

import argparse
import json
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from api import WRK_REPORT, Client, Load, Server, _pinning, run_wrk  # noqa: E402

from kernel import testing  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "bench"
OBJECTS = 64
COLLECTION = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
FLAGS = ("--plugins=api_core,storage_memory",)
APPLY_TYPE = "application/apply-patch+yaml"


def configmap_template() -> str:
    """A 50-field ConfigMap as a Lua/printf template: %s name, %d counter."""
    data = ",".join(f'"f{i:02d}":"value-{i:02d}"' for i in range(48))
    return ('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s","labels":{"app":"bench"}},'
            '"data":{' + data + ',"n":"%d"}}')


def wrk_script(method: str, prefix: str, content_type: str, query: str = "") -> str:
    """A wrk script writing the 50-field object to ``prefix-<i>``, i round-robin over OBJECTS."""
    return (f"local counter, template = 0, [[{configmap_template()}]]\n"
            "request = function()\n"
            "  counter = counter + 1\n"
            f'  local name = "{prefix}-" .. (counter % {OBJECTS})\n'
            f'  return wrk.format("{method}", "{COLLECTION}/" .. name .. "{query}",\n'
            f'    {{["Content-Type"] = "{content_type}"}}, string.format(template, name, counter))\n'
            "end\n" + WRK_REPORT)


def baseline_kernel(rev: str, where: Path) -> str:
    """The ``kernel`` command of the tree at ``rev``, extracted and installed once into ``where``."""
    tree = where / f"kernel-{rev}"
    command = tree / ".venv" / "bin" / "kernel"
    if command.exists():
        return str(command)
    tree.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "venv", str(tree / ".venv")], check=True)
    print(f"installing the baseline ({rev}) into {tree}/.venv (once) ...", flush=True)
    installed = subprocess.run([str(tree / ".venv/bin/python"), "-m", "pip", "install", "--quiet",
                                "--disable-pip-version-check", "-e", str(tree), "-e", str(tree / "plugins/api_core"),
                                "-e", str(tree / "plugins/storage_memory")], capture_output=True, text=True)
    if installed.returncode != 0:  # pip's index warnings are noise; print them only on failure
        shutil.rmtree(tree / ".venv")
        raise SystemExit(f"installing the baseline failed:\n{installed.stdout}{installed.stderr}")
    return str(command)


def start(name: str, command: str, work: Path, pin: list[str]) -> tuple[Server, ssl.SSLContext]:
    """``kernel serve`` from ``command``; start_kernel runs the module's KERNEL, so point it there."""
    saved, testing.KERNEL = testing.KERNEL, command
    try:
        kernel = testing.start_kernel(work / name, *FLAGS, command_prefix=pin)
    finally:
        testing.KERNEL = saved
    server = Server(name, kernel.process, int(kernel.url.rsplit(":", 1)[1]),
                    {"Authorization": f"Bearer {kernel.token}", "Accept": "application/json",
                     "Content-Type": "application/json"},
                    get_path="", list_path=COLLECTION, create_path=COLLECTION, watch_path="", event_path="")
    return server, ssl.create_default_context(cafile=kernel.ca_file)


def prefill(server: Server, context: ssl.SSLContext, apply: bool) -> bool:
    """The namespace, OBJECTS configmaps to UPDATE and, with ``apply``, OBJECTS created by apply;
    False when the server does not take apply patches (a tree before server-side apply)."""
    client = Client(server, context)
    client.request("POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": NAMESPACE}}))
    for i in range(OBJECTS):
        client.request("POST", COLLECTION, configmap_template() % (f"put-{i}", 0))
    if not apply:
        return False
    server.headers["Content-Type"] = APPLY_TYPE
    try:
        for i in range(OBJECTS):
            client.request("PATCH", f"{COLLECTION}/apply-{i}?fieldManager=bench",
                           configmap_template() % (f"apply-{i}", 0))
    except SystemExit as refused:  # Client.request's way of reporting an unexpected status
        print(f"no APPLY row: {str(refused)[:160]}")
        return False
    finally:
        server.headers["Content-Type"] = "application/json"
    return True


def measure(args: argparse.Namespace, work: Path) -> dict[str, list[Load]]:
    server_pin, load_pin, pinning = _pinning()
    print(pinning)
    baseline_command = baseline_kernel(args.baseline_rev, Path(args.baseline_dir))
    current, current_tls = start("current", testing.KERNEL, work, server_pin)
    baseline, baseline_tls = start("baseline", baseline_command, work, server_pin)
    try:
        applies = prefill(current, current_tls, apply=True)
        prefill(baseline, baseline_tls, apply=False)
        scripts = {"put": work / "put.lua", "apply": work / "apply.lua"}
        scripts["put"].write_text(wrk_script("PUT", "put", "application/json"))
        scripts["apply"].write_text(wrk_script("PATCH", "apply", APPLY_TYPE, "?fieldManager=bench"))
        plan = [("baseline UPDATE", baseline, "put"), ("current UPDATE", current, "put")]
        plan += [("current APPLY", current, "apply")] if applies else []
        runs: dict[str, list[Load]] = {label: [] for label, _, _ in plan}
        for _ in range(args.rounds):
            for label, server, script in plan:
                runs[label].append(run_wrk(server, load_pin, COLLECTION, scripts[script],
                                           args.connections, args.duration))
        return runs
    finally:
        current.stop()
        baseline.stop()


def report(runs: dict[str, list[Load]]) -> None:
    median = statistics.median
    rates = {label: median(r.req_s for r in loads) for label, loads in runs.items()}
    print(f"\n{'':18}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'cpu µs':>9}  errors")
    for label, loads in runs.items():
        errors = "; ".join(r.errors for r in loads if r.errors) or "-"
        print(f"{label:18}{rates[label]:9.0f}{median(r.p50_ms for r in loads):9.2f}"
              f"{median(r.p99_ms for r in loads):9.2f}{median(r.cpu_us for r in loads):9.0f}  {errors}")
    update = rates["current UPDATE"] / rates["baseline UPDATE"]
    print(f"\nUPDATE with managedFields ÷ UPDATE before: {update:.2f} (target ≥ 0.8)")
    if "current APPLY" in rates:
        apply = rates["current APPLY"] / rates["current UPDATE"]
        print(f"APPLY of a 50-field object ÷ plain UPDATE:  {apply:.2f} (target ≥ 0.5)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--baseline-rev", default="15737be")
    parser.add_argument("--baseline-dir", default=str(Path(tempfile.gettempdir()) / "kernel-bench-baseline"),
                        help="where the baseline tree and its venv are kept between runs")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/apply.py needs wrk (Debian: apt-get install -y wrk)")
    with tempfile.TemporaryDirectory(prefix="kernel-bench-apply-") as work:
        runs = measure(args, Path(work))
    print(f"{args.rounds} interleaved rounds of {args.duration} s, {args.connections} connections, "
          f"{OBJECTS} objects; medians")
    report(runs)


if __name__ == "__main__":
    main()
