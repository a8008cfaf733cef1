"""JSON patch (RFC 6902), merge patch (RFC 7386) and strategic merge patch, as kube applies them."""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

import pytest

from kernel.apimachinery.patch import (
    MAX_DOCUMENT_DEPTH,
    MAX_JSON_PATCH_OPERATIONS,
    MAX_PATCH_DEPTH,
    NO_PATCH_META,
    PatchError,
    apply_patch,
    json_patch,
    merge_patch,
    patch_meta_from_dict,
    strategic_merge_patch,
)
from kernel.apimachinery.depth import json_depth
from kernel.apimachinery.patch.errors import GENERIC_INVALID_MESSAGE

JSON = "application/json-patch+json"
MERGE = "application/merge-patch+json"
SMP = "application/strategic-merge-patch+json"

# A slice of the patch metadata of real types (Go struct tags in k8s.io/api).
POD_SPEC = {
    ("containers",): ("merge", "name"),
    ("containers", "ports"): ("merge", "containerPort"),
    ("containers", "env"): ("merge", "name"),
    ("volumes",): ("merge,retainKeys", "name"),
}
META = {
    ("metadata", "finalizers"): ("merge", None),
    ("metadata", "ownerReferences"): ("merge", "uid"),
}
SCHEMA = patch_meta_from_dict({
    **META,
    **{("spec",) + path: v for path, v in POD_SPEC.items()},
    **{("spec", "template", "spec") + path: v for path, v in POD_SPEC.items()},
    ("spec", "strategy"): ("retainKeys", None),
    ("spec", "replacing"): ("replace", None),
    ("mergingList",): ("merge", "name"),
    ("mergingIntList",): ("merge", None),
})


def assert_patch_error(exc: pytest.ExceptionInfo[PatchError], code: int, text: str = "") -> None:
    assert exc.value.code == code, exc.value.message
    assert text in exc.value.message


# --- RFC 6902 ----------------------------------------------------------------------------

RFC6902_APPENDIX = [
    ("A.1 add an object member", {"foo": "bar"},
     [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    ("A.2 add an array element", {"foo": ["bar", "baz"]},
     [{"op": "add", "path": "/foo/1", "value": "qux"}], {"foo": ["bar", "qux", "baz"]}),
    ("A.3 remove an object member", {"baz": "qux", "foo": "bar"},
     [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ("A.4 remove an array element", {"foo": ["bar", "qux", "baz"]},
     [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    ("A.5 replace a value", {"baz": "qux", "foo": "bar"},
     [{"op": "replace", "path": "/baz", "value": "boo"}], {"baz": "boo", "foo": "bar"}),
    ("A.6 move a value", {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ("A.7 move an array element", {"foo": ["all", "grass", "cows", "eat"]},
     [{"op": "move", "from": "/foo/1", "path": "/foo/3"}], {"foo": ["all", "cows", "eat", "grass"]}),
    ("A.8 test a value: success", {"baz": "qux", "foo": ["a", 2, "c"]},
     [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
     {"baz": "qux", "foo": ["a", 2, "c"]}),
    ("A.10 add a nested member object", {"foo": "bar"},
     [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
     {"foo": "bar", "child": {"grandchild": {}}}),
    ("A.11 ignore unrecognized elements", {"foo": "bar"},
     [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}], {"foo": "bar", "baz": "qux"}),
    ("A.14 ~ escape ordering", {"/": 9, "~1": 10},
     [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    ("A.16 add an array value", {"foo": ["bar"]},
     [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}], {"foo": ["bar", ["abc", "def"]]}),
]

JSON_PATCH_MORE = [
    ("copy a subtree", {"a": {"b": [1]}},
     [{"op": "copy", "from": "/a", "path": "/c"}], {"a": {"b": [1]}, "c": {"b": [1]}}),
    ("copy into an array", {"a": [1, 2]},
     [{"op": "copy", "from": "/a/0", "path": "/a/0"}], {"a": [1, 1, 2]}),
    ("~1 in a key", {"metadata": {"labels": {}}},
     [{"op": "add", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "x"}],
     {"metadata": {"labels": {"app.kubernetes.io/name": "x"}}}),
    ("append with -", {"finalizers": ["a"]},
     [{"op": "add", "path": "/finalizers/-", "value": "b"}], {"finalizers": ["a", "b"]}),
    ("add at the end index", {"a": [1]}, [{"op": "add", "path": "/a/1", "value": 2}], {"a": [1, 2]}),
    ("add replaces an existing member", {"a": 1}, [{"op": "add", "path": "/a", "value": 2}], {"a": 2}),
    ("replace the root", {"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}], {"b": 2}),
    ("add at the root", {"a": 1}, [{"op": "add", "path": "", "value": {"c": 3}}], {"c": 3}),
    ("move to the same place", {"a": 1}, [{"op": "move", "from": "/a", "path": "/a"}], {"a": 1}),
    ("test numbers by value", {"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}], {"a": 1}),
    ("test a whole object", {"a": {"b": [1, {"c": None}]}},
     [{"op": "test", "path": "/a", "value": {"b": [1, {"c": None}]}}], {"a": {"b": [1, {"c": None}]}}),
    ("test null", {"a": None}, [{"op": "test", "path": "/a", "value": None}], {"a": None}),
    ("the empty key", {"": 1}, [{"op": "replace", "path": "/", "value": 2}], {"": 2}),
    ("ops see earlier ops", {},
     [{"op": "add", "path": "/a", "value": []}, {"op": "add", "path": "/a/0", "value": "x"},
      {"op": "test", "path": "/a/0", "value": "x"}, {"op": "remove", "path": "/a/0"}], {"a": []}),
]


@pytest.mark.parametrize("name,doc,ops,expected", RFC6902_APPENDIX + JSON_PATCH_MORE,
                         ids=[c[0] for c in RFC6902_APPENDIX + JSON_PATCH_MORE])
def test_json_patch(name: str, doc: Any, ops: list[Any], expected: Any) -> None:
    assert json_patch(doc, ops) == expected
    assert json_patch(doc, json.dumps(ops).encode()) == expected


JSON_PATCH_FAILURES = [
    ("A.9 failed test", {"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}],
     "testing value /baz failed"),
    ("A.12 add to a nonexistent target", {"foo": "bar"},
     [{"op": "add", "path": "/baz/bat", "value": "qux"}], "doc is missing path"),
    ("A.15 strings are not numbers", {"/": 9, "~1": 10},
     [{"op": "test", "path": "/~01", "value": "10"}], "testing value /~01 failed"),
    ("true is not 1", {"a": True}, [{"op": "test", "path": "/a", "value": 1}], "failed"),
    ("test a missing member", {}, [{"op": "test", "path": "/a", "value": None}], "missing path"),
    ("remove a missing member", {"a": 1}, [{"op": "remove", "path": "/b"}], "nonexistent key: b"),
    ("replace a missing member", {"a": 1}, [{"op": "replace", "path": "/b", "value": 1}], "missing path"),
    ("index past the end", {"a": [1]}, [{"op": "add", "path": "/a/2", "value": 1}], "invalid index"),
    ("remove past the end", {"a": [1]}, [{"op": "remove", "path": "/a/1"}], "invalid index"),
    ("- only appends", {"a": [1]}, [{"op": "replace", "path": "/a/-", "value": 1}], "array index"),
    ("leading zero index", {"a": [1, 2]}, [{"op": "remove", "path": "/a/01"}], "array index"),
    ("negative index", {"a": [1, 2]}, [{"op": "remove", "path": "/a/-1"}], "array index"),
    ("index into a scalar", {"a": 1}, [{"op": "add", "path": "/a/b", "value": 1}], "missing path"),
    ("pointer without a slash", {"a": 1}, [{"op": "remove", "path": "a"}], "must be empty or start"),
    ("bad escape", {"a": 1}, [{"op": "remove", "path": "/~2"}], "invalid escape"),
    ("move into its own child", {"a": {"b": 1}},
     [{"op": "move", "from": "/a", "path": "/a/b/c"}], "inside"),
    ("move from a missing member", {}, [{"op": "move", "from": "/x", "path": "/y"}], "nonexistent key"),
    ("copy from a missing member", {}, [{"op": "copy", "from": "/x", "path": "/y"}], "missing path"),
    ("unknown op", {}, [{"op": "frobnicate", "path": "/a"}], "Unexpected kind: frobnicate"),
    ("missing op", {}, [{"path": "/a"}], "Unexpected kind"),
    ("missing path", {}, [{"op": "add", "value": 1}], "missing path field"),
    ("missing value", {}, [{"op": "add", "path": "/a"}], "missing value field"),
    ("missing from", {}, [{"op": "copy", "path": "/a"}], "missing from field"),
    ("remove the root", {}, [{"op": "remove", "path": ""}], "root"),
]


@pytest.mark.parametrize("name,doc,ops,text", JSON_PATCH_FAILURES,
                         ids=[c[0] for c in JSON_PATCH_FAILURES])
def test_json_patch_failure_is_kubes_generic_422(name: str, doc: Any, ops: list[Any],
                                                 text: str) -> None:
    before = copy.deepcopy(doc)
    with pytest.raises(PatchError) as exc:
        json_patch(doc, ops)
    assert_patch_error(exc, 422, text)
    status = exc.value.status_error().status()
    assert (status["code"], status["reason"], status["message"]) == (422, "Invalid", GENERIC_INVALID_MESSAGE)
    assert doc == before


def test_a_failed_op_discards_the_earlier_ones() -> None:
    doc = {"a": 1}
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": "replace", "path": "/a", "value": 2},
                         {"op": "test", "path": "/a", "value": 3}])
    assert doc == {"a": 1}


@pytest.mark.parametrize("body,text", [
    (b'{"op": "add", "path": "/a", "value": 1}', "cannot unmarshal object into Go value of type jsonpatch.Patch"),
    (b'["add"]', "cannot unmarshal string into Go value of type jsonpatch.Operation"),
    (b'[{"op": "add"', "invalid JSON patch"),
    (b"", "invalid JSON patch"),
])
def test_malformed_json_patch_is_400(body: bytes, text: str) -> None:
    with pytest.raises(PatchError) as exc:
        json_patch({}, body)
    assert_patch_error(exc, 400, text)
    assert exc.value.status_error().status()["reason"] == "BadRequest"


def test_rfc6902_a13_duplicate_members_do_not_apply() -> None:
    # The last "op" wins, as with Go's decoder: there is no /baz to remove.
    with pytest.raises(PatchError) as exc:
        json_patch({"foo": "bar"}, b'[{"op": "add", "path": "/baz", "value": "qux", "op": "remove"}]')
    assert_patch_error(exc, 422, "nonexistent key: baz")


def test_too_many_operations_is_413() -> None:
    ops = [{"op": "test", "path": "", "value": {}}] * MAX_JSON_PATCH_OPERATIONS
    assert json_patch({}, ops) == {}
    with pytest.raises(PatchError) as exc:
        json_patch({}, ops + ops[:1])
    assert_patch_error(exc, 413, f"got {MAX_JSON_PATCH_OPERATIONS + 1}")
    assert exc.value.reason == "RequestEntityTooLarge"


def test_copies_that_double_the_document_hit_kubes_copy_limit() -> None:
    doc = {"a": "x" * 1024}
    ops = [{"op": "copy", "from": "", "path": f"/c{i}"} for i in range(20)]  # 1 GiB unchecked
    with pytest.raises(PatchError) as exc:
        json_patch(doc, ops)
    assert_patch_error(exc, 422, "accumulated size increase of copy")
    # Copies under the limit are fine.
    assert len(json.dumps(json_patch(doc, ops[:10]))) > 2**10 * len(json.dumps(doc))


def test_json_patch_cannot_build_a_document_too_deep_to_serve() -> None:
    # Each value fits in a patch; together they would nest one level past the limit.
    assert MAX_DOCUMENT_DEPTH == MAX_PATCH_DEPTH  # the server's one limit
    step = MAX_DOCUMENT_DEPTH // 2
    ops = [{"op": "add", "path": "", "value": nested(step)},
           {"op": "add", "path": "/a" * step, "value": nested(step)},
           {"op": "add", "path": "/a" * MAX_DOCUMENT_DEPTH, "value": {"b": 1}}]
    with pytest.raises(PatchError) as exc:
        json_patch({}, ops)
    assert_patch_error(exc, 422, f"deeper than {MAX_DOCUMENT_DEPTH}")
    assert json_depth(json_patch({}, ops[:2])) == 2 * step == MAX_DOCUMENT_DEPTH


# --- RFC 7386 ----------------------------------------------------------------------------

RFC7386_APPENDIX = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize("doc,patch,expected", RFC7386_APPENDIX)
def test_merge_patch_rfc7386_appendix(doc: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(doc, patch) == expected


def test_merge_patch_replaces_lists_and_keeps_nulls_inside_them() -> None:
    doc = {"metadata": {"finalizers": ["a", "b"]}, "spec": {"containers": [{"name": "a"}]}}
    patch = {"metadata": {"finalizers": ["c", None]}, "spec": {"containers": [{"name": "b"}]}}
    assert merge_patch(doc, patch) == {"metadata": {"finalizers": ["c", None]},
                                       "spec": {"containers": [{"name": "b"}]}}


# --- strategic merge patch ---------------------------------------------------------------

def deployment(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "patch-demo", "namespace": "default"},
            "spec": {"replicas": 2, **spec, "template": {"spec": {"containers": containers}}}}


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

STRATEGIC_CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("configmap data and labels merge",
     {"kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}}, "data": {"k1": "v1"}},
     {"metadata": {"labels": {"b": "2"}}, "data": {"k2": "v2", "k1": "v1b"}},
     {"kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1", "b": "2"}},
      "data": {"k1": "v1b", "k2": "v2"}}),
    ("null deletes a key",
     {"metadata": {"labels": {"a": "1", "b": "2"}}, "data": {"k": "v"}},
     {"metadata": {"labels": {"a": None, "zzz": None}}, "data": None},
     {"metadata": {"labels": {"b": "2"}}}),
    ("finalizers merge: new items first, like kube without $setElementOrder",
     {"metadata": {"finalizers": ["a", "b"]}},
     {"metadata": {"finalizers": ["c", "a"]}},
     {"metadata": {"finalizers": ["c", "a", "b"]}}),
    ("finalizers merge: an existing item is not repeated",
     {"metadata": {"finalizers": ["a", "b"]}},
     {"metadata": {"finalizers": ["b"]}},
     {"metadata": {"finalizers": ["a", "b"]}}),
    ("finalizers with $setElementOrder keep the given order",
     {"metadata": {"finalizers": ["a", "b"]}},
     {"metadata": {"$setElementOrder/finalizers": ["a", "b", "c"], "finalizers": ["c"]}},
     {"metadata": {"finalizers": ["a", "b", "c"]}}),
    ("$deleteFromPrimitiveList/finalizers",
     {"metadata": {"finalizers": ["a", "b", "a", "c"]}},
     {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "x"]}},
     {"metadata": {"finalizers": ["b", "c"]}}),
    ("$deleteFromPrimitiveList with additions and order (kubectl apply)",
     {"metadata": {"finalizers": ["a", "b", "c"]}},
     {"metadata": {"$setElementOrder/finalizers": ["b", "a", "d"],
                   "$deleteFromPrimitiveList/finalizers": ["c"], "finalizers": ["d"]}},
     {"metadata": {"finalizers": ["b", "a", "d"]}}),
    ("$deleteFromPrimitiveList on a missing list adds nothing",
     {"metadata": {}},
     {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
     {"metadata": {}}),
    ("ownerReferences merge by uid",
     {"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}, {"uid": "2", "name": "b"}]}},
     {"metadata": {"ownerReferences": [{"uid": "2", "controller": True}]}},
     {"metadata": {"ownerReferences": [{"uid": "1", "name": "a"},
                                       {"uid": "2", "name": "b", "controller": True}]}}),
    ("kubectl patch docs: a new container is merged in, first",
     deployment([{"name": "patch-demo-ctr", "image": "nginx"}],
                tolerations=[{"effect": "NoSchedule", "key": "dedicated", "value": "test-team"}]),
     {"spec": {"template": {"spec": {"containers": [{"name": "patch-demo-ctr-2", "image": "redis"}]}}}},
     deployment([{"name": "patch-demo-ctr-2", "image": "redis"}, {"name": "patch-demo-ctr", "image": "nginx"}],
                tolerations=[{"effect": "NoSchedule", "key": "dedicated", "value": "test-team"}])),
    ("kubectl patch docs: a list without a strategy (tolerations) is replaced",
     {"spec": {"tolerations": [{"key": "dedicated", "value": "test-team"}]}},
     {"spec": {"tolerations": [{"key": "disktype", "value": "ssd"}]}},
     {"spec": {"tolerations": [{"key": "disktype", "value": "ssd"}]}}),
    ("containers merged by name with $setElementOrder/containers",
     deployment([{"name": "a", "image": "a:1", "ports": [{"containerPort": 80}]},
                 {"name": "b", "image": "b:1"}]),
     {"spec": {"template": {"spec": {
         "$setElementOrder/containers": [{"name": "a"}, {"name": "c"}, {"name": "b"}],
         "containers": [{"name": "a", "image": "a:2"}, {"name": "c", "image": "c:1"}]}}}},
     deployment([{"name": "a", "image": "a:2", "ports": [{"containerPort": 80}]},
                 {"name": "c", "image": "c:1"}, {"name": "b", "image": "b:1"}])),
    ("nested merge: ports by containerPort, env by name",
     {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "http"}],
                               "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}]}},
     {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "protocol": "TCP"},
                                                      {"containerPort": 443}],
                               "env": [{"name": "Y", "value": None, "valueFrom": {"x": 1}}]}]}},
     {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"},
                                                      {"containerPort": 443}],
                               "env": [{"name": "X", "value": "1"}, {"name": "Y", "valueFrom": {"x": 1}}]}]}}),
    ("$patch: delete of a list item",
     {"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}},
     {"spec": {"containers": [{"name": "b", "$patch": "delete"}]}},
     {"spec": {"containers": [{"name": "a"}, {"name": "c"}]}}),
    ("$patch: delete removes every item with the key, with a reorder",
     {"mergingList": [{"name": "a"}, {"name": "b", "value": 1}, {"name": "a", "value": 2}]},
     {"$setElementOrder/mergingList": [{"name": "b"}], "mergingList": [{"$patch": "delete", "name": "a"}]},
     {"mergingList": [{"name": "b", "value": 1}]}),
    ("$patch: replace as a list item replaces the list",
     {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}]}},
     {"spec": {"containers": [{"$patch": "replace"}, {"name": "c", "image": "y", "tty": None}]}},
     {"spec": {"containers": [{"name": "c", "image": "y"}]}}),
    ("$patch: replace of a map",
     {"metadata": {"labels": {"a": "1", "b": "2"}, "name": "x"}},
     {"metadata": {"labels": {"$patch": "replace", "c": "3"}}},
     {"metadata": {"labels": {"c": "3"}, "name": "x"}}),
    ("$patch: delete of a map empties it",
     {"data": {"a": "1"}, "keep": 1},
     {"data": {"$patch": "delete"}},
     {"data": {}, "keep": 1}),
    ("$patch: delete of a map that does not exist adds nothing",
     {"keep": 1},
     {"data": {"$patch": "delete"}},
     {"keep": 1}),
    ("$retainKeys clears the fields not listed (Deployment strategy)",
     {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
     {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
     {"spec": {"strategy": {"type": "Recreate"}}}),
    ("$retainKeys in a merged list item (volumes)",
     {"spec": {"volumes": [{"name": "v", "emptyDir": {}}, {"name": "w", "secret": {"secretName": "s"}}]}},
     {"spec": {"volumes": [{"$retainKeys": ["configMap", "name"], "name": "v", "configMap": {"name": "cm"}}]}},
     {"spec": {"volumes": [{"name": "v", "configMap": {"name": "cm"}}, {"name": "w", "secret": {"secretName": "s"}}]}}),
    ("a field with the replace strategy is not merged",
     {"spec": {"replacing": {"a": 1, "b": 2}}},
     {"spec": {"replacing": {"c": 3}}},
     {"spec": {"replacing": {"c": 3}}}),
    ("a changed type is replaced",
     {"spec": {"x": {"a": 1}, "y": [1], "z": "s"}},
     {"spec": {"x": "now a string", "y": {"b": None, "c": 2}, "z": [1]}},
     {"spec": {"x": "now a string", "y": {"c": 2}, "z": [1]}}),
    ("a new subtree drops its nulls and directives",
     {},
     {"spec": {"a": None, "b": {"c": None, "d": 1, "$retainKeys": ["d"]},
               "containers": [{"name": "x", "$patch": "delete"}, {"name": "y"}],
               "$setElementOrder/containers": [{"name": "y"}]}},
     {"spec": {"b": {"d": 1}, "containers": [{"name": "y"}]}}),
    ("$setElementOrder sets the order of server-only items too (kube vector)",
     {"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2}, {"name": 7}, {"name": 9},
                      {"name": 8}, {"name": 3, "value": 3}, {"name": 4, "value": 4}]},
     {"$setElementOrder/mergingList": [{"name": 2}, {"name": 1}, {"name": 4}, {"name": 3}]},
     {"mergingList": [{"name": 2, "value": 2}, {"name": 1, "other": "a"}, {"name": 7}, {"name": 9},
                      {"name": 8}, {"name": 4, "value": 4}, {"name": 3, "value": 3}]}),
    ("the patch's order wins over the server's (kube vector)",
     {"mergingList": [{"name": 1}, {"name": 2, "value": "b"}, {"name": 3}]},
     {"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}]},
     {"mergingList": [{"name": 2, "value": "b"}, {"name": 3, "value": "c"}, {"name": 1, "value": "a"}]}),
    ("primitive merge list in the patch's order (kube vector)",
     {"mergingIntList": [1, 2, 3]},
     {"mergingIntList": [3, 1, 2]},
     {"mergingIntList": [3, 1, 2]}),
    ("$setElementOrder with an item the list does not have (kube vector)",
     {"mergingIntList": [1, 3]},
     {"$setElementOrder/mergingIntList": [3, 2, 1]},
     {"mergingIntList": [3, 1]}),
    ("$setElementOrder with duplicates keeps them together (kube vector)",
     {"mergingList": [{"name": 1}, {"name": 2, "value": "dup1"}, {"name": 3},
                      {"name": 2, "value": "dup2"}, {"name": 4}]},
     {"$setElementOrder/mergingList": [{"name": 2}, {"name": 1}, {"name": 4}, {"name": 3}, {"name": 2}]},
     {"mergingList": [{"name": 2, "value": "dup1"}, {"name": 2, "value": "dup2"}, {"name": 1},
                      {"name": 4}, {"name": 3}]}),
    ("delete one item, add one, server-only item kept in place (kube order)",
     {"mergingList": [{"name": 1}, {"name": 2, "other": "b"}, {"name": 4, "other": "c"}]},
     {"$setElementOrder/mergingList": [{"name": 2}, {"name": 3}],
      "mergingList": [{"name": 3}, {"name": 1, "$patch": "delete"}]},
     {"mergingList": [{"name": 2, "other": "b"}, {"name": 4, "other": "c"}, {"name": 3}]}),
    ("delete one item, add two, server-only item first (kube order)",
     {"mergingList": [{"name": 1, "other": "a"}, {"name": 4, "other": "c"}]},
     {"$setElementOrder/mergingList": [{"name": 2}, {"name": 3}],
      "mergingList": [{"name": 2}, {"name": 3}, {"name": 1, "$patch": "delete"}]},
     {"mergingList": [{"name": 4, "other": "c"}, {"name": 2}, {"name": 3}]}),
    ("merge keys compare as JSON values: 1 and '1' differ",
     {"mergingList": [{"name": 1, "v": "int"}]},
     {"mergingList": [{"name": "1", "v": "str"}]},
     {"mergingList": [{"name": "1", "v": "str"}, {"name": 1, "v": "int"}]}),
    ("merging empty lists",
     {"mergingList": []}, {"mergingList": []}, {"mergingList": []}),
    ("a whole-object $patch: replace",
     {"a": 1, "b": {"c": 2}}, {"$patch": "replace", "d": 4}, {"d": 4}),
]

KUBECTL_APPLY = (
    "kubectl apply three-way patch with last-applied-configuration",
    {"apiVersion": "v1", "kind": "ConfigMap",
     "metadata": {"name": "cm", "namespace": "default", "resourceVersion": "7",
                  "annotations": {LAST_APPLIED: '{"apiVersion":"v1","data":{"a":"1","b":"2"},"kind":"ConfigMap"}\n',
                                  "other": "kept"},
                  "labels": {"app": "x"}, "finalizers": ["example.com/f"]},
     "data": {"a": "1", "b": "2", "server": "side"}},
    {"data": {"a": "10", "b": None, "c": "3"},
     "metadata": {"annotations": {LAST_APPLIED: '{"apiVersion":"v1","data":{"a":"10","c":"3"},"kind":"ConfigMap"}\n'},
                  "labels": {"tier": "web"}}},
    {"apiVersion": "v1", "kind": "ConfigMap",
     "metadata": {"name": "cm", "namespace": "default", "resourceVersion": "7",
                  "annotations": {LAST_APPLIED: '{"apiVersion":"v1","data":{"a":"10","c":"3"},"kind":"ConfigMap"}\n',
                                  "other": "kept"},
                  "labels": {"app": "x", "tier": "web"}, "finalizers": ["example.com/f"]},
     "data": {"a": "10", "c": "3", "server": "side"}},
)

KUBECTL_APPLY_DEPLOYMENT = (
    "kubectl apply of a Deployment: containers with $setElementOrder, a removed container",
    deployment([{"name": "web", "image": "nginx:1.24", "imagePullPolicy": "IfNotPresent"},
                {"name": "sidecar", "image": "busybox"}]),
    {"metadata": {"annotations": {LAST_APPLIED: "{}"}},
     "spec": {"template": {"spec": {
         "$setElementOrder/containers": [{"name": "web"}],
         "containers": [{"$patch": "delete", "name": "sidecar"}, {"image": "nginx:1.25", "name": "web"}]}}}},
    {**deployment([{"name": "web", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent"}]),
     "metadata": {"name": "patch-demo", "namespace": "default", "annotations": {LAST_APPLIED: "{}"}}},
)

ALL_STRATEGIC = STRATEGIC_CASES + [KUBECTL_APPLY, KUBECTL_APPLY_DEPLOYMENT]


@pytest.mark.parametrize("name,doc,patch,expected", ALL_STRATEGIC, ids=[c[0] for c in ALL_STRATEGIC])
def test_strategic_merge_patch(name: str, doc: dict[str, Any], patch: dict[str, Any],
                               expected: dict[str, Any]) -> None:
    assert strategic_merge_patch(doc, patch, SCHEMA) == expected


def test_without_patch_meta_lists_are_atomic() -> None:
    doc = {"metadata": {"finalizers": ["a"]}, "spec": {"containers": [{"name": "a", "image": "x"}]}}
    patch = {"metadata": {"finalizers": ["b"]}, "spec": {"containers": [{"name": "a"}]}}
    assert strategic_merge_patch(doc, patch, NO_PATCH_META) == {
        "metadata": {"finalizers": ["b"]}, "spec": {"containers": [{"name": "a"}]}}


def test_delete_from_primitive_list_ignores_the_strategy() -> None:
    doc = {"args": ["a", "b", "c"]}
    assert strategic_merge_patch(doc, {"$deleteFromPrimitiveList/args": ["b"]}, NO_PATCH_META) == {"args": ["a", "c"]}


def test_lookup_paths_skip_list_items() -> None:
    seen: list[tuple[str, ...]] = []

    class Recorder:
        def lookup(self, path: tuple[str, ...]) -> tuple[str | None, str | None]:
            seen.append(path)
            return SCHEMA.lookup(path)

    doc = {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 1}]}]}}
    patch = {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 2}]}]}}
    assert strategic_merge_patch(doc, patch, Recorder())["spec"]["containers"][0]["ports"] == [
        {"containerPort": 2}, {"containerPort": 1}]
    assert ("spec", "containers") in seen and ("spec", "containers", "ports") in seen


STRATEGIC_FAILURES = [
    # (name, doc, patch, code, text)
    ("unknown $patch in a map", {"a": {"b": 1}}, {"a": {"$patch": "frobnicate"}}, 500,
     "unknown patch type: frobnicate in map: map[$patch:frobnicate]"),
    ("unknown $patch in a new map", {}, {"a": {"$patch": "frobnicate"}}, 500, "unknown patch type"),
    ("$patch: merge in a map (kube refuses it)", {"a": {}}, {"a": {"$patch": "merge"}}, 500,
     "unknown patch type: merge"),
    ("$patch: merge as a list item", {"mergingList": [{"name": "a"}]},
     {"mergingList": [{"name": "a", "$patch": "merge"}]}, 500, "merging lists cannot yet be specified"),
    ("unknown $patch as a list item", {"mergingList": [{"name": "a"}]},
     {"mergingList": [{"name": "a", "$patch": "nope"}]}, 500, "unknown patch type: nope"),
    ("unknown directive key", {"spec": {}}, {"spec": {"$frobnicate": 1}}, 422,
     'unknown field "spec.$frobnicate"'),
    ("unknown directive key in a new map", {}, {"spec": {"x": {"$frobnicate": 1}}}, 422,
     'unknown field "spec.x.$frobnicate"'),
    ("missing merge key", {"spec": {"containers": [{"name": "a"}]}},
     {"spec": {"containers": [{"image": "b"}]}}, 500,
     "map: map[image:b] does not contain declared merge key: name"),
    ("$patch: delete without the merge key", {"spec": {"containers": [{"name": "a"}]}},
     {"spec": {"containers": [{"$patch": "delete"}]}}, 500, "does not contain declared merge key"),
    ("$setElementOrder without a slash", {}, {"$setElementOrder": []}, 400,
     "invalid patch format of setElementOrder list"),
    ("$setElementOrderfoo", {}, {"$setElementOrderfoo/x": []}, 400, "setElementOrder"),
    ("$deleteFromPrimitiveList without a slash", {}, {"$deleteFromPrimitiveList": []}, 400,
     "invalid patch format of primitive list"),
    ("$deleteFromPrimitiveList of a non-list", {"f": [1]}, {"$deleteFromPrimitiveList/f": 1}, 400,
     "invalid patch format of primitive list"),
    ("$setElementOrder that is not a list", {"mergingIntList": [1]},
     {"$setElementOrder/mergingIntList": "x"}, 500, "expected a []interface {}, but received a string"),
    ("$setElementOrder disagreeing with the patch (kube vector)",
     {"mergingList": [{"name": 1}, {"name": 3}, {"name": 2}]},
     {"$setElementOrder/mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
      "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]}, 500, "doesn't match"),
    ("$setElementOrder without merge keys", {"mergingList": [{"name": 1}]},
     {"$setElementOrder/mergingList": [{"value": 1}]}, 500, "does not contain declared merge key"),
    ("$retainKeys that is not a list", {"spec": {"strategy": {}}},
     {"spec": {"strategy": {"$retainKeys": "type"}}}, 400, "invalid patch format of retainKeys"),
    ("a patched key missing from $retainKeys", {"spec": {"strategy": {}}},
     {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}, 400,
     "invalid patch format of retainKeys"),
    ("list of lists", {"mergingIntList": [[1]]}, {"mergingIntList": [[2]]}, 422,
     "lists of lists are not supported"),
    ("mixed element types", {"mergingIntList": [1]}, {"mergingIntList": ["a"]}, 500,
     "list element types are not identical"),
    ("merging maps without a merge key", {"metadata": {"finalizers": [{"a": 1}]}},
     {"metadata": {"finalizers": [{"a": 2}]}}, 500, "cannot merge lists without merge key"),
    ("a patch that is not an object", {}, ["a"], 400,
     "cannot unmarshal array into Go value of type map[string]interface {}"),
]


@pytest.mark.parametrize("name,doc,patch,code,text", STRATEGIC_FAILURES,
                         ids=[c[0] for c in STRATEGIC_FAILURES])
def test_strategic_merge_patch_failures(name: str, doc: Any, patch: Any, code: int, text: str) -> None:
    with pytest.raises(PatchError) as exc:
        strategic_merge_patch(doc, patch, SCHEMA)
    assert_patch_error(exc, code, text)


def test_strategic_error_statuses_match_kube() -> None:
    with pytest.raises(PatchError) as exc:
        strategic_merge_patch({}, {"a": {"$patch": "x"}}, SCHEMA)
    # A plain Go error: ErrorToAPIStatus answers 500 with no reason and the error's text.
    assert exc.value.status_error().status() | {"reason": None} == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "unknown patch type: x in map: map[$patch:x]", "reason": None, "code": 500}
    with pytest.raises(PatchError) as exc:
        strategic_merge_patch({"mergingIntList": [[1]]}, {"mergingIntList": [[1]]}, SCHEMA)
    assert exc.value.status_error().status()["message"] == GENERIC_INVALID_MESSAGE


@pytest.mark.parametrize("fields", [
    {("a",): ("frobnicate", None)},
    {("a",): ("merge,replace", None)},
    {"a": ("merge", None)},
])
def test_patch_meta_from_dict_rejects_bad_tables(fields: Any) -> None:
    with pytest.raises(ValueError):
        patch_meta_from_dict(fields)


def test_patch_meta_lookup() -> None:
    meta = patch_meta_from_dict({("spec", "volumes"): ("merge,retainKeys", "name")})
    assert meta.lookup(("spec", "volumes")) == ("merge,retainKeys", "name")
    assert meta.lookup(("spec",)) == (None, None)


# --- inputs are never mutated ------------------------------------------------------------

def _every_case() -> list[tuple[str, Any, Any, Any]]:
    cases: list[tuple[str, Any, Any, Any]] = []
    cases += [("json", doc, ops, None) for _, doc, ops, _ in RFC6902_APPENDIX + JSON_PATCH_MORE]
    cases += [("merge", doc, patch, None) for doc, patch, _ in RFC7386_APPENDIX]
    cases += [("strategic", doc, patch, SCHEMA) for _, doc, patch, _ in ALL_STRATEGIC]
    return cases


def _apply(kind: str, doc: Any, patch: Any, schema: Any) -> Any:
    if kind == "json":
        return json_patch(doc, patch)
    if kind == "merge":
        return merge_patch(doc, patch)
    return strategic_merge_patch(doc, patch, schema)


def _containers(value: Any) -> list[Any]:
    found = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (dict, list)):
            found.append(item)
            stack.extend(item.values() if isinstance(item, dict) else item)
    return found


@pytest.mark.parametrize("kind,doc,patch,schema", _every_case())
def test_inputs_are_not_mutated_nor_shared(kind: str, doc: Any, patch: Any, schema: Any) -> None:
    doc_before, patch_before = copy.deepcopy(doc), copy.deepcopy(patch)
    result = _apply(kind, doc, patch, schema)
    assert doc == doc_before and patch == patch_before
    # The result owns all of its containers: changing it later cannot reach the inputs.
    inputs = {id(c) for c in _containers(doc) + _containers(patch)}
    assert not any(id(c) in inputs for c in _containers(result))


# --- apply_patch -------------------------------------------------------------------------

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["a"]},
      "data": {"k": "v"}}


@pytest.mark.parametrize("content_type,body,expected", [
    (JSON, b'[{"op": "replace", "path": "/data/k", "value": "w"}]', {**CM, "data": {"k": "w"}}),
    (MERGE, b'{"metadata": {"finalizers": ["b"]}, "data": {"k": null}}',
     {**CM, "metadata": {"name": "c", "finalizers": ["b"]}, "data": {}}),
    (SMP, b'{"metadata": {"finalizers": ["b"]}, "data": {"k": null}}',
     {**CM, "metadata": {"name": "c", "finalizers": ["b", "a"]}, "data": {}}),
    (SMP + "; charset=utf-8", b'{"data": {"x": "y"}}', {**CM, "data": {"k": "v", "x": "y"}}),
])
def test_apply_patch_dispatches_on_content_type(content_type: str, body: bytes, expected: Any) -> None:
    assert apply_patch(content_type, CM, body, SCHEMA) == expected


@pytest.mark.parametrize("content_type,body,schema,code,text", [
    ("application/json", b"{}", SCHEMA, 415, "accepted media types include: application/json-patch+json"),
    ("application/apply-patch+yaml", b"{}", SCHEMA, 415, "unknown format"),
    (SMP, b"{}", None, 415, "application/json-patch+json, application/merge-patch+json"),
    (JSON, b"[{", SCHEMA, 400, "invalid JSON patch"),
    (MERGE, b"{", SCHEMA, 400, "invalid JSON patch"),
    (SMP, b"not json", SCHEMA, 400, "invalid JSON patch"),
    (MERGE, b"null", SCHEMA, 400, "Invalid JSON Patch"),
    (MERGE, b'"x"', SCHEMA, 400, "Invalid JSON Patch"),
    (MERGE, b"[1]", SCHEMA, 422, "not a JSON object"),
    (JSON, b'[{"op": "replace", "path": "", "value": [1]}]', SCHEMA, 422, "not a JSON object"),
    (JSON, b'[{"op": "test", "path": "/data/k", "value": "nope"}]', SCHEMA, 422, "testing value"),
    (JSON, b'{"op": "add"}', SCHEMA, 400, "jsonpatch.Patch"),
    (SMP, b'"x"', SCHEMA, 400, "cannot unmarshal string"),
    (SMP, b'{"data": {"$patch": "bogus"}}', SCHEMA, 500, "unknown patch type: bogus"),
    (SMP, b"[" * 100_000 + b"]" * 100_000, SCHEMA, 400, "invalid JSON patch"),
    (MERGE, b'{"a":' * 500 + b"1" + b"}" * 500, SCHEMA, 400, "maximum depth"),
])
def test_apply_patch_errors(content_type: str, body: bytes, schema: Any, code: int, text: str) -> None:
    with pytest.raises(PatchError) as exc:
        apply_patch(content_type, CM, body, schema)
    assert_patch_error(exc, code, text)


# --- pathological inputs -----------------------------------------------------------------

def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize("kind", ["json", "merge", "strategic"])
def test_deep_patches_raise_patch_error_not_recursion_error(kind: str) -> None:
    deep = nested(sys.getrecursionlimit() * 3)
    patch = [{"op": "add", "path": "/x", "value": deep}] if kind == "json" else deep
    with pytest.raises(PatchError) as exc:
        _apply(kind, {}, patch, SCHEMA)
    assert_patch_error(exc, 400, "maximum depth")


@pytest.mark.parametrize("kind", ["merge", "strategic"])
def test_patches_up_to_the_depth_limit_apply(kind: str) -> None:
    patch = nested(MAX_PATCH_DEPTH - 1, leaf=None)
    doc = nested(MAX_PATCH_DEPTH, leaf=2)
    assert _apply(kind, doc, patch, SCHEMA) == nested(MAX_PATCH_DEPTH - 2, leaf={})


def test_deep_documents_are_copied_without_recursion() -> None:
    doc = nested(sys.getrecursionlimit() * 5)
    result = merge_patch(doc, {"b": 2})
    assert result["b"] == 2 and result["a"] is not doc["a"]
    assert json_patch(doc, [{"op": "add", "path": "/a/a/b", "value": 1}])["a"]["a"]["b"] == 1


def test_recursion_error_from_a_deep_caller_becomes_patch_error() -> None:
    patch = nested(MAX_PATCH_DEPTH - 1)
    doc = nested(MAX_PATCH_DEPTH - 1, leaf={})

    def at_depth(frames: int) -> Any:
        if frames:
            return at_depth(frames - 1)
        return strategic_merge_patch(doc, patch, SCHEMA)

    frames, frame = 0, sys._getframe()
    while frame is not None:
        frames, frame = frames + 1, frame.f_back
    with pytest.raises(PatchError) as exc:
        at_depth(sys.getrecursionlimit() - frames - 50)
    assert exc.value.code == 400


def test_many_operations_and_large_lists_are_fine() -> None:
    ops = [{"op": "add", "path": "/items/-", "value": i} for i in range(MAX_JSON_PATCH_OPERATIONS)]
    assert json_patch({"items": []}, ops)["items"][-1] == MAX_JSON_PATCH_OPERATIONS - 1
    doc = {"mergingList": [{"name": i} for i in range(2000)]}
    patch = {"mergingList": [{"name": i, "v": 1} for i in range(0, 2000, 2)]}
    merged = strategic_merge_patch(doc, patch, SCHEMA)["mergingList"]
    assert len(merged) == 2000 and sum("v" in item for item in merged) == 1000
