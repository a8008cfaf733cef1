"""kernel.apimachinery.managedfields against structured-merge-diff's documented semantics."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kernel.apimachinery.managedfields import (
    FieldManager,
    Set,
    TypeConverter,
    compare,
    decode,
    encode,
    field_set,
    manager_or_user_agent,
    merge,
    path_string,
    remove_items,
)
from kernel.apimachinery.managedfields.fieldpath import decode_element, encode_element
from kernel.apimachinery.status import StatusError

NOW = "2026-12-05T10:00:00Z"

SCHEMAS: dict[str, Any] = {
    "Thing": {"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "metadata": {"$ref": "#/components/schemas/Meta"},
        "spec": {"type": "object", "properties": {
            "replicas": {"type": "integer"},
            "command": {"type": "array", "items": {"type": "string"}},  # no list type: atomic
            "finalizers": {"type": "array", "items": {"type": "string"},
                           "x-kubernetes-patch-strategy": "merge"},  # a set, from SMP's hints
            "containers": {"type": "array", "x-kubernetes-list-type": "map",
                           "x-kubernetes-list-map-keys": ["name"],
                           "items": {"$ref": "#/components/schemas/Container"}},
            "selector": {"allOf": [{"$ref": "#/components/schemas/Selector"}],
                         "x-kubernetes-map-type": "atomic"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        }},
    }},
    "Meta": {"type": "object", "properties": {
        "name": {"type": "string"}, "namespace": {"type": "string"}, "uid": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "managedFields": {"type": "array", "items": {"type": "object"}}}},
    "Container": {"type": "object", "properties": {
        "name": {"type": "string"}, "image": {"type": "string"},
        "ports": {"type": "array", "x-kubernetes-list-type": "map",
                  "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                  "items": {"$ref": "#/components/schemas/Port"}}}},
    "Port": {"type": "object", "properties": {"containerPort": {"type": "integer"},
                                              "protocol": {"type": "string", "default": "TCP"}}},
    "Selector": {"type": "object", "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}}},
}


@pytest.fixture
def ref():
    return TypeConverter(SCHEMAS).named("Thing")


def fm(ref, subresource: str = "") -> FieldManager:
    return FieldManager(ref, "example.com/v1", "Thing", subresource, now=lambda: NOW)


def thing(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": spec}


def owned(obj: dict[str, Any], manager: str) -> list[str]:
    entries = [e for e in obj["metadata"].get("managedFields", []) if e["manager"] == manager]
    return [] if not entries else [path_string(p) for p in Set.from_fields_v1(entries[0]["fieldsV1"])]


# --- field paths and FieldsV1 ------------------------------------------------------------------

@pytest.mark.parametrize("text", ['f:spec', 'k:{"containerPort":80,"protocol":"TCP"}', 'v:"a"',
                                  'v:true', 'v:1', 'i:3'])
def test_path_elements_round_trip(text: str) -> None:
    assert encode_element(decode_element(text)) == text


def test_a_boolean_set_item_is_not_the_number_one() -> None:
    assert decode_element("v:true") != decode_element("v:1")


def test_fields_v1_round_trip_keeps_dot_for_members_with_children() -> None:
    fields = {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
              "f:spec": {"f:containers": {'k:{"name":"a"}': {".": {}, "f:image": {}}}}}
    decoded = Set.from_fields_v1(fields)
    assert decoded.to_fields_v1() == fields
    assert [path_string(p) for p in decoded] == [
        ".metadata.labels", ".metadata.labels.app", '.spec.containers[name="a"]',
        '.spec.containers[name="a"].image']


@pytest.mark.parametrize("bad", [{"x:y": {}}, {"f:a": []}, {"k:[1]": {}}, []])
def test_fields_v1_that_is_not_fields_v1_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError):
        Set.from_fields_v1(bad)


# --- the schema's list and map types ---------------------------------------------------------

def test_field_set_follows_list_and_map_types(ref) -> None:
    obj = thing(replicas=1, command=["a", "b"], finalizers=["x", "y"],
                containers=[{"name": "c", "ports": [{"containerPort": 80}]}],
                selector={"matchLabels": {"a": "b"}}, labels={"k": "v"}, extra={"free": {"x": 1}})
    assert [path_string(p) for p in field_set(obj, ref)] == [
        ".apiVersion", ".kind", ".metadata.name",
        ".spec.command",  # atomic list: one leaf
        '.spec.containers[name="c"]', '.spec.containers[name="c"].name',
        '.spec.containers[name="c"].ports[containerPort=80,protocol="TCP"]',  # the key's default
        '.spec.containers[name="c"].ports[containerPort=80,protocol="TCP"].containerPort',
        ".spec.extra.free", ".spec.extra.free.x",  # preserved unknown fields: a deduced map
        '.spec.finalizers[="x"]', '.spec.finalizers[="y"]',
        ".spec.labels.k", ".spec.replicas",
        ".spec.selector"]  # atomic struct: one leaf


def test_an_applied_field_the_schema_does_not_declare_is_an_error(ref) -> None:
    with pytest.raises(ValueError, match=r"^\.spec\.nope: field not declared in schema$"):
        field_set(thing(nope=1), ref, strict=True)


def test_duplicate_keys_in_an_applied_list_map_are_an_error(ref) -> None:
    with pytest.raises(ValueError, match=r'duplicate entries for key \[name="a"\]'):
        field_set(thing(containers=[{"name": "a"}, {"name": "a"}]), ref, strict=True)


def test_compare_reports_added_modified_removed(ref) -> None:
    old = thing(replicas=1, labels={"a": "1", "b": "2"}, command=["x"])
    new = thing(replicas=2, labels={"a": "1", "c": "3"}, command=["x", "y"])
    diff = compare(old, new, ref)
    assert [path_string(p) for p in diff.modified] == [".spec.command", ".spec.replicas"]
    assert [path_string(p) for p in diff.added] == [".spec.labels.c"]
    assert [path_string(p) for p in diff.removed] == [".spec.labels.b"]


def test_compare_from_nothing_adds_every_field_and_its_parents(ref) -> None:
    """A create (and any new subtree): every field is added, each granular map or list also as a
    member itself; atomic values and items repeated under one key are single leaves."""
    new = thing(replicas=1, command=["a"], finalizers=["x"], labels={"k": "v"}, extra="not a map",
                containers=[{"name": "c", "ports": [{"containerPort": 80}]},
                            {"name": "d"}, {"name": "d", "image": "i"}],
                selector={"matchLabels": {"a": "b"}})
    diff = compare({}, new, ref)
    assert diff.modified.empty() and diff.removed.empty()
    assert [path_string(p) for p in diff.added] == [
        ".apiVersion", ".kind", ".metadata", ".metadata.name", ".spec", ".spec.command",
        '.spec.containers', '.spec.containers[name="c"]', '.spec.containers[name="c"].name',
        '.spec.containers[name="c"].ports',
        '.spec.containers[name="c"].ports[containerPort=80,protocol="TCP"]',
        '.spec.containers[name="c"].ports[containerPort=80,protocol="TCP"].containerPort',
        '.spec.containers[name="d"]',  # twice under one key: one leaf
        ".spec.extra",  # a scalar where a map is declared: a leaf
        ".spec.finalizers", '.spec.finalizers[="x"]', ".spec.labels", ".spec.labels.k",
        ".spec.replicas", ".spec.selector"]
    grown = compare(thing(labels={"k": "v"}), thing(labels={"k": "v", "n": "w"},
                                                     containers=[{"name": "e"}]), ref)
    assert [path_string(p) for p in grown.added] == [
        ".spec.containers", '.spec.containers[name="e"]', '.spec.containers[name="e"].name',
        ".spec.labels.n"]


def test_merge_keeps_live_only_items_where_they_were(ref) -> None:
    live = thing(containers=[{"name": "a"}, {"name": "live"}, {"name": "b"}], finalizers=["l"])
    config = thing(containers=[{"name": "a", "image": "i"}, {"name": "b"}, {"name": "new"}],
                   finalizers=["c"])
    merged = merge(live, config, ref)
    assert [c["name"] for c in merged["spec"]["containers"]] == ["a", "live", "b", "new"]
    assert merged["spec"]["containers"][0] == {"name": "a", "image": "i"}
    assert merged["spec"]["finalizers"] == ["l", "c"]


def test_merge_replaces_atomic_values_whole(ref) -> None:
    live = thing(command=["a", "b"], selector={"matchLabels": {"a": "1", "b": "2"}})
    merged = merge(live, thing(command=["c"], selector={"matchLabels": {"c": "3"}}), ref)
    assert merged["spec"]["command"] == ["c"]
    assert merged["spec"]["selector"] == {"matchLabels": {"c": "3"}}


def test_remove_items_removes_subtrees(ref) -> None:
    obj = thing(containers=[{"name": "a", "image": "x"}, {"name": "b"}], labels={"k": "v"})
    remove = Set.of(((("f", "spec"), ("f", "containers"), ("k", (("name", "a"),)))),
                    (("f", "spec"), ("f", "labels"), ("f", "k")))
    assert remove_items(obj, remove, ref)["spec"] == {"containers": [{"name": "b"}], "labels": {}}


# --- the field manager -------------------------------------------------------------------------

def test_apply_owns_exactly_what_it_applied(ref) -> None:
    applied = fm(ref).apply(None, thing(replicas=1, labels={"a": "1"}), "alice", False)
    entry = applied["metadata"]["managedFields"][0]
    assert {k: v for k, v in entry.items() if k != "fieldsV1"} == {
        "manager": "alice", "operation": "Apply", "apiVersion": "example.com/v1", "time": NOW,
        "fieldsType": "FieldsV1"}
    assert entry["fieldsV1"] == {"f:spec": {"f:labels": {"f:a": {}}, "f:replicas": {}}}


def test_a_conflict_names_the_manager_and_the_field_as_kube_does(ref) -> None:
    live = fm(ref).apply(None, thing(replicas=1), "alice", False)
    updated = copy.deepcopy(live)
    updated["spec"]["command"] = ["x"]
    fm(ref).update(live, updated, "bob")
    with pytest.raises(StatusError) as caught:
        fm(ref).apply(updated, thing(replicas=2, command=["y"]), "carol", False)
    error = caught.value
    assert (error.code, error.reason) == (409, "Conflict")
    assert error.message == ('Apply failed with 2 conflicts: conflicts with "alice":\n- .spec.replicas\n'
                             'conflicts with "bob" using example.com/v1:\n- .spec.command')
    assert error.details == {"causes": [
        {"type": "FieldManagerConflict", "message": 'conflict with "alice"', "field": ".spec.replicas"},
        {"type": "FieldManagerConflict", "message": 'conflict with "bob" using example.com/v1',
         "field": ".spec.command"}]}


def test_force_takes_ownership_and_the_same_value_is_shared(ref) -> None:
    live = fm(ref).apply(None, thing(replicas=1, command=["a"]), "alice", False)
    shared = fm(ref).apply(live, thing(command=["a"]), "bob", False)  # same value: no conflict
    assert owned(shared, "bob") == [".spec.command"] and ".spec.command" in owned(shared, "alice")
    forced = fm(ref).apply(shared, thing(replicas=5), "bob", True)
    assert forced["spec"]["replicas"] == 5
    assert owned(forced, "alice") == [".spec.command"]


def test_a_field_dropped_by_its_only_applier_is_removed_but_kept_if_shared(ref) -> None:
    live = fm(ref).apply(None, thing(replicas=1, labels={"a": "1", "b": "2"}), "alice", False)
    live = fm(ref).apply(live, thing(labels={"b": "2"}), "bob", False)
    dropped = fm(ref).apply(live, thing(), "alice", False)
    assert dropped["spec"] == {"labels": {"b": "2"}}  # replicas and label a had no other owner


def test_update_owns_what_it_changed_and_caps_update_managers(ref) -> None:
    obj = fm(ref).apply(None, thing(replicas=0), "applier", False)
    for i in range(12):
        new = copy.deepcopy(obj)
        new["spec"].setdefault("labels", {})[f"l{i}"] = "v"
        fm(ref).update(obj, new, f"writer-{i:02}")
        obj = new
    managers = [(e["manager"], e["operation"]) for e in obj["metadata"]["managedFields"]]
    assert managers[0] == ("applier", "Apply")
    assert len([m for m in managers if m[1] == "Update"]) == 10
    assert ("ancient-changes", "Update") in managers
    assert owned(obj, "writer-11") == [".spec.labels.l11"]


def test_reset_managed_fields_with_one_empty_entry(ref) -> None:
    live = fm(ref).apply(None, thing(replicas=1), "alice", False)
    live["metadata"]["uid"] = "u"
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = [{}]
    fm(ref).update(live, new, "bob")
    assert "managedFields" not in new["metadata"]


def test_first_apply_on_an_untracked_object_records_before_first_apply(ref) -> None:
    live = thing(replicas=1, command=["a"])
    live["metadata"]["uid"] = "u"
    applied = fm(ref).apply(live, thing(replicas=1), "alice", False)
    # replicas applied with its live value is shared, not taken
    assert owned(applied, "before-first-apply") == [".spec", ".spec.command", ".spec.replicas"]
    assert owned(applied, "alice") == [".spec.replicas"]


def test_subresource_managers_are_separate(ref) -> None:
    live = fm(ref).apply(None, thing(replicas=1), "alice", False)
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = 3
    fm(ref, "scale").update(live, new, "hpa")
    entry = [e for e in new["metadata"]["managedFields"] if e["manager"] == "hpa"][0]
    assert entry["subresource"] == "scale" and entry["operation"] == "Update"
    with pytest.raises(StatusError, match='conflict with "hpa" with subresource "scale" using '
                                          'example.com/v1: .spec.replicas'):
        fm(ref).apply(new, thing(replicas=4), "alice", False)


def test_kubectl_server_side_apply_takes_over_client_side_apply(ref) -> None:
    csa = thing(replicas=1, labels={"a": "1"})
    csa["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration":
                                      '{"apiVersion":"example.com/v1","kind":"Thing","metadata":'
                                      '{"name":"t"},"spec":{"replicas":1,"labels":{"a":"1"}}}'}
    live = copy.deepcopy(csa)
    fm(ref).update(None, live, "kubectl-client-side-apply")
    with pytest.raises(StatusError):  # any other manager conflicts
        fm(ref).apply(live, thing(replicas=2), "someone", False)
    applied = fm(ref).apply(live, thing(replicas=2), "kubectl", False)
    assert applied["spec"]["replicas"] == 2 and owned(applied, "kubectl") == [".spec.replicas"]
    assert applied["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] == \
        '{"apiVersion":"example.com/v1","kind":"Thing","metadata":{"name":"t"},"spec":{"replicas":2}}'


@pytest.mark.parametrize("config, message", [
    ({"apiVersion": "example.com/v2", "kind": "Thing", "metadata": {"name": "t"}},
     "invalid object type: example.com/v2, Kind=Thing"),
    ({"apiVersion": "example.com/v1", "kind": "Other", "metadata": {"name": "t"}},
     "invalid object type: example.com/v1, Kind=Other"),
    ({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t", "managedFields": []}},
     "metadata.managedFields must be nil"),
])
def test_bad_apply_configurations_are_400(ref, config: dict[str, Any], message: str) -> None:
    with pytest.raises(StatusError) as caught:
        fm(ref).apply(None, config, "alice", False)
    assert (caught.value.code, caught.value.message) == (400, message)


def test_decode_encode_round_trip_and_validation() -> None:
    entries = [{"manager": "a", "operation": "Apply", "apiVersion": "v1", "time": NOW,
                "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:x": {}}}}]
    assert encode(*decode(entries)) == entries
    for bad in ([{"manager": "a", "operation": "Merge", "apiVersion": "v1", "fieldsType": "FieldsV1"}],
                [{"manager": "a", "operation": "Apply", "apiVersion": "", "fieldsType": "FieldsV1"}],
                [{"manager": "a", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV2"}]):
        with pytest.raises(ValueError):
            decode(bad)


@pytest.mark.parametrize("manager, agent, expected", [
    ("mine", "kubectl/v1.32.0 (linux/amd64)", "mine"),
    ("", "kubectl/v1.32.0 (linux/amd64)", "kubectl"),
    ("", "OpenAPI-Generator/31.0.0/python", "OpenAPI-Generator"),
    ("", "a\x00b/1", "ab"),
    ("", "x" * 200, "x" * 128),
    ("", None, ""),
])
def test_manager_or_user_agent(manager: str, agent: str | None, expected: str) -> None:
    assert manager_or_user_agent(manager, agent) == expected
