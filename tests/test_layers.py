"""The kernel's packages are layered as k8s.io/apiserver's are, and nothing anywhere imports in a cycle.

Every import counts: at module level, inside functions and under ``TYPE_CHECKING`` (a cycle of
type hints is still a design cycle). grimp, import-linter's engine, builds the graph; the layers
are checked here rather than by an import-linter contract because one of them is nested: the
request object (``kernel.endpoints.request``, kube's net/http request plus endpoints/request) sits
below authentication, while the rest of ``kernel.endpoints`` sits above the registry.
"""

from __future__ import annotations

import graphlib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module belongs to the layer of the longest prefix naming it (the module itself or
# a package above it) and may import only from its own layer and those below.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("component-base", ("kernel.version", "kernel.logs", "kernel.filewatch", "kernel.distributions")),
    ("apimachinery", ("kernel.apimachinery",)),
    ("storage", ("kernel.storage",)),
    ("authentication/user", ("kernel.authentication.user",)),
    ("endpoints/request", ("kernel.endpoints.request",)),
    ("authentication, authorization", ("kernel.authentication", "kernel.authorization")),
    ("admission, audit", ("kernel.admission", "kernel.audit")),
    ("registry", ("kernel.registry",)),
    ("endpoints", ("kernel.endpoints",)),
    ("server", ("kernel.server", "kernel.context", "kernel.hookspecs", "kernel.plugins")),
    ("cmd, built-in plugins, contract suites", ("kernel.app", "kernel.cli", "kernel.command", "kernel.bundle",
                                                 "kernel.builtin", "kernel.testing")),
)


def layer_of(module: str) -> int:
    if module == "kernel":  # the package itself holds only __version__
        return 0
    best, depth = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and prefix.count(".") > depth:
                best, depth = index, prefix.count(".")
    return best


def back_edges(graph: grimp.ImportGraph) -> list[str]:
    """``importer -> imported`` for every import of a higher layer, with the lines that do it."""
    found = []
    for importer in sorted(m for m in graph.modules if m == "kernel" or m.startswith("kernel.")):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if imported.startswith("kernel") and layer_of(imported) > layer_of(importer):
                lines = [d["line_number"] for d in graph.get_import_details(importer=importer,
                                                                           imported=imported)]
                found.append(f"{importer} ({LAYERS[layer_of(importer)][0]}) -> {imported} "
                             f"({LAYERS[layer_of(imported)][0]}), line {', '.join(map(str, lines))}")
    return found


def plugin_packages() -> list[str]:
    return sorted(init.parent.name for init in (ROOT / "plugins").glob("*/kernel_*/__init__.py"))


def build_graph() -> grimp.ImportGraph:
    return grimp.build_graph("kernel", *plugin_packages(), cache_dir=None)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return build_graph()


def test_every_kernel_module_has_a_layer(graph: grimp.ImportGraph) -> None:
    kernel = [m for m in graph.modules if m.startswith("kernel.")]
    assert len(kernel) > 50
    assert [m for m in kernel if layer_of(m) < 0] == []


def test_no_module_imports_a_higher_layer(graph: grimp.ImportGraph) -> None:
    assert back_edges(graph) == []


def test_a_back_edge_is_named() -> None:
    """Guard the check: the storage layer importing the registry is reported, with its line."""
    graph = build_graph()  # its own: the shared one must not be edited
    graph.add_import(importer="kernel.storage.cacher", imported="kernel.registry.store", line_number=7,
                     line_contents="from kernel.registry.store import Store")
    assert "kernel.storage.cacher (storage) -> kernel.registry.store (registry), line 7" in back_edges(graph)


def find_cycle(graph: grimp.ImportGraph) -> list[str]:
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    try:
        graphlib.TopologicalSorter(edges).prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return []


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    """Across the kernel and every plugin package."""
    assert find_cycle(graph) == []


def test_a_cycle_is_named() -> None:
    """Guard the check: the watcher importing its cacher back (as it once did) is a cycle."""
    graph = build_graph()
    graph.add_import(importer="kernel.storage.cache_watcher", imported="kernel.storage.cacher")
    assert set(find_cycle(graph)) == {"kernel.storage.cacher", "kernel.storage.cache_watcher"}
