"""events.k8s.io/v1 Events: stored as core v1 Events (converted both ways), kube's validation of
an events.k8s.io request, field selectors in the new names, and the event columns."""

from __future__ import annotations

import copy

import pytest

from kernel.testing import KernelProcess, start_kernel
from kernel_api_events import event_spec, from_core, to_core

API = "/apis/events.k8s.io/v1/namespaces/default/events"


def _event(name: str, reason: str = "Started", pod: str = "web") -> dict:
    return {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": name},
            "eventTime": "2026-01-02T03:04:05.000000Z", "reportingController": "example.com/ctl",
            "reportingInstance": "ctl-1", "action": "Start", "reason": reason, "type": "Normal",
            "note": "started the container", "regarding": {"kind": "Pod", "namespace": "default", "name": pod,
                                                           "fieldPath": "spec.containers{app}"}}


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    kernel = start_kernel(tmp_path_factory.mktemp("events"), "--plugins=api_core,api_events,storage_memory")
    yield kernel
    kernel.stop()


def test_conversion_round_trips_and_renames() -> None:
    event = {**_event("e"), "related": {"kind": "Node", "name": "n1"}, "series": {"count": 2,
             "lastObservedTime": "2026-01-02T03:05:00.000000Z"}, "deprecatedCount": 3,
             "deprecatedSource": {"component": "kubelet"}, "deprecatedFirstTimestamp": "2026-01-02T03:04:05Z"}
    core = to_core(copy.deepcopy(event))
    assert core["apiVersion"] == "v1" and core["message"] == "started the container"
    assert core["involvedObject"]["name"] == "web" and core["reportingComponent"] == "example.com/ctl"
    assert core["count"] == 3 and core["source"] == {"component": "kubelet"}
    assert core["firstTimestamp"] == "2026-01-02T03:04:05Z" and core["related"]["name"] == "n1"
    assert not {"note", "regarding", "reportingController", "deprecatedCount"} & core.keys()
    assert from_core(core) == event


def test_create_read_and_columns(kernel: KernelProcess) -> None:
    with kernel.client() as http:
        created = http.post(API, json=_event("e1"))
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["apiVersion"] == "events.k8s.io/v1" and body["note"] == "started the container"
        assert "message" not in body and "involvedObject" not in body
        listed = http.get(API).json()
        assert [i["metadata"]["name"] for i in listed["items"]] == ["e1"]
        assert listed["items"][0]["regarding"]["name"] == "web"
        patched = http.patch(f"{API}/e1", json={"metadata": {"labels": {"seen": "yes"}}},
                             headers={"Content-Type": "application/merge-patch+json"})
        assert patched.status_code == 200 and patched.json()["note"] == "started the container"
        changed = http.patch(f"{API}/e1", json={"note": "something else"},
                             headers={"Content-Type": "application/merge-patch+json"})
        assert changed.status_code == 422
        assert changed.json()["details"]["causes"] == [{
            "reason": "FieldValueInvalid", "field": "message",
            "message": 'Invalid value: "something else": field is immutable'}]
    lines = kernel.kubectl("get", "events.v1.events.k8s.io", "-o", "wide").stdout.splitlines()
    assert lines[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE",
                                "FIRST", "SEEN", "COUNT", "NAME"]
    cells = lines[1].split()
    assert cells[1:5] == ["Normal", "Started", "pod/web", "spec.containers{app}"]
    assert "example.com/ctl," in cells and "ctl-1" in cells and cells[-2:] == ["1", "e1"]


def test_field_selectors_use_the_new_names(kernel: KernelProcess) -> None:
    with kernel.client() as http:
        for name, reason, pod in (("f1", "Pulled", "a"), ("f2", "Killing", "b")):
            assert http.post(API, json=_event(name, reason, pod)).status_code == 201
        by_pod = http.get(API, params={"fieldSelector": "regarding.name=b"}).json()
        assert [i["metadata"]["name"] for i in by_pod["items"]] == ["f2"]
        by_reason = http.get(API, params={"fieldSelector": "reason=Pulled,type=Normal"}).json()
        assert [i["metadata"]["name"] for i in by_reason["items"]] == ["f1"]
        bad = http.get(API, params={"fieldSelector": "involvedObject.name=b"})
        assert bad.status_code == 400 and "field label not supported: involvedObject.name" in bad.json()["message"]


def test_validation_of_an_events_k8s_io_request(kernel: KernelProcess) -> None:
    body = _event("bad")
    for key in ("eventTime", "reportingController", "action"):
        del body[key]
    body.update(type="Odd", deprecatedCount=2)
    with kernel.client() as http:
        response = http.post(API, json=body)
        assert response.status_code == 422
        assert [(c["field"], c["message"]) for c in response.json()["details"]["causes"]] == [
            ("eventTime", "Required value"),
            ("type", 'Invalid value: "": has invalid value: Odd'),
            ("count", 'Invalid value: "": needs to be unset'),
        ]
        assert http.get(f"{API}/bad").status_code == 404
    errors = event_spec.strategy.validate({**_event("x"), "reportingController": "", "metadata": {
        "name": "x", "namespace": "default"}})
    assert [e.field for e in errors][:2] == ["reportingController", "reportingController"]
    assert str(errors[0]) == "reportingController: Required value"


def test_one_storage_for_core_and_events_k8s_io(tmp_path) -> None:
    kernel = start_kernel(tmp_path, "--plugins=api_core,api_events,storage_memory")
    try:
        with kernel.client() as http:
            core = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "legacy"}, "reason": "Pulled",
                    "message": "pulled", "type": "Normal", "count": 2, "source": {"component": "kubelet"},
                    "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web"},
                    "firstTimestamp": "2026-01-02T03:04:05Z", "lastTimestamp": "2026-01-02T03:04:06Z"}
            assert http.post("/api/v1/namespaces/default/events", json=core).status_code == 201
            seen = http.get(f"{API}/legacy").json()
            assert seen["note"] == "pulled" and seen["deprecatedCount"] == 2
            assert seen["deprecatedSource"] == {"component": "kubelet"} and seen["regarding"]["name"] == "web"
            assert http.post(API, json=_event("new")).status_code == 201
            assert http.get("/api/v1/namespaces/default/events/new").json()["message"] == "started the container"
    finally:
        kernel.stop()
