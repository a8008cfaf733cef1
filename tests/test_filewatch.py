"""kernel.filewatch: content changes reach the callback once; bad content and missing files do no harm."""

from __future__ import annotations

import os
from pathlib import Path

import trio

from kernel.filewatch import watch_file


async def test_changes_are_delivered_and_failures_keep_watching(tmp_path: Path, nursery, caplog) -> None:
    path = tmp_path / "bundle"
    path.write_bytes(b"one")
    seen: list[bytes] = []

    def on_change(content: bytes) -> None:
        seen.append(content)
        if content == b"bad":
            raise ValueError("refused")

    nursery.start_soon(lambda: watch_file(str(path), on_change, current=b"one", interval=0.02))
    await trio.sleep(0.1)
    assert seen == []  # same content as loaded
    path.write_bytes(b"two")
    await trio.sleep(0.1)
    tmp = tmp_path / "bundle.tmp"
    tmp.write_bytes(b"bad")
    os.replace(tmp, path)  # an atomic replace, as kubelet and editors do
    await trio.sleep(0.1)
    path.unlink()
    await trio.sleep(0.1)
    path.write_bytes(b"three")
    await trio.sleep(0.1)
    assert seen == [b"two", b"bad", b"three"]
    assert "not reloaded, keeping the content loaded before: refused" in caplog.text
    assert "cannot be read" in caplog.text


async def test_a_change_before_watching_started_is_seen(tmp_path: Path, nursery) -> None:
    path = tmp_path / "bundle"
    path.write_bytes(b"newer")
    seen: list[bytes] = []

    async def on_change(content: bytes) -> None:
        seen.append(content)

    nursery.start_soon(lambda: watch_file(str(path), on_change, current=b"older", interval=0.02))
    await trio.sleep(0.1)
    assert seen == [b"newer"]
