"""Run a script with the ``kernel`` package of another tree in place of this venv's editable one.

For before/after figures in one run: extract the older kernel package
(``git archive REV kernel | tar -x -C DIR``), then hand bench scripts a kernel command that
imports it, e.g.

    python bench/api.py --kernel-command "$PWD/.venv/bin/python bench/run_tree.py DIR .venv/bin/kernel"
    python bench/run_tree.py DIR bench/hotpath.py

Plugins stay this venv's (they must be compatible with that tree's kernel).

    python bench/run_tree.py TREE SCRIPT [ARGS...]
"""

import runpy
import sys

tree, script = sys.argv[1], sys.argv[2]
sys.argv = [script, *sys.argv[3:]]
# The editable install's finder comes before sys.path: drop it so the tree's package is found.
sys.meta_path[:] = [finder for finder in sys.meta_path
                    if getattr(finder, "__module__", "") != "__editable___kernel_0_1_0_finder"]
sys.path.insert(0, tree)
import kernel  # noqa: E402

if not kernel.__file__ or not kernel.__file__.startswith(tree):
    raise SystemExit(f"kernel comes from {kernel.__file__}, not {tree}")
runpy.run_path(script, run_name="__main__")
