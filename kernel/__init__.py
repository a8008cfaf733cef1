"""kernel: a Kubernetes-compatible API server built as a microkernel of pluggy plugins."""

import pluggy

from kernel.distributions import version as _dist_version

# "0.0.0": running from a source tree that was not installed
__version__ = _dist_version("kernel") or "0.0.0"

#: Marker for plugin hook implementations: ``@kernel.hookimpl``.
hookimpl = pluggy.HookimplMarker("kernel")

__all__ = ["hookimpl", "__version__"]
