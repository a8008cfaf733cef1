"""API group-versions added and removed while serving (context.install_api_group /
remove_api_group): REST, legacy and aggregated discovery, OpenAPI v2/v3 and watches follow at once."""

from __future__ import annotations

import trio

from kernel.apimachinery.schemas import OBJECT_META, meta_schemas, ref
from kernel.endpoints.apigroup import APIGroup
from kernel.registry.resource import ResourceSpec

GROUP = "runtime.example.com"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def widget_spec(version: str = "v1", plural: str = "widgets", kind: str = "Widget") -> ResourceSpec:
    name = f"com.example.runtime.{version}.{kind}"
    schema = {"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": ref(OBJECT_META),
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    return ResourceSpec(group=GROUP, version=version, kind=kind, plural=plural,
                        singular=kind.lower(), namespaced=True, schema_name=name,
                        schemas={**meta_schemas(), name: schema})


async def test_a_group_added_while_serving_is_served_discovered_and_removed(start_api):
    api = await start_api("--plugins=api_core,storage_memory")
    client, context = api.client, api.server.context
    path = f"/apis/{GROUP}/v1/namespaces/default/widgets"
    assert (await client.get(path)).status_code == 404
    before = await client.get("/apis", headers={"accept": AGGREGATED})
    index_before = (await client.get("/openapi/v3")).json()["paths"]
    assert f"apis/{GROUP}/v1" not in index_before

    await context.install_api_group(APIGroup(GROUP, "v1", [widget_spec()]))
    created = await client.post(path, json={"apiVersion": f"{GROUP}/v1", "kind": "Widget",
                                            "metadata": {"name": "w"}, "spec": {"size": 3}})
    assert created.status_code == 201, created.text
    assert (await api.get(f"{path}/w"))["spec"] == {"size": 3}
    groups = (await api.get("/apis"))["groups"]
    assert any(g["name"] == GROUP for g in groups)
    resources = (await api.get(f"/apis/{GROUP}/v1"))["resources"]
    assert [r["name"] for r in resources] == ["widgets"]
    after = await client.get("/apis", headers={"accept": AGGREGATED,
                                               "if-none-match": before.headers["etag"]})
    assert after.status_code == 200  # the old ETag no longer matches
    assert GROUP in [item["metadata"]["name"] for item in after.json()["items"]]
    index = (await client.get("/openapi/v3")).json()["paths"]
    document = (await client.get(index[f"apis/{GROUP}/v1"]["serverRelativeURL"])).json()
    assert f"/apis/{GROUP}/v1/namespaces/{{namespace}}/widgets" in document["paths"]
    assert index["api/v1"] == index_before["api/v1"]  # other documents keep their hash
    assert f"/apis/{GROUP}/v1/namespaces/{{namespace}}/widgets/{{name}}" in \
        (await api.get("/openapi/v2"))["paths"]

    assert await context.remove_api_group(GROUP, "v1") is True
    assert (await client.get(path)).status_code == 404
    assert (await client.get(f"/apis/{GROUP}/v1")).status_code == 404
    assert (await client.get(f"/apis/{GROUP}")).status_code == 404
    assert all(g["name"] != GROUP for g in (await api.get("/apis"))["groups"])
    assert f"apis/{GROUP}/v1" not in (await client.get("/openapi/v3")).json()["paths"]
    assert await context.remove_api_group(GROUP, "v1") is False


async def test_a_group_installed_again_keeps_its_objects_and_informers_follow(start_api):
    api = await start_api("--plugins=api_core,storage_memory")
    client, context = api.client, api.server.context
    await context.install_api_group(APIGroup(GROUP, "v1", [widget_spec()]))
    informer = context.informer(GROUP, "widgets")
    path = f"/apis/{GROUP}/v1/namespaces/default/widgets"
    with trio.fail_after(20):
        await informer.wait_synced()
        assert (await client.post(path, json={"metadata": {"name": "a"}})).status_code == 201
        while informer.get("a", "default") is None:
            await trio.sleep(0.01)
    # Replacing the group-version (a new resource beside it) keeps the stored objects.
    await context.install_api_group(APIGroup(GROUP, "v1", [widget_spec(), widget_spec(
        plural="gadgets", kind="Gadget")]))
    assert [i["metadata"]["name"] for i in (await api.get(path))["items"]] == ["a"]
    names = sorted(r["name"] for r in (await api.get(f"/apis/{GROUP}/v1"))["resources"])
    assert names == ["gadgets", "widgets"]
    # A second version of the group: both listed, the preferred one first.
    await context.install_api_group(APIGroup(GROUP, "v2", [widget_spec("v2")]))
    versions = (await api.get(f"/apis/{GROUP}"))["versions"]
    assert [v["version"] for v in versions] == ["v2", "v1"]
    assert await context.remove_api_group(GROUP, "v2")
    assert [v["version"] for v in (await api.get(f"/apis/{GROUP}"))["versions"]] == ["v1"]


async def test_removing_a_group_ends_its_watches(start_api):
    api = await start_api("--plugins=api_core,storage_memory")
    client, context = api.client, api.server.context
    await context.install_api_group(APIGroup(GROUP, "v1", [widget_spec()]))
    with trio.fail_after(20):
        async with client.stream("GET", f"/apis/{GROUP}/v1/widgets?watch=1") as response:
            assert response.status_code == 200
            await context.remove_api_group(GROUP, "v1")
            async for _ in response.aiter_lines():
                pass  # the stream ends instead of hanging
