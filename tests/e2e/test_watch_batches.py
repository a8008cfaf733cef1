"""A watcher's events written several to a chunk (kernel/endpoints/watch.py) and, on HTTP/1.1,
framed by the kernel itself (the server's body writer): the stream must stay exactly what a
client parses, up to h11's last chunk."""

from __future__ import annotations

from rest_helpers import CM, HANG_GUARD, events, open_watch


async def test_a_watch_from_the_past_gets_every_event_whole_and_ends_cleanly(api):
    # 150 events replayed from the window: written in batches of up to 64 lines.
    await api.namespace("wb")
    path = CM.format(ns="wb")
    start = await api.rv(path)
    for i in range(150):
        await api.configmap("wb", f"c{i:03d}", {"v": "x" * (i * 7)})
    async with open_watch(api.client, path, {"resourceVersion": str(start),
                                             "timeoutSeconds": "2"}) as stream:
        assert stream.response.http_version == "HTTP/1.1"
        seen = await stream.rest()
    assert events(seen) == [("ADDED", f"c{i:03d}") for i in range(150)]
    assert [e["object"]["data"]["v"] for e in seen] == ["x" * (i * 7) for i in range(150)]


async def test_initial_objects_and_live_events_over_http2_too(api):
    await api.namespace("wb2")
    path = CM.format(ns="wb2")
    for i in range(70):
        await api.configmap("wb2", f"i{i:02d}", {})
    async with api.kernel.client(http2=True, http1=False, timeout=HANG_GUARD) as client:
        async with open_watch(client, path, {"timeoutSeconds": "3"}) as stream:
            assert stream.response.http_version == "HTTP/2"
            initial = await stream.take(70)
            await api.configmap("wb2", "live", {})
            live = await stream.next()
            rest = await stream.rest()
    assert events(initial) == [("ADDED", f"i{i:02d}") for i in range(70)]
    assert events([live]) == [("ADDED", "live")] and rest == []
