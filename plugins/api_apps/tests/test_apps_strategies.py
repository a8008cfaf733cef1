"""apps/v1 strategies: kube's defaults, validation messages and field paths, generation, status."""

from __future__ import annotations

import copy

import pytest

from kernel_api_apps import (RESOURCES, controllerrevision_spec, daemonset_spec, deployment_spec,
                             replicaset_spec, statefulset_spec)


def _template(labels: dict | None = None, **pod) -> dict:
    return {"metadata": {"labels": {"app": "web"} if labels is None else labels},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}], **pod}}


def _obj(kind: str, **spec) -> dict:
    body = {"selector": {"matchLabels": {"app": "web"}}, "template": _template(), **spec}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "web", "namespace": "default"},
            "spec": body}


def _created(spec, obj: dict) -> dict:
    spec.strategy.prepare_for_create(obj)
    obj["metadata"].update(generation=1, resourceVersion="1", uid="u")
    return obj


def _messages(errors) -> list[str]:
    return [str(e) for e in errors]


def test_names_scopes_and_subresources() -> None:
    facts = [(s.kind, s.plural, tuple(s.short_names), tuple(s.categories), tuple(s.subresources))
             for s in RESOURCES]
    assert facts == [
        ("Deployment", "deployments", ("deploy",), ("all",), ("status", "scale")),
        ("ReplicaSet", "replicasets", ("rs",), ("all",), ("status", "scale")),
        ("StatefulSet", "statefulsets", ("sts",), ("all",), ("status", "scale")),
        ("DaemonSet", "daemonsets", ("ds",), ("all",), ("status",)),
        ("ControllerRevision", "controllerrevisions", (), (), ()),
    ]
    assert all(s.group_version == "apps/v1" and s.namespaced for s in RESOURCES)
    assert deployment_spec.storage_prefix == "/registry/deployments/"


def test_deployment_defaults() -> None:
    obj = _created(deployment_spec, _obj("Deployment"))
    spec = obj["spec"]
    assert spec["replicas"] == 1 and spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    pod = spec["template"]["spec"]
    assert (pod["restartPolicy"], pod["dnsPolicy"], pod["terminationGracePeriodSeconds"],
            pod["schedulerName"]) == ("Always", "ClusterFirst", 30, "default-scheduler")
    assert pod["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert obj["status"] == {}
    # Recreate gets no rollingUpdate; an explicit value is kept
    obj = _created(deployment_spec, _obj("Deployment", replicas=0, strategy={"type": "Recreate"}))
    assert obj["spec"]["strategy"] == {"type": "Recreate"} and obj["spec"]["replicas"] == 0


def test_image_pull_policy_by_tag() -> None:
    obj = _obj("Deployment")
    obj["spec"]["template"]["spec"]["containers"] = [
        {"name": "a", "image": "nginx"}, {"name": "b", "image": "nginx:latest"},
        {"name": "c", "image": "reg:5000/nginx"}, {"name": "d", "image": "nginx@sha256:abc"}]
    _created(deployment_spec, obj)
    assert [c["imagePullPolicy"] for c in obj["spec"]["template"]["spec"]["containers"]] == [
        "Always", "Always", "Always", "IfNotPresent"]


def test_selector_must_match_template_labels() -> None:
    for spec in (deployment_spec, replicaset_spec, statefulset_spec, daemonset_spec):
        obj = _created(spec, _obj(spec.kind, template=_template({"app": "other"})))
        assert _messages(spec.strategy.validate(obj)) == [
            'spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: '
            '`selector` does not match template `labels`'], spec.kind


def test_selector_required_and_not_empty() -> None:
    obj = _created(deployment_spec, _obj("Deployment"))
    del obj["spec"]["selector"]
    assert _messages(deployment_spec.strategy.validate(obj)) == ["spec.selector: Required value"]
    obj["spec"]["selector"] = {}
    assert _messages(deployment_spec.strategy.validate(obj)) == [
        "spec.selector: Invalid value: &LabelSelector{MatchLabels:map[string]string{},"
        "MatchExpressions:[]LabelSelectorRequirement{},}: empty selector is invalid for deployment"]


def test_replicas_and_strategy_rules() -> None:
    obj = _created(deployment_spec, _obj("Deployment", replicas=-1, strategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}}))
    assert _messages(deployment_spec.strategy.validate(obj)) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"]
    obj = _created(deployment_spec, _obj("Deployment", strategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "120%", "maxSurge": "x"}}))
    assert _messages(deployment_spec.strategy.validate(obj)) == [
        "spec.strategy.rollingUpdate.maxSurge: Invalid value: x: a valid percent string must be a numeric "
        "string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 120%: must not be greater than 100%"]
    obj = _created(deployment_spec, _obj("Deployment", strategy={"type": "Recreate", "rollingUpdate": {}}))
    assert _messages(deployment_spec.strategy.validate(obj)) == [
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]
    obj = _created(deployment_spec, _obj("Deployment", minReadySeconds=700))
    assert _messages(deployment_spec.strategy.validate(obj)) == [
        "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"]


def test_template_containers_and_restart_policy() -> None:
    obj = _created(deployment_spec, _obj("Deployment", template=_template(restartPolicy="Never")))
    obj["spec"]["template"]["spec"]["containers"] = [{"name": "Bad_Name"}, {"name": "Bad_Name", "image": "x"}]
    deployment_spec.strategy.default(obj)  # as every body is, before validation
    messages = _messages(deployment_spec.strategy.validate(obj))
    assert messages[0].startswith('spec.template.spec.containers[0].name: Invalid value: "Bad_Name": '
                                  "a lowercase RFC 1123 label must consist of")
    assert messages[1:] == [
        "spec.template.spec.containers[0].image: Required value",
        "spec.template.spec.containers[1].name: Invalid value: \"Bad_Name\": " + messages[0].split(": ", 3)[3],
        'spec.template.spec.containers[1].name: Duplicate value: "Bad_Name"',
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']
    obj["spec"]["template"]["spec"]["containers"] = []
    assert "spec.template.spec.containers: Required value" in _messages(deployment_spec.strategy.validate(obj))


def test_selector_is_immutable() -> None:
    old = _created(deployment_spec, _obj("Deployment"))
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "x"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    deployment_spec.strategy.prepare_for_update(new, old)
    assert _messages(deployment_spec.strategy.validate_update(new, old)) == [
        "spec.selector: Invalid value: &LabelSelector{MatchLabels:map[string]string{app: web,tier: x,},"
        "MatchExpressions:[]LabelSelectorRequirement{},}: field is immutable"]


def test_generation_bumps_on_spec_and_annotations_only() -> None:
    old = _created(deployment_spec, _obj("Deployment"))
    old["status"] = {"observedGeneration": 1, "replicas": 1}
    same = copy.deepcopy(old)
    same["metadata"]["labels"] = {"x": "y"}
    del same["spec"]["revisionHistoryLimit"]  # defaulted again: no change
    same["status"] = {"replicas": 7}  # ignored: status only through /status
    deployment_spec.strategy.prepare_for_update(same, old)
    assert same["metadata"]["generation"] == 1 and same["status"] == old["status"]
    changed = copy.deepcopy(old)
    changed["spec"]["replicas"] = 3
    deployment_spec.strategy.prepare_for_update(changed, old)
    assert changed["metadata"]["generation"] == 2
    annotated = copy.deepcopy(old)
    annotated["metadata"]["annotations"] = {"a": "b"}
    deployment_spec.strategy.prepare_for_update(annotated, old)
    assert annotated["metadata"]["generation"] == 2
    rs_old = _created(replicaset_spec, _obj("ReplicaSet"))
    rs_new = copy.deepcopy(rs_old)
    rs_new["metadata"]["annotations"] = {"a": "b"}
    replicaset_spec.strategy.prepare_for_update(rs_new, rs_old)
    assert rs_new["metadata"]["generation"] == 1  # only Deployments count annotations


def test_status_validation() -> None:
    status = deployment_spec.strategy_for("status")
    old = _created(deployment_spec, _obj("Deployment"))
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 1, "readyReplicas": 2, "availableReplicas": -1}
    status.prepare_for_update(new, old)
    assert _messages(status.validate_update(new, old)) == [
        "status.availableReplicas: Invalid value: -1: must be greater than or equal to 0",
        "status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas"]


def test_statefulset_defaults_name_and_forbidden_updates() -> None:
    obj = _created(statefulset_spec, _obj("StatefulSet", serviceName="web"))
    spec = obj["spec"]
    assert (spec["podManagementPolicy"], spec["replicas"], spec["revisionHistoryLimit"]) == ("OrderedReady", 1, 10)
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert statefulset_spec.strategy.validate(obj) == []
    assert statefulset_spec.name_validator("web.x", False)  # a DNS label, not a subdomain
    new = copy.deepcopy(obj)
    new["spec"]["serviceName"] = "other"
    new["spec"]["replicas"] = 3
    assert _messages(statefulset_spec.strategy.validate_update(new, obj)) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
        "'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' "
        "and 'minReadySeconds' are forbidden"]
    new["spec"]["serviceName"] = "web"
    assert statefulset_spec.strategy.validate_update(new, obj) == []


def test_daemonset_defaults_and_rolling_update_rules() -> None:
    obj = _created(daemonset_spec, _obj("DaemonSet"))
    assert obj["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                             "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert obj["spec"]["revisionHistoryLimit"] == 10
    assert daemonset_spec.strategy.validate(obj) == []
    obj["spec"]["updateStrategy"]["rollingUpdate"] = {"maxUnavailable": 1, "maxSurge": 1}
    assert _messages(daemonset_spec.strategy.validate(obj)) == [
        "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable "
        "is non-zero"]
    obj["spec"]["updateStrategy"]["rollingUpdate"] = {"maxUnavailable": 0, "maxSurge": 0}
    assert _messages(daemonset_spec.strategy.validate(obj)) == [
        "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"]


def test_controllerrevision_data_rules() -> None:
    strategy = controllerrevision_spec.strategy
    rev = {"metadata": {"name": "r"}, "revision": 1, "data": {"spec": {}}}
    assert strategy.validate(rev) == []
    assert _messages(strategy.validate({"metadata": {"name": "r"}, "revision": -1})) == [
        "revision: Invalid value: -1: must be greater than or equal to 0", "data: Required value: data is mandatory"]
    assert _messages(strategy.validate({**rev, "data": [1]})) == ["data: Required value: data must be a valid JSON object"]
    changed = {**rev, "data": {}}
    assert _messages(strategy.validate_update(changed, rev)) == [
        "data: Invalid value: runtime.RawExtension{Raw:[]uint8{0x7b, 0x7d}, Object:runtime.Object(nil)}: "
        "field is immutable"]


@pytest.mark.parametrize("spec", RESOURCES, ids=lambda s: s.plural)
def test_placeholder_schema_is_findable_by_gvk(spec) -> None:
    schema = spec.schemas[spec.schema_name]
    assert schema["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": spec.kind, "version": "v1"}]
    assert spec.schema_name + "List" in spec.schemas
