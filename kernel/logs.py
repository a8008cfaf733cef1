"""Logging as kube components do it (component-base/logs), on the standard ``logging`` module.

Verbosity follows klog: ``-v=N`` enables informational messages up to level N. Level 0 is
``logging.INFO``; level N is ``INFO - N`` (so ``logger.isEnabledFor(level(2))`` is klog's
``V(2).Enabled()``). Structured messages (klog's ``InfoS``) pass their key/value pairs as
``extra={"kv": ((key, value), ...)}``; the formatters render them:

- ``text``: klog's header (``I0102 15:04:05.000000 logger] ...``), then ``"msg" key="value" ...``;
- ``json``: one JSON object a line: ``ts``, ``caller``, ``msg``, ``v`` (info) or ``level``,
  then the pairs as fields (component-base/logs/json's layout).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO

import msgspec

FORMATS = ("json", "text")
_ROOT_HANDLER_MARK = "_kernel_logs"


def level(verbosity: int) -> int:
    """The ``logging`` level of klog's ``V(verbosity)``."""
    return logging.INFO - verbosity


def _letter(levelno: int) -> str:
    if levelno >= logging.CRITICAL:
        return "F"
    if levelno >= logging.ERROR:
        return "E"
    if levelno >= logging.WARNING:
        return "W"
    return "I"


def _text_value(value: Any) -> str:
    # Go's %q for strings (klog quotes them); numbers and booleans bare, as klog prints them.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return msgspec.json.encode(str(value)).decode()


class TextFormatter(logging.Formatter):
    """klog's text layout: ``I0102 15:04:05.123456 name] message``."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        micros = int((record.created - seconds) * 1_000_000)
        stamp = time.strftime("%m%d %H:%M:%S", time.localtime(seconds))
        kv = getattr(record, "kv", None)
        if kv is None:
            message = record.getMessage()
        else:
            message = " ".join([_text_value(record.getMessage()),
                                *(f"{key}={_text_value(value)}" for key, value in kv)])
        line = f"{_letter(record.levelno)}{stamp}.{micros:06d} {record.name}] {message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JSONFormatter(logging.Formatter):
    """component-base/logs/json's layout: one object a line."""

    _encode = msgspec.json.Encoder().encode

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"ts": round(record.created, 6),
                                 "caller": f"{record.module}.py:{record.lineno}",
                                 "msg": record.getMessage()}
        if record.levelno < logging.WARNING:
            entry["v"] = max(0, logging.INFO - record.levelno)
        else:
            entry["level"] = record.levelname.lower()
        for key, value in getattr(record, "kv", ()):
            entry[key] = value
        if record.exc_info:
            entry["err"] = self.formatException(record.exc_info)
        return self._encode(entry).decode()


def setup(verbosity: int = 0, fmt: str = "text", stream: TextIO | None = None) -> None:
    """(Re)configure the root logger: one stderr handler in ``fmt`` at klog level ``verbosity``.

    Called once with defaults before the flags are parsed (so option errors are logged), and
    again with the parsed ``-v``/``--logging-format``.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _ROOT_HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _ROOT_HANDLER_MARK, True)
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level(verbosity))


def verbosity() -> int:
    """The current klog verbosity (``-v``), as the root logger's level says."""
    return max(0, logging.INFO - logging.getLogger().level)


def set_verbosity(verbosity: int) -> None:
    """Change ``-v`` while running (kube's ``PUT /debug/flags/v``). ``setLevel`` clears the
    ``isEnabledFor`` caches of every logger, so per-request checks see it at once."""
    logging.getLogger().setLevel(level(verbosity))


def format_latency(seconds: float) -> str:
    """A latency as Go prints a time.Duration (``1.234567ms``, ``250µs``, ``1.5s``)."""
    nanos = int(seconds * 1e9)
    if nanos < 1000:
        return f"{nanos}ns"
    for unit, size in (("µs", 1e3), ("ms", 1e6)):
        if nanos < size * 1000:
            return f"{nanos / size:.6f}".rstrip("0").rstrip(".") + unit
    minutes, secs = divmod(nanos, 60_000_000_000)
    text = f"{secs / 1e9:.9f}".rstrip("0").rstrip(".") + "s"
    if minutes:
        hours, minutes = divmod(minutes, 60)
        text = (f"{hours}h" if hours else "") + f"{minutes}m" + text
    return text
