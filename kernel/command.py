"""The ``kernel`` command's entry point: :func:`kernel.cli.main`, imported with the garbage
collector off.

What the command imports (trio, Hypercorn, the server chain: a few hundred modules) allocates
objects that live as long as the process, and CPython's collector, at its default threshold,
walks them again and again meanwhile: about 70 collections, 10 ms of a restart's CPU, that find
next to nothing. So the collector is off during the import; what it made is then frozen
(:func:`gc.freeze`: later collections, whose threshold ``kernel serve`` sets, skip it) and the
collector is back on before anything runs. Tests and tools that import :mod:`kernel.cli`
themselves are not affected.
"""

from __future__ import annotations

import gc
import sys


def main() -> int:
    gc.disable()
    try:
        from kernel.cli import main as cli_main
    finally:
        gc.freeze()
        gc.enable()
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
