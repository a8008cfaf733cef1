"""One request and its response as the ASGI app sees them: the ``receive`` and ``send`` that
:mod:`kernel.server.http1` and :mod:`kernel.server.http2` hand it, over their own framing.

The protocol feeds the request body in (``chunks``, ``body_complete``, :meth:`Exchange.wake`);
the app reads it, then ``http.disconnect`` once the response is over or the client is gone.
What the app sends is checked for order and handed to the protocol's :meth:`Exchange._start`
and :meth:`Exchange._body`; once the client is gone what it still sends is dropped (a watch
whose client left returns at its next event).
"""

from __future__ import annotations

from typing import Any

import trio


class Exchange:
    """The state both protocols keep per request, and the ASGI calls over it."""

    __slots__ = ("scope", "chunks", "body_complete", "final_sent", "waiter", "started", "complete",
                 "disconnected")

    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope
        self.chunks: list[bytes] = []  # body received and not yet read by the app
        self.body_complete = False
        self.final_sent = False  # the app has been given the body's end
        self.waiter: trio.Event | None = None  # the app waiting in receive()
        self.started = False
        self.complete = False  # the response ended (or the request did)
        self.disconnected = False  # the client is gone (or reset the stream)

    def wake(self) -> None:
        """Something the app may be waiting for in ``receive`` happened."""
        if self.waiter is not None:
            self.waiter.set()
            self.waiter = None

    async def receive(self) -> dict[str, Any]:
        while True:
            if self.chunks:
                chunks = self.chunks
                body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                self.chunks = []
                self.final_sent = self.body_complete
                await self._taken()
                return {"type": "http.request", "body": body, "more_body": not self.body_complete}
            if self.body_complete and not self.final_sent:
                self.final_sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            if self.disconnected or self.complete:
                return {"type": "http.disconnect"}
            if await self._before_waiting():
                continue
            self.waiter = trio.Event()
            await self.waiter.wait()

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            if not self.started:
                raise RuntimeError("http.response.body before http.response.start")
            if self.complete:
                if self.disconnected:
                    return  # the client is gone: nothing more is sent
                raise RuntimeError("http.response.body after the response's end")
            await self._body(message.get("body", b""), message.get("more_body", False))
        elif kind == "http.response.start":
            if self.started:
                raise RuntimeError("http.response.start sent twice")
            status = int(message["status"])
            if status < 200:
                return  # informational responses are not relayed (as Hypercorn did)
            await self._start(status, message.get("headers", ()))

    # -- the protocol's part -----------------------------------------------------------------

    async def _taken(self) -> None:
        """The app has just read what had arrived of the body."""

    async def _before_waiting(self) -> bool:
        """Before the app waits for body: True to look again (something was done)."""
        return False

    async def _start(self, status: int, headers: Any) -> None:
        raise NotImplementedError

    async def _body(self, body: bytes, more: bool) -> None:
        raise NotImplementedError
