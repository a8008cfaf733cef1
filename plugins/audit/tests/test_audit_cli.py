"""``kernel serve`` with the audit flags: startup errors, ``-`` for standard output, rotation of
a real server's log, and the events of the last requests flushed at shutdown."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kernel.testing import start_kernel

KERNEL = str(Path(sys.executable).with_name("kernel"))
PLUGINS = "--plugins=api_core,storage_memory,audit"
POLICY = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: {level}\n"


def serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KERNEL, "serve", "--secure-port=0", f"--cert-dir={tmp_path / 'certs'}",
                           PLUGINS, *args], capture_output=True, text=True, timeout=60)


def test_an_invalid_policy_file_stops_startup_with_kubes_message(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n")
    result = serve(tmp_path, f"--audit-policy-file={policy}", "--audit-log-path=-")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f'Error: --audit-policy-file: loading audit policy file: rules[0].level: Unsupported '
        f'value: "Loud": supported values: "None", "Metadata", "Request", "RequestResponse": '
        f"from file {policy}")
    missing = tmp_path / "missing.yaml"
    result = serve(tmp_path, f"--audit-policy-file={missing}")
    assert result.returncode == 1
    assert (f'--audit-policy-file: loading audit policy file: failed to read file path '
            f'"{missing}": open {missing}: no such file or directory') in result.stderr


def test_invalid_log_flags_are_reported_together(tmp_path: Path) -> None:
    result = serve(tmp_path, "--audit-log-path=-", "--audit-log-mode=sometimes",
                   "--audit-log-format=xml", "--audit-log-maxage=-1", "--audit-log-maxsize=-2")
    assert result.returncode == 1
    assert result.stderr.splitlines()[1:] == [
        '  invalid audit log mode sometimes, allowed modes are '
        '"batch,blocking,blocking-strict"',
        '  --audit-log-format: invalid audit log format xml, allowed formats are "legacy,json"',
        "  --audit-log-maxage -1 can't be a negative number",
        "  --audit-log-maxsize -2 can't be a negative number"]
    result = serve(tmp_path, "--audit-log-path=-", "--audit-log-mode=batch",
                   "--audit-log-batch-buffer-size=0")
    assert result.stderr == "Error: invalid audit batch log buffer size 0, must be a positive number\n"


def test_dash_writes_events_to_standard_output(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY.format(level="Metadata"))
    kernel = start_kernel(tmp_path, PLUGINS, f"--audit-policy-file={tmp_path / 'policy.yaml'}",
                          "--audit-log-path=-")
    try:
        with kernel.client() as client:
            audit_id = client.get("/api/v1/namespaces").headers["audit-id"]
    finally:
        assert kernel.stop() == 0
    found = [json.loads(line) for line in kernel.log().splitlines()
             if line.startswith("{") and audit_id in line]
    assert [e["stage"] for e in found] == ["RequestReceived", "ResponseComplete"]


def test_a_real_servers_log_rotates_and_keeps_maxbackup_files(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY.format(level="Request"))
    logs = tmp_path / "logs"
    kernel = start_kernel(tmp_path, PLUGINS, f"--audit-policy-file={tmp_path / 'policy.yaml'}",
                          f"--audit-log-path={logs / 'audit.log'}", "--audit-log-maxsize=1",
                          "--audit-log-maxbackup=2")
    try:
        with kernel.client() as client:
            for n in range(12):  # ~300 KB in each create's ResponseComplete: about 3.6 MB in all
                response = client.post("/api/v1/namespaces/default/configmaps", json={
                    "metadata": {"name": f"big-{n}"}, "data": {"blob": f"{n}" * 300_000}})
                assert response.status_code == 201
    finally:
        assert kernel.stop() == 0
    names = sorted(p.name for p in logs.iterdir())
    assert "audit.log" in names
    rotated = [name for name in names if name != "audit.log"]
    assert len(rotated) == 2, names
    assert all(name.startswith("audit-") and name.endswith(".log") for name in rotated)
    for path in logs.iterdir():
        assert path.stat().st_size <= 1024 * 1024
        for line in path.read_text().splitlines():
            json.loads(line)
    # the newest events are all there: the last create, completed
    last = [json.loads(line) for line in (logs / "audit.log").read_text().splitlines()]
    assert any(e["stage"] == "ResponseComplete" and e["objectRef"].get("name") == "big-11"
               for e in last)


def test_the_last_events_are_flushed_at_shutdown(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY.format(level="Metadata"))
    log = tmp_path / "audit.log"
    kernel = start_kernel(tmp_path, PLUGINS, f"--audit-policy-file={tmp_path / 'policy.yaml'}",
                          f"--audit-log-path={log}", "--audit-log-mode=batch",
                          "--audit-log-batch-max-size=100", "--audit-log-batch-max-wait=30s")
    with kernel.client() as client:
        ids = [client.get("/api/v1/namespaces").headers["audit-id"] for _ in range(20)]
    assert kernel.stop() == 0  # batches wait up to 30s to fill: shutdown must write them
    written = {(e["auditID"], e["stage"]) for e in map(json.loads, log.read_text().splitlines())}
    assert all((i, "ResponseComplete") in written for i in ids)
