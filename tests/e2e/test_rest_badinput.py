"""Hostile and malformed input through the real server: kube's Status answer, and nothing stored.

Regression tests for a probe of the server with bad input: YAML alias bombs, objects nested too
deep to serve once stored, control characters reaching the Warning header, lone surrogates, huge
YAML integers, loosely parsed query parameters and generateName collisions.
"""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import trio
import yaml

from conftest import HANG_GUARD
from kernel.apimachinery import meta as objmeta
from kernel.apimachinery.depth import MAX_DEPTH, json_depth
from rest_helpers import CM, SECRETS, assert_status, open_watch

CMS = CM.format(ns="default")
YAML = {"content-type": "application/yaml"}
MERGE = {"content-type": "application/merge-patch+json"}
JSON_PATCH = {"content-type": "application/json-patch+json"}
TOO_DEEP = f"exceeded max depth of {MAX_DEPTH}"


def unrecognized(message: str, body: bytes) -> str:
    """transformDecodeError's text for a body whose kind could not be read."""
    summary = body[:30].decode() + " ..." if body[:1] == b"{" else body[:30].hex() + " ..."
    return f"the object provided is unrecognized (must be of type ConfigMap): {message} ({summary})"


async def assert_absent(api, name: str) -> None:
    assert_status(await api.client.get(f"{CMS}/{name}"), 404, "NotFound")


# --- YAML alias bomb ---------------------------------------------------------------------------

BOMB = b"""apiVersion: v1
kind: ConfigMap
metadata: {name: bomb}
x:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_yaml_alias_bomb_is_refused_and_the_server_stays_responsive(kernel_process):
    """Against a `kernel serve` subprocess, so the client's timeout is a real hang guard (never a
    speed assertion) even if a decode blocked the server's event loop."""
    kernel = kernel_process()
    with kernel.client(timeout=HANG_GUARD) as client, ThreadPoolExecutor(4) as pool:
        bombs = [pool.submit(client.post, CMS, content=BOMB, headers=YAML) for _ in range(3)]
        # other requests are answered meanwhile
        assert client.get("/readyz").status_code == 200
        assert client.get(CMS).status_code == 200
        for bomb in bombs:
            assert_status(bomb.result(), 400, "BadRequest",
                          unrecognized("yaml: document contains excessive aliasing", BOMB))
        assert_status(client.get(f"{CMS}/bomb"), 404, "NotFound")
        assert client.get("/readyz").status_code == 200


async def test_yaml_aliases_within_kubes_allowance_are_expanded(api):
    body = b"metadata: {name: aliases}\ndata:\n  a: &v hello\n  b: *v\n"
    created = await api.client.post(CMS, content=body, headers=YAML)
    assert created.status_code == 201, created.text
    assert created.json()["data"] == {"a": "hello", "b": "hello"}


async def test_yaml_anchor_containing_itself_is_refused(api):
    body = b"metadata: {name: loop}\nx: &a [*a]\n"
    assert_status(await api.client.post(CMS, content=body, headers=YAML), 400, "BadRequest",
                  unrecognized("yaml: anchor 'a' value contains itself", body))
    await assert_absent(api, "loop")


# --- nesting depth -----------------------------------------------------------------------------

def nested(depth: int) -> dict:
    """A value ``depth`` levels deep ({} is 1)."""
    value: dict = {}
    for _ in range(depth - 1):
        value = {"f:a": value}
    return value


def with_fields(name: str, depth: int) -> dict:
    """A ConfigMap ``depth`` levels deep: managedFields[].fieldsV1 takes any JSON object."""
    entry = {"manager": "m", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
             "fieldsV1": nested(depth - 4)}  # under the object, metadata, the list and the entry
    return {"metadata": {"name": name, "managedFields": [entry]}, "data": {"k": "v"}}


def yaml_block(name: str, depth: int) -> bytes:
    """A ConfigMap ``depth`` levels deep in YAML block style, nested by indentation only."""
    lines = ["metadata:", f"  name: {name}", "  managedFields:", "  - manager: m", "    fieldsV1:"]
    wrappers = depth - 5  # nested(depth - 4) is that many "f:a" levels around {}
    lines += [" " * (6 + 2 * i) + "f:a:" for i in range(wrappers - 1)]
    lines.append(" " * (6 + 2 * (wrappers - 1)) + "f:a: {}")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 900])
async def test_too_deep_json_and_yaml_bodies_are_refused(api, depth):
    body = json.dumps(with_fields("deep", depth), separators=(",", ":")).encode()
    assert_status(await api.client.post(CMS, content=body), 400, "BadRequest",
                  unrecognized(f"couldn't get version/kind; json parse error: {TOO_DEEP}", body))
    yaml_body = yaml_block("deep", depth)
    assert json_depth(yaml.safe_load(yaml_block("deep", 20))) == 20
    assert_status(await api.client.post(CMS, content=yaml_body, headers=YAML), 400, "BadRequest",
                  unrecognized(f"yaml: {TOO_DEEP}", yaml_body))
    await assert_absent(api, "deep")


async def test_an_object_at_the_depth_limit_is_served_in_every_form(api):
    """The probe's 900-deep object was stored, then every read as YAML, PUT and PATCH was a 500."""
    created = await api.client.post(CMS, json=with_fields("limit", MAX_DEPTH))
    assert created.status_code == 201, created.text
    path = f"{CMS}/limit"
    for accept in ("application/yaml", "application/json;as=Table;v=v1;g=meta.k8s.io"):
        assert (await api.client.get(path, headers={"accept": accept})).status_code == 200
        assert (await api.client.get(CMS, headers={"accept": accept})).status_code == 200
    current = (await api.client.get(path)).json()
    assert (await api.client.put(path, json=current)).status_code == 200
    assert (await api.client.patch(path, json={"data": {"k": "w"}}, headers=MERGE)).status_code == 200
    strategic = {"content-type": "application/strategic-merge-patch+json"}
    assert (await api.client.patch(path, json={"data": {"k": "x"}}, headers=strategic)).status_code == 200


async def test_patches_cannot_make_a_stored_object_too_deep(api):
    await api.configmap("default", "p", {"k": "v"})
    path = f"{CMS}/p"
    before = (await api.client.get(path)).json()
    deep = with_fields("p", MAX_DEPTH + 1)
    response = await api.client.patch(path, json={"metadata": deep["metadata"]}, headers=MERGE)
    assert_status(response, 400, "BadRequest", f"patch nesting exceeds the maximum depth of {MAX_DEPTH}")
    # a JSON patch whose value fits but whose result would not: 422, kube's generic message
    ops = [{"op": "add", "path": "/metadata/annotations", "value": {}},
           {"op": "add", "path": "/data/x", "value": nested(MAX_DEPTH - 2)}]
    assert_status(await api.client.patch(path, json=ops, headers=JSON_PATCH), 422, "Invalid")
    assert (await api.client.get(path)).json() == before


# --- the Warning header ------------------------------------------------------------------------

@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
async def test_control_characters_in_a_field_name_never_reach_a_header_raw(api, http2):
    async with api.kernel.client(http2=http2, timeout=HANG_GUARD) as client:
        body = {"metadata": {"name": "warned"}, "data": {"k": "v"}, "x\r\nSet-Cookie: a=b": 1}
        created = await client.post(CMS, json=body)
        assert created.status_code == 201, created.text
        assert created.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
        # strconv.Quote'd as kube's decoder words it, then quoted again for the header
        assert created.headers.get_list("warning") == [
            '299 - "unknown field \\"x\\\\r\\\\nSet-Cookie: a=b\\""']
        assert "set-cookie" not in created.headers
        body["metadata"]["name"] = "strict"
        refused = await client.post(CMS, json=body, params={"fieldValidation": "Strict"})
        assert_status(refused, 400, "BadRequest", 'ConfigMap in version "v1" cannot be handled as a '
                      'ConfigMap: strict decoding error: unknown field "x\\r\\nSet-Cookie: a=b"')
    await assert_absent(api, "strict")


# --- strings -----------------------------------------------------------------------------------

async def test_lone_surrogates_become_replacement_characters(api):
    body = b'{"metadata": {"name": "sur", "annotations": {"a": "\\udc00"}}, "data": {"k": "x\\ud800y"}}'
    created = await api.client.post(CMS, content=body)
    assert created.status_code == 201, created.text
    assert created.json()["data"] == {"k": "x\ufffdy"}
    assert created.json()["metadata"]["annotations"] == {"a": "\ufffd"}
    assert (await api.client.get(f"{CMS}/sur", headers={"accept": "application/yaml"})).status_code == 200
    patched = await api.client.patch(f"{CMS}/sur", content=b'{"data": {"p": "\\ud83d"}}', headers=MERGE)
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["p"] == "\ufffd"
    secrets = SECRETS.format(ns="default")
    secret = await api.client.post(secrets, content=b'{"metadata": {"name": "s"}, "stringData": {"k": "\\ud800"}}')
    assert secret.status_code == 201, secret.text
    assert base64.b64decode(secret.json()["data"]["k"]) == "\ufffd".encode()


async def test_huge_yaml_integers_read_as_go_yaml_reads_them(api):
    # past float64's range go-yaml leaves the scalar a string, which ConfigMap data takes
    digits = "1" * 5000
    body = f"metadata: {{name: big}}\ndata:\n  k: {digits}\n".encode()
    created = await api.client.post(CMS, content=body, headers=YAML)
    assert created.status_code == 201, created.text
    assert created.json()["data"] == {"k": digits}
    # within float64's range it is a number: not a string, as kube says
    body = b"metadata: {name: float}\ndata:\n  k: 123456789012345678901234567890\n"
    refused = await api.client.post(CMS, content=body, headers=YAML)
    assert_status(refused, 400, "BadRequest")
    assert "cannot unmarshal number" in refused.json()["message"], refused.json()
    await assert_absent(api, "float")


# --- query parameters --------------------------------------------------------------------------

@pytest.mark.parametrize("rv", [" 1", "+1", "1_0", "-1", "0x1", "18446744073709551616"])
async def test_resource_versions_are_parsed_as_uint64(api, rv):
    response = await api.client.get(CMS, params={"resourceVersion": rv})
    problem = "value out of range" if rv.isdigit() else "invalid syntax"
    quoted = json.dumps(rv)
    assert_status(response, 400, "BadRequest",
                  f"resourceVersion: Invalid value: {quoted}: strconv.ParseUint: parsing {quoted}: {problem}")


@pytest.mark.parametrize(("name", "value", "problem"), [
    ("timeoutSeconds", "100000000000000000000", "value out of range"),
    ("timeoutSeconds", "1.5", "invalid syntax"),
    ("limit", " 5", "invalid syntax"),
    ("limit", "1_000", "invalid syntax"),
])
async def test_integer_parameters_are_parsed_as_int64(api, name, value, problem):
    for params in ({name: value}, {name: value, "watch": "true"}):
        assert_status(await api.client.get(CMS, params=params), 400, "BadRequest",
                      f"strconv.ParseInt: parsing {json.dumps(value)}: {problem}")


async def test_grace_period_seconds_must_be_an_integer(api):
    await api.configmap("default", "kept", {"k": "v"})
    assert_status(await api.client.delete(f"{CMS}/kept", params={"gracePeriodSeconds": "soon"}),
                  400, "BadRequest", 'strconv.ParseInt: parsing "soon": invalid syntax')
    assert (await api.client.get(f"{CMS}/kept")).status_code == 200


async def test_watch_paths_answer_only_get(api):
    await api.configmap("default", "kept", {"k": "v"})
    for method in ("DELETE", "POST", "PUT"):
        response = await api.client.request(method, "/api/v1/watch/namespaces/default/configmaps")
        assert_status(response, 405, "MethodNotAllowed")
    assert (await api.client.get(f"{CMS}/kept")).status_code == 200


async def test_negative_timeout_ends_a_watch_at_once(api):
    with trio.fail_after(HANG_GUARD):  # a hang guard: the default timeout is 30 minutes
        async with open_watch(api.client, CMS, {"timeoutSeconds": "-5"}) as stream:
            assert stream.response.status_code == 200
            await stream.rest()


async def test_query_booleans_are_false_only_for_0_and_false(api):
    """kube's parameter codec: watch=maybe is a watch (its request info resolver and handler read
    booleans alike), and allowWatchBookmarks=maybe asks for bookmarks, not a 400."""
    params = {"watch": "maybe", "allowWatchBookmarks": "maybe", "timeoutSeconds": "1"}
    with trio.fail_after(HANG_GUARD):
        async with api.client.stream("GET", CMS, params=params) as response:
            assert response.status_code == 200
            await response.aread()
    listed = await api.client.get(CMS, params={"watch": "FALSE"})
    assert listed.json()["kind"] == "ConfigMapList"


# --- generateName ------------------------------------------------------------------------------

async def test_generate_name_collisions_are_retried(api, monkeypatch):
    await api.configmap("default", "gen-taken", {"k": "v"})
    names = iter(["gen-taken", "gen-taken", "gen-fresh"])
    monkeypatch.setattr(objmeta, "generate_name", lambda prefix: next(names))
    created = await api.client.post(CMS, json={"metadata": {"generateName": "gen-"}})
    assert created.status_code == 201, created.text
    assert created.json()["metadata"]["name"] == "gen-fresh"


async def test_generate_name_gives_up_after_eight_collisions(api, monkeypatch):
    await api.configmap("default", "gen-taken", {"k": "v"})
    calls: list[str] = []
    monkeypatch.setattr(objmeta, "generate_name", lambda prefix: calls.append(prefix) or "gen-taken")
    response = await api.client.post(CMS, json={"metadata": {"generateName": "gen-"}})
    assert_status(response, 409, "AlreadyExists", 'configmaps "gen-taken" already exists')
    assert len(calls) == 8
