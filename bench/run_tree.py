"""Run a script with the ``kernel`` package (and the plugins) of another tree in place of this
venv's editable ones.

For before/after figures in one run: extract the older tree
(``git archive REV kernel plugins | tar -x -C DIR``), then hand bench scripts a kernel command
that imports it, e.g.

    python bench/api.py --kernel-command "$PWD/.venv/bin/python bench/run_tree.py DIR .venv/bin/kernel"
    python bench/run_tree.py DIR bench/hotpath.py

Plugins found under DIR/plugins replace the installed ones of the same package; the others (and
the entry points that list them) stay this venv's.

    python bench/run_tree.py TREE SCRIPT [ARGS...]
"""

import runpy
import sys
from pathlib import Path

tree, script = Path(sys.argv[1]).resolve(), sys.argv[2]
sys.argv = [script, *sys.argv[3:]]
packages = {"kernel": tree}
for package in tree.glob("plugins/*/kernel_*/__init__.py"):
    packages[package.parent.name] = package.parent.parent
# The editable installs' finders come before sys.path: drop those of the packages the tree has.
sys.meta_path[:] = [finder for finder in sys.meta_path
                    if not any(getattr(finder, "__module__", "").startswith(f"__editable___{name}_")
                               for name in packages)]
sys.path[:0] = sorted({str(path) for path in packages.values()})
import kernel  # noqa: E402

if not kernel.__file__ or not kernel.__file__.startswith(str(tree)):
    raise SystemExit(f"kernel comes from {kernel.__file__}, not {tree}")
if Path(script).name == "kernel":
    # The console script imports its entry point by name, which an older tree may not have
    # (kernel.command came later): run the tree's own.
    entry = "kernel.command" if (tree / "kernel" / "command.py").exists() else "kernel.cli"
    runpy.run_module(entry, run_name="__main__", alter_sys=True)
else:
    runpy.run_path(script, run_name="__main__")
