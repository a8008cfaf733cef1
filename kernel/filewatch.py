"""Watch a file named by a flag and hand its new content on (kube's dynamic file content).

kube reloads client CA bundles and the authentication configuration when their files change,
without a restart. :func:`watch_file` polls: a ``stat`` every ``interval`` seconds (in a thread,
like all file I/O here) and a read when size, mtime or inode moved, so editors that replace the
file and tools that rewrite it in place are both seen. ``on_change`` gets content that differs
from the last accepted one; if it raises, the error is logged, the old content stays in force
and the same content is not offered again until the file changes once more (kube keeps serving
with the last valid content too). A missing or unreadable file is logged once and waited out.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable

import trio

log = logging.getLogger("kernel.filewatch")

OnChange = Callable[[bytes], Awaitable[None] | None]


def _signature(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


async def watch_file(path: str, on_change: OnChange, *, current: bytes,
                     interval: float = 1.0) -> None:
    """Run until cancelled: call ``on_change(content)`` whenever the file's content differs from
    ``current`` (what the caller loaded at start)."""
    signature = None  # the first check reads the file: it may have changed since ``current``
    missing_logged = False
    while True:
        await trio.sleep(interval)
        now = await trio.to_thread.run_sync(_signature, path)
        if now is None:
            if not missing_logged:
                log.warning("%s: cannot be read; keeping the content loaded before", path)
                missing_logged = True
            continue
        missing_logged = False
        if now == signature:
            continue
        signature = now
        try:
            content = await trio.to_thread.run_sync(_read, path)
        except OSError as error:
            log.warning("%s: %s; keeping the content loaded before", path, error)
            continue
        if content == current:
            continue
        current = content  # offered once: a bad content is not retried until the file changes
        try:
            result = on_change(content)
            if result is not None:
                await result
        except Exception as error:  # noqa: BLE001 - a bad file must not stop the server
            log.error("%s: not reloaded, keeping the content loaded before: %s", path, error)
        else:
            log.info("%s: reloaded", path)
