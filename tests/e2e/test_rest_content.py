"""Content types over HTTP as kube-apiserver negotiates them: YAML, Table, PartialObjectMetadata,
protobuf request bodies, 406/415/400/413, and fieldValidation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from rest_helpers import CM, NAMESPACES, SECRETS, TABLE, assert_status, names

CMS = CM.format(ns="default")
YAML = "application/yaml"
PARTIAL = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"
PARTIAL_LIST = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
KUBECTL_TABLE = f"{TABLE},application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
FIXTURES = json.loads((Path(__file__).parent.parent / "apimachinery" / "fixtures" / "kubectl_bodies.json").read_text())
AGE = re.compile(r"\d+s")


async def test_yaml_in_and_out(api):
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\n  labels: {app: y}\ndata:\n  key: value\n  when: 2024-01-01\n"
    created = await api.client.post(CMS, content=body, headers={"content-type": YAML, "accept": YAML})
    assert created.status_code == 201, created.text
    assert created.headers["content-type"] == YAML
    obj = yaml.safe_load(created.text)
    assert obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "from-yaml"
    assert obj["data"] == {"key": "value", "when": "2024-01-01"}  # a YAML date stays a string
    got = await api.client.get(f"{CMS}/from-yaml", headers={"accept": YAML})
    assert got.headers["content-type"] == YAML and yaml.safe_load(got.text) == obj
    listed = await api.client.get(CMS, headers={"accept": YAML})
    assert listed.headers["content-type"] == YAML
    assert yaml.safe_load(listed.text)["kind"] == "ConfigMapList"
    patched = await api.client.put(f"{CMS}/from-yaml", headers={"content-type": YAML},
                                   content=body.replace(b"key: value", b"key: other"))
    assert patched.status_code == 200 and patched.json()["data"]["key"] == "other"
    error = await api.client.get(f"{CMS}/nope", headers={"accept": YAML})
    # errors are Status objects in the negotiated format (responsewriters.ErrorNegotiated)
    assert error.status_code == 404 and error.headers["content-type"] == YAML
    assert yaml.safe_load(error.text) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "NotFound",
        "message": 'configmaps "nope" not found', "details": {"name": "nope", "kind": "configmaps"}, "code": 404}
    # ... and JSON when the client takes a Table or JSON only
    table_error = await api.client.get(f"{CMS}/nope", headers={"accept": TABLE})
    assert table_error.headers["content-type"] == "application/json" and table_error.json()["code"] == 404


async def test_table_with_kubes_columns(api):
    await api.configmap("default", "t1", {"a": "1", "b": "2"})
    table = await api.client.get(CMS, headers={"accept": KUBECTL_TABLE})
    assert table.status_code == 200 and table.headers["content-type"] == TABLE
    body = table.json()
    assert body["kind"] == "Table" and body["apiVersion"] == "meta.k8s.io/v1"
    assert body["metadata"]["resourceVersion"] == str(await api.rv(CMS))
    columns = body["columnDefinitions"]
    assert [(c["name"], c["type"], c["format"], c["priority"]) for c in columns] == [
        ("Name", "string", "name", 0), ("Data", "string", "", 0), ("Age", "string", "", 0)]
    assert columns[0]["description"].startswith("Name must be unique within a namespace.")
    assert columns[1]["description"].startswith("Data contains the configuration data.")
    [row] = [r for r in body["rows"] if r["cells"][0] == "t1"]
    assert row["cells"][1] == 2 and AGE.fullmatch(row["cells"][2])
    assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["apiVersion"] == "meta.k8s.io/v1"
    assert row["object"]["metadata"]["name"] == "t1" and "data" not in row["object"]

    await api.client.post(SECRETS.format(ns="default"), json={
        "metadata": {"name": "s1"}, "type": "example.com/x", "stringData": {"a": "b"}})
    secrets = (await api.client.get(SECRETS.format(ns="default"), headers={"accept": TABLE})).json()
    assert [c["name"] for c in secrets["columnDefinitions"]] == ["Name", "Type", "Data", "Age"]
    assert secrets["rows"][0]["cells"][:3] == ["s1", "example.com/x", 1]
    namespaces = (await api.client.get(NAMESPACES, headers={"accept": TABLE})).json()
    assert [c["name"] for c in namespaces["columnDefinitions"]] == ["Name", "Status", "Age"]
    assert ["default", "Active"] in [r["cells"][:2] for r in namespaces["rows"]]
    # -o wide asks for the same table: the server always sends every column (priority 1 ones
    # are the wide ones; these kinds have none)
    for t in (body, secrets, namespaces):
        assert {c["priority"] for c in t["columnDefinitions"]} == {0}
    one = (await api.client.get(f"{CMS}/t1", headers={"accept": TABLE})).json()
    assert one["kind"] == "Table" and [r["cells"][0] for r in one["rows"]] == ["t1"]
    assert one["metadata"]["resourceVersion"] == one["rows"][0]["object"]["metadata"]["resourceVersion"]
    await api.configmap("default", "t0", {})
    paged = (await api.client.get(f"{CMS}?limit=1", headers={"accept": TABLE})).json()
    assert len(paged["rows"]) == 1 and paged["metadata"]["continue"]


async def test_table_include_object(api):
    created = await api.configmap("default", "t2", {"a": "1"})
    whole = (await api.client.get(f"{CMS}?includeObject=Object", headers={"accept": TABLE})).json()
    assert [r["object"] for r in whole["rows"] if r["cells"][0] == "t2"] == [created]
    bare = (await api.client.get(f"{CMS}?includeObject=None", headers={"accept": TABLE})).json()
    assert all(r["object"] is None for r in bare["rows"]) and bare["rows"]
    bad = await api.client.get(f"{CMS}?includeObject=Everything", headers={"accept": TABLE})
    assert_status(bad, 400, "BadRequest", "Unable to convert to Table as requested: includeObject: "
                  "Invalid value: \"Everything\": must be 'Metadata', 'Object', 'None', or empty")
    # includeObject means nothing without a Table
    plain = await api.client.get(f"{CMS}/t2?includeObject=Everything")
    assert plain.status_code == 200 and plain.json() == created


async def test_partial_object_metadata(api):
    created = await api.configmap("default", "pom", {"secret-ish": "x"}, labels={"a": "b"})
    one = await api.client.get(f"{CMS}/pom", headers={"accept": PARTIAL})
    assert one.status_code == 200 and one.headers["content-type"] == PARTIAL
    assert one.json() == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                          "metadata": created["metadata"]}
    listed = await api.client.get(CMS, headers={"accept": PARTIAL_LIST})
    assert listed.status_code == 200 and listed.headers["content-type"] == PARTIAL_LIST
    body = listed.json()
    assert body["kind"] == "PartialObjectMetadataList" and body["apiVersion"] == "meta.k8s.io/v1"
    assert body["metadata"]["resourceVersion"] == str(await api.rv(CMS))
    assert {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": created["metadata"]} in body["items"]
    assert all(set(item) == {"kind", "apiVersion", "metadata"} for item in body["items"])


async def test_protobuf_request_body(api):
    captured = FIXTURES["configmap"]  # what `kubectl create configmap x --from-literal=a=b ...` sends
    response = await api.client.post(captured["path"], content=bytes.fromhex(captured["hex"]), headers={
        "content-type": captured["contentType"], "accept": "application/vnd.kubernetes.protobuf, application/json"})
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    obj = response.json()
    assert obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "x" and obj["data"] == {"a": "b", "c": "d"}
    assert (await api.get(f"{CMS}/x"))["data"] == {"a": "b", "c": "d"}
    namespace = FIXTURES["namespace"]
    created = await api.client.post(namespace["path"], content=bytes.fromhex(namespace["hex"]),
                                    headers={"content-type": namespace["contentType"]})
    assert created.status_code == 201 and created.json()["status"] == {"phase": "Active"}
    garbage = await api.client.post(CMS, content=b"k8s\x00\x0a\xff", headers={"content-type": namespace["contentType"]})
    assert_status(garbage, 400, "BadRequest")
    wrong_kind = await api.client.post(CMS, content=bytes.fromhex(namespace["hex"]),
                                       headers={"content-type": namespace["contentType"]})
    assert_status(wrong_kind, 400, "BadRequest")


async def test_protobuf_kinds_are_those_of_the_endpoints_group(api):
    """A body is read only as a kind the endpoint's API group plugin declared: another group's
    kind, or one no plugin serves, is 415 there (and creates nothing); at home it decodes."""
    protobuf = {"content-type": "application/vnd.kubernetes.protobuf"}
    unread = ("the body of the request was in an unknown format - accepted media types include: "
              "application/json, application/yaml")
    for name, kind in (("selfsubjectreview", "SelfSubjectReview in authentication.k8s.io/v1"),
                       ("deployment", "Deployment in apps/v1")):
        elsewhere = await api.client.post(CMS, content=bytes.fromhex(FIXTURES[name]["hex"]), headers=protobuf)
        assert_status(elsewhere, 415, "UnsupportedMediaType", unread,
                      {"causes": [{"message": f"{kind} cannot be read from protobuf here"}]})
    assert (await api.get(CMS))["items"] == []
    review = FIXTURES["selfsubjectreview"]
    home = await api.client.post(review["path"], content=bytes.fromhex(review["hex"]), headers=protobuf)
    assert home.status_code == 201, home.text
    assert home.json()["kind"] == "SelfSubjectReview" and home.json()["status"]["userInfo"]["username"]


async def test_unsupported_media_types(api):
    not_acceptable = await api.client.get(CMS, headers={"accept": "text/html"})
    body = assert_status(not_acceptable, 406, "NotAcceptable")
    assert body["message"].startswith("only the following media types are accepted: application/json, "
                                      "application/yaml")
    unknown_conversion = await api.client.get(CMS, headers={"accept": "application/json;as=Widget;v=v1;g=x.io"})
    assert_status(unknown_conversion, 406, "NotAcceptable")
    unsupported = await api.client.post(CMS, content=b"<configmap/>", headers={"content-type": "application/xml"})
    assert_status(unsupported, 415, "UnsupportedMediaType",
                  "the body of the request was in an unknown format - accepted media types include: "
                  "application/json, application/yaml, application/vnd.kubernetes.protobuf")
    put = await api.client.put(f"{CMS}/x", content=b"x=1", headers={"content-type": "text/plain"})
    assert_status(put, 415, "UnsupportedMediaType")
    assert (await api.get(CMS))["items"] == []


async def test_malformed_and_mistyped_bodies_are_400(api):
    truncated = await api.client.post(CMS, content=b'{"metadata": {"name": "x"', headers={"content-type": "application/json"})
    body = assert_status(truncated, 400, "BadRequest")
    assert body["message"].startswith("the object provided is unrecognized (must be of type ConfigMap): "
                                      "couldn't get version/kind; json parse error: unexpected end of JSON input")
    mistyped = await api.client.post(CMS, json={"apiVersion": "v1", "kind": "ConfigMap",
                                                "metadata": {"name": "typed"}, "data": {"a": 1}})
    assert_status(mistyped, 400, "BadRequest",
                  'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number '
                  "into Go struct field ConfigMap.data of type string")
    wrong_kind = await api.client.post(CMS, json={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k"}})
    assert_status(wrong_kind, 400, "BadRequest")
    not_an_object = await api.client.post(CMS, json=["a"])
    assert_status(not_an_object, 400, "BadRequest")
    assert (await api.get(CMS))["items"] == []


async def test_bodies_over_3_mib_are_413_and_store_nothing(api):
    big = json.dumps({"metadata": {"name": "big"}, "data": {"blob": "x" * (3 * 1024 * 1024)}}).encode()
    response = await api.client.post(CMS, content=big, headers={"content-type": "application/json"})
    assert_status(response, 413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")
    assert (await api.client.get(f"{CMS}/big")).status_code == 404
    await api.configmap("default", "small")
    patch = await api.client.patch(f"{CMS}/small", content=big,
                                   headers={"content-type": "application/merge-patch+json"})
    assert_status(patch, 413, "RequestEntityTooLarge")
    assert "data" not in await api.get(f"{CMS}/small")


async def test_field_validation(api):
    unknown = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fv", "bogus": 1},
               "data": {"a": "b"}, "spec": {"x": 1}}
    strict = await api.client.post(CMS, params={"fieldValidation": "Strict"}, json=unknown)
    assert_status(strict, 400, "BadRequest",
                  'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
                  'unknown field "metadata.bogus", unknown field "spec"')
    duplicate = b'{"metadata": {"name": "dup"}, "data": {"a": "1"}, "data": {"a": "2"}}'
    strict_dup = await api.client.post(CMS, params={"fieldValidation": "Strict"}, content=duplicate,
                                       headers={"content-type": "application/json"})
    assert_status(strict_dup, 400, "BadRequest",
                  'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
                  'duplicate field "data"')
    assert (await api.get(CMS))["items"] == []

    warned = await api.client.post(CMS, params={"fieldValidation": "Warn"}, json=unknown)
    assert warned.status_code == 201 and "spec" not in warned.json() and "bogus" not in warned.json()["metadata"]
    assert warned.headers.get_list("warning") == ['299 - "unknown field \\"metadata.bogus\\""',
                                                  '299 - "unknown field \\"spec\\""']
    default = await api.client.post(CMS, content=duplicate.replace(b"dup", b"dup2"),
                                    headers={"content-type": "application/json"})  # Warn is the default
    assert default.status_code == 201 and default.json()["data"] == {"a": "2"}
    assert default.headers.get_list("warning") == ['299 - "duplicate field \\"data\\""']
    ignored = await api.client.post(CMS, params={"fieldValidation": "Ignore"},
                                    json={**unknown, "metadata": {"name": "fv2"}})
    assert ignored.status_code == 201 and "warning" not in ignored.headers
    # a patch's result is checked as the patched object, and refused as 422 on the field "patch"
    for content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
        patched = await api.client.patch(f"{CMS}/fv2", params={"fieldValidation": "Strict"},
                                         headers={"content-type": content_type}, json={"spec": {"x": 1}})
        body = assert_status(patched, 422, "Invalid")
        assert body["message"].startswith(' "" is invalid: patch: Invalid value: "'), body
        assert body["message"].endswith('": strict decoding error: unknown field "spec"'), body
        [cause] = body["details"]["causes"]
        assert cause["field"] == "patch" and cause["reason"] == "FieldValueInvalid"
    smp = body["message"]
    assert 'Invalid value: "map[spec:map[x:1]]"' in smp  # kube prints the patch map with %+v
    mistyped = await api.client.patch(f"{CMS}/fv2", headers={"content-type": "application/merge-patch+json"},
                                      json={"data": {"n": 1}})
    body = assert_status(mistyped, 422, "Invalid")
    assert body["message"].endswith(": json: cannot unmarshal number into Go struct field ConfigMap.data of type string")
    warned_patch = await api.client.patch(f"{CMS}/fv2", headers={"content-type": "application/merge-patch+json"},
                                          json={"spec": {"x": 1}, "data": {"n": "1"}})
    assert warned_patch.status_code == 200 and warned_patch.headers.get_list("warning") == [
        '299 - "unknown field \\"spec\\""']
    assert "spec" not in await api.get(f"{CMS}/fv2")


async def test_invalid_write_options_are_422(api):
    await api.configmap("default", "opts", {})
    bad_validation = await api.client.post(CMS, params={"fieldValidation": "Bogus"}, json={"metadata": {"name": "o"}})
    assert_status(bad_validation, 422, "Invalid",
                  'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Bogus": '
                  'supported values: "", "Ignore", "Strict", "Warn"')
    bad_dry_run = await api.client.put(f"{CMS}/opts", params={"dryRun": "Bogus"}, json={"metadata": {"name": "opts"}})
    assert_status(bad_dry_run, 422, "Invalid",
                  'UpdateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Bogus"}: '
                  'supported values: "All"')
    both = await api.client.patch(f"{CMS}/opts", params={"dryRun": "Bogus", "fieldValidation": "Bogus"},
                                  headers={"content-type": "application/merge-patch+json"}, json={})
    assert_status(both, 422, "Invalid",
                  'PatchOptions.meta.k8s.io "" is invalid: [dryRun: Unsupported value: []string{"Bogus"}: '
                  'supported values: "All", fieldValidation: Unsupported value: "Bogus": supported values: "", '
                  '"Ignore", "Strict", "Warn"]')
    delete = await api.client.delete(f"{CMS}/opts", params={"dryRun": "Bogus"})
    assert_status(delete, 422, "Invalid",
                  'DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Bogus"}: '
                  'supported values: "All"')
    assert names((await api.get(CMS))["items"]) == ["opts"]
