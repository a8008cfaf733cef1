"""The log backend and its file: lumberjack's rotation, the writer thread, kube's modes."""

from __future__ import annotations

import gzip
import json
import re
import time
from pathlib import Path

import pytest
import trio

from kernel.audit import Backend
from kernel_audit.batch import BATCH, BLOCKING_STRICT
from kernel_audit.log import LogBackend, _legacy_line
from kernel_audit.rotate import RotatingFile

BACKUP = re.compile(r"^audit-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}\.log$")


def event(n: int, **more: object) -> dict[str, object]:
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
            "auditID": f"id-{n}", "stage": "ResponseComplete", "requestURI": "/api/v1/pods",
            "verb": "list", "user": {"username": "alice", "groups": ["devs"]},
            "sourceIPs": ["10.0.0.1", "127.0.0.1"], "userAgent": "kubectl/v1.32",
            "objectRef": {"resource": "pods", "namespace": "ns"},
            "responseStatus": {"metadata": {}, "code": 200},
            "requestReceivedTimestamp": "2026-12-05T21:10:00.123400Z",
            "stageTimestamp": "2026-12-05T21:10:00.223400Z", **more}


def backups(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != "audit.log")


def test_rotates_before_a_write_would_pass_the_size(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = RotatingFile(str(path), max_size=100)
    for _ in range(3):
        log.write(b"x" * 40 + b"\n")  # 41 bytes: two fit, the third starts a new file
    log.close()
    assert path.read_bytes() == b"x" * 40 + b"\n"
    [backup] = backups(tmp_path)
    assert BACKUP.match(backup), backup
    assert (tmp_path / backup).read_bytes() == (b"x" * 40 + b"\n") * 2
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)


def test_an_existing_file_is_appended_to_or_rotated_when_full(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(b"old\n")
    log = RotatingFile(str(path), max_size=10)
    log.write(b"new\n")
    log.close()
    assert path.read_bytes() == b"old\nnew\n" and backups(tmp_path) == []
    log = RotatingFile(str(path), max_size=10)
    log.write(b"more\n")  # 8 + 5 >= 10: rotated on open, as lumberjack does
    log.close()
    assert path.read_bytes() == b"more\n" and len(backups(tmp_path)) == 1


def test_max_backups_keeps_the_newest(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = RotatingFile(str(path), max_size=10, max_backups=2)
    for n in range(5):
        log.write(f"line-{n}...\n".encode())  # 11 bytes? no: 10 bytes each, one per file
        time.sleep(0.002)  # backup names have millisecond resolution
    log.close()
    kept = backups(tmp_path)
    assert len(kept) == 2
    assert sorted((tmp_path / name).read_text() for name in kept) == ["line-2...\n", "line-3...\n"]
    assert path.read_text() == "line-4...\n"


def test_max_age_removes_old_backups_by_the_time_in_their_name(tmp_path: Path) -> None:
    old = tmp_path / "audit-2020-01-01T00-00-00.000.log"
    old.write_text("old\n")
    other = tmp_path / "unrelated-2020-01-01T00-00-00.000.log"
    other.write_text("keep\n")
    log = RotatingFile(str(tmp_path / "audit.log"), max_size=5, max_age_days=30)
    log.write(b"1234\n")
    log.write(b"5678\n")  # rotation, then the mill removes the 2020 backup
    log.close()
    assert not old.exists() and other.exists()
    assert len(backups(tmp_path)) == 2  # the fresh backup and the unrelated file


def test_compress_gzips_backups(tmp_path: Path) -> None:
    log = RotatingFile(str(tmp_path / "audit.log"), max_size=5, compress=True)
    log.write(b"1234\n")
    log.write(b"5678\n")
    log.close()
    [backup] = backups(tmp_path)
    assert backup.endswith(".log.gz")
    assert gzip.decompress((tmp_path / backup).read_bytes()) == b"1234\n"


def test_a_write_larger_than_the_maximum_fails(tmp_path: Path) -> None:
    log = RotatingFile(str(tmp_path / "audit.log"), max_size=4)
    with pytest.raises(OSError, match="write length 5 exceeds maximum file size 4"):
        log.write(b"12345")


async def test_events_are_written_in_order_and_flushed_at_shutdown(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    backend = LogBackend(lambda: RotatingFile(str(path), 0))
    assert isinstance(backend, Backend)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        await trio.sleep(0)
        for n in range(500):
            assert backend.process_events([event(n)]) is True
        with trio.fail_after(10):
            await backend.shutdown()
    lines = path.read_text().splitlines()
    assert [json.loads(line)["auditID"] for line in lines] == [f"id-{n}" for n in range(500)]


async def test_a_batch_larger_than_the_file_is_written_across_rotations(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    line_size = len(json.dumps(event(0))) + 1
    lost: list[tuple[str, int]] = []
    backend = LogBackend(lambda: RotatingFile(str(path), 3 * line_size + 10, max_backups=100),
                         lost=lambda *args: lost.append(args))
    for n in range(10):  # queued before the writer starts: one batch of 10 lines, > the file
        assert backend.process_events([event(n)]) is True
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        with trio.fail_after(10):
            await backend.shutdown()
    assert lost == []
    written = [json.loads(line)["auditID"] for file in sorted(tmp_path.iterdir())
               for line in file.read_text().splitlines()]
    assert sorted(written) == sorted(f"id-{n}" for n in range(10))
    assert [json.loads(line)["auditID"] for line in path.read_text().splitlines()][-1] == "id-9"


async def test_blocking_strict_refuses_events_once_writing_failed(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")  # a file where the log's directory should be
    lost: list[tuple[str, int]] = []
    backend = LogBackend(lambda: RotatingFile(str(tmp_path / "file" / "audit.log"), 0),
                         mode=BLOCKING_STRICT, lost=lambda *args: lost.append(args))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        assert backend.process_events([event(1)]) is True  # not known to fail yet
        with trio.fail_after(5):
            while backend.process_events([event(2)]):
                await trio.sleep(0.01)
        assert backend.errors >= 1
        await backend.shutdown()
    assert lost and {plugin for plugin, _ in lost} == {"log"}  # apiserver_audit_error_total


async def test_batch_mode_drops_events_on_a_full_buffer_and_still_accepts(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    lost: list[tuple[str, int]] = []
    backend = LogBackend(lambda: RotatingFile(str(path), 0), mode=BATCH, buffer_size=3,
                         max_batch_size=10, max_batch_wait=0.05, lost=lambda *args: lost.append(args))
    for n in range(5):  # the writer is not running yet: the buffer fills
        assert backend.process_events([event(n)]) is True  # kube's batch backend returns true too
    assert backend.dropped == 2 and lost == [("buffered", 1), ("buffered", 1)]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        await trio.sleep(0.1)
        await backend.shutdown()
    assert [json.loads(line)["auditID"] for line in path.read_text().splitlines()] == [
        "id-0", "id-1", "id-2"]


def test_legacy_format_is_kubes_event_string() -> None:
    line = _legacy_line(event(7, impersonatedUser={"username": "bob"}))
    assert line.decode() == (
        '2026-12-05T21:10:00.1234Z AUDIT: id="id-7" stage="ResponseComplete" ip="10.0.0.1" '
        'method="list" user="alice" groups="\\"devs\\"" as="bob" asgroups="<lookup>" '
        'user-agent="kubectl/v1.32" namespace="ns" uri="/api/v1/pods" response="200"\n')
