"""Read the vendored inputs: OpenAPI documents, protobuf descriptors (compiled with protoc) and
the Go struct tags of api/upstream/."""

from __future__ import annotations

import gzip
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .groups import APIMACHINERY, GROUPS, GroupVersion, proto_package

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ROOT / "api" / "upstream"


def openapi(gv: GroupVersion) -> dict[str, Any]:
    return json.loads(gzip.decompress((UPSTREAM / "openapi-spec" / "v3" / (gv.openapi + ".gz"))
                                      .read_bytes()))


def proto_packages() -> list[str]:
    return [gv.go_package for gv in GROUPS] + list(APIMACHINERY)


def extract_protos(dest: Path) -> list[str]:
    """Unpack every vendored generated.proto under ``dest``; returns their import paths."""
    names = []
    for package in proto_packages():
        name = f"{package}/generated.proto"
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.decompress((UPSTREAM / "proto" / (name + ".gz")).read_bytes()))
        names.append(name)
    return names


def descriptors() -> dict[str, Any]:
    """Every message of the vendored protos by full name (``k8s.io.api.core.v1.Pod``), as
    ``google.protobuf.descriptor_pb2.DescriptorProto`` — protoc parses the proto language."""
    from google.protobuf import descriptor_pb2
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as tmp:
        names = extract_protos(Path(tmp))
        out = Path(tmp) / "set.pb"
        code = protoc.main(["protoc", f"-I{tmp}", f"--descriptor_set_out={out}", *names])
        if code != 0:
            raise RuntimeError(f"protoc failed ({code})")
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    messages: dict[str, Any] = {}
    for f in files.file:
        for m in f.message_type:
            _collect(messages, f"{f.package}.{m.name}", m)
    return messages


def _collect(messages: dict[str, Any], name: str, m: Any) -> None:
    messages[name] = m
    for nested in m.nested_type:
        _collect(messages, f"{name}.{nested.name}", nested)


@dataclass(frozen=True)
class GoField:
    go_type: str  # as written: "*bool", "[]Container", "metav1.ObjectMeta"
    json_name: str  # "" when inline
    omitempty: bool
    inline: bool

    @property
    def pointer(self) -> bool:
        return self.go_type.startswith("*")


_STRUCT = re.compile(r"^type (\w+) struct \{")
_FIELD = re.compile(r'^\s+(?:(\w+)\s+)?([\w.*\[\]]+)\s+`(.*)`')
_TAG = re.compile(r'(\w+):"([^"]*)"')


def go_fields() -> dict[tuple[str, int], GoField]:
    """(proto message full name, field number) → the Go field's tags.

    Only lines with a ``protobuf:`` struct tag matter; kube's types.go declares one field per
    line, so a line scan suffices (a Go parser would be a new toolchain for this one fact).
    """
    out: dict[tuple[str, int], GoField] = {}
    for package in proto_packages():
        path = UPSTREAM / "go" / package / "types.go.gz"
        if not path.exists():
            continue
        proto = proto_package(package)
        struct = None
        for line in gzip.decompress(path.read_bytes()).decode().splitlines():
            if m := _STRUCT.match(line):
                struct = m.group(1)
                continue
            if line.startswith("}"):
                struct = None
                continue
            m = _FIELD.match(line)
            if struct is None or not m:
                continue
            tags = dict(_TAG.findall(m.group(3)))
            if "protobuf" not in tags:
                continue
            number = int(tags["protobuf"].split(",")[1])
            json_tag = tags.get("json", "").split(",")
            out[(f"{proto}.{struct}", number)] = GoField(
                go_type=m.group(2), json_name=json_tag[0],
                omitempty="omitempty" in json_tag[1:], inline="inline" in json_tag[1:])
    return out
