"""Hypercorn's HTTP/2 protocol with kube's limits and the graceful GOAWAY of Go's net/http2.

Used by :class:`kernel.server.httpserver.PeerCertTCPServer` for every HTTP/2 connection; see that
module's docstring for why each change is needed (pinned to hypercorn==0.18.0).
"""

from __future__ import annotations

from typing import Any

import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import trio
from hypercorn.events import Closed, Event, RawData
from hypercorn.protocol.events import Event as StreamEvent, Response
from hypercorn.protocol.h2 import H2Protocol
from hyperframe.frame import GoAwayFrame


class GracefulH2Protocol(H2Protocol):
    """Hypercorn's HTTP/2 protocol with kube's limits and Go's graceful GOAWAY."""

    def __init__(self, *args: Any, shutting_down: Any) -> None:
        super().__init__(*args)
        self.shutting_down = shutting_down
        self.go_away_requested = False
        self.last_stream_id: int | None = None  # set once GOAWAY is sent
        self.goaway_sent = trio.Event()
        config = self.config
        # Hypercorn advertises MAX_FRAME_SIZE and windows at h2's defaults (16 KiB, 64 KiB) and
        # leaves h2's header-list limit at 64 KiB whatever it advertises: set kube's values. The
        # stream window is the frame size (HTTP2_FRAME_AND_STREAM_WINDOW in httpserver).
        self.connection.local_settings = h2.settings.Settings(client=False, initial_values={
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: config.h2_max_concurrent_streams,
            h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: config.h2_max_header_list_size,
            h2.settings.SettingCodes.MAX_FRAME_SIZE: config.h2_max_inbound_frame_size,
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: config.h2_max_inbound_frame_size,
        })
        self.connection.max_inbound_frame_size = config.h2_max_inbound_frame_size
        self.connection.decoder.max_header_list_size = config.h2_max_header_list_size
        self._holding = False  # _flush leaves h2's output for the next one (see _send_data)
        self._held_headers: dict[int, list[tuple[bytes, bytes]]] = {}  # see stream_send

    async def initiate(self, headers: Any = None, settings: Any = None) -> None:
        await super().initiate(headers, settings)
        # The connection window: the stream window times the stream limit (kube's
        # MaxUploadBufferPerConnection); h2 starts it at 64 KiB.
        window = self.config.h2_max_inbound_frame_size * self.config.h2_max_concurrent_streams
        self.connection.increment_flow_control_window(window - 65535)
        await self._flush()

    async def request_go_away(self) -> None:
        """Send GOAWAY once no response is being sent (at once if none is).

        Go sends it at once; waiting for the stream in flight to end matters to clients built on
        the h2 library (httpx): h2 fails a connection's streams on any frame after a GOAWAY.
        """
        self.go_away_requested = True
        if not self.stream_buffers:
            await self._go_away()

    async def _go_away(self) -> None:
        """Send GOAWAY(NO_ERROR) naming the highest stream received so far: it and all below it
        are answered; later streams are refused. h2's ``close_connection`` cannot be used: it
        moves the connection to CLOSED, so the streams in flight could no longer be answered."""
        if self.last_stream_id is not None or self.closed:
            return
        self.last_stream_id = self.connection.highest_inbound_stream_id
        frame = GoAwayFrame(0)
        frame.last_stream_id = self.last_stream_id
        frame.error_code = h2.errors.ErrorCodes.NO_ERROR
        await self._flush()  # frames h2 already queued go first
        await self.send(RawData(data=frame.serialize()))
        self.goaway_sent.set()

    async def stream_send(self, event: StreamEvent) -> None:
        if isinstance(event, Response) and any(name.lower() == b"content-length"
                                               for name, _ in event.headers):
            # The whole body follows at once: its HEADERS go out with the first DATA frame (see
            # _send_data). Hypercorn flushes the headers, the data and the END_STREAM each on its
            # own: three TLS records and three writes for a small response, one here. (The
            # headers as Hypercorn's stream_send makes them.)
            self._held_headers[event.stream_id] = [(b":status", b"%d" % event.status_code),
                                                   *event.headers,
                                                   *self.config.response_headers("h2")]
            return
        await super().stream_send(event)

    def _send_held_headers(self, stream_id: int) -> None:
        headers = self._held_headers.pop(stream_id, None)
        if headers is not None:
            try:
                self.connection.send_headers(stream_id, headers)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                pass  # the stream or connection has closed: nothing more is sent on it

    async def _flush(self) -> None:
        if not self._holding:
            await super()._flush()

    async def _send_data(self, stream_id: int) -> None:
        # Held headers, a DATA frame and the END_STREAM after it leave in one write (nothing in
        # Hypercorn's _send_data awaits anything but the flushes held here).
        self._send_held_headers(stream_id)
        self._holding = True
        try:
            await super()._send_data(stream_id)
        finally:
            self._holding = False
        await self._flush()
        if self.go_away_requested and not self.stream_buffers:  # the last END_STREAM went out
            await self._go_away()

    async def _close_stream(self, stream_id: int) -> None:
        # A response that ended without its body still gets its headers, as from Hypercorn.
        if stream_id in self._held_headers:
            self._send_held_headers(stream_id)
            await self._flush()
        await super()._close_stream(stream_id)

    async def handle(self, event: Event) -> None:
        await super().handle(event)
        if isinstance(event, Closed):
            # The connection ended (EOF, a failed write or a server close): Hypercorn stops its
            # sender but leaves each stream's buffer open, so a response still being sent (a
            # watch of a killed `kubectl get -w`) would wait in send forever, holding its task,
            # the connection and its socket. Closing the buffers makes those sends return.
            for buffer in list(self.stream_buffers.values()):
                await buffer.close()

    async def _handle_events(self, events: list[h2.events.Event]) -> None:
        if self.shutting_down.is_set() and not self.go_away_requested:
            # Shutdown began before this connection's watcher ran: these streams were read, so
            # they are served and the GOAWAY will name them.
            self.go_away_requested = True
        if self.last_stream_id is not None:
            events = self._refuse_new_streams(events)
        await super()._handle_events(self._drop_data_of_finished_streams(events))

    def _drop_data_of_finished_streams(self, events: list[h2.events.Event]) -> list[h2.events.Event]:
        """Body data still arriving for a stream already answered (e.g. with 413) is discarded
        with its flow-control credit returned; Hypercorn raised KeyError on it, which ended the
        connection's task group and with it the server's. (Go also sends RST_STREAM(NO_ERROR)
        to stop the upload; httpx then waits forever for flow control, so the client may finish
        sending instead and read the 413.)"""
        kept = []
        for event in events:
            if isinstance(event, h2.events.DataReceived) and event.stream_id not in self.streams:
                self.connection.acknowledge_received_data(event.flow_controlled_length,
                                                          event.stream_id)
            else:
                kept.append(event)
        return kept

    def _refuse_new_streams(self, events: list[h2.events.Event]) -> list[h2.events.Event]:
        """Ignore streams above the GOAWAY's last stream id, as Go does: the GOAWAY, which the
        client reads first, tells it they were not processed, so it retries them on another
        connection. (An RST_STREAM after GOAWAY would make the h2 library, hence httpx, fail
        the whole connection instead.) Their data's flow-control credit is returned."""
        last, kept = self.last_stream_id or 0, []
        for event in events:
            stream_id = getattr(event, "stream_id", None) or 0
            if stream_id <= last or stream_id % 2 == 0:
                kept.append(event)
            elif isinstance(event, h2.events.DataReceived):
                self.connection.acknowledge_received_data(event.flow_controlled_length, stream_id)
        return kept
