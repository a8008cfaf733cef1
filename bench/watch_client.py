"""The watch client of ``bench/fanout.py``: N HTTP/1.1 (or HTTP/2) watch streams over TLS in one
process.

Streams are read with epoll and non-blocking SSL sockets, so a delivery costs this client one
``recv`` and a search (about 10 µs here) instead of a trio task switch and its stream layers
(about 70 µs): with 1000 watchers the server, not the client, sets the pace. Run by fanout.py
with one JSON argument (``port``, ``ca_file``, ``request``: the watch GET, ``count``; for HTTP/2
``http2``, ``path`` and ``headers`` instead of ``request``: one connection and stream per watcher,
as each client-go informer has, with windows so large the server never waits for credit), it
talks one line at a time:

    → ready                  every stream answered 200 (once)
    ← round <marker>         report when every stream has received <marker>
    → done <first> <last>    time.perf_counter() of the first and the last arrival (Linux's
                             CLOCK_MONOTONIC: comparable with the parent's)
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import ssl
import sys
import time

TAIL = 64  # markers are short; a tail of each stream's last bytes finds one split over reads


def open_stream(port: int, context: ssl.SSLContext, request: bytes) -> tuple[ssl.SSLSocket, bytes]:
    raw = socket.create_connection(("127.0.0.1", port))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stream = context.wrap_socket(raw, server_hostname="localhost")
    stream.sendall(request)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = stream.recv(65536)
        if not chunk:
            raise SystemExit("a watch stream closed before its response head")
        head += chunk
    if head.split(b" ", 2)[1] != b"200":
        raise SystemExit(f"watch → {head[:300]!r}")
    stream.setblocking(False)
    return stream, head.split(b"\r\n\r\n", 1)[1][-TAIL:]


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def _frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream_id.to_bytes(4, "big") + payload


def open_http2_stream(port: int, context: ssl.SSLContext, path: str,
                      headers: dict[str, str]) -> tuple[ssl.SSLSocket, bytes]:
    """One HTTP/2 connection whose stream 1 is the watch; what follows its HEADERS is data."""
    import hpack  # the h2 library's HPACK

    raw = socket.create_connection(("127.0.0.1", port))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stream = context.wrap_socket(raw, server_hostname="localhost")
    if stream.selected_alpn_protocol() != "h2":
        raise SystemExit("the server did not choose h2")
    fields = [(":method", "GET"), (":scheme", "https"), (":authority", "localhost"), (":path", path),
              *((name.lower(), value) for name, value in headers.items())]
    big = 2**31 - 1
    stream.sendall(PREFACE + _frame(4, 0, 0, (4).to_bytes(2, "big") + big.to_bytes(4, "big"))
                   + _frame(8, 0, 0, (big - 65535).to_bytes(4, "big"))
                   + _frame(1, 0x5, 1, hpack.Encoder().encode(fields)))  # END_STREAM|END_HEADERS
    buffer = b""
    while True:
        while len(buffer) >= 9 and len(buffer) >= 9 + int.from_bytes(buffer[:3], "big"):
            length, kind, flags = int.from_bytes(buffer[:3], "big"), buffer[3], buffer[4]
            payload, buffer = buffer[9:9 + length], buffer[9 + length:]
            if kind == 4 and not flags & 1:
                stream.sendall(_frame(4, 1, 0, b""))  # SETTINGS acknowledged
            elif kind == 1:
                status = dict(hpack.Decoder().decode(payload, raw=True)).get(b":status")
                if status != b"200":
                    raise SystemExit(f"watch → {status!r}")
                stream.setblocking(False)
                return stream, buffer[-TAIL:]
            elif kind in (3, 7):
                raise SystemExit(f"watch stream reset or connection ended: {payload!r}")
        chunk = stream.recv(65536)
        if not chunk:
            raise SystemExit("a watch stream closed before its response headers")
        buffer += chunk


def serve(streams: dict[ssl.SSLSocket, bytes], selector: selectors.BaseSelector) -> None:
    marker: bytes | None = None
    waiting: set[ssl.SSLSocket] = set()
    first = 0.0
    while True:
        for key, _ in selector.select():
            if key.data == "stdin":
                command = os.read(0, 4096)
                if not command:
                    return  # the parent is done
                for line in command.decode().splitlines():
                    if line.startswith("round "):
                        marker, waiting, first = line[6:].encode(), set(streams), 0.0
                continue
            stream: ssl.SSLSocket = key.fileobj  # type: ignore[assignment]
            data = b""
            try:
                while True:  # every record OpenSSL can decrypt now
                    chunk = stream.recv(65536)
                    if not chunk:
                        raise SystemExit("a watch stream closed")
                    data += chunk
                    if not stream.pending():
                        break
            except ssl.SSLWantReadError:
                if not data:
                    continue
            now = time.perf_counter()
            seen = streams[stream] + data
            if marker is not None and stream in waiting and marker in seen:
                waiting.discard(stream)
                first = first or now
                seen = b""
                if not waiting:
                    print(f"done {first} {now}", flush=True)
                    marker = None
            streams[stream] = seen[-TAIL:]


def main() -> None:
    config = json.loads(sys.argv[1])
    context = ssl.create_default_context(cafile=config["ca_file"])
    if config.get("http2"):
        context.set_alpn_protocols(["h2"])
    selector = selectors.EpollSelector()
    streams: dict[ssl.SSLSocket, bytes] = {}
    for _ in range(config["count"]):
        if config.get("http2"):
            stream, tail = open_http2_stream(config["port"], context, config["path"],
                                             config["headers"])
        else:
            stream, tail = open_stream(config["port"], context, config["request"].encode("latin-1"))
        streams[stream] = tail
        selector.register(stream, selectors.EVENT_READ)
    selector.register(0, selectors.EVENT_READ, "stdin")
    print("ready", flush=True)
    serve(streams, selector)


if __name__ == "__main__":
    main()
