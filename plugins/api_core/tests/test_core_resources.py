"""The core group's ResourceSpecs: names, verbs, schemas, printer columns and decoding as kube has them."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import pytest

import kernel_api_core
import kernel_api_core.plugin
from kernel.apimachinery.fieldvalidation import check, decode_error_message, patch_meta, strict_error
from kernel.endpoints.table import build_table
from kernel_api_core import RESOURCES, configmap_spec, namespace_spec, secret_spec

NOW_CREATED = "2024-05-01T11:00:00Z"


def test_plugin_entry_point_loads_the_hooks_module() -> None:
    (ep,) = [ep for ep in importlib.metadata.entry_points(group="kernel.plugins") if ep.name == "api_core"]
    assert ep.load() is kernel_api_core.plugin
    assert ep.dist is not None and ep.dist.name == "kernel-api-core"


def test_resources_in_order_with_kube_names() -> None:
    assert RESOURCES[:3] == [namespace_spec, configmap_spec, secret_spec]
    facts = [(s.group, s.version, s.kind, s.plural, s.singular, s.namespaced, tuple(s.short_names),
              tuple(s.categories)) for s in RESOURCES]
    assert facts == [("", "v1", "Namespace", "namespaces", "namespace", False, ("ns",), ()),
                     ("", "v1", "ConfigMap", "configmaps", "configmap", True, ("cm",), ()),
                     ("", "v1", "Secret", "secrets", "secret", True, (), ()),
                     ("", "v1", "Pod", "pods", "pod", True, ("po",), ("all",)),
                     ("", "v1", "Node", "nodes", "node", False, ("no",), ()),
                     ("", "v1", "Event", "events", "event", True, ("ev",), ()),
                     ("", "v1", "Endpoints", "endpoints", "endpoints", True, ("ep",), ()),
                     ("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", True, ("sa",), ()),
                     ("", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", False, ("pv",), ()),
                     ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim",
                      True, ("pvc",), ()),
                     ("", "v1", "LimitRange", "limitranges", "limitrange", True, ("limits",), ()),
                     ("", "v1", "ResourceQuota", "resourcequotas", "resourcequota", True, ("quota",), ()),
                     ("", "v1", "PodTemplate", "podtemplates", "podtemplate", True, (), ()),
                     ("", "v1", "ReplicationController", "replicationcontrollers", "replicationcontroller",
                      True, ("rc",), ("all",)),
                     ("", "v1", "ComponentStatus", "componentstatuses", "componentstatus", False, ("cs",), ())]
    assert all(s.group_version == "v1" for s in RESOURCES)
    assert namespace_spec.storage_prefix == "/registry/namespaces/"


def test_verbs_and_subresources() -> None:
    assert "deletecollection" not in namespace_spec.verbs and "delete" in namespace_spec.verbs
    assert set(configmap_spec.verbs) == set(secret_spec.verbs) == {
        "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
    assert tuple(namespace_spec.subresources) == ("status", "finalize")
    assert configmap_spec.subresources == secret_spec.subresources == ()


def test_selectable_fields() -> None:
    assert tuple(namespace_spec.selectable_fields) == ("status.phase",)  # plus metadata.name
    assert tuple(secret_spec.selectable_fields) == ("type",)
    assert configmap_spec.selectable_fields == ()


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


@pytest.mark.parametrize("spec", RESOURCES, ids=lambda s: s.plural)
def test_schemas_are_self_contained_and_findable_by_gvk(spec) -> None:
    assert spec.schema_name == f"io.k8s.api.core.v1.{spec.kind}"
    assert {r.rsplit("/", 1)[1] for r in _refs(dict(spec.schemas))} <= set(spec.schemas)
    assert spec.schemas[spec.schema_name]["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": spec.kind, "version": "v1"}]
    assert spec.schemas[spec.schema_name + "List"]["x-kubernetes-group-version-kind"][0]["kind"] == spec.list_kind
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in spec.schemas


def test_kind_schema_fields() -> None:
    cm = configmap_spec.schemas[configmap_spec.schema_name]["properties"]
    assert set(cm) == {"apiVersion", "kind", "metadata", "data", "binaryData", "immutable"}
    assert cm["binaryData"]["additionalProperties"] == {"format": "byte", "type": "string"}
    secret = secret_spec.schemas[secret_spec.schema_name]["properties"]
    assert set(secret) == {"apiVersion", "kind", "metadata", "data", "stringData", "type", "immutable"}
    assert secret["data"]["additionalProperties"]["format"] == "byte"
    assert secret["stringData"]["description"].startswith("stringData allows specifying non-binary secret data")
    status = namespace_spec.schemas["io.k8s.api.core.v1.NamespaceStatus"]["properties"]
    assert set(status) == {"phase", "conditions"}


def test_configmap_with_a_number_is_kubes_decode_error() -> None:
    report = check({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": 1}},
                   configmap_spec.schema_name, configmap_spec.schemas)
    assert decode_error_message("ConfigMap", "v1", report.type_errors[0]) == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go '
        "struct field ConfigMap.data of type string")


def test_unknown_fields_of_a_configmap_and_a_namespace() -> None:
    report = check({"kind": "ConfigMap", "spec": {"foo": 1}, "metadata": {"name": "x", "lables": {}}},
                   configmap_spec.schema_name, configmap_spec.schemas)
    assert strict_error(report.unknown) == (
        'strict decoding error: unknown field "spec", unknown field "metadata.lables"')
    report = check({"spec": {"finalizers": ["kubernetes"], "foo": 1}, "status": {"phase": "Active", "x": 1}},
                   namespace_spec.schema_name, namespace_spec.schemas)
    assert report.unknown == ["spec.foo", "status.x"]


def test_bad_base64_in_secret_data() -> None:
    report = check({"data": {"a": "%%%%"}}, secret_spec.schema_name, secret_spec.schemas)
    assert report.type_errors == ["illegal base64 data at input byte 0"]
    assert check({"stringData": {"a": "%%%%"}}, secret_spec.schema_name, secret_spec.schemas).ok


def test_patch_meta_of_core_kinds() -> None:
    ns = patch_meta(namespace_spec.schema_name, namespace_spec.schemas)
    assert ns.lookup(("status", "conditions")) == ("merge", "type")
    assert ns.lookup(("spec", "finalizers")) == (None, None)  # atomic: replaced whole
    assert ns.lookup(("metadata", "finalizers")) == ("merge", None)
    cm = patch_meta(configmap_spec.schema_name, configmap_spec.schemas)
    assert cm.lookup(("metadata", "ownerReferences")) == ("merge", "uid")


def _table(spec, obj: dict) -> dict:
    obj["metadata"] = {"name": "x", "creationTimestamp": NOW_CREATED, "resourceVersion": "3"}
    return build_table(spec.table_columns, [obj], list_meta={"resourceVersion": "3"})


def test_printer_columns_are_kubes() -> None:
    ns = _table(namespace_spec, {"status": {"phase": "Active"}})
    assert [(c["name"], c["type"], c["format"]) for c in ns["columnDefinitions"]] == [
        ("Name", "string", "name"), ("Status", "string", ""), ("Age", "string", "")]
    assert ns["columnDefinitions"][1]["description"] == "The status of the namespace"
    assert ns["rows"][0]["cells"][:2] == ["x", "Active"]
    cm = _table(configmap_spec, {"data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}})
    assert [c["name"] for c in cm["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert cm["rows"][0]["cells"][:2] == ["x", 3]
    secret = _table(secret_spec, {"type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}})
    assert [c["name"] for c in secret["columnDefinitions"]] == ["Name", "Type", "Data", "Age"]
    assert secret["rows"][0]["cells"][:3] == ["x", "kubernetes.io/tls", 2]
    assert secret["columnDefinitions"][2]["description"].startswith("Data contains the secret data.")
    assert all(c["priority"] == 0 for c in secret["columnDefinitions"])


def test_age_cells_are_human_durations() -> None:
    cell = _table(configmap_spec, {})["rows"][0]["cells"][2]
    assert cell[-1] in "smhdy" and cell[0].isdigit()
    assert _table(configmap_spec, {})["rows"][0]["cells"][2] != "<unknown>"


def _ld(number: int, value: bytes | str) -> bytes:
    """A length-delimited protobuf field (every field these bodies need is one, lengths < 128)."""
    data = value.encode() if isinstance(value, str) else value
    return bytes([number << 3 | 2, len(data)]) + data


@pytest.mark.parametrize("spec", RESOURCES, ids=lambda s: s.plural)
def test_each_kind_declares_its_protobuf_schema(spec) -> None:
    assert spec.protobuf is not None and spec.protobuf.name == spec.kind
    metadata = spec.protobuf.resolved()[1]  # generated from core/v1's generated.proto
    assert metadata.name == "metadata" and metadata.message.name == "ObjectMeta"


def test_protobuf_bodies_decode_as_the_declared_kinds() -> None:
    from kernel.apimachinery import protobuf
    from kernel.registry.resource import protobuf_kinds
    kinds = protobuf_kinds(RESOURCES)
    # every kind, and the request kinds of its subresources (Binding, Eviction, Scale)
    assert set(kinds) == {("v1", spec.kind) for spec in RESOURCES} | {
        ("v1", "Binding"), ("policy/v1", "Eviction"), ("autoscaling/v1", "Scale")}
    assert {("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Pod")} <= set(kinds)
    raw = _ld(1, _ld(1, "x")) + _ld(2, _ld(1, "a") + _ld(2, "b"))  # metadata.name, data {a: b}
    body = protobuf.MAGIC + _ld(1, _ld(1, "v1") + _ld(2, "ConfigMap")) + _ld(2, raw)
    assert protobuf.decode(body, None, kinds) == {
        "kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "x"}, "data": {"a": "b"}}
