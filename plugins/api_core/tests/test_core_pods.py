"""Pods: kube's defaulting, validation, update rules, binding and printing, on dicts."""

from __future__ import annotations

import copy

import pytest

from kernel.apimachinery.status import StatusError
from kernel.endpoints.table import build_table
from kernel_api_core import pods
from kernel_api_core.pods import PodStrategy, bind, pod_row, validate_pod_update


def _pod(**spec) -> dict:
    return {"metadata": {"name": "p", "namespace": "default", "uid": "u1"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}}


def _created(pod: dict) -> dict:
    PodStrategy().prepare_for_create(pod)
    return pod


def _messages(errs) -> list[str]:
    return [str(e) for e in errs]


@pytest.mark.parametrize(("image", "policy"), [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent"),
    ("registry:5000/team/app", "Always"), ("registry:5000/team/app:v2", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
])
def test_image_pull_policy_by_tag(image: str, policy: str) -> None:
    pod = _created({"spec": {"containers": [{"name": "c", "image": image}]}})
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_pod_defaults_are_kubes() -> None:
    pod = _created(_pod(containers=[{"name": "c", "image": "nginx:1", "ports": [{"containerPort": 80}],
                                     "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]))
    spec = pod["spec"]
    assert {k: spec[k] for k in ("restartPolicy", "dnsPolicy", "terminationGracePeriodSeconds",
                                 "schedulerName", "securityContext", "enableServiceLinks")} == {
        "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
        "schedulerName": "default-scheduler", "securityContext": {}, "enableServiceLinks": True}
    container = spec["containers"][0]
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "File"
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    # requests default to the limits; equal requests and limits for cpu and memory: Guaranteed
    assert container["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert pod["status"] == {"phase": "Pending", "qosClass": "Guaranteed"}


def test_status_is_reset_on_create_and_kept_on_update() -> None:
    pod = _created(_pod())
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    new = copy.deepcopy(pod)
    new["status"] = {"phase": "Running"}
    PodStrategy().prepare_for_update(new, pod)
    assert new["status"] == pod["status"]


def test_validation_paths_and_messages() -> None:
    pod = _created(_pod(restartPolicy="Sometimes", containers=[
        {"name": "Web", "image": "nginx", "ports": [{"containerPort": 0}, {"containerPort": 70000, "name": "h"},
                                                     {"containerPort": 80, "name": "h"}]},
        {"name": "side"},
        {"name": "side", "image": "x", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}},
    ]))
    assert _messages(PodStrategy().validate(pod)) == [
        'spec.containers[0].name: Invalid value: "Web": a lowercase RFC 1123 label must consist of lower case '
        "alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. "
        "'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        "spec.containers[0].ports[0].containerPort: Required value",
        "spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        'spec.containers[0].ports[2].name: Duplicate value: "h"',
        "spec.containers[1].image: Required value",
        'spec.containers[2].name: Duplicate value: "side"',
        'spec.containers[2].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    ]
    assert _messages(PodStrategy().validate(_created({"spec": {}}))) == ["spec.containers: Required value"]


def test_unparsable_quantity_is_a_decode_error() -> None:
    with pytest.raises(StatusError) as error:
        _created(_pod(containers=[{"name": "c", "image": "x", "resources": {"limits": {"cpu": "lots"}}}]))
    assert error.value.code == 400
    assert "quantities must match the regular expression" in error.value.message


def test_update_may_change_image_deadline_and_add_tolerations_only() -> None:
    old = _created(_pod(tolerations=[{"key": "a", "operator": "Exists"}]))
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:2"
    new["spec"]["activeDeadlineSeconds"] = 60
    new["spec"]["tolerations"].append({"key": "b", "operator": "Exists"})
    assert validate_pod_update(new, old) == []

    new["spec"]["restartPolicy"] = "Never"
    (error,) = validate_pod_update(new, old)
    assert error.field == "spec" and error.type == "FieldValueForbidden"
    assert error.detail.startswith(
        "pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
        "to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
        "previously negative)\n")
    assert "restartPolicy" in error.detail

    fewer = copy.deepcopy(old)
    fewer["spec"]["containers"] = []
    assert _messages(validate_pod_update(fewer, old)) == [
        "spec.containers: Forbidden: pod updates may not add or remove containers"]
    raised = copy.deepcopy(new)
    raised["spec"]["restartPolicy"] = "Always"
    old["spec"]["activeDeadlineSeconds"] = 30
    assert _messages(validate_pod_update(raised, old)) == [
        "spec.activeDeadlineSeconds: Invalid value: 60: must be less than or equal to previous value"]


def test_binding_sets_the_node_once() -> None:
    pod = _created(_pod())
    bound = bind(pod, {"metadata": {"name": "p"}, "target": {"kind": "Node", "name": "node-1"}})
    assert bound["spec"]["nodeName"] == "node-1"
    assert bound["status"]["conditions"][0]["type"] == "PodScheduled"
    assert bound["status"]["conditions"][0]["status"] == "True"
    with pytest.raises(StatusError) as error:
        bind(bound, {"metadata": {"name": "p"}, "target": {"name": "node-2"}})
    assert error.value.code == 409
    assert error.value.message == ('Operation cannot be fulfilled on pods/binding "p": pod p is already '
                                   'assigned to node "node-1"')
    with pytest.raises(StatusError) as error:
        bind(_created(_pod()), {"metadata": {"name": "p"}, "target": {"kind": "Pod"}})
    assert error.value.code == 500
    assert error.value.message == ('Internal error occurred: [target.kind: Unsupported value: "Pod": supported '
                                   'values: "Node", "<empty>", target.name: Required value]')


def test_field_selectors_of_a_pod() -> None:
    pod = _created(_pod(nodeName="n1", serviceAccountName="sa", hostNetwork=True))
    pod["status"].update(podIPs=[{"ip": "10.1.0.5"}], podIP="10.1.0.5")
    fields = PodStrategy().field_selectors(pod)
    assert fields["spec.nodeName"] == "n1" and fields["spec.hostNetwork"] == "true"
    assert fields["status.phase"] == "Pending" and fields["status.podIP"] == "10.1.0.5"
    assert set(pods.SELECTABLE_FIELDS) == set(fields)


def test_pod_row_ready_status_restarts() -> None:
    pod = _created(_pod(containers=[{"name": "a", "image": "x"}, {"name": "b", "image": "x"}]))
    assert pod_row(pod) == {"ready": "0/2", "status": "Pending", "restarts": "0"}
    pod["status"].update(phase="Running", containerStatuses=[
        {"name": "a", "ready": True, "restartCount": 0, "state": {"running": {}}},
        {"name": "b", "ready": False, "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2020-01-01T00:00:00Z"}}}])
    row = pod_row(pod)
    assert row["ready"] == "1/2" and row["status"] == "CrashLoopBackOff"
    assert row["restarts"].startswith("5 (") and row["restarts"].endswith(" ago)")
    pod["metadata"]["deletionTimestamp"] = "2020-01-01T00:00:00Z"
    assert pod_row(pod)["status"] == "Terminating"
    table = build_table(pods.TABLE_COLUMNS, [pod], list_meta={})
    assert [(c["name"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0), ("IP", 1), ("Node", 1),
        ("Nominated Node", 1), ("Readiness Gates", 1)]
    assert table["rows"][0]["cells"][5:] == ["<none>", "<none>", "<none>", "<none>"]
