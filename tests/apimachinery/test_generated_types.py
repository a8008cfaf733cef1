"""The generated API types (scripts/generate-api) against Kubernetes' own definitions.

- drift: re-running the generator on the vendored inputs (api/upstream/) gives the committed data;
- protobuf: for every kind of every generated group-version, a message is built with the official
  definitions — the vendored generated.proto files compiled by protoc inside the test, never a
  copy — with every field set (nested types included), wrapped in kube's envelope, decoded by
  the kernel with the generated tables and compared with the JSON kube writes for it. That JSON is
  derived here from the proto message and the vendored OpenAPI document alone (a proto field
  missing from its component's properties is an inlined struct), independently of the generator.
"""

from __future__ import annotations

import base64
import datetime
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("grpc_tools")
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # noqa: E402
from grpc_tools import protoc  # noqa: E402

from kernel.apimachinery.apitypes import GeneratedTypes  # noqa: E402
from kernel.apimachinery.protobuf import MAGIC, decode  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tools.codegen import inputs  # noqa: E402
from tools.codegen.generate import component_name, proto_name  # noqa: E402
from tools.codegen.groups import GROUPS, GroupVersion  # noqa: E402

FDP = descriptor_pb2.FieldDescriptorProto
META = "k8s.io.apimachinery.pkg.apis.meta.v1."
SECONDS, NANOS = 1_700_000_000, 123_456_789
RAW = {"k": ["v", 1]}


def test_generated_data_has_not_drifted() -> None:
    result = subprocess.run([sys.executable, "-m", "tools.codegen", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.fixture(scope="module")
def pool() -> descriptor_pool.DescriptorPool:
    """The vendored generated.proto files, compiled by protoc into a private pool."""
    with tempfile.TemporaryDirectory() as tmp:
        names = inputs.extract_protos(Path(tmp))
        out = Path(tmp) / "set.pb"
        assert protoc.main(["protoc", f"-I{tmp}", "--include_imports",
                            f"--descriptor_set_out={out}", *names]) == 0
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for f in files.file:
        pool.Add(f)
    return pool


def message_class(pool: descriptor_pool.DescriptorPool, name: str) -> Any:
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


# --- filling every field, and the JSON kube writes for it -----------------------------------

def fill(msg: Any, ancestors: tuple[str, ...] = ()) -> None:
    """Set every field of ``msg`` to a non-zero value; a type inside itself is left empty."""
    name = msg.DESCRIPTOR.full_name
    if name in (META + "Time", META + "MicroTime"):
        msg.seconds, msg.nanos = SECONDS, NANOS
        return
    if name == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        msg.type, msg.strVal = 1, "25%"
        return
    if name == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        msg.string = "1500m"
        return
    if name in (META + "FieldsV1", "k8s.io.apimachinery.pkg.runtime.RawExtension"):
        setattr(msg, msg.DESCRIPTOR.fields_by_number[1].name, json.dumps(RAW).encode())
        return
    msg.SetInParent()
    if name in ancestors:
        return
    for f in msg.DESCRIPTOR.fields:
        value = getattr(msg, f.name)
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            value_field = f.message_type.fields_by_name["value"]
            if value_field.message_type is not None:
                fill(value["key"], ancestors + (name,))
            else:
                value["key"] = scalar(value_field)
        elif f.type == FDP.TYPE_MESSAGE:
            fill(value.add() if f.is_repeated else value, ancestors + (name,))
        elif f.is_repeated:
            value.append(scalar(f))
        else:
            setattr(msg, f.name, scalar(f))


def scalar(f: Any) -> Any:
    return {FDP.TYPE_STRING: f"{f.name}-é", FDP.TYPE_BYTES: b"\x00\xffbytes",
            FDP.TYPE_INT32: -7, FDP.TYPE_INT64: 1 << 40, FDP.TYPE_BOOL: True}[f.type]


def kube_json(msg: Any, schemas: dict[str, Any]) -> Any:
    """The JSON kube writes for a message decoded from protobuf."""
    name = msg.DESCRIPTOR.full_name
    if name in (META + "Time", META + "MicroTime"):
        when = datetime.datetime.fromtimestamp(msg.seconds, datetime.timezone.utc)
        micro = f".{msg.nanos // 1000:06d}" if name.endswith("MicroTime") else ""
        return when.strftime("%Y-%m-%dT%H:%M:%S") + micro + "Z"
    if name == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        return msg.strVal if msg.type == 1 else msg.intVal
    if name == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        return msg.string
    if name in (META + "FieldsV1", "k8s.io.apimachinery.pkg.runtime.RawExtension"):
        return json.loads(getattr(msg, msg.DESCRIPTOR.fields_by_number[1].name))
    component = schemas.get(component_name(name))
    # a struct only ever inlined (VolumeSource) has no component: its fields are all named
    properties = {p.lower(): p for p in (component or {}).get("properties", {})} \
        if component else {f.name.lower(): f.name for f in msg.DESCRIPTOR.fields}
    out: dict[str, Any] = {}
    for f, value in msg.ListFields():
        # the JSON name; go-to-protobuf may spell it differently (BoundObjectReference's uID)
        key = properties.get(f.name.lower())
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            value_field = f.message_type.fields_by_name["value"]
            out[key] = {k: json_value(value_field, v, schemas) for k, v in value.items()}
        elif key is None and f.type == FDP.TYPE_MESSAGE and not f.is_repeated:
            out.update(kube_json(value, schemas))  # an inlined Go struct
        elif f.is_repeated:
            out[key] = [json_value(f, v, schemas) for v in value]
        else:
            out[key] = json_value(f, value, schemas)
    return out


def json_value(f: Any, value: Any, schemas: dict[str, Any]) -> Any:
    if f.type == FDP.TYPE_BYTES:
        return base64.b64encode(value).decode()
    if f.type != FDP.TYPE_MESSAGE:
        return value
    if [x.name for x in value.DESCRIPTOR.fields] == ["items"] and \
            component_name(value.DESCRIPTOR.full_name) not in schemas:
        return list(value.items)  # a named []string (ExtraValue) is a JSON array
    return kube_json(value, schemas)


# --- every kind of every group-version ------------------------------------------------------

def _kinds() -> list[tuple[GroupVersion, str]]:
    out = []
    for gv in GROUPS:
        if not gv.protobuf:  # its plugin refuses protobuf bodies
            continue
        for kind in GeneratedTypes(ROOT / gv.output).kinds():
            out.append((gv, kind))
    return out


KINDS = _kinds()


@pytest.mark.parametrize(("gv", "kind"), KINDS,
                         ids=[f"{gv.package}:{kind}" for gv, kind in KINDS])
def test_every_field_of_every_kind_decodes_as_kube_writes_it(pool, gv: GroupVersion,
                                                             kind: str) -> None:
    types = GeneratedTypes(ROOT / gv.output)
    doc_schemas = inputs.openapi(gv)["components"]["schemas"]
    component = types.schema_name(kind)
    gvk = doc_schemas[component]["x-kubernetes-group-version-kind"][0]
    api_version = f'{gvk["group"]}/{gvk["version"]}' if gvk["group"] else gvk["version"]
    msg = message_class(pool, proto_name(component))()
    fill(msg)
    envelope = message_class(pool, "k8s.io.apimachinery.pkg.runtime.Unknown")()
    envelope.typeMeta.apiVersion, envelope.typeMeta.kind = api_version, kind
    envelope.raw = msg.SerializeToString()
    body = MAGIC + envelope.SerializeToString()
    got = decode(body, None, {(api_version, kind): types.message(kind)})
    assert got == {"apiVersion": api_version, "kind": kind, **kube_json(msg, doc_schemas)}


def test_zero_values_follow_go_pointers_and_omitempty(pool) -> None:
    """gogo sends every non-pointer field; kube's JSON keeps a zero only for a pointer that is
    set or a field without omitempty."""
    apps = GeneratedTypes(ROOT / "plugins/api_apps/kernel_api_apps/generated/v1.json")
    deployment = message_class(pool, "k8s.io.api.apps.v1.Deployment")()
    deployment.metadata.name = "d"
    deployment.spec.replicas = 0  # *int32: kept
    deployment.spec.minReadySeconds = 0  # int32 omitempty: dropped
    deployment.spec.paused = False  # bool omitempty: dropped
    container = deployment.spec.template.spec.containers.add()
    container.name, container.image = "c", ""  # name has no omitempty; image does
    container.ports.add().containerPort = 0  # no omitempty: kept
    envelope = message_class(pool, "k8s.io.apimachinery.pkg.runtime.Unknown")()
    envelope.typeMeta.apiVersion, envelope.typeMeta.kind = "apps/v1", "Deployment"
    envelope.raw = deployment.SerializeToString()
    got = decode(MAGIC + envelope.SerializeToString(), None,
                 {("apps/v1", "Deployment"): apps.message("Deployment")})
    spec = got["spec"]
    assert spec["replicas"] == 0 and "minReadySeconds" not in spec and "paused" not in spec
    assert spec["template"]["spec"]["containers"][0]["name"] == "c"
    assert "image" not in spec["template"]["spec"]["containers"][0]
    assert spec["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 0}]


def test_loading_is_lazy() -> None:
    types = GeneratedTypes(ROOT / "plugins/api_core/kernel_api_core/generated/v1.json")
    assert "_index" not in vars(types) and "_split" not in vars(types)  # nothing read yet
    pod = types.message("Pod")
    assert "_split" not in vars(types)  # only the kind table was read
    assert pod.fields == {}  # built on first decode
    assert pod.resolved()[2].name == "spec" and pod.resolved()[2].message.fields == {}
