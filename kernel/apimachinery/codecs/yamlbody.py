"""YAML request and response bodies, over PyYAML: parsing as kube's YAML decoder does, the
duplicate keys strict field validation reports, and encoding as kube's YAML serializer writes.

Only the codecs import this module, when a YAML body or response is actually handled: PyYAML's
code and tables cost an idle server about 2 MB that a JSON-only client never needs.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Any

import yaml

from ..depth import too_deep_message
from ..status import bad_request
from . import yamlgraph


class YAMLLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loading with plain timestamps left strings, as kube's YAML-to-JSON leaves them."""


YAMLLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


# go-yaml v2's resolver (sigs.k8s.io/yaml v1.4.0): a plain integer outside int64/uint64 becomes
# a float if it reads as one and is finite, else stays a string. PyYAML makes it an int, which
# kube could not store and Python refuses to build past 4300 digits.
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


def _construct_int(loader: yaml.constructor.SafeConstructor, node: yaml.ScalarNode) -> Any:
    text = loader.construct_scalar(node)
    try:
        value = yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)
        if -(1 << 63) <= value < (1 << 64):
            return value
    except ValueError:  # more digits than Python converts
        pass
    plain = text.replace("_", "")
    if _YAML_STYLE_FLOAT.fullmatch(plain):
        number = float(plain)
        if math.isfinite(number):
            return number
    return text


YAMLLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def parse(body: bytes) -> Any:
    """Parse the first YAML document into JSON-compatible values (kube reads only the first),
    refusing what kube's YAML decoder refuses and what nests past the server's depth limit."""
    loader = YAMLLoader(body)
    try:
        node = loader.get_node() if loader.check_node() else None
        if node is None:
            return None
        yamlgraph.check(node, body.decode("utf-8", "replace"))
        return _jsonable(loader.construct_document(node))
    except yamlgraph.GraphError as e:
        raise bad_request(f"yaml: {e}") from None
    except yaml.YAMLError as e:
        raise bad_request(_go_yaml_error(e)) from None
    except RecursionError:
        raise bad_request(f"yaml: {too_deep_message()}") from None
    finally:
        loader.dispose()


def _go_yaml_error(e: yaml.YAMLError) -> str:
    """go-yaml's wording; both it and PyYAML's C loader come from libyaml."""
    if not isinstance(e, yaml.MarkedYAMLError):
        return str(e)  # raised by _jsonable
    problem = e.problem or "unknown problem parsing YAML content"
    if "maximum nesting depth" in problem:  # libyaml's own limit (1000), under ours
        return f"yaml: {too_deep_message()}"
    line = 0
    if e.problem_mark is not None and e.problem_mark.line:
        line = e.problem_mark.line + (1 if isinstance(e, yaml.scanner.ScannerError) else 0)
    elif e.context_mark is not None and e.context_mark.line:
        line = e.context_mark.line
    return f"yaml: line {line}: {problem}" if line else f"yaml: {problem}"


def _jsonable(value: Any) -> Any:
    """YAML values as JSON has them: string keys, no dates, bytes or non-finite floats."""
    if isinstance(value, dict):
        return {_json_key(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        shown = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
        raise yaml.YAMLError(f"json: unsupported value: {shown}")
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, bytes):  # !!binary
        return value.decode("utf-8", "replace")
    if isinstance(value, set):  # !!set is a map to nulls
        return {_json_key(k): None for k in value}
    return value


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, (int, float)):
        return str(key)
    raise yaml.YAMLError(f"Unsupported map key of type: {type(key).__name__}, key: {key!r}")


def duplicate_keys(body: bytes) -> list[tuple[str, str, int]]:
    """(path, key, line) of each key repeated in one mapping of the first document, as go-yaml
    reports them; [] for a body that does not parse (decoding reports it)."""
    found: list[tuple[str, str, int]] = []
    try:
        _walk(next(yaml.compose_all(body, Loader=YAMLLoader), None), "", found)
    except (ValueError, yaml.YAMLError, RecursionError):
        return []
    return found


def _walk(node: yaml.Node | None, path: str, found: list[tuple[str, str, int]]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            if key in seen:  # go-yaml reports each repeat, by line
                found.append((child, key, key_node.start_mark.line + 1))
            seen.add(key)
            _walk(value_node, child, found)
    elif isinstance(node, yaml.SequenceNode):
        for i, value_node in enumerate(node.value):
            _walk(value_node, f"{path}[{i}]", found)


def dump(value: Any) -> bytes:
    """``value`` (JSON-compatible) as kube's YAML serializer writes it: sorted keys, block style."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(value, Dumper=dumper, sort_keys=True, default_flow_style=False,
                     allow_unicode=True).encode()
