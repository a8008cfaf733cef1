"""Hypercorn, imported without the modules it needs only for features the kernel does not use.

Hypercorn's modules import at once what only some of its features need:

- its HTTP/2 protocol (h2, hpack, hyperframe, priority): not used (HTTP/2 is the kernel's own,
  :mod:`kernel.server.http2`, which imports hpack's static table and Huffman decoder from
  the first HTTP/2 connection);
- its WebSocket stream (wsproto): needed from the first ``Upgrade: websocket`` request;
- ``logging.config`` (with ``logging.handlers``, ``socketserver``, ``pickle``), for its
  ``logconfig`` setting, which the kernel does not set;
- ``multiprocessing.synchronize`` (most of ``multiprocessing``), for the type hints of its
  multi-process runner, which the kernel does not use (``--workers`` is its own);
- ``tomllib``, for TOML configuration files, which the kernel does not read.

Together about 2.5 MB of the trimmed build's idle 41.5 MB (``bench/footprint.py``). While
:func:`import_hypercorn` imports the Hypercorn modules the kernel uses, each of those modules is
a stand-in in ``sys.modules``: each name Hypercorn takes from it is a function that imports the
real module and calls the real class or function, and any other attribute is read from the real
module. Hypercorn only calls those names, so it behaves the same whichever it uses; the first use
pays the import. The stand-ins leave ``sys.modules`` once Hypercorn is imported, so every later
import of those modules gets the real one.

Importing this module runs :func:`import_hypercorn`: ``kernel.server.httpserver`` imports it
before any Hypercorn module. A module already imported is not stood in for. Checked against
hypercorn==0.18.0, as the rest of ``kernel.server.httpserver``.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any

# A deferred module → the names Hypercorn's modules take from it.
DEFERRED: dict[str, tuple[str, ...]] = {
    # HTTP/1.1 and HTTP/2 are the kernel's own (kernel.server.http1, kernel.server.http2):
    # Hypercorn's protocols, h11, h2 and priority are not used; h2's events are type hints of
    # hypercorn.typing.
    "hypercorn.protocol.h11": ("H2CProtocolRequiredError", "H2ProtocolAssumedError", "H11Protocol"),
    "h11": (),
    "h2.events": (),
    "hypercorn.protocol.h2": ("H2Protocol",),
    "hypercorn.protocol.ws_stream": ("WSStream",),
    "logging.config": ("dictConfig", "fileConfig"),
    "multiprocessing.synchronize": ("Event",),
    "tomllib": ("load", "loads"),
}
# Names a Hypercorn module uses as types while it is imported (hypercorn.typing's
# ``H11SendableEvent = h11.Data | ...``): placeholder classes, removed once Hypercorn is imported
# so that any later use reaches the real module.
PLACEHOLDER_TYPES: dict[str, tuple[str, ...]] = {
    "h11": ("Data", "EndOfMessage", "InformationalResponse", "Response"),
}
# The Hypercorn modules the kernel imports (with what they import).
HYPERCORN = ("hypercorn.app_wrappers", "hypercorn.config", "hypercorn.events", "hypercorn.protocol",
             "hypercorn.trio.tcp_server", "hypercorn.trio.worker_context", "hypercorn.typing")


class _StandIn(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # the import system's questions (__path__...): not the module's
            raise AttributeError(name)
        return getattr(_real(self.__name__), name)


def _real(module: str) -> types.ModuleType:
    if isinstance(sys.modules.get(module), _StandIn):  # used while Hypercorn is being imported
        del sys.modules[module]
    return importlib.import_module(module)


def _forwarder(module: str, name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(_real(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def import_hypercorn() -> None:
    """Import the Hypercorn modules the kernel uses, with the :data:`DEFERRED` ones stood in for."""
    stand_ins = {}
    for module, names in DEFERRED.items():
        if module not in sys.modules:
            stand_in = stand_ins[module] = _StandIn(module, f"Stands in for {module}: {__name__}.")
            for name in names:
                setattr(stand_in, name, _forwarder(module, name))
            for name in PLACEHOLDER_TYPES.get(module, ()):
                setattr(stand_in, name, type(name, (), {}))
    sys.modules.update(stand_ins)
    try:
        for module in HYPERCORN:
            importlib.import_module(module)
    finally:
        for module, stand_in in stand_ins.items():
            if sys.modules.get(module) is stand_in:
                del sys.modules[module]
            for name in PLACEHOLDER_TYPES.get(module, ()):
                delattr(stand_in, name)


import_hypercorn()
