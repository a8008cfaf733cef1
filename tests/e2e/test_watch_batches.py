"""A watcher's events written several to a chunk (kernel/endpoints/watch.py) and framed by the
kernel itself (the server's body writer: HTTP/1.1 chunks, HTTP/2 DATA frames): the stream must
stay exactly what a client parses, up to h11's last chunk."""

from __future__ import annotations

import sys

import pytest
from rest_helpers import CM, HANG_GUARD, events, open_watch

from kernel.server import tlswrite


@pytest.fixture
def write_now_results(monkeypatch) -> list[tlswrite.Wrote]:
    """What each of the watch cache's direct writes (``tlswrite.DirectWriter.write_now``, not
    called by ``tlswrite.send_all`` for a response's writes) did, in order."""
    results: list[tlswrite.Wrote] = []
    write_now = tlswrite.DirectWriter.write_now

    def counting(self, data):
        wrote = write_now(self, data)
        if sys._getframe(1).f_code is not tlswrite.send_all.__code__:
            results.append(wrote)
        return wrote
    monkeypatch.setattr(tlswrite.DirectWriter, "write_now", counting)
    return results


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


async def test_a_watcher_that_stops_reading_gets_every_live_event_whole_and_in_order(api, write_now_results):
    # Live events go straight from the watch cache to an idle watcher's socket
    # (ChunkWriter.write_now); once the client stops reading, the socket fills, the rest of a
    # record is queued on the TLS stream and flushed by the connection, and later events are
    # buffered for the watch's task: what the client finally reads is every event, in order.
    results = write_now_results
    await api.namespace("wb3")
    path = CM.format(ns="wb3")
    start = await api.rv(path)
    size = 600_000
    async with open_watch(api.client, path, {"resourceVersion": str(start),
                                             "timeoutSeconds": "8"}) as stream:
        assert stream.response.http_version == "HTTP/1.1"
        await api.configmap("wb3", "small", {"v": "s"})
        assert events([await stream.next()]) == [("ADDED", "small")]
        for i in range(36):  # ~21 MB: more than loopback's socket buffers hold
            await api.configmap("wb3", f"big{i:02d}", {"v": chr(97 + i % 26) * size})
        seen = await stream.take(36)
        await api.configmap("wb3", "after", {"v": "s"})  # caught up: straight to the socket again
        seen.append(await stream.next())
    assert events(seen) == [("ADDED", f"big{i:02d}") for i in range(36)] + [("ADDED", "after")]
    assert [e["object"]["data"]["v"] for e in seen[:-1]] == [chr(97 + i % 26) * size
                                                             for i in range(36)]
    assert results[0] is tlswrite.Wrote.ALL and results[-1] is tlswrite.Wrote.ALL
    assert tlswrite.Wrote.QUEUED in results


async def test_an_http2_watcher_gets_events_straight_from_the_cache_whole_and_in_order(
        api, write_now_results):
    # Over HTTP/2 (every informer's protocol) a live event goes straight from the watch cache to
    # the connection as one DATA frame (HTTP2Protocol.write_now) when the stream's windows and
    # the client's frame size allow. The client reads nothing while the events are written: the
    # large ones wait for its credit through the watch's task, and the small ones after them must
    # not overtake them.
    results = write_now_results
    await api.namespace("wb4")
    path = CM.format(ns="wb4")
    start = await api.rv(path)
    values = [chr(97 + i) * (300_000 if i % 3 == 0 else 2_000) for i in range(18)]
    async with api.kernel.client(http2=True, http1=False, timeout=HANG_GUARD) as client:
        async with open_watch(client, path, {"resourceVersion": str(start),
                                             "timeoutSeconds": "8"}) as stream:
            assert stream.response.http_version == "HTTP/2"
            await api.configmap("wb4", "small", {"v": "s"})
            assert events([await stream.next()]) == [("ADDED", "small")]
            assert results == [tlswrite.Wrote.ALL]
            for i, value in enumerate(values):
                await api.configmap("wb4", f"e{i:02d}", {"v": value})
            seen = await stream.take(len(values))
            written = len(results)
            await api.configmap("wb4", "after", {"v": "s"})  # caught up: straight out again
            seen.append(await stream.next())
    assert events(seen) == [("ADDED", f"e{i:02d}") for i in range(len(values))] + [("ADDED", "after")]
    assert [e["object"]["data"]["v"] for e in seen[:-1]] == values
    assert len(results) == written + 1 and results[-1] is tlswrite.Wrote.ALL
