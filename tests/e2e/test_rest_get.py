"""GET of one object as kube-apiserver answers it: what its resourceVersion means.

Unset: the most recent state (a quorum read of storage). Set: not older than that version, so the
watch cache answers (``0``: whatever it has), as kube's Cacher.Get does.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from rest_helpers import CM, assert_status

MERGE_PATCH = {"content-type": "application/merge-patch+json"}


async def _storage_gets(api) -> float:
    """How many configmap reads storage has served (apiserver_storage_request_duration_seconds)."""
    text = (await api.client.get("/metrics")).text
    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples
               if sample.name == "apiserver_storage_request_duration_seconds_count"
               and sample.labels.get("operation") == "get"
               and sample.labels.get("type") == "configmaps")


async def test_get_with_a_resource_version_is_answered_by_the_watch_cache(api):
    await api.namespace("cached")
    path = CM.format(ns="cached")
    created = await api.configmap("cached", "a", {"v": "1"})
    patched = await api.client.patch(f"{path}/a", headers=MERGE_PATCH, json={"data": {"v": "2"}})
    latest = patched.json()["metadata"]["resourceVersion"]

    reads = await _storage_gets(api)
    # Not older than the patch: the cache waits until it has applied it.
    got = await api.client.get(f"{path}/a", params={"resourceVersion": latest})
    assert got.status_code == 200, got.text
    assert got.json()["data"] == {"v": "2"} and got.json()["metadata"]["resourceVersion"] == latest
    for rv in ("0", created["metadata"]["resourceVersion"]):  # older ones: what the cache has
        got = await api.client.get(f"{path}/a", params={"resourceVersion": rv})
        assert got.status_code == 200 and got.json()["data"] == {"v": "2"}, (rv, got.text)
    missing = await api.client.get(f"{path}/nope", params={"resourceVersion": "0"})
    assert_status(missing, 404, "NotFound", 'configmaps "nope" not found',
                  {"name": "nope", "kind": "configmaps"})
    assert await _storage_gets(api) == reads  # none of these read storage

    assert (await api.get(f"{path}/a"))["data"] == {"v": "2"}  # unset: a quorum read
    assert await _storage_gets(api) == reads + 1


async def test_get_with_a_bad_or_future_resource_version(api):
    await api.namespace("rvs")
    path = CM.format(ns="rvs")
    await api.configmap("rvs", "a")
    bad = await api.client.get(f"{path}/a", params={"resourceVersion": "abc"})
    assert_status(bad, 400, "BadRequest",
                  'resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax')
    now = await api.rv(path)
    future = now + 1000
    too_new = await api.client.get(f"{path}/a", params={"resourceVersion": str(future)})
    assert_status(too_new, 504, "Timeout", f"Timeout: Too large resource version: {future}, current: {now}",
                  {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                   "retryAfterSeconds": 1})
    assert too_new.headers["retry-after"] == "1"
