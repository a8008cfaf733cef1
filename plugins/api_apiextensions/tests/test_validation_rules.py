"""x-kubernetes-validations: rules checked when the CRD is written (compile errors, types,
message/reason/fieldPath checks, oldSelf where it cannot correlate) and evaluated on custom
resources over HTTP against a real server (self, transition rules, messageExpression, reason,
fieldPath, list items and map values, the status subresource, ratcheting).

Expected texts come from kube's apiextensions-apiserver (pkg/apiserver/schema/cel/validation.go,
pkg/apis/apiextensions/validation) and apimachinery's field.Error (v1.36: values of objects
and arrays are omitted)."""

from __future__ import annotations

import copy
from typing import Any

import time

import pytest

from kernel.testing import KernelProcess, start_kernel
from kernel_api_apiextensions.celcompilation import compile_rules
from kernel_api_apiextensions.celvalidation import validate

PLUGINS = "--plugins=api_core,api_apiextensions,storage_memory"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
RANGES = "/apis/rules.example.com/v1/namespaces/default/ranges"

SPEC: dict[str, Any] = {
    "type": "object",
    "x-kubernetes-validations": [
        {"rule": "self.min <= self.max", "message": "min must be less than or equal to max"},
        {"rule": "self.max >= oldSelf.max", "messageExpression":
            "'max may not shrink from a ' + (oldSelf.max > 5 ? 'large' : 'small') + ' value'",
         "reason": "FieldValueForbidden", "fieldPath": ".max"},
    ],
    "properties": {
        "min": {"type": "integer"},
        "max": {"type": "integer"},
        "mode": {"type": "string", "x-kubernetes-validations": [
            {"rule": "self == oldSelf", "message": "mode is immutable"}]},
        "hosts": {"type": "array", "maxItems": 10, "items": {
            "type": "string", "maxLength": 64,
            "x-kubernetes-validations": [{"rule": "self.endsWith('.example.com')"}]}},
        "ports": {"type": "object", "maxProperties": 10, "additionalProperties": {
            "type": "integer", "x-kubernetes-validations": [
                {"rule": "self > 0 && self < 65536", "reason": "FieldValueRequired",
                 "message": "port out of range"}]}},
    },
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": SPEC,
        "status": {"type": "object", "properties": {"ready": {"type": "integer"}},
                   "x-kubernetes-validations": [{"rule": "self.ready >= 0",
                                                 "message": "ready must not be negative"}]},
    },
}


def rules_crd(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "ranges.rules.example.com"},
            "spec": {"group": "rules.example.com", "scope": "Namespaced",
                     "names": {"plural": "ranges", "singular": "range", "kind": "Range"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": copy.deepcopy(schema or SCHEMA)}}]}}


def obj(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "rules.example.com/v1", "kind": "Range", "metadata": {"name": name},
            "spec": spec}


# -- compile time ------------------------------------------------------------------------------

BASE = "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations"


def _errors(rules: list[dict[str, Any]], **props: Any) -> list[str]:
    schema = {"type": "object", "properties": {"spec": {
        "type": "object", "x-kubernetes-validations": rules,
        "properties": {"min": {"type": "integer"}, "name": {"type": "string"}, **props}}}}
    return [str(e) for e in compile_rules(schema, "spec.validation.openAPIV3Schema")[1]]


def test_rule_that_does_not_compile_is_refused_with_kubes_text() -> None:
    found = _errors([{"rule": "self.min <"}])
    assert len(found) == 1
    assert found[0].startswith(
        f'{BASE}[0].rule: Invalid value: {{"Rule":"self.min \\u003c","Message":"",'
        '"MessageExpression":"","Reason":null,"FieldPath":"","OptionalOldSelf":null}: '
        "compilation failed: ERROR: <input>:1:11: Syntax error:")


def test_rule_and_message_expression_result_types() -> None:
    found = _errors([{"rule": "self.min + 1"},
                     {"rule": "self.min > 0", "messageExpression": "1"}])
    assert found[0].endswith(": cel expression must evaluate to a bool")
    assert found[0].startswith(f"{BASE}[0].rule: Invalid value: ")
    assert found[1].startswith(f"{BASE}[1].messageExpression: Invalid value: ")
    assert found[1].endswith(": messageExpression must evaluate to a string")


def test_rule_shape_checks() -> None:
    found = _errors([{"rule": " "}, {"rule": "true", "message": " "},
                     {"rule": "true\n&& true"}, {"rule": "true", "reason": "Nope"},
                     {"rule": "true", "fieldPath": ".nope"}, {"rule": "true", "messageExpression": " "},
                     {"rule": "self.min > 0", "optionalOldSelf": True}])
    assert f"{BASE}[0].rule: Required value: rule is not specified" in found
    assert f'{BASE}[1].message: Invalid value: " ": must be non-empty if specified' in found
    assert f"{BASE}[2].message: Required value: message must be specified if rule contains line breaks" in found
    assert (f'{BASE}[3].reason: Unsupported value: "Nope": supported values: "FieldValueDuplicate", '
            '"FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"') in found
    assert f'{BASE}[4].fieldPath: Invalid value: ".nope": must be a valid path' in found
    assert f"{BASE}[5].messageExpression: Required value: messageExpression must be non-empty if specified" in found
    # shape errors at a node stop its rules from being compiled, as kube does
    assert not any("optionalOldSelf" in e for e in found)
    assert _errors([{"rule": "self.min > 0", "optionalOldSelf": True}]) == [
        f"{BASE}[0].optionalOldSelf: Invalid value: true: may not be set if oldSelf is not used in rule"]


def test_old_self_where_old_values_cannot_correlate() -> None:
    found = _errors([], list={"type": "array", "items": {
        "type": "integer", "x-kubernetes-validations": [{"rule": "self >= oldSelf"}]}})
    where = "spec.validation.openAPIV3Schema.properties[spec].properties[list]"
    assert found == [f'{where}.items.x-kubernetes-validations[0].rule: Invalid value: "self >= oldSelf": '
                     f"oldSelf cannot be used on the uncorrelatable portion of the schema within {where}"]
    # map lists correlate by their keys: allowed
    assert _errors([], list={"type": "array", "x-kubernetes-list-type": "map",
                             "x-kubernetes-list-map-keys": ["k"], "items": {
                                 "type": "object", "required": ["k"],
                                 "properties": {"k": {"type": "string"}},
                                 "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}}) == []


# -- evaluation (unit) ---------------------------------------------------------------------------

def test_evaluation_reasons_field_paths_and_message_expression() -> None:
    root, errors = compile_rules(SCHEMA)
    assert errors == []
    new = {"spec": {"min": 5, "max": 3, "hosts": ["a.example.com", "b.other.org"],
                    "ports": {"http": 0}}}
    found = [str(e) for e in validate(root, new)]
    assert found == ["spec: Invalid value: min must be less than or equal to max",
                     'spec.hosts[1]: Invalid value: "b.other.org": failed rule: self.endsWith(\'.example.com\')',
                     "spec.ports[http]: Required value: port out of range"]
    old = {"spec": {"min": 1, "max": 9, "mode": "fast"}}
    found = [str(e) for e in validate(root, {"spec": {"min": 1, "max": 4, "mode": "slow"}}, old)]
    assert found == ["spec.max: Forbidden: max may not shrink from a large value", "spec.mode: Invalid value: "
                     '"slow": mode is immutable']


def test_runtime_errors_name_the_rule() -> None:
    schema = {"type": "object", "properties": {"spec": {
        "type": "object", "x-kubernetes-validations": [{"rule": "self.a / self.b > 0"}],
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}}}
    root, _ = compile_rules(schema)
    assert [str(e) for e in validate(root, {"spec": {"a": 1, "b": 0}})] == [
        'spec: Invalid value: "object": division by zero evaluating rule: self.a / self.b > 0']


def test_root_rules_and_optional_old_self() -> None:
    schema = {"type": "object", "x-kubernetes-validations": [
        {"rule": "self.metadata.name.startsWith('r-')", "message": "name must start with r-"},
        {"rule": "!oldSelf.hasValue() || self.spec.n >= oldSelf.value().spec.n",
         "optionalOldSelf": True, "message": "n may only grow"}],
        "properties": {"spec": {"type": "object", "properties": {"n": {"type": "integer"}}}}}
    root, errors = compile_rules(schema)
    assert errors == []
    assert [str(e) for e in validate(root, {"metadata": {"name": "x"}, "spec": {"n": 1}})] == [
        "<nil>: Invalid value: name must start with r-"]
    assert validate(root, {"metadata": {"name": "r-1"}, "spec": {"n": 1}}) == []
    assert [str(e) for e in validate(root, {"metadata": {"name": "r-1"}, "spec": {"n": 1}},
                                     {"metadata": {"name": "r-1"}, "spec": {"n": 2}})] == [
        "<nil>: Invalid value: n may only grow"]


# -- over HTTP ---------------------------------------------------------------------------------

def wait_for(check: Any, what: str, timeout: float = 30.0) -> Any:
    """Poll until ``check()`` is truthy; ``timeout`` only bounds a hang."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return result


def established(client: Any, name: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        crd = client.get(f"{CRDS}/{name}").json()
        conds = {c["type"]: c for c in (crd.get("status") or {}).get("conditions") or ()}
        return crd if conds.get("Established", {}).get("status") == "True" else None
    return wait_for(check, f"{name} Established")


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    kernel = start_kernel(tmp_path_factory.mktemp("rules"), PLUGINS, "--authorization-mode=AlwaysAllow")
    with kernel.client() as client:
        assert client.post(CRDS, json=rules_crd()).status_code == 201, "CRD refused"
        established(client, "ranges.rules.example.com")
    yield kernel
    kernel.stop()


def _causes(response: Any) -> list[tuple[str, str, str]]:
    status = response.json()
    return [(c.get("reason"), c.get("field"), c.get("message")) for c in status["details"]["causes"]]


def test_crd_with_a_rule_that_does_not_compile_is_refused(kernel: KernelProcess) -> None:
    schema = copy.deepcopy(SCHEMA)
    schema["properties"]["spec"]["x-kubernetes-validations"][0]["rule"] = "self.min <= self.nope +"
    bad = rules_crd(schema)
    bad["metadata"]["name"] = "others.rules.example.com"
    bad["spec"]["names"] = {"plural": "others", "kind": "Other"}
    with kernel.client() as client:
        response = client.post(CRDS, json=bad)
        assert response.status_code == 422, response.text
        (reason, field, message), = _causes(response)
        assert field == f"{BASE}[0].rule"
        assert reason == "FieldValueInvalid"
        assert "compilation failed: ERROR: <input>:1:" in message
        assert client.get(f"{CRDS}/others.rules.example.com").status_code == 404


def test_create_and_update_checked_by_rules(kernel: KernelProcess) -> None:
    with kernel.client() as client:
        response = client.post(RANGES, json=obj("bad", min=5, max=1))
        assert response.status_code == 422, response.text
        assert response.json()["message"] == ('Range.rules.example.com "bad" is invalid: spec: '
                                              "Invalid value: min must be less than or equal to max")
        assert _causes(response) == [("FieldValueInvalid", "spec",
                                      "Invalid value: min must be less than or equal to max")]
        created = client.post(RANGES, json=obj("good", min=1, max=5, mode="fast"))
        assert created.status_code == 201, created.text
        changed = created.json()
        changed["spec"].update(max=3, mode="slow")
        response = client.put(f"{RANGES}/good", json=changed)
        assert response.status_code == 422, response.text
        assert _causes(response) == [
            ("FieldValueForbidden", "spec.max", "Forbidden: max may not shrink from a small value"),
            ("FieldValueInvalid", "spec.mode", 'Invalid value: "slow": mode is immutable')]
        patch = client.patch(f"{RANGES}/good", json={"spec": {"max": 8}},
                             headers={"Content-Type": "application/merge-patch+json"})
        assert patch.status_code == 200, patch.text


def test_schema_errors_block_rules(kernel: KernelProcess) -> None:
    with kernel.client() as client:
        response = client.post(RANGES, json=obj("typed", min="one", max=1))
        assert response.status_code == 422
        fields = [c[1] for c in _causes(response)]
        assert fields == ["spec.min", "<nil>"]
        assert _causes(response)[1][2] == (
            "Invalid value: null: some validation rules were not checked because the object was "
            "invalid; correct the existing errors to complete validation")


def test_status_subresource_checked_by_rules(kernel: KernelProcess) -> None:
    with kernel.client() as client:
        created = client.post(RANGES, json=obj("stat", min=1, max=2)).json()
        created["status"] = {"ready": -1}
        response = client.put(f"{RANGES}/stat/status", json=created)
        assert response.status_code == 422, response.text
        assert _causes(response) == [("FieldValueInvalid", "status",
                                      "Invalid value: ready must not be negative")]
        created["status"] = {"ready": 1}
        assert client.put(f"{RANGES}/stat/status", json=created).status_code == 200


def test_ratcheting_keeps_unchanged_invalid_values(kernel: KernelProcess) -> None:
    """A value stored before a rule existed may stay as it is (kube 1.30+ ratcheting); changing
    it must satisfy the rule."""
    schema = copy.deepcopy(SCHEMA)
    schema["properties"]["spec"]["properties"]["note"] = {"type": "string"}
    loose = rules_crd(schema)
    loose["metadata"]["name"] = "notes.rules.example.com"
    loose["spec"]["names"] = {"plural": "notes", "kind": "Note"}
    notes = "/apis/rules.example.com/v1/namespaces/default/notes"
    with kernel.client() as client:
        assert client.post(CRDS, json=loose).status_code == 201
        crd = established(client, "notes.rules.example.com")
        wait_for(lambda: client.get(notes).status_code == 200, "notes served")
        stored = client.post(notes, json={**obj("n1", min=1, max=2, note="x"), "kind": "Note"}).json()
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
            "note"]["x-kubernetes-validations"] = [{"rule": "self.size() > 3", "message": "too short"}]
        assert client.put(f"{CRDS}/notes.rules.example.com", json=crd).status_code == 200

        def refused() -> bool:
            probe = client.post(notes, json={**obj("probe", min=1, max=2, note="y"), "kind": "Note"})
            return probe.status_code == 422
        wait_for(refused, "the new rule served")
        stored["spec"]["min"] = 2  # note unchanged: its rule is ratcheted, with a warning
        response = client.put(f"{notes}/n1", json=stored)
        assert response.status_code == 200, response.text
        assert response.headers.get("warning") == '299 - "spec.note: Invalid value: \\"x\\": too short"'
        stored = client.get(f"{notes}/n1").json()
        stored["spec"]["note"] = "z"
        response = client.put(f"{notes}/n1", json=stored)
        assert response.status_code == 422
        assert _causes(response) == [("FieldValueInvalid", "spec.note", 'Invalid value: "z": too short')]


def test_per_call_limit_and_per_object_budget() -> None:
    """kube's PerCallLimit (1,000,000) stops one heavy evaluation; RuntimeCELCostBudget
    (10,000,000) stops an object whose rules together cost more. The CRD itself is within the
    static limits (maxItems bound every list)."""
    inner = {"type": "array", "maxItems": 6000, "items": {"type": "integer"},
             "x-kubernetes-validations": [{"rule": f"self.all(x, x >= {i})"} for i in range(-4, 0)]}
    schema = {"type": "object", "properties": {"spec": {
        "type": "object", "x-kubernetes-validations": [{"rule": "self.l.all(x, self.l.all(y, true))"}],
        "properties": {"ll": {"type": "array", "maxItems": 300, "items": inner},
                       "l": {"type": "array", "maxItems": 1500, "items": {"type": "integer"}}}}}}
    root, errors = compile_rules(schema)
    assert errors == []
    assert validate(root, {"spec": {"ll": [[1] * 10] * 3, "l": [1] * 10}}) == []
    assert [str(e) for e in validate(root, {"spec": {"l": list(range(1500))}})] == [
        "spec: Invalid value: \"object\": 'operation cancelled: actual cost limit exceeded': no "
        "further validation rules will be run due to call cost exceeds limit for rule: "
        "self.l.all(x, self.l.all(y, true))"]
    found = validate(root, {"spec": {"ll": [list(range(6000))] * 300, "l": []}})
    assert len(found) == 1
    assert str(found[0]).endswith(': Invalid value: "array": validation failed due to running out '
                                  "of cost budget, no further validation rules will be run")
    assert found[0].field.startswith("spec.ll[") and found[0].field != "spec.ll[299]"
