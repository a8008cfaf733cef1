"""Serving a watch: a chunked stream of ``{"type": ..., "object": ...}`` lines.

resourceVersion semantics follow kube: unset or "0" sends the current objects as ADDED first,
then changes after them; N sends the changes after N (410 as an ERROR event when N is too old);
``sendInitialEvents=true`` ends the initial objects with a bookmark annotated
``k8s.io/initial-events-end``. The stream ends at ``timeoutSeconds``, when the client goes
away, or when the server stops accepting requests (graceful shutdown).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import msgspec
import trio

from kernel.apimachinery import codecs, status
from kernel.endpoints import table
from kernel.endpoints.listoptions import DEFAULT_WATCH_TIMEOUT, ListQuery, object_predicate, parse_resource_version
from kernel.registry.resource import Object, ResourceSpec
from kernel.endpoints.request import Request
from kernel.registry.store import ListOptions, Store
from kernel.storage.interface import WatchEvent

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
# The server's scope extension for writing body chunks without ASGI (kernel.server.httpserver).
BODY_WRITER = "kernel.body_writer"
# Events written at once to one watcher at most: a watcher that fell behind catches up in
# writes of up to this many lines instead of one write per line.
BATCH = 64


class _Encoder:
    """Encodes events for one watcher; the plain JSON form is cached on the event for all."""

    def __init__(self, spec: ResourceSpec, media: codecs.MediaType, include_object: str) -> None:
        self.spec = spec
        self.media = media
        self.include_object = include_object
        self.first = True

    def line(self, event_type: str, obj: Object, event: WatchEvent | None = None) -> bytes:
        if self.media.is_table and event_type not in ("BOOKMARK", "ERROR"):
            # printers' GenerateTable: a one-object table has the object's resourceVersion
            obj = table.build_table(self.spec.table_columns, [obj], include_object=self.include_object,
                                    no_headers=not self.first,
                                    list_meta={"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion")})
            self.first = False
        elif self.media.is_partial_metadata and event_type not in ("BOOKMARK", "ERROR"):
            obj = table.partial_object_metadata(obj)
        elif event is not None:
            cached = event.encoded.get("json")
            if cached is None:
                cached = event.encoded["json"] = msgspec.json.encode({"type": event_type, "object": obj}) + b"\n"
            return cached
        return msgspec.json.encode({"type": event_type, "object": obj}) + b"\n"


def _direct_sink(write: Callable[[bytes], Awaitable[None]],
                 encoder: _Encoder) -> Callable[[list[WatchEvent]], bool] | None:
    """What the watch cache calls, while dispatching, with the events due for this watcher when
    it is idle: their shared JSON lines written to the connection at once, in one write (see
    the writers' ``write_now``), or False (nothing written: the events are buffered and this
    watch's task writes them). Only plain JSON lines qualify (a table row is per watcher). The
    cache never dispatches bookmarks (the watch's task makes them). An event written after the
    watch's scope was cancelled (timeout, client gone, shutdown) but before the task left the
    watch is a whole chunk before the body's end, as it would be a moment earlier."""
    write_now = getattr(write, "write_now", None)
    if write_now is None or encoder.media.is_table or encoder.media.is_partial_metadata:
        return None

    line = encoder.line

    def encoded(event: WatchEvent) -> bytes:
        return event.encoded.get("json") or line(event.type, event.object, event)

    def deliver(events: list[WatchEvent]) -> bool:
        if len(events) == 1:  # encoded(), inlined: once per watcher and event
            event = events[0]
            return write_now(event.encoded.get("json") or line(event.type, event.object, event))
        return write_now(b"".join(map(encoded, events)))
    return deliver


def _bookmark(spec: ResourceSpec, revision: int, annotations: dict[str, str] | None = None) -> Object:
    meta: dict[str, Any] = {"resourceVersion": str(revision)}
    if annotations:
        meta["annotations"] = annotations
    return {"kind": spec.kind, "apiVersion": spec.group_version, "metadata": meta}


async def _until_disconnect(request: Request, scope: trio.CancelScope) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return


class Event(Protocol):
    async def wait(self) -> None: ...


async def _until_shutdown(stop: Event, scope: trio.CancelScope) -> None:
    await stop.wait()
    scope.cancel()


async def serve_watch(request: Request, store: Store, namespace: str, query: ListQuery,
                      media: codecs.MediaType, stop: Event) -> None:
    """Stream ``store``'s events until the client leaves, the timeout passes or ``stop`` fires
    (the server no longer accepting requests: watches end so that shutdown is not held up)."""
    spec = store.spec
    predicate = object_predicate(spec, query)
    rv = query.resource_version
    initial: list[Object] = []
    send_initial = query.send_initial_events if query.send_initial_events is not None else rv in ("", "0")
    if send_initial:
        listed = await store.list(namespace, ListOptions(predicate=predicate))
        initial, revision = listed.items, listed.revision
    else:  # sendInitialEvents=false without a resourceVersion: from now
        revision = parse_resource_version(rv) if rv else 0

    encoder = _Encoder(spec, media, request.query_value("includeObject", "Metadata") or "Metadata")
    timeout = DEFAULT_WATCH_TIMEOUT if query.timeout_seconds is None else query.timeout_seconds
    async with trio.open_nursery() as nursery:
        with trio.move_on_after(timeout) as scope:
            nursery.start_soon(_until_disconnect, request, scope)
            nursery.start_soon(_until_shutdown, stop, scope)
            try:
                async with store.watch(namespace, revision, predicate, bookmarks=query.allow_bookmarks,
                                       deadline=scope.deadline) as events:
                    await _start(request, media)
                    write = _body_writer(request)
                    for i in range(0, len(initial), BATCH):
                        await write(b"".join(encoder.line("ADDED", obj) for obj in initial[i:i + BATCH]))
                    if query.send_initial_events and query.allow_bookmarks:
                        await write(encoder.line("BOOKMARK", _bookmark(
                            spec, revision, {INITIAL_EVENTS_END: "true"})))
                    ready = getattr(events, "ready", None)  # the watch cache's: events due now
                    set_direct = getattr(events, "set_direct", None)  # the watch cache's too
                    if set_direct is not None:
                        set_direct(_direct_sink(write, encoder))
                    async for event in events:
                        # One write for this event and every other one already waiting.
                        batch = [event, *ready(BATCH - 1)] if ready is not None else [event]
                        lines = []
                        for item in batch:
                            if item.type != "BOOKMARK":
                                lines.append(encoder.line(item.type, item.object, item))
                            elif query.allow_bookmarks:
                                # the object of the resource's kind, with only a resourceVersion
                                lines.append(encoder.line("BOOKMARK", _bookmark(spec, item.revision)))
                        if lines:
                            await write(lines[0] if len(lines) == 1 else b"".join(lines))
            except status.StatusError as error:
                # Too old, or dropped for being too slow: tell the client, who relists.
                await _start(request, media)
                await _send(request, msgspec.json.encode({"type": "ERROR", "object": error.status()}) + b"\n")
        nursery.cancel_scope.cancel()
    await _start(request, media)  # a watch cut short before its first event still answers 200
    await request.send({"type": "http.response.body", "body": b"", "more_body": False})


async def _start(request: Request, media: codecs.MediaType) -> None:
    if not request.response_started:
        await request.send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", media.content_type.encode()),
                                        (b"cache-control", b"no-cache, private")]})


async def _send(request: Request, line: bytes) -> None:
    await request.send({"type": "http.response.body", "body": line, "more_body": True})


def _body_writer(request: Request) -> Callable[[bytes], Awaitable[None]]:
    """How this response's body is written once started: straight to the connection where the
    server offers it (HTTP/1.1 chunks: kernel.server.http1's ``ChunkWriter``; HTTP/2 DATA
    frames: kernel.server.http2's ``_StreamWriter``), else ASGI sends. Either way a write is one
    chunk or frame for the client."""
    offer = (request.scope.get("extensions") or {}).get(BODY_WRITER)
    direct = offer() if offer is not None else None
    if direct is not None:
        return direct

    async def send(data: bytes) -> None:
        await _send(request, data)
    return send
