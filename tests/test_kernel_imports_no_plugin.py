"""The kernel imports no plugin: plugins depend on the kernel, never the other way round.

Every import statement under kernel/ is read from the AST (those under ``TYPE_CHECKING`` and
inside functions too, as a type-level edge is a design edge) and checked against the plugin
packages: the top-level packages under plugins/ and those behind ``kernel.plugins`` entry points.
Kinds, for one, are declared by the API group plugins (``ResourceSpec.protobuf``), not the kernel.
"""

from __future__ import annotations

import ast
from importlib.metadata import entry_points
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNEL = ROOT / "kernel"


def plugin_packages() -> set[str]:
    found = {init.parent.name for init in (ROOT / "plugins").glob("*/*/__init__.py")}
    found |= {ep.value.split(":")[0].split(".")[0] for ep in entry_points(group="kernel.plugins")}
    found.discard("kernel")  # a built-in plugin lives in the kernel itself
    return found


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every absolute import; ``importlib.import_module("x")`` counts too."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", ""))
              in ("import_module", "__import__") and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return found


def back_edges(tree_root: Path, packages: set[str]) -> list[str]:
    edges = []
    for path in sorted(tree_root.rglob("*.py")):
        for line, module in imported_modules(ast.parse(path.read_text(), str(path))):
            top = module.split(".")[0]
            if top in packages or top.startswith("kernel_"):
                edges.append(f"{path.relative_to(tree_root.parent)}:{line} imports {module}")
    return edges


def test_the_plugin_packages_are_known() -> None:
    """Guard the check itself: an empty list of plugin packages would pass anything."""
    assert {"kernel_api_core", "kernel_api_authentication"} <= plugin_packages()


def test_nothing_under_kernel_imports_a_plugin() -> None:
    assert back_edges(KERNEL, plugin_packages()) == []


def test_a_back_edge_is_caught(tmp_path: Path) -> None:
    """The check fails on the edges it is meant to catch, hidden ones included."""
    (tmp_path / "kernel").mkdir()
    (tmp_path / "kernel" / "x.py").write_text(
        "from typing import TYPE_CHECKING\nimport kernel.apimachinery\nif TYPE_CHECKING:\n"
        "    from kernel_api_core.protobuf import SECRET\n"
        "def f():\n    import importlib\n    importlib.import_module('kernel_storage_etcd3')\n")
    assert back_edges(tmp_path / "kernel", plugin_packages()) == [
        "kernel/x.py:4 imports kernel_api_core.protobuf", "kernel/x.py:7 imports kernel_storage_etcd3"]
