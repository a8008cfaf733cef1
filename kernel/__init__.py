"""kernel: a Kubernetes-compatible API server built as a microkernel of pluggy plugins."""

from importlib.metadata import PackageNotFoundError, version as _dist_version

import pluggy

try:
    __version__ = _dist_version("kernel")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

#: Marker for plugin hook implementations: ``@kernel.hookimpl``.
hookimpl = pluggy.HookimplMarker("kernel")

__all__ = ["hookimpl", "__version__"]
