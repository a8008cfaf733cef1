"""Reloading a client CA bundle while serving: the TLS handshakes and an authenticator's roots
follow the file (shared by authn_x509 and authn_requestheader, which trust different bundles)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel.filewatch import watch_file

from kernel_authn_x509.authenticator import load_bundle

#: Seconds between checks of a CA file for changes.
RELOAD_INTERVAL = 1.0


def client_ca_reload_hook(name: str, path: str, content: bytes, tls: Any,
                          set_roots: Callable[[Any, bytes], None]) -> dict[str, Any]:
    """A post-start hook ``{name: hook}`` that watches ``path`` (now holding ``content``): a
    changed bundle that parses goes to new handshakes (``tls.update_client_ca``) and to
    ``set_roots(roots, content)``; one that does not parse is logged and the old one kept."""
    current = content

    async def apply(new: bytes) -> None:
        nonlocal current
        roots = load_bundle(new, path)  # raises: keep the old bundle
        tls.update_client_ca(path, new.decode("utf-8"))
        set_roots(roots, new)
        current = new

    async def start(context: Any) -> None:
        context.spawn(name, lambda: watch_file(path, apply, current=current, interval=RELOAD_INTERVAL))

    return {name: start}
