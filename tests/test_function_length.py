"""No function or method in kernel/ or plugins/ is longer than 80 lines (decorators excluded).

A long function is split into named steps or moved into data (see openapi/meta.py's per-type
builders); this keeps it that way.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("kernel", "plugins")
MAX_LINES = 80


def long_functions(source: str, filename: str = "<source>") -> list[tuple[str, int, int]]:
    """``(name, first line, length)`` of every function or method over MAX_LINES lines."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_LINES:
                found.append((node.name, node.lineno, length))
    return found


def python_files() -> list[Path]:
    files = []
    for top in CHECKED:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if not any(part.startswith(".") or part in ("build", "dist") for part in parts):
                files.append(path)
    return files


def test_the_walk_finds_a_long_function() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    source = f"class C:\n    async def method(self):\n    {body.replace(chr(10), chr(10) + '    ')}\n"
    assert long_functions(source) == [("method", 2, MAX_LINES + 1)]
    short = "def f():\n" + "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES - 1))
    assert long_functions(short) == []


def test_no_function_is_over_80_lines() -> None:
    files = python_files()
    assert len(files) > 50, "the walk found too few files: wrong root?"
    offenders = [f"{path.relative_to(ROOT)}:{line} {name} ({length} lines)"
                 for path in files
                 for name, line, length in long_functions(path.read_text(), str(path))]
    assert not offenders, f"functions over {MAX_LINES} lines; split them:\n" + "\n".join(offenders)
