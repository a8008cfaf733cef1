"""RFC 6902 JSON Patch (application/json-patch+json)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from ..depth import json_depth
from ._values import (
    MAX_DOCUMENT_DEPTH,
    copy_json,
    copy_patch,
    guard_recursion,
    json_equal,
    json_kind,
)
from .decode import decode_json
from .errors import REQUEST_ENTITY_TOO_LARGE, PatchError, bad_request, generic_invalid

# kube-apiserver refuses longer patches with 413 (handlers/patch.go maxJSONPatchOperations).
MAX_JSON_PATCH_OPERATIONS = 10000
# kube caps what "copy" operations may add (--json-patch-max-copy-bytes, default 3 MiB), so a
# few ops that each double the document cannot exhaust memory.
MAX_JSON_PATCH_COPY_BYTES = 3 * 1024 * 1024

Ops = list[dict[str, Any]]


@guard_recursion
def json_patch(document: Any, patch: bytes | str | Ops) -> Any:
    """Apply a JSON patch (raw body or decoded operations) to a copy of ``document``."""
    ops = _decode_ops(patch)
    doc = copy_json(document)
    budget = _CopyBudget()
    for op in ops:
        doc = _apply_op(doc, op, budget)
    return doc


class _CopyBudget:
    """Bytes added by "copy" operations so far (kube's AccumulatedCopySizeLimit)."""

    def __init__(self) -> None:
        self.used = 0

    def spend(self, value: Any) -> None:
        self.used += len(msgspec.json.encode(value))
        if self.used > MAX_JSON_PATCH_COPY_BYTES:
            raise generic_invalid(f"Unable to complete the copy, the accumulated size increase of "
                                  f"copy is {self.used}, exceeding the limit "
                                  f"{MAX_JSON_PATCH_COPY_BYTES}")


def _decode_ops(patch: bytes | str | Ops) -> Ops:
    ops = decode_json(patch) if isinstance(patch, (bytes, bytearray, memoryview, str)) else patch
    # These are the cases jsonpatch.DecodePatch rejects, answered 400 by kube.
    if not isinstance(ops, list):
        raise bad_request(_cannot_unmarshal(ops, "jsonpatch.Patch"))
    for op in ops:
        if not isinstance(op, dict):
            raise bad_request(_cannot_unmarshal(op, "jsonpatch.Operation"))
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchError(f"The allowed maximum operations in a JSON patch is "
                         f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}", REQUEST_ENTITY_TOO_LARGE)
    copied: Ops = copy_patch(ops)
    return copied


def _cannot_unmarshal(value: Any, go_type: str) -> str:
    return f"json: cannot unmarshal {json_kind(value)} into Go value of type {go_type}"


def _apply_op(doc: Any, op: dict[str, Any], budget: _CopyBudget) -> Any:
    kind = op.get("op")
    if kind == "copy":
        return _op_copy(doc, op, budget)
    handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        raise generic_invalid(f"Unexpected kind: {kind if isinstance(kind, str) else 'unknown'}")
    return handler(doc, op)


# --- JSON Pointer (RFC 6901) -------------------------------------------------------------

def _parse_pointer(pointer: str, what: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise generic_invalid(f'{what}: JSON pointer "{pointer}" must be empty or start with "/"')
    tokens = pointer[1:].split("/")
    for token in tokens:
        # "~" may only be followed by 0 or 1.
        if "~" in token.replace("~0", "").replace("~1", ""):
            raise generic_invalid(f'{what}: invalid escape in JSON pointer "{pointer}"')
    return [t.replace("~1", "/").replace("~0", "~") for t in tokens]


def _field(op: dict[str, Any], name: str, kind: str) -> str:
    value = op.get(name)
    if not isinstance(value, str):
        missing = "path" if name == "path" else "from"
        raise generic_invalid(f"{kind} operation, missing {missing} field: missing value")
    return value


def _array_index(token: str, size: int, *, allow_end: bool, path: str) -> int:
    """RFC 6901 array index: "0" or digits without a leading zero; ``size`` only for add."""
    if token == "-" and allow_end:
        return size
    if not token.isdigit() or not token.isascii() or (len(token) > 1 and token[0] == "0"):
        raise generic_invalid(f"value was not a proper array index: '{token}' in path '{path}'")
    index = int(token)
    if index > size or (index == size and not allow_end):
        raise generic_invalid(f"Unable to access invalid index: {index}: invalid index referenced")
    return index


def _resolve(doc: Any, tokens: list[str], kind: str, path: str) -> Any:
    """The container holding the last token (which must exist down to the parent)."""
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_array_index(token, len(node), allow_end=False, path=path)]
        else:
            raise _missing_path(kind, path)
    if not isinstance(node, (dict, list)):
        raise _missing_path(kind, path)
    return node


def _missing_path(kind: str, path: str) -> PatchError:
    return generic_invalid(f'{kind} operation does not apply: doc is missing path: "{path}": '
                           "missing value")


def _get(doc: Any, pointer: str, kind: str) -> Any:
    tokens = _parse_pointer(pointer, kind)
    if not tokens:
        return doc
    parent = _resolve(doc, tokens, kind, pointer)
    last = tokens[-1]
    if isinstance(parent, list):
        return parent[_array_index(last, len(parent), allow_end=False, path=pointer)]
    if last not in parent:
        raise _missing_path(kind, pointer)
    return parent[last]


def _check_depth(tokens: list[str], value: Any) -> None:
    """Refuse to build a document nested deeper than the server can encode."""
    if len(tokens) + json_depth(value) > MAX_DOCUMENT_DEPTH:
        raise generic_invalid(f"the patched document would nest deeper than {MAX_DOCUMENT_DEPTH}")


def _add_at(doc: Any, pointer: str, value: Any, kind: str) -> Any:
    tokens = _parse_pointer(pointer, kind)
    _check_depth(tokens, value)
    if not tokens:
        return value  # "add" at the root replaces the whole document (RFC 6902 4.1)
    parent = _resolve(doc, tokens, kind, pointer)
    last = tokens[-1]
    if isinstance(parent, list):
        parent.insert(_array_index(last, len(parent), allow_end=True, path=pointer), value)
    else:
        parent[last] = value
    return doc


def _remove_at(doc: Any, pointer: str, kind: str) -> Any:
    """Remove and return the value at ``pointer``."""
    tokens = _parse_pointer(pointer, kind)
    if not tokens:
        raise generic_invalid(f"{kind} operation does not apply: cannot remove the document root")
    parent = _resolve(doc, tokens, kind, pointer)
    last = tokens[-1]
    if isinstance(parent, list):
        return parent.pop(_array_index(last, len(parent), allow_end=False, path=pointer))
    if last not in parent:
        raise generic_invalid(f"error in {kind} for path: '{pointer}': "
                              f"Unable to remove nonexistent key: {last}: missing value")
    return parent.pop(last)


# --- operations ------------------------------------------------------------------------

def _value(op: dict[str, Any], kind: str) -> Any:
    if "value" not in op:
        raise generic_invalid(f"{kind} operation, missing value field: missing value")
    return op["value"]


def _op_add(doc: Any, op: dict[str, Any]) -> Any:
    return _add_at(doc, _field(op, "path", "add"), _value(op, "add"), "add")


def _op_remove(doc: Any, op: dict[str, Any]) -> Any:
    _remove_at(doc, _field(op, "path", "remove"), "remove")
    return doc


def _op_replace(doc: Any, op: dict[str, Any]) -> Any:
    path = _field(op, "path", "replace")
    value = _value(op, "replace")
    tokens = _parse_pointer(path, "replace")
    _check_depth(tokens, value)
    if not tokens:
        return value
    _get(doc, path, "replace")  # the target must exist
    parent = _resolve(doc, tokens, "replace", path)
    if isinstance(parent, list):
        parent[int(tokens[-1])] = value
    else:
        parent[tokens[-1]] = value
    return doc


def _op_move(doc: Any, op: dict[str, Any]) -> Any:
    source = _field(op, "from", "move")
    path = _field(op, "path", "move")
    if source == path:
        _get(doc, source, "move")
        return doc
    if path.startswith(source + "/"):
        raise generic_invalid(f"move operation does not apply: '{path}' is inside '{source}'")
    return _add_at(doc, path, _remove_at(doc, source, "move"), "move")


def _op_copy(doc: Any, op: dict[str, Any], budget: _CopyBudget) -> Any:
    value = copy_json(_get(doc, _field(op, "from", "copy"), "copy"))
    budget.spend(value)
    return _add_at(doc, _field(op, "path", "copy"), value, "copy")


def _op_test(doc: Any, op: dict[str, Any]) -> Any:
    path = _field(op, "path", "test")
    if not json_equal(_get(doc, path, "test"), _value(op, "test")):
        raise generic_invalid(f"testing value {path} failed: test failed")
    return doc


_HANDLERS: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "add": _op_add, "remove": _op_remove, "replace": _op_replace,
    "move": _op_move, "test": _op_test,
}
