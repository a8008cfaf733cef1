"""The baseline for bench/api.py: a raw ASGI app on Hypercorn's trio worker, over TLS.

GET /get and GET /list answer stored bytes (the kernel's own answers to the benchmark's GET and
LIST); POST stores the body in a dict and echoes it with 201; GET /watch opens a chunked stream
and POST /event fans one ``{"type":"ADDED","object":<body>}`` line out to every open stream.
Writes the bound port to ``port_file`` once listening.

    python bench/baseline_app.py CERT KEY PORT_FILE GET_BODY_FILE LIST_BODY_FILE
"""

from __future__ import annotations

import os
import sys
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

cert, key, port_file, get_file, list_file = sys.argv[1:6]
GET_BODY = open(get_file, "rb").read()
LIST_BODY = open(list_file, "rb").read()
stored: dict[int, bytes] = {}
streams: set[trio.MemorySendChannel[bytes]] = set()


def start(status: int, length: int | None = None) -> dict[str, Any]:
    headers = [(b"content-type", b"application/json")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {"type": "http.response.start", "status": status, "headers": headers}


async def read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def watch(receive: Any, send: Any) -> None:
    sender, receiver = trio.open_memory_channel[bytes](1000)
    streams.add(sender)
    try:
        await send(start(200))  # no content-length: chunked
        async with trio.open_nursery() as nursery:
            async def until_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                nursery.cancel_scope.cancel()
            nursery.start_soon(until_disconnect)
            async for line in receiver:
                await send({"type": "http.response.body", "body": line, "more_body": True})
    finally:
        streams.discard(sender)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    path, method = scope["path"], scope["method"]
    if method == "POST":
        body = await read_body(receive)
        if path == "/event":
            line = b'{"type":"ADDED","object":' + body + b"}\n"
            for sender in list(streams):
                try:
                    sender.send_nowait(line)
                except trio.WouldBlock:
                    pass  # a slow stream misses it, as the kernel drops slow watchers
        else:
            stored[len(stored)] = body
        await send(start(201, len(body)))
        await send({"type": "http.response.body", "body": body})
    elif path == "/watch":
        await watch(receive, send)
    else:
        body = LIST_BODY if path == "/list" else GET_BODY
        await send(start(200, len(body)))
        await send({"type": "http.response.body", "body": body})


async def main() -> None:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.certfile, config.keyfile = cert, key
    config.accesslog = None
    config.keep_alive_timeout = 75  # as the kernel
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(lambda task_status: serve(app, config, task_status=task_status))
        with open(port_file + ".tmp", "w") as out:
            out.write(binds[0].rsplit(":", 1)[1])
        os.replace(port_file + ".tmp", port_file)


trio.run(main)
