"""Watches over HTTP as kube-apiserver streams them: resourceVersion semantics, bookmarks, 410,
selector transitions, timeouts, shutdown and Table events."""

from __future__ import annotations

import re

import trio
import yaml

from rest_helpers import CM, HANG_GUARD, TABLE, assert_status, events, open_watch

CMS = CM.format(ns="default")
MERGE_PATCH = {"content-type": "application/merge-patch+json"}


def _bookmark_shape(obj: dict) -> None:
    """A bookmark carries the kind and only a resourceVersion (plus kube's null timestamp)."""
    assert obj["kind"] == "ConfigMap" and obj["apiVersion"] == "v1", obj
    assert int(obj["metadata"]["resourceVersion"]) > 0
    assert set(obj["metadata"]) <= {"resourceVersion", "creationTimestamp", "annotations"}, obj
    assert set(obj) == {"kind", "apiVersion", "metadata"}, obj


async def test_watch_without_resource_version_starts_with_the_current_objects(api):
    await api.namespace("w0")
    path = CM.format(ns="w0")
    await api.configmap("w0", "a", {"v": "1"})
    await api.configmap("w0", "b", {"v": "1"})
    for params in ({}, {"resourceVersion": "0"}):
        current = (await api.get(path))["items"]
        async with open_watch(api.client, path, params) as stream:
            assert stream.response.headers["content-type"] == "application/json"
            initial = await stream.take(2)
            assert events(initial) == [("ADDED", "a"), ("ADDED", "b")]
            assert [e["object"] for e in initial] == current
            await api.client.patch(f"{path}/a", headers=MERGE_PATCH, json={"data": {"v": str(len(params) + 2)}})
            changed = await stream.next()
            assert changed["type"] == "MODIFIED" and changed["object"]["metadata"]["name"] == "a"


async def test_watch_from_a_resource_version_sends_only_later_events(api):
    await api.namespace("w1")
    path = CM.format(ns="w1")
    a = await api.configmap("w1", "a", {})
    await api.configmap("w1", "b", {})
    await api.client.patch(f"{path}/a", headers=MERGE_PATCH, json={"data": {"x": "1"}})
    await api.client.delete(f"{path}/b")
    async with open_watch(api.client, path, {"resourceVersion": a["metadata"]["resourceVersion"]}) as stream:
        seen = await stream.take(3)
        assert events(seen) == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in seen]
        assert rvs == sorted(rvs) and rvs[0] > int(a["metadata"]["resourceVersion"])
        await api.configmap("w1", "c", {})
        assert events([await stream.next()]) == [("ADDED", "c")]
    # a namespaced watch sees only its namespace; the all-namespaces watch sees every one
    async with open_watch(api.client, "/api/v1/configmaps", {"resourceVersion": a["metadata"]["resourceVersion"]}) as stream:
        await api.configmap("default", "elsewhere", {})
        seen = await stream.take(5)
        assert [(e["type"], e["object"]["metadata"]["namespace"], e["object"]["metadata"]["name"])
                for e in seen][-1] == ("ADDED", "default", "elsewhere")


async def test_watch_from_a_too_old_resource_version_is_an_error_event(api):
    created = await api.configmap("default", "busy", {"n": "0"})
    old = created["metadata"]["resourceVersion"]
    for n in range(1, 1002):  # more changes than the watch cache keeps (1000)
        response = await api.client.put(f"{CMS}/busy", json={"metadata": {"name": "busy"}, "data": {"n": str(n)}})
        assert response.status_code == 200
    async with open_watch(api.client, CMS, {"resourceVersion": old}) as stream:
        remaining = await stream.rest()
    assert len(remaining) == 1 and remaining[0]["type"] == "ERROR", remaining
    status = remaining[0]["object"]
    assert {k: v for k, v in status.items() if k != "message"} == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Expired",
        "code": 410}
    assert re.fullmatch(rf"too old resource version: {old} \(\d+\)", status["message"]), status
    # A recent resourceVersion still works.
    recent = await api.rv(CMS)
    async with open_watch(api.client, CMS, {"resourceVersion": str(recent)}) as stream:
        await api.client.put(f"{CMS}/busy", json={"metadata": {"name": "busy"}, "data": {"n": "last"}})
        assert (await stream.next())["object"]["data"] == {"n": "last"}


async def test_bookmarks_only_when_allowed(api):
    rv = await api.rv(CMS)
    # kube's cacheWatcher sends a bookmark 2s before the watch's deadline
    async with open_watch(api.client, CMS, {"resourceVersion": str(rv), "allowWatchBookmarks": "true",
                                            "timeoutSeconds": "3"}) as stream:
        seen = await stream.rest()
    assert [e["type"] for e in seen] == ["BOOKMARK"], seen
    _bookmark_shape(seen[0]["object"])
    assert int(seen[0]["object"]["metadata"]["resourceVersion"]) >= rv
    async with open_watch(api.client, CMS, {"resourceVersion": str(rv), "timeoutSeconds": "3"}) as stream:
        assert await stream.rest() == []


async def test_send_initial_events_ends_with_an_annotated_bookmark(api):
    await api.namespace("w2")
    path = CM.format(ns="w2")
    await api.configmap("w2", "a", {})
    await api.configmap("w2", "b", {})
    listed_rv = await api.rv(path)
    params = {"sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan", "allowWatchBookmarks": "true"}
    async with open_watch(api.client, path, params) as stream:
        initial = await stream.take(3)
        assert events(initial[:2]) == [("ADDED", "a"), ("ADDED", "b")]
        end = initial[2]
        assert end["type"] == "BOOKMARK", end
        _bookmark_shape(end["object"])
        assert end["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
        assert int(end["object"]["metadata"]["resourceVersion"]) >= listed_rv
        await api.configmap("w2", "c", {})
        assert events([await stream.next()]) == [("ADDED", "c")]
    # from a resourceVersion: the state at least that fresh, then the end bookmark
    async with open_watch(api.client, path, {**params, "resourceVersion": str(listed_rv)}) as stream:
        initial = await stream.take(4)
        assert events(initial[:3]) == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]
        assert initial[3]["type"] == "BOOKMARK"
        assert initial[3]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    # without allowWatchBookmarks the initial events come without the end bookmark
    no_bookmarks = {"sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan"}
    async with open_watch(api.client, path, no_bookmarks) as stream:
        initial = await stream.take(3)
        assert events(initial) == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]
        await api.configmap("w2", "c2", {})
        assert events([await stream.next()]) == [("ADDED", "c2")]
    # sendInitialEvents=false: no synthetic events, just what happens next
    async with open_watch(api.client, path, {**params, "sendInitialEvents": "false"}) as stream:
        await api.configmap("w2", "d", {})
        assert events([await stream.next()]) == [("ADDED", "d")]


async def test_label_selector_watch_sees_objects_enter_and_leave(api):
    await api.namespace("w3")
    path = CM.format(ns="w3")
    start = await api.rv(path)
    async with open_watch(api.client, path, {"resourceVersion": str(start), "labelSelector": "app=web"}) as stream:
        await api.configmap("w3", "x", {}, labels={"app": "db"})       # not selected: nothing
        await api.configmap("w3", "y", {}, labels={"app": "web"})      # ADDED
        moved_in = await api.client.patch(f"{path}/x", headers=MERGE_PATCH,
                                          json={"metadata": {"labels": {"app": "web"}}})  # ADDED
        moved_out = await api.client.patch(f"{path}/y", headers=MERGE_PATCH,
                                           json={"metadata": {"labels": {"app": "db"}}})  # DELETED
        await api.client.patch(f"{path}/x", headers=MERGE_PATCH, json={"data": {"k": "v"}})  # MODIFIED
        await api.client.patch(f"{path}/y", headers=MERGE_PATCH, json={"data": {"k": "v"}})  # nothing
        await api.client.delete(f"{path}/x")  # DELETED
        seen = await stream.take(5)
    assert events(seen) == [("ADDED", "y"), ("ADDED", "x"), ("DELETED", "y"), ("MODIFIED", "x"), ("DELETED", "x")]
    assert seen[1]["object"]["metadata"]["resourceVersion"] == moved_in.json()["metadata"]["resourceVersion"]
    left = seen[2]["object"]
    # the last state the watcher could see, at the resourceVersion of the change that hid it
    assert left["metadata"]["labels"] == {"app": "web"}
    assert left["metadata"]["resourceVersion"] == moved_out.json()["metadata"]["resourceVersion"]


async def test_field_selector_watch(api):
    start = await api.rv(CMS)
    async with open_watch(api.client, CMS, {"resourceVersion": str(start),
                                            "fieldSelector": "metadata.name=target"}) as stream:
        await api.configmap("default", "other", {})
        await api.configmap("default", "target", {})
        assert events([await stream.next()]) == [("ADDED", "target")]


async def test_timeout_seconds_ends_the_stream(api):
    async with open_watch(api.client, CMS, {"timeoutSeconds": "1", "resourceVersion": str(await api.rv(CMS))}) as stream:
        assert await stream.rest(timeout=HANG_GUARD) == []


async def test_watch_ends_cleanly_when_the_server_shuts_down(api):
    await api.configmap("default", "present", {})
    async with open_watch(api.client, CMS, {}) as stream:
        assert events([await stream.next()]) == [("ADDED", "present")]
        api.server.shutdown()
        assert await stream.rest() == []  # no error, no truncated chunk: the stream just ends
    with trio.fail_after(HANG_GUARD):
        await api.server.signals.in_flight_requests_drained.wait()


async def test_table_watch_sends_one_row_tables(api):
    await api.namespace("w4")
    path = CM.format(ns="w4")
    await api.configmap("w4", "a", {"k": "v"})
    async with open_watch(api.client, path, {}, headers={"accept": TABLE}) as stream:
        first = await stream.next()
        await api.configmap("w4", "b", {"k": "v", "l": "w"})
        second = await stream.next()
    for event, name, data in ((first, "a", 1), (second, "b", 2)):
        table = event["object"]
        assert event["type"] == "ADDED" and table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
        assert len(table["rows"]) == 1
        row = table["rows"][0]
        assert row["cells"][:2] == [name, data]
        assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["metadata"]["name"] == name
        assert table["metadata"]["resourceVersion"] == row["object"]["metadata"]["resourceVersion"]
    assert [c["name"] for c in first["object"]["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert second["object"]["columnDefinitions"] is None  # headers only once, as kube's watch does


async def test_watch_errors_before_streaming_are_plain_statuses(api):
    missing = await api.client.get("/api/v1/namespaces/default/nothings", params={"watch": "true"})
    assert_status(missing, 404, "NotFound")
    bad = await api.client.get(CMS, params={"watch": "true", "resourceVersion": "x"})
    assert_status(bad, 400, "BadRequest")
    # no YAML stream serializer: 406, the Status itself in the YAML the client accepts
    yaml_watch = await api.client.get(CMS, params={"watch": "true"}, headers={"accept": "application/yaml"})
    assert yaml_watch.status_code == 406 and yaml_watch.headers["content-type"] == "application/yaml"
    status = yaml.safe_load(yaml_watch.text)
    assert status["kind"] == "Status" and status["reason"] == "NotAcceptable" and status["code"] == 406
