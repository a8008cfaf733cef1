"""Writes over HTTP as kube-apiserver answers them: create, update, patch, delete and their metadata.

Each test pins one behaviour of k8s.io/apiserver's generic registry (rest.BeforeCreate,
rest.BeforeUpdate, rest.BeforeDelete, the handlers' checkName) against the in-process kernel.
"""

from __future__ import annotations

import re
import uuid

import trio

from rest_helpers import CM, NAMESPACES, assert_status, open_watch

CMS = CM.format(ns="default")
JSON_PATCH = {"content-type": "application/json-patch+json"}
MERGE_PATCH = {"content-type": "application/merge-patch+json"}
STRATEGIC = {"content-type": "application/strategic-merge-patch+json"}
GENERATED = re.compile(r"[bcdfghjklmnpqrstvwxz2456789]{5}")
OPTIMISTIC = ("the object has been modified; please apply your changes to the latest version "
              "and try again")


# --- create: server-set metadata ---------------------------------------------------------------

async def test_generate_name_appends_five_random_characters(api):
    first = await api.client.post(CMS, json={"metadata": {"generateName": "cfg-"}})
    second = await api.client.post(CMS, json={"metadata": {"generateName": "cfg-"}})
    assert first.status_code == second.status_code == 201, first.text
    for created in (first.json(), second.json()):
        name = created["metadata"]["name"]
        assert name.startswith("cfg-") and len(name) == len("cfg-") + 5
        assert GENERATED.fullmatch(name[len("cfg-"):]), name
        assert created["metadata"]["generateName"] == "cfg-"
        assert (await api.client.get(f"{CMS}/{name}")).status_code == 200
    assert first.json()["metadata"]["name"] != second.json()["metadata"]["name"]


async def test_generate_name_prefix_is_cut_to_58_characters(api):
    # names.SimpleNameGenerator: a generated name is at most 63 characters (58 + 5).
    prefix = "p" * 70 + "-"
    created = await api.client.post(CMS, json={"metadata": {"generateName": prefix}})
    assert created.status_code == 201, created.text
    name = created.json()["metadata"]["name"]
    assert len(name) == 63 and name[:58] == prefix[:58] and GENERATED.fullmatch(name[58:])
    ns = await api.client.post(NAMESPACES, json={"metadata": {"generateName": "team-"}})
    assert ns.status_code == 201 and re.fullmatch(r"team-[a-z0-9]{5}", ns.json()["metadata"]["name"])


async def test_uid_and_creation_timestamp_are_set_by_the_server(api):
    mine = str(uuid.uuid4())
    response = await api.client.post(CMS, json={"metadata": {
        "name": "stamped", "uid": mine, "creationTimestamp": "2001-02-03T04:05:06Z",
        "deletionTimestamp": "2001-02-03T04:05:06Z", "generation": 7}})
    assert response.status_code == 201, response.text
    meta = response.json()["metadata"]
    assert meta["uid"] != mine and uuid.UUID(meta["uid"])
    assert meta["creationTimestamp"] != "2001-02-03T04:05:06Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert "deletionTimestamp" not in meta and int(meta["resourceVersion"]) > 0
    assert (await api.get(f"{CMS}/stamped"))["metadata"] == meta


async def test_create_with_a_resource_version_is_refused(api):
    # `kubectl create -f` of an exported object: kube's storage refuses it with a reasonless 500
    response = await api.client.post(CMS, json={"metadata": {"name": "exported", "resourceVersion": "12"}})
    assert response.status_code == 500 and response.headers["content-type"] == "application/json"
    assert response.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": "resourceVersion should not be set on objects to be created",
                               "code": 500}
    assert (await api.client.get(f"{CMS}/exported")).status_code == 404
    zero = await api.client.post(CMS, json={"metadata": {"name": "zero", "resourceVersion": "0"}})
    assert zero.status_code == 201 and int(zero.json()["metadata"]["resourceVersion"]) > 0


async def test_creation_timestamp_changes_are_ignored_on_update(api):
    created = await api.configmap("default", "c", {"a": "1"})
    body = {**created, "data": {"a": "2"}}
    body["metadata"] = {**created["metadata"], "creationTimestamp": "2001-02-03T04:05:06Z"}
    updated = await api.client.put(f"{CMS}/c", json=body)
    assert updated.status_code == 200, updated.text
    assert updated.json()["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]
    patched = await api.client.patch(f"{CMS}/c", headers=MERGE_PATCH,
                                     json={"metadata": {"creationTimestamp": "2001-02-03T04:05:06Z"}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]


async def test_uid_is_immutable(api):
    created = await api.configmap("default", "u", {"a": "1"})
    uid, other = created["metadata"]["uid"], str(uuid.uuid4())
    # PATCH: BeforeUpdate keeps a changed uid and ValidateObjectMetaUpdate refuses it.
    patched = await api.client.patch(f"{CMS}/u", headers=MERGE_PATCH, json={"metadata": {"uid": other}})
    body = assert_status(patched, 422, "Invalid",
                         f'ConfigMap "u" is invalid: metadata.uid: Invalid value: "{other}": field is immutable')
    # kube validates ObjectMeta updates twice (BeforeUpdate and the strategy), so causes may repeat
    assert {(c["reason"], c["field"], c["message"]) for c in body["details"]["causes"]} == {
        ("FieldValueInvalid", "metadata.uid", f'Invalid value: "{other}": field is immutable')}
    # PUT: a uid in the body is a storage precondition (defaultUpdatedObjectInfo.Preconditions).
    body = {**created, "metadata": {**created["metadata"], "uid": other}}
    put = await api.client.put(f"{CMS}/u", json=body)
    assert_status(put, 409, "Conflict",
                  'Operation cannot be fulfilled on configmaps "u": StorageError: invalid object, '
                  "Code: 4, Key: /registry/configmaps/default/u, ResourceVersion: 0, "
                  f"AdditionalErrorMsg: Precondition failed: UID in precondition: {other}, "
                  f"UID in object meta: {uid}",
                  {"name": "u", "kind": "configmaps"})
    # Without a uid the stored one is kept.
    body = {**created, "metadata": {k: v for k, v in created["metadata"].items() if k != "uid"},
            "data": {"a": "2"}}
    kept = await api.client.put(f"{CMS}/u", json=body)
    assert kept.status_code == 200 and kept.json()["metadata"]["uid"] == uid
    assert (await api.get(f"{CMS}/u"))["metadata"]["uid"] == uid


async def test_resource_version_moves_on_every_write_and_not_on_a_no_op(api):
    created = await api.configmap("default", "rv", {"a": "1"})
    rv0 = int(created["metadata"]["resourceVersion"])
    updated = (await api.client.put(f"{CMS}/rv", json={**created, "data": {"a": "2"}})).json()
    rv1 = int(updated["metadata"]["resourceVersion"])
    patched = (await api.client.patch(f"{CMS}/rv", headers=MERGE_PATCH,
                                      json={"data": {"b": "3"}})).json()
    rv2 = int(patched["metadata"]["resourceVersion"])
    assert rv0 < rv1 < rv2
    # The same content again: nothing is written, the resourceVersion stays.
    same = await api.client.put(f"{CMS}/rv", json=patched)
    assert same.status_code == 200 and same.json()["metadata"]["resourceVersion"] == str(rv2)
    same_patch = await api.client.patch(f"{CMS}/rv", headers=MERGE_PATCH, json={"data": {"b": "3"}})
    assert same_patch.status_code == 200 and same_patch.json()["metadata"]["resourceVersion"] == str(rv2)
    # empty or null omitempty fields are what Go's decoding makes of them: nothing, so no change
    empties = {**patched, "metadata": {**patched["metadata"], "labels": {}, "annotations": None,
                                       "finalizers": [], "generateName": ""}, "binaryData": {}}
    same_again = await api.client.put(f"{CMS}/rv", json=empties)
    assert same_again.status_code == 200 and same_again.json() == same.json()
    assert await api.rv(CMS) == rv2  # no other write happened either
    async with open_watch(api.client, CMS, {"resourceVersion": str(rv0)}) as stream:
        seen = await stream.take(2)
        assert [(e["type"], e["object"]["metadata"]["resourceVersion"]) for e in seen] == [
            ("MODIFIED", str(rv1)), ("MODIFIED", str(rv2))]


# --- create: validation ------------------------------------------------------------------------

LABEL_KEY_MESSAGE = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must "
                     "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
                     "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


async def test_invalid_labels_and_annotations_are_422_with_causes(api):
    response = await api.client.post(CMS, json={"metadata": {
        "name": "bad-meta", "labels": {"bad key!": "ok"}, "annotations": {"example.com/": "x"}}})
    body = assert_status(response, 422, "Invalid")
    assert body["details"]["name"] == "bad-meta" and body["details"]["kind"] == "ConfigMap"
    assert body["details"]["causes"] == [
        {"reason": "FieldValueInvalid", "message": f'Invalid value: "bad key!": {LABEL_KEY_MESSAGE}',
         "field": "metadata.labels"},
        {"reason": "FieldValueInvalid", "message": 'Invalid value: "example.com/": name part must be non-empty',
         "field": "metadata.annotations"},
        {"reason": "FieldValueInvalid",
         "message": f'Invalid value: "example.com/": {LABEL_KEY_MESSAGE}',
         "field": "metadata.annotations"},
    ]
    assert body["message"].startswith('ConfigMap "bad-meta" is invalid: [metadata.labels: Invalid value: '
                                      '"bad key!": name part must consist of')
    too_big = await api.client.post(CMS, json={"metadata": {
        "name": "big-annotations", "annotations": {"a": "x" * (256 * 1024)}}})
    assert_status(too_big, 422, "Invalid",
                  'ConfigMap "big-annotations" is invalid: metadata.annotations: Too long: '
                  "must have at most 262144 bytes")
    assert (await api.client.get(f"{CMS}/bad-meta")).status_code == 404
    # Updates are validated the same way.
    await api.configmap("default", "later", {})
    patched = await api.client.patch(f"{CMS}/later", headers=MERGE_PATCH,
                                     json={"metadata": {"labels": {"a": "-bad-"}}})
    assert assert_status(patched, 422, "Invalid")["details"]["causes"][0]["field"] == "metadata.labels"


SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
             "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
             r"used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
         "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
         "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")


async def test_names_are_validated_per_resource(api):
    # configmaps: a DNS subdomain (dots allowed)
    assert (await api.client.post(CMS, json={"metadata": {"name": "a.b-c"}})).status_code == 201
    bad = await api.client.post(CMS, json={"metadata": {"name": "Bad_Name"}})
    assert_status(bad, 422, "Invalid",
                  f'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": {SUBDOMAIN}',
                  {"name": "Bad_Name", "kind": "ConfigMap", "causes": [
                      {"reason": "FieldValueInvalid", "message": f'Invalid value: "Bad_Name": {SUBDOMAIN}',
                       "field": "metadata.name"}]})
    missing = await api.client.post(CMS, json={"metadata": {}})
    assert_status(missing, 422, "Invalid",
                  'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required')
    # namespaces: a DNS label (no dots)
    dotted = await api.client.post(NAMESPACES, json={"metadata": {"name": "a.b"}})
    assert_status(dotted, 422, "Invalid",
                  'Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": must not contain dots')
    upper = await api.client.post(NAMESPACES, json={"metadata": {"name": "Team"}})
    assert_status(upper, 422, "Invalid", f'Namespace "Team" is invalid: metadata.name: Invalid value: "Team": {LABEL}')
    assert (await api.client.get(f"{NAMESPACES}/a.b")).status_code == 404


async def test_empty_fields_are_not_stored(api):
    created = await api.client.post(CMS, json={"metadata": {"name": "bare", "labels": {}, "annotations": None,
                                                            "finalizers": [], "namespace": ""},
                                               "data": {}, "binaryData": None})
    assert created.status_code == 201, created.text
    body = created.json()
    assert "data" not in body and "binaryData" not in body
    assert set(body["metadata"]) == {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}
    secret = await api.client.post("/api/v1/namespaces/default/secrets",
                                   json={"metadata": {"name": "bare"}, "data": {}})
    assert secret.status_code == 201 and "data" not in secret.json() and secret.json()["type"] == "Opaque"
    assert await api.get(f"{CMS}/bare") == body


async def test_create_conflicts_with_an_existing_name(api):
    await api.configmap("default", "twice", {})
    again = await api.client.post(CMS, json={"metadata": {"name": "twice"}})
    assert_status(again, 409, "AlreadyExists", 'configmaps "twice" already exists',
                  {"name": "twice", "kind": "configmaps"})


# --- finalizers and deletion -------------------------------------------------------------------

async def test_delete_with_finalizers_marks_then_removing_them_deletes(api):
    created = await api.configmap("default", "held", {"a": "1"}, finalizers=["example.com/hold"])
    async with open_watch(api.client, CMS, {"resourceVersion": created["metadata"]["resourceVersion"]}) as stream:
        deleted = await api.client.delete(f"{CMS}/held")
        assert deleted.status_code == 200, deleted.text
        marked = deleted.json()
        assert marked["kind"] == "ConfigMap" and marked["metadata"]["finalizers"] == ["example.com/hold"]
        assert marked["metadata"]["deletionTimestamp"] and marked["metadata"]["deletionGracePeriodSeconds"] == 0
        event = await stream.next()
        assert event["type"] == "MODIFIED" and event["object"]["metadata"]["deletionTimestamp"]
        still = await api.get(f"{CMS}/held")
        assert still["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]

        # Deleting again changes nothing; adding a finalizer now is forbidden.
        again = await api.client.delete(f"{CMS}/held")
        assert again.status_code == 200 and again.json()["metadata"] == still["metadata"]
        added = await api.client.patch(f"{CMS}/held", headers=MERGE_PATCH, json={"metadata": {
            "finalizers": ["example.com/hold", "example.com/more"]}})
        assert_status(added, 422, "Invalid",
                      'ConfigMap "held" is invalid: metadata.finalizers: Forbidden: no new finalizers can be '
                      'added if the object is being deleted, found new finalizers []string{"example.com/more"}')
        # A deletion timestamp cannot be changed or dropped by an update either.
        kept = await api.client.patch(f"{CMS}/held", headers=MERGE_PATCH,
                                      json={"metadata": {"deletionTimestamp": None}, "data": {"a": "2"}})
        assert kept.status_code == 200, kept.text
        assert kept.json()["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]

        removed = await api.client.patch(f"{CMS}/held", headers=MERGE_PATCH,
                                         json={"metadata": {"finalizers": None}})
        assert removed.status_code == 200, removed.text
        assert "finalizers" not in removed.json()["metadata"]
        assert_status(await api.client.get(f"{CMS}/held"), 404, "NotFound")
        while (event := await stream.next())["type"] != "DELETED":
            assert event["type"] == "MODIFIED"
        assert event["object"]["metadata"]["name"] == "held"


async def test_removing_the_last_finalizer_by_update_deletes(api):
    await api.configmap("default", "held2", {}, finalizers=["example.com/a", "example.com/b"])
    assert (await api.client.delete(f"{CMS}/held2")).status_code == 200
    current = await api.get(f"{CMS}/held2")
    current["metadata"]["finalizers"] = ["example.com/b"]
    one_left = await api.client.put(f"{CMS}/held2", json=current)
    assert one_left.status_code == 200 and one_left.json()["metadata"]["finalizers"] == ["example.com/b"]
    current = one_left.json()
    del current["metadata"]["finalizers"]
    gone = await api.client.put(f"{CMS}/held2", json=current)
    assert gone.status_code == 200, gone.text
    assert_status(await api.client.get(f"{CMS}/held2"), 404, "NotFound")


async def test_immediate_delete_answers_a_success_status(api):
    created = await api.configmap("default", "bye", {})
    response = await api.client.delete(f"{CMS}/bye")
    assert response.status_code == 200
    assert response.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                               "details": {"name": "bye", "kind": "configmaps",
                                           "uid": created["metadata"]["uid"]}}
    assert_status(await api.client.delete(f"{CMS}/bye"), 404, "NotFound", 'configmaps "bye" not found',
                  {"name": "bye", "kind": "configmaps"})


async def test_delete_collection_with_a_selector(api):
    await api.namespace("sweep")
    path = CM.format(ns="sweep")
    await api.configmap("sweep", "a", {}, labels={"app": "x"})
    await api.configmap("sweep", "b", {}, labels={"app": "x"}, finalizers=["example.com/hold"])
    await api.configmap("sweep", "c", {}, labels={"app": "y"})
    swept = await api.client.delete(path, params={"labelSelector": "app=x"})
    assert swept.status_code == 200, swept.text
    assert swept.json()["kind"] == "ConfigMapList"
    assert sorted(i["metadata"]["name"] for i in swept.json()["items"]) == ["a", "b"]
    remaining = (await api.get(path))["items"]
    assert [(i["metadata"]["name"], bool(i["metadata"].get("deletionTimestamp"))) for i in remaining] == [
        ("b", True), ("c", False)]


async def test_delete_preconditions(api):
    created = await api.configmap("default", "pre", {"a": "1"})
    uid, rv = created["metadata"]["uid"], created["metadata"]["resourceVersion"]
    other = str(uuid.uuid4())
    wrong_uid = await api.client.request("DELETE", f"{CMS}/pre", json={"preconditions": {"uid": other}})
    assert_status(wrong_uid, 409, "Conflict",
                  f'Operation cannot be fulfilled on ConfigMap "pre": the UID in the precondition ({other}) '
                  f"does not match the UID in record ({uid}). The object might have been deleted and then "
                  "recreated", {"name": "pre", "kind": "ConfigMap"})
    wrong_rv = await api.client.request("DELETE", f"{CMS}/pre", json={"preconditions": {"resourceVersion": "1"}})
    assert_status(wrong_rv, 409, "Conflict",
                  'Operation cannot be fulfilled on ConfigMap "pre": the ResourceVersion in the precondition '
                  f"(1) does not match the ResourceVersion in record ({rv}). The object might have been "
                  "modified", {"name": "pre", "kind": "ConfigMap"})
    assert (await api.client.get(f"{CMS}/pre")).status_code == 200
    matching = await api.client.request("DELETE", f"{CMS}/pre", json={
        "apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid, "resourceVersion": rv}})
    assert matching.status_code == 200 and matching.json()["status"] == "Success"
    assert (await api.client.get(f"{CMS}/pre")).status_code == 404


async def test_propagation_policy(api):
    for i, policy in enumerate(("Background", "Foreground", "Orphan")):
        await api.configmap("default", f"p{i}", {})
        response = await api.client.request("DELETE", f"{CMS}/p{i}", json={"propagationPolicy": policy})
        assert response.status_code == 200, response.text
    await api.configmap("default", "p-query", {})
    assert (await api.client.delete(f"{CMS}/p-query", params={"propagationPolicy": "Orphan"})).status_code == 200
    await api.configmap("default", "p-bad", {})
    bad = await api.client.request("DELETE", f"{CMS}/p-bad", json={"propagationPolicy": "Sideways"})
    assert_status(bad, 422, "Invalid",
                  'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Sideways": '
                  'supported values: "Foreground", "Background", "Orphan", "nil"',
                  {"group": "meta.k8s.io", "kind": "DeleteOptions", "causes": [
                      {"reason": "FieldValueNotSupported",
                       "message": 'Unsupported value: "Sideways": supported values: "Foreground", '
                                  '"Background", "Orphan", "nil"',
                       "field": "propagationPolicy"}]})
    assert (await api.client.get(f"{CMS}/p-bad")).status_code == 200


# --- dryRun ------------------------------------------------------------------------------------

async def test_dry_run_changes_nothing(api):
    created = await api.configmap("default", "dry", {"a": "1"})
    before = await api.rv(CMS)
    dry = {"dryRun": "All"}

    made = await api.client.post(CMS, params=dry, json={"metadata": {"name": "dry-new"}, "data": {"x": "y"}})
    assert made.status_code == 201 and made.json()["data"] == {"x": "y"} and made.json()["metadata"]["uid"]
    assert (await api.client.get(f"{CMS}/dry-new")).status_code == 404
    clash = await api.client.post(CMS, params=dry, json={"metadata": {"name": "dry"}})
    assert_status(clash, 409, "AlreadyExists")

    put = await api.client.put(f"{CMS}/dry", params=dry, json={**created, "data": {"a": "put"}})
    assert put.status_code == 200 and put.json()["data"] == {"a": "put"}
    patched = await api.client.patch(f"{CMS}/dry", params=dry, headers=MERGE_PATCH, json={"data": {"b": "2"}})
    assert patched.status_code == 200 and patched.json()["data"] == {"a": "1", "b": "2"}
    invalid = await api.client.patch(f"{CMS}/dry", params=dry, headers=MERGE_PATCH,
                                     json={"metadata": {"labels": {"a": "-"}}})
    assert_status(invalid, 422, "Invalid")
    deleted = await api.client.delete(f"{CMS}/dry", params=dry)
    assert deleted.status_code == 200, deleted.text

    assert await api.get(f"{CMS}/dry") == created
    assert await api.rv(CMS) == before
    # collections too
    swept = await api.client.delete(CMS, params=dry)
    assert swept.status_code == 200 and "dry" in [i["metadata"]["name"] for i in swept.json()["items"]]
    assert await api.get(f"{CMS}/dry") == created


# --- update ------------------------------------------------------------------------------------

async def test_update_with_a_stale_resource_version_is_a_conflict(api):
    created = await api.configmap("default", "occ", {"a": "1"})
    first = await api.client.put(f"{CMS}/occ", json={**created, "data": {"a": "2"}})
    assert first.status_code == 200
    stale = await api.client.put(f"{CMS}/occ", json={**created, "data": {"a": "3"}})
    assert_status(stale, 409, "Conflict", f'Operation cannot be fulfilled on configmaps "occ": {OPTIMISTIC}',
                  {"name": "occ", "kind": "configmaps"})
    stale_patch = await api.client.patch(f"{CMS}/occ", headers=MERGE_PATCH, json={
        "metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}, "data": {"a": "4"}})
    assert_status(stale_patch, 409, "Conflict", f'Operation cannot be fulfilled on configmaps "occ": {OPTIMISTIC}')
    assert (await api.get(f"{CMS}/occ"))["data"] == {"a": "2"}


async def test_update_without_resource_version_is_unconditional(api):
    await api.configmap("default", "free", {"a": "1"})
    await api.client.patch(f"{CMS}/free", headers=MERGE_PATCH, json={"data": {"a": "2"}})
    response = await api.client.put(f"{CMS}/free", json={"metadata": {"name": "free"}, "data": {"b": "3"}})
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"b": "3"}
    missing = await api.client.put(f"{CMS}/nobody", json={"metadata": {"name": "nobody"}})
    assert_status(missing, 404, "NotFound", 'configmaps "nobody" not found')  # no create on update


async def test_update_name_and_namespace_must_match_the_url(api):
    created = await api.configmap("default", "named", {})
    wrong_name = await api.client.put(f"{CMS}/named", json={**created, "metadata": {
        **created["metadata"], "name": "other"}})
    assert_status(wrong_name, 400, "BadRequest",
                  "the name of the object (other) does not match the name on the URL (named)")
    no_name = await api.client.put(f"{CMS}/named", json={"data": {}})
    assert_status(no_name, 400, "BadRequest",
                  "the name of the object (named based on URL) was undeterminable: name must be provided")
    missing = await api.client.put(f"{CMS}/ghost", json={"metadata": {"name": "other"}})
    assert_status(missing, 400, "BadRequest",
                  "the name of the object (other) does not match the name on the URL (ghost)")
    wrong_ns = await api.client.put(f"{CMS}/named", json={**created, "metadata": {
        **created["metadata"], "namespace": "kube-system"}})
    assert_status(wrong_ns, 400, "BadRequest",
                  "the namespace of the object (kube-system) does not match the namespace on the request "
                  "(default)")
    patched_ns = await api.client.patch(f"{CMS}/named", headers=MERGE_PATCH,
                                        json={"metadata": {"namespace": "kube-system"}})
    assert_status(patched_ns, 400, "BadRequest",
                  "the namespace of the object (kube-system) does not match the namespace on the request "
                  "(default)")
    patched_name = await api.client.patch(f"{CMS}/named", headers=JSON_PATCH,
                                          json=[{"op": "replace", "path": "/metadata/name", "value": "x"}])
    assert_status(patched_name, 400, "BadRequest",
                  "the name of the object (x) does not match the name on the URL (named)")
    created_ns = await api.client.post(CMS, json={"metadata": {"name": "elsewhere", "namespace": "kube-system"}})
    assert_status(created_ns, 400, "BadRequest",
                  "the namespace of the provided object does not match the namespace sent on the request")
    assert await api.get(f"{CMS}/named") == created


# --- patch -------------------------------------------------------------------------------------

async def test_json_patch(api):
    await api.configmap("default", "jp", {"a": "1", "b": "2"})
    ok = await api.client.patch(f"{CMS}/jp", headers=JSON_PATCH, json=[
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "10"},
        {"op": "remove", "path": "/data/b"},
        {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}])
    assert ok.status_code == 200, ok.text
    assert ok.json()["data"] == {"a": "10"} and ok.json()["metadata"]["labels"] == {"x": "y"}
    failed = await api.client.patch(f"{CMS}/jp", headers=JSON_PATCH, json=[
        {"op": "test", "path": "/data/a", "value": "1"}, {"op": "remove", "path": "/data/a"}])
    assert_status(failed, 422, "Invalid", "the server rejected our request due to an error in our request")
    not_a_patch = await api.client.patch(f"{CMS}/jp", headers=JSON_PATCH, content=b'{"op": "add"}')
    assert_status(not_a_patch, 400, "BadRequest")
    assert (await api.get(f"{CMS}/jp"))["data"] == {"a": "10"}


async def test_merge_patch_null_deletes(api):
    await api.configmap("default", "mp", {"a": "1", "b": "2"}, labels={"keep": "1", "drop": "1"})
    response = await api.client.patch(f"{CMS}/mp", headers=MERGE_PATCH, json={
        "data": {"a": None, "c": "3"}, "metadata": {"labels": {"drop": None}}})
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"b": "2", "c": "3"}
    assert response.json()["metadata"]["labels"] == {"keep": "1"}
    nulled = await api.client.patch(f"{CMS}/mp", headers=MERGE_PATCH, json={"data": None})
    assert "data" not in nulled.json()


async def test_strategic_merge_patch_directives_on_finalizers(api):
    await api.configmap("default", "smp", {"a": "1"}, finalizers=["example.com/a", "example.com/b"])
    # finalizers is a merge list of strings: new entries are added, existing ones kept
    added = await api.client.patch(f"{CMS}/smp", headers=STRATEGIC, json={
        "metadata": {"finalizers": ["example.com/c"]}, "data": {"b": "2"}})
    assert added.status_code == 200, added.text
    # new entries go first (strategicpatch.mergeSortedSlice puts patch items before server-only ones)
    assert added.json()["metadata"]["finalizers"] == ["example.com/c", "example.com/a", "example.com/b"]
    assert added.json()["data"] == {"a": "1", "b": "2"}
    removed = await api.client.patch(f"{CMS}/smp", headers=STRATEGIC, json={
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/b"]}})
    assert removed.json()["metadata"]["finalizers"] == ["example.com/c", "example.com/a"]
    ordered = await api.client.patch(f"{CMS}/smp", headers=STRATEGIC, json={
        "metadata": {"$setElementOrder/finalizers": ["example.com/a", "example.com/c"]}})
    assert ordered.json()["metadata"]["finalizers"] == ["example.com/a", "example.com/c"]
    replaced = await api.client.patch(f"{CMS}/smp", headers=STRATEGIC, json={
        "metadata": {"$retainKeys": ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"]}})
    assert replaced.status_code == 200, replaced.text
    assert "finalizers" not in replaced.json()["metadata"]
    data_replaced = await api.client.patch(f"{CMS}/smp", headers=STRATEGIC,
                                           json={"data": {"$patch": "replace", "z": "26"}})
    assert data_replaced.json()["data"] == {"z": "26"}
    annotated = await api.client.patch(f"{CMS}/smp", headers=STRATEGIC,
                                       json={"metadata": {"annotations": {"a": "1", "b": "2"}}})
    assert annotated.json()["metadata"]["annotations"] == {"a": "1", "b": "2"}
    dropped = await api.client.patch(f"{CMS}/smp", headers=STRATEGIC,
                                     json={"metadata": {"annotations": {"$patch": "delete"}}})
    assert dropped.status_code == 200 and "annotations" not in dropped.json()["metadata"]


async def test_patch_content_type_must_be_a_patch_type(api):
    await api.configmap("default", "ct", {"a": "1"})
    accepted = ("the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, "
                "application/strategic-merge-patch+json, application/apply-patch+yaml")
    for content_type in ("application/json", "text/plain", "application/yaml"):
        response = await api.client.patch(f"{CMS}/ct", headers={"content-type": content_type},
                                          content=b'{"data": {"a": "2"}}')
        assert_status(response, 415, "UnsupportedMediaType", accepted)
    # Checked before the object is read, as kube's patch handler does.
    missing = await api.client.patch(f"{CMS}/nothing-here", headers={"content-type": "application/json"},
                                     content=b"{}")
    assert_status(missing, 415, "UnsupportedMediaType", accepted)
    assert (await api.get(f"{CMS}/ct"))["data"] == {"a": "1"}


# --- the status subresource --------------------------------------------------------------------

async def test_namespace_status_subresource_changes_only_status(api):
    created = await api.namespace("stat")
    condition = {"type": "NamespaceContentRemaining", "status": "False", "reason": "ContentRemoved",
                 "message": "all gone"}
    patched = await api.client.patch(f"{NAMESPACES}/stat/status", headers=MERGE_PATCH, json={
        "spec": {"finalizers": []}, "status": {"conditions": [condition]}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == {"phase": "Active", "conditions": [condition]}
    assert patched.json()["spec"] == created["spec"] == {"finalizers": ["kubernetes"]}
    body = patched.json()
    body["spec"] = {"finalizers": ["example.com/x"]}
    body["status"] = {"phase": "Active"}
    put = await api.client.put(f"{NAMESPACES}/stat/status", json=body)
    assert put.status_code == 200, put.text
    assert put.json()["status"] == {"phase": "Active"} and put.json()["spec"] == {"finalizers": ["kubernetes"]}
    bad_phase = await api.client.patch(f"{NAMESPACES}/stat/status", headers=MERGE_PATCH,
                                       json={"status": {"phase": "Terminating"}})
    assert_status(bad_phase, 422, "Invalid",
                  'Namespace "stat" is invalid: status.Phase: Invalid value: "Terminating": may only be '
                  "'Active' if `deletionTimestamp` is empty")
    # ... and the main resource ignores status changes.
    main = await api.client.patch(f"{NAMESPACES}/stat", headers=MERGE_PATCH,
                                  json={"status": {"phase": "Terminating"}, "metadata": {"labels": {"x": "y"}}})
    assert main.status_code == 200 and main.json()["status"] == {"phase": "Active"}
    assert main.json()["metadata"]["labels"]["x"] == "y"
    got = await api.get(f"{NAMESPACES}/stat/status")
    assert got["kind"] == "Namespace" and got["status"] == {"phase": "Active"}
    assert_status(await api.client.get(f"{CMS}/x/status"), 404, "NotFound")
    await trio.lowlevel.checkpoint()
