"""A size-rotated log file with lumberjack's semantics (gopkg.in/natefinch/lumberjack.v2, what
kube's --audit-log-max* flags drive).

Before a write would take the file past ``max_size`` bytes, the file is renamed to
``<name>-<UTC time>.<ext>`` (``audit-2026-12-05T21-10-00.000.log``) and a new one is started;
then backups beyond ``max_backups`` (newest kept) and older than ``max_age`` days (by the time in
their name) are removed, and the others gzipped when ``compress`` is set. ``0`` disables a limit
(``max_size`` 0: never rotate). A single write larger than ``max_size`` fails, as in lumberjack.
Used from one thread only (the log backend's writer).
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

BACKUP_TIME_FORMAT = "%Y-%m-%dT%H-%M-%S"
FILE_MODE = 0o600


class RotatingFile:
    def __init__(self, path: str, max_size: int, max_backups: int = 0, max_age_days: int = 0,
                 compress: bool = False) -> None:
        self.path = Path(path)
        self.max_size = max_size
        self.max_backups = max_backups
        self.max_age_days = max_age_days
        self.compress = compress
        self._file: int | None = None  # an O_APPEND descriptor: each write lands whole
        self._size = 0

    def write(self, data: bytes) -> None:
        if self.max_size and len(data) > self.max_size:
            raise OSError(f"write length {len(data)} exceeds maximum file size {self.max_size}")
        if self._file is None:
            self._open_existing_or_new(len(data))
        elif self.max_size and self._size + len(data) > self.max_size:
            self._rotate()
        assert self._file is not None
        view = memoryview(data)
        while view:
            written = os.write(self._file, view)
            view = view[written:]
        self._size += len(data)

    def close(self) -> None:
        if self._file is not None:
            os.close(self._file)
            self._file = None

    # -- lumberjack's steps --------------------------------------------------------------------

    def _open_existing_or_new(self, length: int) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            self._open_new()
            return
        if self.max_size and size + length >= self.max_size:
            self._rotate()
            return
        self._file = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        self._size = size

    def _rotate(self) -> None:
        self.close()
        self._open_new()
        self._mill()

    def _open_new(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = FILE_MODE
        if self.path.exists():  # keep the old file's mode, move it aside
            mode = self.path.stat().st_mode & 0o777
            os.rename(self.path, self._free_backup_name())
        self._file = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC, mode)
        os.chmod(self.path, mode)
        self._size = 0

    def _free_backup_name(self) -> Path:
        """A backup name no file has: two rotations within a millisecond would share one (and
        lumberjack's rename would replace the older backup), so the later moves on a millisecond."""
        now = time.time()
        while True:
            name = self.backup_name(now)
            if not name.exists() and not name.with_name(name.name + ".gz").exists():
                return name
            now += 0.001

    def backup_name(self, now: float) -> Path:
        stamp = datetime.fromtimestamp(now, timezone.utc)
        text = stamp.strftime(BACKUP_TIME_FORMAT) + f".{stamp.microsecond // 1000:03d}"
        return self.path.with_name(f"{self.path.stem}-{text}{self.path.suffix}")

    def backups(self) -> list[tuple[float, Path]]:
        """The backups of this file, newest first, with the time their name carries."""
        prefix, suffix = f"{self.path.stem}-", self.path.suffix
        found = []
        for entry in self.path.parent.iterdir():
            name = entry.name
            bare = name[:-3] if name.endswith(".gz") else name
            if not (bare.startswith(prefix) and bare.endswith(suffix)) or entry == self.path:
                continue
            stamp = bare[len(prefix):len(bare) - len(suffix)] if suffix else bare[len(prefix):]
            try:
                when = datetime.strptime(stamp, BACKUP_TIME_FORMAT + ".%f").replace(tzinfo=timezone.utc)
            except ValueError:
                continue
            found.append((when.timestamp(), entry))
        return sorted(found, key=lambda item: item[0], reverse=True)

    def _mill(self) -> None:
        backups = self.backups()
        remove: list[Path] = []
        if self.max_backups and len(backups) > self.max_backups:
            # a file and its .gz count once, as in lumberjack
            kept: set[str] = set()
            survivors = []
            for when, path in backups:
                key = path.name.removesuffix(".gz")
                if key in kept or len(kept) < self.max_backups:
                    kept.add(key)
                    survivors.append((when, path))
                else:
                    remove.append(path)
            backups = survivors
        if self.max_age_days:
            cutoff = time.time() - self.max_age_days * 86400
            remove += [path for when, path in backups if when < cutoff]
            backups = [(when, path) for when, path in backups if when >= cutoff]
        for path in remove:
            path.unlink(missing_ok=True)
        if self.compress:
            for _, path in backups:
                if path.suffix != ".gz":
                    _gzip(path)


def _gzip(path: Path) -> None:
    import gzip  # by the first compressed backup

    target = path.with_name(path.name + ".gz")
    with open(path, "rb") as source, gzip.open(target, "wb") as sink:
        shutil.copyfileobj(source, sink)
    os.chmod(target, path.stat().st_mode & 0o777)
    path.unlink()
