"""The policy engine in process: policies and bindings as kube's v1 JSON, the real compiler,
matcher (kernel.admission.predicates) and dispatcher, a request's Attributes, and a recorder that
keeps the warnings and audit annotations the request would carry. Expected texts and shapes are
kube's (validating/dispatcher.go, validator.go, admission/plugin/cel)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kernel.admission import Attributes, GroupVersionKind, GroupVersionResource, options_object
from kernel.admission.predicates import Matcher
from kernel.apimachinery.status import StatusError
from kernel.authentication.user import UserInfo
from kernel_admission_policy.dispatcher import FAILURE_KEY, Dispatch
from kernel_admission_policy.source import PolicySource

NAMESPACE = {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": "dev", "labels": {"env": "dev"}, "uid": "ns-uid",
                          "managedFields": [{"manager": "x"}]},
             "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
RULE = {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
        "resources": ["configmaps"]}


class Recorded:
    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.annotations: dict[str, str] = {}

    def add_warning(self, text: str) -> None:
        self.warnings.append(text)

    def add_annotation(self, key: str, value: str) -> None:
        self.annotations.setdefault(key, value)


def configmap(name: str = "cm", data: dict | None = None, labels: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "dev", "labels": labels or {}},
            "data": data or {}}


def attributes(obj: dict, operation: str = "CREATE", old: dict | None = None,
               user: UserInfo | None = None) -> Attributes:
    return Attributes(user or UserInfo("alice", "uid-1", ("devs", "system:authenticated")),
                      operation, obj, old, options_object("CreateOptions", False), False,  # type: ignore[arg-type]
                      GroupVersionKind("", "v1", "ConfigMap"),
                      GroupVersionResource("", "v1", "configmaps"), "", "dev",
                      obj["metadata"]["name"])


def policy(name: str, **spec: Any) -> dict:
    spec.setdefault("matchConstraints", {"resourceRules": [RULE]})
    return {"metadata": {"name": name, "uid": f"uid-{name}", "generation": 1}, "spec": spec}


def binding(name: str, policy_name: str, actions: list[str], **spec: Any) -> dict:
    return {"metadata": {"name": name},
            "spec": {"policyName": policy_name, "validationActions": actions, **spec}}


def dispatch(policies: list[dict], bindings: list[dict], attrs: Attributes,
             params: dict[str, list[dict]] | None = None) -> Recorded:
    recorded = Recorded()
    source = PolicySource(lambda group, version, kind: None, lambda group, resource: None)
    hooks = source.hooks(policies, bindings)
    namespaces = {"dev": NAMESPACE}
    matcher = Matcher(lambda name: (namespaces.get(name) or {}).get("metadata", {}).get("labels"))
    Dispatch(attrs, matcher, namespaces.get, recorded).run(hooks)
    return recorded


def refusal(policies: list[dict], bindings: list[dict], attrs: Attributes) -> StatusError:
    with pytest.raises(StatusError) as caught:
        dispatch(policies, bindings, attrs)
    return caught.value


def test_deny_is_kubes_invalid_with_the_message_as_cause() -> None:
    error = refusal([policy("p", validations=[{"expression": "size(object.data) < 2",
                                               "message": "too much data"}])],
                    [binding("b", "p", ["Deny"])], attributes(configmap(data={"a": "1", "b": "2"})))
    message = "ValidatingAdmissionPolicy 'p' with binding 'b' denied request: too much data"
    assert (error.code, error.reason) == (422, "Invalid")
    assert error.message == f'configmaps "cm" is forbidden: {message}'
    assert error.details == {"name": "cm", "kind": "configmaps", "causes": [{"message": message}]}


def test_warn_and_audit_actions_record_and_admit() -> None:
    recorded = dispatch([policy("p", validations=[{"expression": "true"},
                                                  {"expression": "object.data.size() < 1",
                                                   "message": "no data please"}])],
                        [binding("b", "p", ["Warn", "Audit"])], attributes(configmap(data={"a": "1"})))
    assert recorded.warnings == [
        "Validation failed for ValidatingAdmissionPolicy 'p' with binding 'b': no data please"]
    assert json.loads(recorded.annotations[FAILURE_KEY]) == [
        {"message": "no data please", "policy": "p", "binding": "b", "expressionIndex": 1,
         "validationActions": ["Warn", "Audit"]}]


def test_audit_annotations_are_published_under_the_policy_name() -> None:
    p = policy("p", auditAnnotations=[
        {"key": "high-data", "valueExpression": "'data keys: ' + string(size(object.data))"},
        {"key": "skipped", "valueExpression": "null"},
        {"key": "blank", "valueExpression": "'  '"}])
    recorded = dispatch([p], [binding("b1", "p", ["Audit"]), binding("b2", "p", ["Deny"])],
                        attributes(configmap(data={"a": "1"})))
    # two bindings giving the same value publish it once
    assert recorded.annotations == {"p/high-data": "data keys: 1"}


def test_audit_annotation_of_the_wrong_type_denies() -> None:
    error = refusal([policy("p", auditAnnotations=[{"key": "k", "valueExpression": "1 + 1"}])],
                    [binding("b", "p", ["Audit"])], attributes(configmap()))
    assert error.message.endswith(
        "ValidatingAdmissionPolicy 'p' with binding 'b' denied request: valueExpression '1 + 1' "
        "resulted in unsupported return type: int. Return type must be either string or null.")


def test_match_conditions_select_requests() -> None:
    p = policy("p", matchConditions=[{"name": "labelled", "expression": "'check' in object.metadata.labels"}],
               validations=[{"expression": "false", "message": "checked"}])
    b = [binding("b", "p", ["Deny"])]
    dispatch([p], b, attributes(configmap()))  # the condition is false: not evaluated
    assert "checked" in refusal([p], b, attributes(configmap(labels={"check": "yes"}))).message


def test_variables_are_lazy_and_their_errors_reach_only_their_readers() -> None:
    p = policy("p", variables=[{"name": "broken", "expression": "object.data.missing"},
                               {"name": "size", "expression": "size(object.data)"}],
               validations=[{"expression": "variables.size < 3"}])
    dispatch([p], [binding("b", "p", ["Deny"])], attributes(configmap(data={"a": "1"})))
    p["spec"]["validations"].append({"expression": "variables.broken == 'x'"})
    p["metadata"]["generation"] = 2
    error = refusal([p], [binding("b", "p", ["Deny"])], attributes(configmap(data={"a": "1"})))
    assert error.message.endswith(
        "denied request: expression 'variables.broken == 'x'' resulted in error: composited "
        "variable \"broken\" fails to evaluate: no such key: missing"), error.message


def test_request_and_namespace_object_as_kube_builds_them() -> None:
    p = policy("p", validations=[
        {"expression": "request.userInfo.username == 'alice' && request.userInfo.groups[0] == 'devs'"
                       " && request.kind.kind == 'ConfigMap' && request.resource.resource == 'configmaps'"
                       " && request.operation == 'CREATE' && request.namespace == 'dev'"
                       " && request.name == 'cm' && request.dryRun == false"
                       " && request.options.kind == 'CreateOptions'"},
        {"expression": "namespaceObject.metadata.labels.env == 'dev' && "
                       "namespaceObject.status.phase == 'Active' && "
                       "!has(namespaceObject.metadata.managedFields)"},
        {"expression": "oldObject == null"}])
    dispatch([p], [binding("b", "p", ["Deny"])], attributes(configmap()))


def test_reason_picks_the_code_and_first_denial_wins() -> None:
    policies = [policy("a", validations=[{"expression": "false", "reason": "Forbidden", "message": "a says no"}]),
                policy("b", validations=[{"expression": "false", "message": "b says no"}])]
    error = refusal(policies, [binding("ba", "a", ["Deny"]), binding("bb", "b", ["Deny"])],
                    attributes(configmap()))
    assert (error.code, error.reason) == (403, "Forbidden")
    assert "a says no" in error.message


def test_binding_match_resources_narrow_the_policy() -> None:
    p = policy("p", validations=[{"expression": "false"}])
    b = binding("b", "p", ["Deny"], matchResources={"namespaceSelector": {"matchLabels": {"env": "prod"}}})
    dispatch([p], [b], attributes(configmap()))  # dev is not prod
    b["spec"]["matchResources"] = {"objectSelector": {"matchLabels": {"x": "y"}}}
    refusal([p], [b], attributes(configmap(labels={"x": "y"})))


def test_compile_errors_follow_the_failure_policy() -> None:
    bad = [{"expression": "object.data.("}]
    error = refusal([policy("p", validations=bad)], [binding("b", "p", ["Deny"])], attributes(configmap()))
    assert "denied request: compilation error: compilation failed: ERROR: <input>:1:" in error.message
    dispatch([policy("p", validations=bad, failurePolicy="Ignore")], [binding("b", "p", ["Deny"])],
             attributes(configmap()))


def test_a_policy_without_bindings_does_nothing() -> None:
    dispatch([policy("p", validations=[{"expression": "false"}])], [], attributes(configmap()))


def test_compiled_once_per_generation() -> None:
    source = PolicySource(lambda *args: None, lambda *args: None)
    p = policy("p", validations=[{"expression": "true"}])
    b = binding("b", "p", ["Deny"])
    first = source.hooks([p], [b])[0].compiled
    source.changed()
    assert source.hooks([p], [b])[0].compiled is first
    p2 = {**p, "metadata": {**p["metadata"], "generation": 2}}
    source.changed()
    assert source.hooks([p2], [b])[0].compiled is not first
