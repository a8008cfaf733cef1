"""CustomResourceDefinitions over HTTP against a real server: validation with kube's messages,
the naming/establishing controllers, custom resources served at once (schema validation,
pruning, defaulting, status and scale, selectable fields, Table, several versions), and a
deleted CRD taking its objects and its group with it."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from kernel.testing import KernelProcess, start_kernel

PLUGINS = "--plugins=api_core,api_apiextensions,storage_memory"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WAIT = 30.0  # only bounds a hang; nothing is timed
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8},
                "replicas": {"type": "integer"},
                "port": {"x-kubernetes-int-or-string": True},
                "tags": {"type": "array", "items": {"type": "string"},
                         "x-kubernetes-list-type": "set"},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        },
        "status": {"type": "object", "properties": {
            "phase": {"type": "string"}, "replicas": {"type": "integer"}}},
    },
}


def crd(name: str = "widgets", group: str = "example.com", kind: str = "Widget",
        versions: list[dict[str, Any]] | None = None, **names: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{name}.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": name, "singular": kind.lower(), "kind": kind, **names},
                 "versions": versions or [{
                     "name": "v1", "served": True, "storage": True,
                     "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)},
                     "subresources": {"status": {}, "scale": {
                         "specReplicasPath": ".spec.replicas",
                         "statusReplicasPath": ".status.replicas"}},
                     "additionalPrinterColumns": [
                         {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                         {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                         {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
                     "selectableFields": [{"jsonPath": ".spec.color"}]}]},
    }


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    kernel = start_kernel(tmp_path_factory.mktemp("crd"), PLUGINS, "--authorization-mode=AlwaysAllow")
    yield kernel
    kernel.stop()


def wait_for(check: Any, what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def established(client: Any, name: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = client.get(f"{CRDS}/{name}").json()
        conds = {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or ()}
        return obj if conds.get("Established", {}).get("status") == "True" else None
    return wait_for(check, f"{name} Established")


def test_crd_validation_messages(kernel: KernelProcess) -> None:
    bad = crd()
    bad["metadata"]["name"] = "wrong.example.com"
    bad["spec"]["group"] = "example"
    bad["spec"]["scope"] = "Galaxy"
    bad["spec"]["versions"][0]["storage"] = False
    bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = {
        "type": "object", "properties": {"spec": {"properties": {"a": {"type": "array"}}}}}
    with kernel.client() as client:
        response = client.post(CRDS, json=bad)
        assert response.status_code == 422, response.text
        status = response.json()
        assert status["reason"] == "Invalid"
        causes = {(c["field"], c["message"]) for c in status["details"]["causes"]}
        assert ("metadata.name", 'Invalid value: "wrong.example.com": must be '
                'spec.names.plural+"."+spec.group') in causes
        assert ("spec.group", 'Invalid value: "example": should be a domain with at least one dot') in causes
        assert ("spec.scope", 'Unsupported value: "Galaxy": supported values: "Cluster", "Namespaced"') in causes
        fields = {c["field"] for c in status["details"]["causes"]}
        assert "spec.versions" in fields  # exactly one storage version
        assert "spec.validation.openAPIV3Schema.properties[spec].type" in fields
        assert "spec.validation.openAPIV3Schema.properties[spec].properties[a].items" in fields
        assert status["message"].startswith(
            'CustomResourceDefinition.apiextensions.k8s.io "wrong.example.com" is invalid: ')
        assert client.get(f"{CRDS}/wrong.example.com").status_code == 404


def test_custom_resources_served_validated_pruned_defaulted(kernel: KernelProcess) -> None:
    with kernel.client() as client:
        assert client.post(CRDS, json=crd()).status_code == 201
        obj = established(kernel.client(), "widgets.example.com")
        assert obj["status"]["acceptedNames"]["kind"] == "Widget"
        conds = {c["type"]: c for c in obj["status"]["conditions"]}
        assert conds["NamesAccepted"]["reason"] == "NoConflicts"
        path = "/apis/example.com/v1/namespaces/default/widgets"
        created = client.post(path, json={
            "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"},
            "spec": {"size": 3, "unknown": 1, "extra": {"kept": True}, "port": "http"},
            "status": {"phase": "ignored"}, "junk": 1})
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["spec"] == {"size": 3, "color": "red", "extra": {"kept": True}, "port": "http"}
        assert "junk" not in body and "status" not in body  # pruned; status is the subresource's
        assert body["metadata"]["generation"] == 1
        warnings = created.headers.get_list("warning")
        assert '299 - "unknown field \\"junk\\""' in warnings, warnings
        strict = client.post(path, params={"fieldValidation": "Strict"}, json={
            "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "strict"},
            "spec": {"size": 3, "unknown": 1}})
        assert strict.status_code == 400
        assert strict.json()["message"] == ('Widget in version "v1" cannot be handled as a Widget: '
                                            'strict decoding error: unknown field "spec.unknown"')

        invalid = client.post(path, json={
            "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w2"},
            "spec": {"size": "big", "color": "pink", "name": "ABC", "tags": ["a", "a"],
                     "port": True}})
        assert invalid.status_code == 422, invalid.text
        causes = {(c["field"], c["message"]) for c in invalid.json()["details"]["causes"]}
        assert ("spec.size", 'Invalid value: "string": spec.size in body must be of type integer: '
                '"string"') in causes
        assert ("spec.color", 'Unsupported value: "pink": supported values: "red", "blue"') in causes
        assert ("spec.name", """Invalid value: "ABC": spec.name in body should match '^[a-z]+$'""") in causes
        assert ("spec.tags[1]", 'Duplicate value: "a"') in causes
        assert invalid.json()["message"].startswith('Widget.example.com "w2" is invalid: ')
        missing = client.post(path, json={"metadata": {"name": "w3"}, "spec": {"size": 11}})
        causes = {(c["field"], c["message"]) for c in missing.json()["details"]["causes"]}
        assert ("spec.size", "Invalid value: 11: spec.size in body should be less than or equal to 10") in causes
        missing = client.post(path, json={"metadata": {"name": "w3"}, "spec": {}})
        assert [(c["field"], c["message"]) for c in missing.json()["details"]["causes"]] == [
            ("spec.size", "Required value")]


def test_status_scale_patch_selectors_table(kernel: KernelProcess) -> None:
    with kernel.client() as client:
        if client.get(f"{CRDS}/widgets.example.com").status_code == 404:
            assert client.post(CRDS, json=crd()).status_code == 201
        established(client, "widgets.example.com")
        path = "/apis/example.com/v1/namespaces/default/widgets"
        for name, color in (("p1", "red"), ("p2", "blue")):
            response = client.post(path, json={"metadata": {"name": name},
                                               "spec": {"size": 2, "color": color, "replicas": 1}})
            assert response.status_code == 201, response.text
        status = client.put(f"{path}/p1/status", json={
            **client.get(f"{path}/p1").json(), "spec": {"size": 9}, "status": {"phase": "Ready",
                                                                            "replicas": 1}})
        assert status.status_code == 200, status.text
        assert status.json()["status"]["phase"] == "Ready"
        assert status.json()["spec"]["size"] == 2  # the status subresource changes status only
        merge = client.patch(f"{path}/p1", json={"spec": {"size": 4}},
                             headers={"content-type": "application/merge-patch+json"})
        assert merge.status_code == 200 and merge.json()["spec"]["size"] == 4
        assert merge.json()["metadata"]["generation"] == 2
        strategic = client.patch(f"{path}/p1", json={"spec": {"size": 5}},
                                 headers={"content-type": "application/strategic-merge-patch+json"})
        assert strategic.status_code == 415
        assert "application/merge-patch+json" in strategic.json()["message"]
        scale = client.get(f"{path}/p1/scale").json()
        assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
        scale["spec"]["replicas"] = 3
        assert client.put(f"{path}/p1/scale", json=scale).status_code == 200
        assert client.get(f"{path}/p1").json()["spec"]["replicas"] == 3
        blue = client.get(path, params={"fieldSelector": "spec.color=blue"}).json()
        assert [i["metadata"]["name"] for i in blue["items"]] == ["p2"]
        table = client.get(path, headers={"accept": TABLE}).json()
        assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Color", "Age"]
        rows = {r["cells"][0]: r["cells"][1:3] for r in table["rows"]}
        assert rows["p1"] == [4, "red"] and rows["p2"] == [2, "blue"]


def test_names_conflict_and_deletion_removes_objects_and_group(kernel: KernelProcess) -> None:
    with kernel.client() as client:
        other = crd(name="gizmos", group="conflict.example.com", kind="Gizmo")
        assert client.post(CRDS, json=other).status_code == 201
        established(client, "gizmos.conflict.example.com")
        clash = crd(name="gadgets", group="conflict.example.com", kind="Gizmo")
        assert client.post(CRDS, json=clash).status_code == 201

        def names_refused() -> dict[str, Any] | None:
            conds = {c["type"]: c for c in (client.get(f"{CRDS}/gadgets.conflict.example.com")
                                            .json().get("status") or {}).get("conditions") or ()}
            refused = conds.get("NamesAccepted", {}).get("status") == "False"
            return conds if refused else None
        conds = wait_for(names_refused, "NamesAccepted False")
        # kube checks kind, then listKind: the last conflict found is the one reported
        assert conds["NamesAccepted"]["reason"] == "ListKindConflict"
        assert conds["NamesAccepted"]["message"] == '"GizmoList" is already in use'
        assert conds["Established"]["status"] == "False"

        path = "/apis/conflict.example.com/v1/namespaces/default/gizmos"
        assert client.post(path, json={"metadata": {"name": "g1"}, "spec": {"size": 1}}).status_code == 201
        assert client.delete(f"{CRDS}/gizmos.conflict.example.com").status_code == 200
        wait_for(lambda: client.get(f"{CRDS}/gizmos.conflict.example.com").status_code == 404,
                 "the CRD gone")
        assert client.delete(f"{CRDS}/gadgets.conflict.example.com").status_code == 200
        wait_for(lambda: client.get("/apis/conflict.example.com/v1").status_code == 404,
                 "the group gone")
        assert all(g["name"] != "conflict.example.com" for g in client.get("/apis").json()["groups"])
        # Created again, the CRD serves an empty collection: its objects went with it.
        assert client.post(CRDS, json=other).status_code == 201
        established(client, "gizmos.conflict.example.com")
        assert client.get(path).json()["items"] == []


def test_several_versions_share_storage(kernel: KernelProcess) -> None:
    versions = [{"name": "v1", "served": True, "storage": True,
                 "schema": {"openAPIV3Schema": SCHEMA}},
                {"name": "v2", "served": True, "storage": False,
                 "schema": {"openAPIV3Schema": SCHEMA}}]
    with kernel.client() as client:
        assert client.post(CRDS, json=crd(name="things", group="multi.example.com", kind="Thing",
                                          versions=versions)).status_code == 201
        established(client, "things.multi.example.com")
        created = client.post("/apis/multi.example.com/v2/namespaces/default/things",
                              json={"metadata": {"name": "t"}, "spec": {"size": 1}})
        assert created.status_code == 201, created.text
        assert created.json()["apiVersion"] == "multi.example.com/v2"
        v1 = client.get("/apis/multi.example.com/v1/namespaces/default/things/t").json()
        assert v1["apiVersion"] == "multi.example.com/v1" and v1["spec"]["size"] == 1
        versions_listed = client.get("/apis/multi.example.com").json()["versions"]
        assert [v["version"] for v in versions_listed] == ["v2", "v1"]


def test_cluster_scoped_deletecollection_and_protobuf_refused(kernel: KernelProcess) -> None:
    cluster = crd(name="realms", group="cluster.example.com", kind="Realm")
    cluster["spec"]["scope"] = "Cluster"
    with kernel.client() as client:
        assert client.post(CRDS, json=cluster).status_code == 201
        established(client, "realms.cluster.example.com")
        path = "/apis/cluster.example.com/v1/realms"
        for name in ("r1", "r2"):
            response = client.post(path, json={"metadata": {"name": name}, "spec": {"size": 1}})
            assert response.status_code == 201, response.text
            assert "namespace" not in response.json()["metadata"]
        assert client.get("/apis/cluster.example.com/v1/namespaces/default/realms").status_code == 404
        resources = client.get("/apis/cluster.example.com/v1").json()["resources"]
        realm = next(r for r in resources if r["name"] == "realms")
        assert realm["namespaced"] is False and realm["kind"] == "Realm"
        assert {"realms/status", "realms/scale"} <= {r["name"] for r in resources}
        protobuf = client.post(path, content=b"k8s\x00\x0a\x00",
                               headers={"content-type": "application/vnd.kubernetes.protobuf"})
        assert protobuf.status_code == 415
        deleted = client.delete(path)
        assert deleted.status_code == 200
        assert sorted(i["metadata"]["name"] for i in deleted.json()["items"]) == ["r1", "r2"]
        assert client.get(path).json()["items"] == []


def test_schema_change_applies_at_once_and_defaults_on_read(kernel: KernelProcess) -> None:
    with kernel.client() as client:
        assert client.post(CRDS, json=crd(name="notes", group="change.example.com",
                                          kind="Note")).status_code == 201
        established(client, "notes.change.example.com")
        path = "/apis/change.example.com/v1/namespaces/default/notes"
        assert client.post(path, json={"metadata": {"name": "old"},
                                       "spec": {"size": 1}}).status_code == 201
        current = client.get(f"{CRDS}/notes.change.example.com").json()
        properties = current["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
        properties["spec"]["properties"]["note"] = {"type": "string", "default": "hello"}
        assert client.put(f"{CRDS}/notes.change.example.com", json=current).status_code == 200
        # The new schema is served once the controller installed it: old objects read with the
        # new default, new objects keep the new field instead of losing it to pruning.
        wait_for(lambda: client.get(f"{path}/old").json()["spec"].get("note") == "hello",
                 "the default on read")
        created = client.post(path, json={"metadata": {"name": "new"},
                                          "spec": {"size": 1, "note": "kept"}})
        assert created.json()["spec"]["note"] == "kept"
        document = client.get("/openapi/v3/apis/change.example.com/v1").json()
        schema = document["components"]["schemas"]["com.example.change.v1.Note"]
        assert schema["properties"]["spec"]["properties"]["note"]["default"] == "hello"


def test_terminating_crd_refuses_creates_until_its_objects_are_gone(kernel: KernelProcess) -> None:
    with kernel.client() as client:
        assert client.post(CRDS, json=crd(name="holds", group="term.example.com",
                                          kind="Hold")).status_code == 201
        established(client, "holds.term.example.com")
        path = "/apis/term.example.com/v1/namespaces/default/holds"
        held = {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}, "spec": {"size": 1}}
        assert client.post(path, json=held).status_code == 201
        deleted = client.delete(f"{CRDS}/holds.term.example.com")
        assert deleted.status_code == 200
        conds = {c["type"]: c for c in deleted.json()["status"]["conditions"]}
        assert conds["Terminating"]["reason"] == "InstanceDeletionPending"
        assert "customresourcecleanup.apiextensions.k8s.io" in deleted.json()["metadata"]["finalizers"]

        def refused() -> dict[str, Any] | None:
            response = client.post(path, json={"metadata": {"name": "late"}, "spec": {"size": 1}})
            return response.json() if response.status_code == 403 else None
        status = wait_for(refused, "creates refused")
        assert status["message"] == ('holds.term.example.com "late" is forbidden: create not '
                                     "allowed while custom resource definition is terminating")
        # The held object is marked; once its finalizer goes, so do it and the CRD.
        assert client.get(f"{path}/held").json()["metadata"].get("deletionTimestamp")
        assert client.get(f"{CRDS}/holds.term.example.com").status_code == 200
        assert client.patch(f"{path}/held", json={"metadata": {"finalizers": None}},
                            headers={"content-type": "application/merge-patch+json"}).status_code == 200
        wait_for(lambda: client.get(f"{CRDS}/holds.term.example.com").status_code == 404,
                 "the CRD gone")


def test_preserve_unknown_fields_keeps_everything(kernel: KernelProcess) -> None:
    legacy = crd(name="olds", group="legacy.example.com", kind="Old")
    legacy["spec"]["preserveUnknownFields"] = True
    with kernel.client() as client:
        refused = client.post(CRDS, json=legacy)  # SCHEMA has a default
        assert refused.status_code == 422
        assert {c["field"] for c in refused.json()["details"]["causes"]} == {"spec.preserveUnknownFields"}
        del legacy["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
            "properties"]["color"]["default"]
        assert client.post(CRDS, json=legacy).status_code == 201
        established(client, "olds.legacy.example.com")
        created = client.post("/apis/legacy.example.com/v1/namespaces/default/olds", json={
            "metadata": {"name": "o"}, "spec": {"size": 1, "anything": {"nested": True}}, "top": 1})
        assert created.status_code == 201, created.text
        assert created.json()["spec"]["anything"] == {"nested": True} and created.json()["top"] == 1
