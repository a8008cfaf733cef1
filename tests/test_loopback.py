"""context.loopback_client() (kernel/loopback.py): requests from inside the server run the whole
filter chain as system:apiserver, with admission and validation, and are logged and counted."""

from __future__ import annotations


import pytest
import trio
from test_metrics import scrape

from kernel.apimachinery.status import StatusError
from kernel.logs import level
from kernel.server.loopback import LoopbackClient

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


async def test_requests_are_authenticated_as_system_apiserver(api):
    client = api.server.context.loopback_client()
    review = await client.create("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                 {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    user = review["status"]["userInfo"]
    assert user["username"] == "system:apiserver"
    assert "system:masters" in user["groups"] and "system:authenticated" in user["groups"]


async def test_without_the_loopback_token_it_is_unauthorized(api):
    stranger = LoopbackClient(api.server, "not-the-loopback-token")
    with pytest.raises(StatusError) as caught:
        await stranger.get(CONFIGMAPS)
    assert (caught.value.code, caught.value.reason) == (401, "Unauthorized")


async def test_crud_and_kube_status_errors(api):
    client = api.server.context.loopback_client()
    created = await client.create(CONFIGMAPS, {"metadata": {"name": "lb"}, "data": {"a": "1"}})
    assert created["metadata"]["uid"] and created["data"] == {"a": "1"}
    assert (await client.get(f"{CONFIGMAPS}/lb"))["data"] == {"a": "1"}
    listed = await client.list(CONFIGMAPS, {"fieldSelector": "metadata.name=lb"})
    assert [o["metadata"]["name"] for o in listed["items"]] == ["lb"]
    created["data"] = {"a": "2"}
    assert (await client.update(f"{CONFIGMAPS}/lb", created))["data"] == {"a": "2"}
    patched = await client.patch(f"{CONFIGMAPS}/lb", {"data": {"b": "3"}})
    assert patched["data"] == {"a": "2", "b": "3"}
    json_patched = await client.patch(f"{CONFIGMAPS}/lb", [{"op": "remove", "path": "/data/a"}],
                                      "application/json-patch+json")
    assert json_patched["data"] == {"b": "3"}

    with pytest.raises(StatusError) as caught:
        await client.update(f"{CONFIGMAPS}/lb", created)  # a stale resourceVersion
    assert (caught.value.code, caught.value.reason) == (409, "Conflict")
    with pytest.raises(StatusError) as caught:
        await client.create(CONFIGMAPS, {"metadata": {"name": "Not_Valid"}})
    assert (caught.value.code, caught.value.reason) == (422, "Invalid")
    assert caught.value.details["causes"][0]["field"] == "metadata.name"
    with pytest.raises(StatusError) as caught:
        await client.create(CONFIGMAPS, {"metadata": {"name": "lb"}})
    assert (caught.value.code, caught.value.reason) == (409, "AlreadyExists")
    assert caught.value.message == 'configmaps "lb" already exists'
    assert (await client.get(f"{CONFIGMAPS}/lb"))["data"] == {"b": "3"}  # the errors changed nothing

    await client.delete(f"{CONFIGMAPS}/lb")
    with pytest.raises(StatusError) as caught:
        await client.get(f"{CONFIGMAPS}/lb")
    assert (caught.value.code, caught.value.reason) == (404, "NotFound")
    assert caught.value.message == 'configmaps "lb" not found'
    assert caught.value.details == {"name": "lb", "kind": "configmaps"}

    raw = await client.request("GET", "/no/such/path")
    assert raw.status == 404 and raw.json()["reason"] == "NotFound"
    assert raw.headers["content-type"] == "application/json" and raw.headers["audit-id"]


async def test_admission_applies_namespace_lifecycle(api):
    client = api.server.context.loopback_client()
    # a namespace held Terminating by a finalizer of its own
    await client.create("/api/v1/namespaces", {"metadata": {"name": "ending",
                                                            "finalizers": ["example.com/hold"]}})
    await client.delete("/api/v1/namespaces/ending")
    assert (await client.get("/api/v1/namespaces/ending"))["status"]["phase"] == "Terminating"
    with pytest.raises(StatusError) as caught:
        await client.create("/api/v1/namespaces/ending/configmaps", {"metadata": {"name": "late"}})
    assert (caught.value.code, caught.value.reason) == (403, "Forbidden")
    assert caught.value.message == ('configmaps "late" is forbidden: unable to create new content in '
                                    "namespace ending because it is being terminated")
    with pytest.raises(StatusError) as caught:
        await client.delete("/api/v1/namespaces/kube-system")
    assert caught.value.code == 403  # the immortal namespaces, as for any client
    with pytest.raises(StatusError) as caught:
        await client.create("/api/v1/namespaces/missing/configmaps", {"metadata": {"name": "x"}})
    assert (caught.value.code, caught.value.message) == (404, 'namespaces "missing" not found')


async def test_requests_are_counted_in_metrics(api):
    client = api.server.context.loopback_client()
    labels = {"verb": "POST", "resource": "configmaps", "code": "201", "component": "apiserver"}
    before = (await scrape(api.client)).value("apiserver_request_total", **labels)
    await client.create(CONFIGMAPS, {"metadata": {"name": "counted"}})
    after = (await scrape(api.client)).value("apiserver_request_total", **labels)
    assert after - before == 1
    metrics = await client.request("GET", "/metrics")  # non-resource URLs too
    assert metrics.status == 200 and b"apiserver_request_total" in metrics.body


async def test_requests_are_in_the_request_log(start_api, caplog: pytest.LogCaptureFixture):
    caplog.set_level(level(2), logger="kernel.httplog")  # before the chain is built: -v=2
    api = await start_api()
    client = api.server.context.loopback_client("loopback-test/1.0")
    await client.create(CONFIGMAPS, {"metadata": {"name": "logged"}})
    lines = [dict(r.kv) for r in caplog.records if r.name == "kernel.httplog"
             and dict(r.kv)["userAgent"] == "loopback-test/1.0"]
    assert [(line["verb"], line["URI"], line["user"], line["resp"]) for line in lines] == [
        ("POST", CONFIGMAPS, "system:apiserver", 201)]
    assert lines[0]["audit-ID"] and lines[0]["srcIP"] == ""  # no socket, no source address


async def test_bootstrap_namespaces_go_through_the_api(start_api, caplog: pytest.LogCaptureFixture):
    caplog.set_level(level(2), logger="kernel.httplog")
    api = await start_api()
    requests = [(line["verb"], line["URI"], line["resp"]) for line in map(dict, (
        r.kv for r in caplog.records if r.name == "kernel.httplog"))
        if line["userAgent"] == "kernel/bootstrap-namespaces"]
    # Each one read first (kube's bootstrap controller: a restart finds them without a write),
    # created only if not found: the RBAC bootstrap, which runs alongside, may have made it (a
    # 200), or make it between the read and the create (a 409).
    reads = [(uri, code) for verb, uri, code in requests if verb == "GET"]
    assert [uri for uri, code in reads] == [f"/api/v1/namespaces/{name}" for name in (
        "default", "kube-system", "kube-public", "kube-node-lease")]
    for (verb, uri, code), after in zip(requests, [*requests[1:], None]):
        if verb == "GET":
            assert code in (200, 404) and (after is not None and after[0] == "POST") == (code == 404)
        else:
            assert (verb, uri) == ("POST", "/api/v1/namespaces") and code in (201, 409)
    assert (await api.get("/api/v1/namespaces/kube-node-lease"))["status"]["phase"] == "Active"


async def test_watch_streams_events_until_the_client_leaves(api):
    client = api.server.context.loopback_client()
    rv = await api.rv(CONFIGMAPS)
    with trio.fail_after(20):  # a hang guard only
        async with client.watch(CONFIGMAPS, {"resourceVersion": str(rv)}) as events:
            await client.create(CONFIGMAPS, {"metadata": {"name": "watched"}})
            await client.delete(f"{CONFIGMAPS}/watched")
            seen = []
            async for event in events:
                seen.append((event["type"], event["object"]["metadata"]["name"]))
                if len(seen) == 2:
                    break
        assert seen == [("ADDED", "watched"), ("DELETED", "watched")]
        with pytest.raises(StatusError) as caught:
            async with client.watch("/api/v1/namespaces/default/nothings"):
                pass
        assert caught.value.code == 404
        with pytest.raises(StatusError) as caught:  # what the block raises comes out as raised
            async with client.watch(CONFIGMAPS):
                await client.get(f"{CONFIGMAPS}/watched")
        assert caught.value.code == 404
        # the watch ended when the block was left: the server tracks no long-running request
        while (await scrape(api.client)).value("apiserver_longrunning_requests", verb="WATCH"):
            await trio.sleep(0.01)


async def test_namespace_controller_empties_a_namespace_through_the_api(
        start_api, caplog: pytest.LogCaptureFixture):
    caplog.set_level(level(2), logger="kernel.httplog")
    api = await start_api()
    await api.namespace("doomed")
    await api.configmap("doomed", "one")
    await api.configmap("doomed", "two")
    with trio.fail_after(20):  # the service-account controller's default account, as on kube
        while (await api.client.get("/api/v1/namespaces/doomed/serviceaccounts/default")).status_code != 200:
            await trio.sleep(0.05)
    assert (await api.client.delete("/api/v1/namespaces/doomed")).status_code == 200
    with trio.fail_after(20):  # a hang guard only
        while (await api.client.get("/api/v1/namespaces/doomed")).status_code != 404:
            await trio.sleep(0.05)
    controller = [dict(r.kv) for r in caplog.records if r.name == "kernel.httplog"
                  and dict(r.kv)["userAgent"] == "kernel/namespace-controller"]
    deletes = sorted(line["URI"] for line in controller if line["verb"] == "DELETE")
    assert deletes == ["/api/v1/namespaces/doomed/configmaps/one",
                       "/api/v1/namespaces/doomed/configmaps/two",
                       "/api/v1/namespaces/doomed/serviceaccounts/default"]
    assert {line["user"] for line in controller} == {"system:apiserver"}
    assert ("PUT", "/api/v1/namespaces/doomed/finalize", 200) in {
        (line["verb"], line["URI"], line["resp"]) for line in controller}


async def test_ensure_reads_before_it_creates(api):
    client = api.server.context.loopback_client()
    wanted = {"metadata": {"name": "ensured"}, "data": {"a": "1"}}
    assert await client.ensure(CONFIGMAPS, wanted) is True
    stored = await client.get(f"{CONFIGMAPS}/ensured")
    assert await client.ensure(CONFIGMAPS, {**wanted, "data": {"a": "2"}}) is False
    assert (await client.get(f"{CONFIGMAPS}/ensured"))["metadata"]["resourceVersion"] == \
        stored["metadata"]["resourceVersion"]  # found by the read: nothing written

    class Late(LoopbackClient):
        """Reads before another writer's create shows: the create then gets 409."""

        async def get(self, path, params=None):
            raise StatusError(404, "NotFound", "not yet")

    late = Late(api.server, api.server.context.options.loopback_token)
    assert await late.ensure(CONFIGMAPS, wanted) is False
    with pytest.raises(StatusError) as caught:  # anything else is the caller's
        await client.ensure(CONFIGMAPS, {"metadata": {"name": "Not_Valid"}})
    assert caught.value.code == 422
