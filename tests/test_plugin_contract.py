"""No plugin touches the server outside the ServerContext API (kernel/context.py).

The static half walks the AST of every plugin package (plugins/*/kernel_*, the built-ins, the
test fixture plugins, the README's example) and fails on an attribute of the context that the
API does not offer: ``context.stores``, ``server.background``, any ``_private``, a write to it,
``getattr(context, name)`` with a computed name. The context is whatever a parameter named
``context`` (or the old ``server``) or annotated ``ServerContext`` holds, a local or ``self.x``
it is copied to, and closures over those. The dynamic half makes that sound for factories: every
component factory a plugin provides takes its argument as ``context``, so none can hide it under
another name. (Hook implementations cannot: pluggy accepts only the spec's argument names.)
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

from kernel import plugins as kernel_plugins
from kernel.context import API, NESTED_API

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_PLUGINS = ROOT / "tests" / "fixtures" / "kernel-test-plugins"
CONTEXT_PARAMETERS = frozenset({"context", "server"})
COMPONENT_HOOKS = ("kernel_storage_backends", "kernel_api_groups", "kernel_authenticators",
                   "kernel_authorizers", "kernel_admission_plugins", "kernel_audit_backends")
ATTRIBUTE_FUNCTIONS = frozenset({"getattr", "setattr", "hasattr", "delattr"})


def plugin_sources() -> dict[str, str]:
    """Every plugin module's source by a readable name."""
    files = [*sorted(ROOT.glob("plugins/*/kernel_*/**/*.py")),
             *sorted((ROOT / "kernel" / "builtin").glob("*.py")),
             *sorted((FIXTURE_PLUGINS / "kernel_test_plugins").glob("*.py"))]
    sources = {str(path.relative_to(ROOT)): path.read_text() for path in files
               if ".egg-info" not in str(path)}
    sources["README.md: kernel_authn_header.py"] = readme_plugin_source()
    return sources


def readme_plugin_source() -> str:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(# kernel_authn_header\.py\n.*?)```", readme, re.S)
    assert block, "the README's plugin example is missing"
    return block.group(1)


# -- the static walk -------------------------------------------------------------------------------

@dataclass
class Scope:
    names: frozenset[str] = frozenset()  # local names holding the context
    self_attributes: frozenset[str] = frozenset()  # ``self.x`` holding it, in this class


@dataclass
class Walker:
    filename: str
    found: list[str] = field(default_factory=list)

    def violation(self, node: ast.AST, what: str) -> None:
        self.found.append(f"{self.filename}:{getattr(node, 'lineno', '?')}: {what}")

    def is_context(self, node: ast.AST, scope: Scope) -> bool:
        if isinstance(node, ast.Name):
            return node.id in scope.names
        return (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "self" and node.attr in scope.self_attributes)

    def walk(self, node: ast.AST, scope: Scope) -> None:
        if isinstance(node, ast.ClassDef):
            scope = Scope(scope.names, self.class_aliases(node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            scope = self.function_scope(node, scope)
        elif isinstance(node, ast.Attribute) and self.is_context(node.value, scope):
            self.check_member(node, scope)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            self.check_call(node, scope)
        for child in ast.iter_child_nodes(node):
            self.walk(child, scope)

    def function_scope(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
                       scope: Scope) -> Scope:
        args = node.args
        params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        names = set(scope.names) - {p.arg for p in params}  # a parameter shadows a closure
        names |= {p.arg for p in params if p.arg in CONTEXT_PARAMETERS
                  or (p.annotation is not None and "ServerContext" in ast.unparse(p.annotation))}
        body = node.body if isinstance(node.body, list) else [node.body]
        changed = True
        while changed:  # aliases: ``ctx = context`` (and aliases of aliases)
            changed = False
            for statement in body:
                for sub in ast.walk(statement):
                    if isinstance(sub, ast.Assign) and isinstance(sub.value, ast.Name) \
                            and sub.value.id in names:
                        for target in sub.targets:
                            if isinstance(target, ast.Name) and target.id not in names:
                                names.add(target.id)
                                changed = True
        return Scope(frozenset(names), scope.self_attributes)

    def class_aliases(self, node: ast.ClassDef) -> frozenset[str]:
        """``self.x`` attributes a method of the class sets from its context parameter."""
        aliases = set()
        for method in node.body:
            if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            names = self.function_scope(method, Scope()).names
            for sub in ast.walk(method):
                if isinstance(sub, ast.Assign) and isinstance(sub.value, ast.Name) \
                        and sub.value.id in names:
                    aliases |= {t.attr for t in sub.targets if isinstance(t, ast.Attribute)
                                and isinstance(t.value, ast.Name) and t.value.id == "self"}
        return frozenset(aliases)

    def check_member(self, node: ast.Attribute, scope: Scope) -> None:
        name = ast.unparse(node)
        if not isinstance(node.ctx, ast.Load):
            self.violation(node, f"{name}: the context is read-only")
        elif node.attr.startswith("_") or node.attr not in API:
            self.violation(node, f"{name}: not in the context API ({', '.join(sorted(API))})")

    def check_nested(self, tree: ast.AST, scope: Scope) -> None:
        """``context.tls.x`` and ``context.signals.x``: those members' own surface."""
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) \
                    and self.is_context(node.value.value, scope) and node.value.attr in NESTED_API \
                    and node.attr not in NESTED_API[node.value.attr]:
                self.violation(node, f"{ast.unparse(node)}: not offered by context.{node.value.attr}")

    def check_call(self, node: ast.Call, scope: Scope) -> None:
        func = node.func.id  # type: ignore[attr-defined]
        if func == "vars" and node.args and self.is_context(node.args[0], scope):
            self.violation(node, f"{ast.unparse(node)}: the context's internals are private")
        if func not in ATTRIBUTE_FUNCTIONS or len(node.args) < 2 \
                or not self.is_context(node.args[0], scope):
            return
        attribute = node.args[1]
        if not (isinstance(attribute, ast.Constant) and isinstance(attribute.value, str)):
            self.violation(node, f"{ast.unparse(node)}: a computed attribute of the context")
        elif func != "getattr" and func != "hasattr":
            self.violation(node, f"{ast.unparse(node)}: the context is read-only")
        elif attribute.value.startswith("_") or attribute.value not in API:
            self.violation(node, f"{ast.unparse(node)}: not in the context API")


def violations(source: str, filename: str = "<source>") -> list[str]:
    tree = ast.parse(source, filename)
    walker = Walker(filename)
    walker.walk(tree, Scope())
    # Nested members need the scopes too: walk again, checking them per function.
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            walker.check_nested(node, walker.function_scope(node, Scope()))
    return sorted(set(walker.found))


def test_the_walk_covers_every_plugin_package():
    sources = plugin_sources()
    for package in ("kernel_api_core", "kernel_api_authentication", "kernel_authn_x509",
                    "kernel_authn_oidc", "kernel_authn_token", "kernel_storage_etcd3",
                    "kernel_storage_memory", "kernel_test_plugins", "kernel/builtin"):
        assert any(package in name for name in sources), package
    assert sum("context." in source for source in sources.values()) >= 10


@pytest.mark.parametrize("name", sorted(plugin_sources()))
def test_plugins_touch_only_the_context_api(name: str):
    assert violations(plugin_sources()[name], name) == []


# The walk fails on each way of reaching past the context (synthetic plugins, not on disk).
VIOLATIONS = {
    "private store map": ("def factory(context):\n    return context.stores[('', 'x')]\n",
                          "context.stores"),
    "old server name": ("async def hook(server):\n    server.background.start_soon(f)\n",
                        "server.background"),
    "private member": ("def f(context):\n    return context._server\n", "context._server"),
    "closure": ("def hooks(context):\n    async def start(ctx):\n        context.storage.x()\n"
                "    return {'a': start}\n", "context.storage"),
    "alias": ("def f(context):\n    c = context\n    return c.authenticator\n", "c.authenticator"),
    "kept on self": ("class A:\n    def __init__(self, context):\n        self.ctx = context\n"
                     "    async def validate(self, a):\n        return self.ctx.in_flight\n",
                     "self.ctx.in_flight"),
    "annotated": ("def f(ctx: ServerContext):\n    return ctx.plugins\n", "ctx.plugins"),
    "write": ("def f(context):\n    context.options = None\n", "read-only"),
    "getattr": ("def f(context, n):\n    return getattr(context, n)\n", "computed"),
    "getattr private": ("def f(context):\n    return getattr(context, '_informers')\n",
                        "getattr(context, '_informers')"),
    "tls beyond update_client_ca": ("def f(context):\n    return context.tls.current\n",
                                    "context.tls.current"),
    "firing a signal": ("def f(context):\n    context.signals.shutdown_initiated.set()\n"
                        "    return context.signals._event\n", "context.signals._event"),
}


@pytest.mark.parametrize("case", VIOLATIONS)
def test_the_walk_fails_on_a_violation(case: str):
    source, expected = VIOLATIONS[case]
    found = violations(source)
    assert found and any(expected in v for v in found), found


def test_the_walk_accepts_the_api_and_unrelated_names():
    source = (
        "def factory(context):\n"
        "    store = context.store('', 'namespaces')\n"
        "    context.tls.update_client_ca('p', 'pem')\n"
        "    server = parse_server(text)\n"  # a local named server is not a parameter
        "    return [s.host for s in servers], store.list, context.options.secure_port\n"
        "async def hook(context):\n"
        "    await context.signals.shutdown_initiated.wait()\n"
        "    context.spawn('x', run, context.component('authenticators', 'x'))\n")
    assert violations(source) == []


# -- the dynamic half: factories name their argument ``context`` ----------------------------------

def plugin_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, ModuleType]]:
    for name, entry_point in kernel_plugins.installed().items():
        if not name.startswith("test_"):
            yield name, entry_point.load()
    monkeypatch.syspath_prepend(str(FIXTURE_PLUGINS))
    for name in ("alpha", "beta", "gamma"):
        yield f"test_{name}", importlib.import_module(f"kernel_test_plugins.{name}")
    readme = ModuleType("kernel_authn_header")
    exec(compile(readme_plugin_source(), "README.md", "exec"), readme.__dict__)
    yield "authn_header (README)", readme


def test_every_factory_takes_the_context_as_context(monkeypatch: pytest.MonkeyPatch):
    wrong, seen = [], 0
    for plugin, module in plugin_modules(monkeypatch):
        for hook in COMPONENT_HOOKS:
            provide = getattr(module, hook, None)
            for component, factory in (provide() if provide else {}).items():
                seen += 1
                params = list(inspect.signature(factory).parameters)
                if params[:1] != ["context"]:
                    wrong.append(f"{plugin} {hook} {component}: {params}")
    assert seen >= 15
    assert wrong == []
