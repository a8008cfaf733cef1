"""Every hook in kernel/hookspecs.py is documented there and in the README."""

from __future__ import annotations

import inspect
from pathlib import Path


from kernel import hookspecs

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
HOOKS = [name for name, obj in vars(hookspecs).items()
         if name.startswith("kernel_") and inspect.isfunction(obj)]


def test_hookspecs_found():
    assert "kernel_add_options" in HOOKS and len(HOOKS) >= 12


def test_every_hook_has_a_docstring():
    undocumented = [name for name in HOOKS if not (getattr(hookspecs, name).__doc__ or "").strip()]
    assert undocumented == []


def test_every_hook_is_in_the_readme():
    missing = [name for name in HOOKS if f"- `{name}(" not in README]
    assert missing == []


def test_readme_documents_no_hook_that_does_not_exist():
    documented = {line.split("`")[1].split("(")[0] for line in README.splitlines()
                  if line.startswith("- `kernel_")}
    assert documented == set(HOOKS)


def test_every_context_member_is_in_the_readme_and_hookspecs():
    from kernel.context import API

    section = README[README.index("### What a plugin gets of the server"):README.index("### Hooks")]
    assert [name for name in sorted(API) if f"`context.{name}" not in section
            and f"context.{name}(" not in section] == []
    assert [name for name in sorted(API) if f"``{name}" not in hookspecs.__doc__] == []


def test_hooks_that_get_the_context_name_it_so_in_the_readme():
    import inspect as _inspect

    for name in HOOKS:
        params = list(_inspect.signature(getattr(hookspecs, name)).parameters)
        if params == ["context"]:
            assert f"- `{name}(context)`" in README, name


# docs/plugins.md, the plugin author's guide: every hook and context member, and snippets that run.
GUIDE = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text()


def _python_blocks(text: str) -> list[str]:
    return [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]


def test_every_hook_is_in_the_guide():
    assert [name for name in HOOKS if f"`{name}(" not in GUIDE] == []


def test_every_context_member_is_in_the_guide():
    from kernel.context import API, NESTED_API

    assert [name for name in sorted(API) if f"context.{name}" not in GUIDE] == []
    assert [f"{member}.{name}" for member, names in NESTED_API.items() for name in sorted(names)
            if name not in GUIDE] == []


def test_the_guide_names_no_hook_that_does_not_exist():
    import re

    assert set(re.findall(r"`(kernel_[a-z_]+)\(", GUIDE)) <= set(HOOKS)


def test_every_python_snippet_in_the_guide_compiles():
    blocks = _python_blocks(GUIDE)
    assert len(blocks) >= 5
    for block in blocks:
        compile(block, "docs/plugins.md", "exec")



def _resolves(dotted: str) -> bool:
    """A module, or an attribute of the longest importable module prefix."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:]:
                target = getattr(target, name)
        except AttributeError:
            return False
        return True
    return False


def test_every_kernel_import_and_name_in_the_guide_resolves():
    """After a package move the guide's imports and `kernel.x.y` names must follow."""
    import ast
    import re

    imported = [f"{node.module}.{alias.name}"
                for block in _python_blocks(GUIDE) for node in ast.walk(ast.parse(block))
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kernel")
                for alias in node.names]
    named = re.findall(r"`(kernel(?:\.[A-Za-z_]\w*)+)", GUIDE)
    assert imported and named
    unresolved = sorted({n for n in imported + named if not _resolves(n)})
    assert not unresolved, unresolved
