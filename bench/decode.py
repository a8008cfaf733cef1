"""Micro-benchmark: the cost of the bad-input checks on the request-body hot path.

Times, per call, the bare msgspec decode of a normal ConfigMap body (the floor: what
``parse_json`` did before the depth check), ``parse_json`` and ``decode_body`` as they are now,
the depth pre-check alone, and the exact depth walk a body with many brackets pays (a CRD-sized
one). Also how long refusing the YAML alias bomb takes. No assertions; prints a table.

    .venv/bin/python bench/decode.py
"""

from __future__ import annotations

import json
import timeit

import msgspec

from kernel.apimachinery.codecs import JSON, YAML, decode_body, parse_json
from kernel.apimachinery.depth import exceeds, may_exceed
from kernel.apimachinery.status import StatusError

CONFIGMAP = json.dumps({
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "web-config", "namespace": "default", "labels": {"app": "web", "tier": "front"},
                 "annotations": {"owner": "team-a"}},
    "data": {f"key{i}": f"value-{i}" * 4 for i in range(8)},
}).encode()


def _schema(depth: int) -> dict:
    """A CRD-like schema: properties/items repeated, many brackets, realistic depth."""
    node: dict = {"type": "string"}
    for i in range(depth):
        node = {"type": "object", "properties": {f"f{i}": node, f"g{i}": {"type": "integer"},
                                                 f"h{i}": {"type": "array", "items": {"type": "string"}}}}
    return node


CRD = json.dumps({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                  "metadata": {"name": "things.example.com"},
                  "spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": _schema(12)}}]}}).encode()

BOMB = b"x:\n" + b"".join(
    f"  a{i}: &a{i} [".encode() + b",".join([f"*a{i - 1}".encode() if i else b'"lol"'] * 9) + b"]\n"
    for i in range(9))


def per_call(fn, number: int) -> float:
    """Best of 5 runs, microseconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def main() -> None:
    gvk = ("v1", "ConfigMap")
    rows = [
        (f"msgspec.json.decode, ConfigMap ({len(CONFIGMAP)} B) - floor", per_call(lambda: msgspec.json.decode(CONFIGMAP), 50_000)),
        ("depth pre-check (2 byte counts), ConfigMap", per_call(lambda: may_exceed(CONFIGMAP), 50_000)),
        ("parse_json, ConfigMap", per_call(lambda: parse_json(CONFIGMAP), 50_000)),
        ("decode_body JSON, ConfigMap", per_call(lambda: decode_body(JSON, CONFIGMAP, gvk), 50_000)),
        (f"msgspec.json.decode, CRD ({len(CRD)} B, {CRD.count(b'{')} braces)", per_call(lambda: msgspec.json.decode(CRD), 5_000)),
        ("exact depth walk, CRD", per_call(lambda: exceeds(msgspec.json.decode(CRD)), 5_000)),
        ("parse_json, CRD", per_call(lambda: parse_json(CRD), 5_000)),
        ("decode_body YAML, ConfigMap", per_call(lambda: decode_body(YAML, CONFIGMAP, gvk), 2_000)),
    ]

    def refuse_bomb() -> None:
        try:
            decode_body(YAML, BOMB, gvk)
        except StatusError:
            return
        raise AssertionError("the bomb was accepted")

    rows.append((f"refuse the YAML alias bomb ({len(BOMB)} B)", per_call(refuse_bomb, 200)))
    width = max(len(name) for name, _ in rows)
    for name, micros in rows:
        print(f"{name:<{width}}  {micros:9.2f} us")


if __name__ == "__main__":
    main()
