"""HTTPS serving on Hypercorn's trio worker, with what kube's serving does that Hypercorn lacks.

1. The verified TLS client certificate in the ASGI scope (``scope["extensions"]["tls"]``):
   Hypercorn 0.18 does not provide it. :class:`PeerCertTCPServer` completes the handshake, reads
   the peer certificate and hands it to the connection's protocol, which puts it in every scope.
2. Graceful HTTP/2 GOAWAY as Go's net/http2 sends it (:mod:`kernel.server.http2`): NO_ERROR
   naming the last stream the connection will serve; streams up to it are answered, later ones
   ignored (clients retry them elsewhere), and the connection closes once its streams are done.
   It is sent for a response with ``Connection: close`` (kube's --shutdown-send-retry-after),
   for a request sampled by --goaway-chance, when the connection has been idle for the
   keep-alive timeout, and at shutdown.
3. No per-connection request cap: Hypercorn's ``keep_alive_max_requests`` (1000) closed long-lived
   kubectl and informer connections; kube has none.
4. Slow clients: a request's header must arrive within --read-header-timeout's equivalent (kube
   hardcodes Go's ReadHeaderTimeout, 32 s) of its first byte, so slowloris connections are dropped;
   bodies and responses have no read deadline (watches), as in kube.
5. kube's shutdown order: stop listening at NotAcceptingNewRequest (or once drained, with
   --shutdown-send-retry-after), close idle keep-alive connections, then give connections with
   requests in flight until the drain deadline. ``hypercorn.trio.serve`` has a single trigger
   for all of that, so :func:`serve` composes Hypercorn's connection handling itself. Drain means
   every request the server read is answered: an HTTP/1.1 connection whose next request is already
   in the socket is not idle, a response started while shutting down says ``Connection: close``,
   and HTTP/2 connections get GOAWAY (Hypercorn's shutdown path dropped both; its protocol code
   therefore sees a context that never terminates, see :class:`_ConnectionContext`).
6. Connections that end while responses are still being sent (a client killed during a watch,
   a dropped network) end their requests: the app's next send returns and its ``receive`` says
   ``http.disconnect`` (Hypercorn's HTTP/2 left the app waiting in send forever, keeping its
   task, the connection and its socket). Once a connection's reader has ended, the idle timer
   is not restarted (Hypercorn's held an HTTP/1.1 connection whose client left mid-response for
   the keep-alive timeout).
7. Per-response cost: a response with a Content-Length leaves in one TLS record and one write,
   where Hypercorn wrote the head, the body and (HTTP/2) the END_STREAM each on its own; and the
   idle timer is one task per connection whose deadline requests move, where Hypercorn started
   a task after every response (:meth:`PeerCertTCPServer.protocol_send`).
8. The protocols are the kernel's own, chosen by ALPN: HTTP/1.1 parsed by httptools
   (:class:`kernel.server.http1.HTTP1Protocol`) in place of Hypercorn's h11-based protocol, and
   HTTP/2 framed by the kernel (:class:`kernel.server.http2.HTTP2Protocol`, with its own HPACK)
   in place of Hypercorn's ``H2Protocol``, its per-request layers and h2's state machine;
   together they were most of what was left of a small request's serving cost. The connection around them (TLS, timeouts, drain)
   stays Hypercorn's ``TCPServer``, extended here.

The TLS side (certificates, reloadable client CAs, listeners) is :mod:`kernel.server.tls`.

Pinned to hypercorn==0.18.0; tests/test_httpserver.py guards each of these behaviours.
"""

from __future__ import annotations

import logging
import math
import select
import ssl
import sys
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import trio

from kernel.server import hypercornimports  # noqa: F401  (first: defers what is not used)
from hypercorn.config import Config
from hypercorn.events import Closed, Event, RawData, Updated
from hypercorn.trio.task_group import TaskGroup
from hypercorn.trio.tcp_server import MAX_RECV, TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState
from hypercorn.utils import parse_socket_addr

from kernel.server import tlswrite
from kernel.server.http1 import HTTP1Protocol

if TYPE_CHECKING:
    from kernel.server.http2 import HTTP2Protocol

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]

# -- kube's serving settings (k8s.io/apiserver secure_serving.go, Go net/http, x/net/http2) -----------

IDLE_TIMEOUT = 90.0  # http.Server and http2.Server IdleTimeout: http.DefaultTransport's keep-alive
READ_HEADER_TIMEOUT = 32.0  # http.Server.ReadHeaderTimeout, "just shy of requestTimeoutUpperBound"
MAX_HEADER_BYTES = 1 << 20  # http.Server.MaxHeaderBytes
# x/net/http2 sizes its header-list limit from MaxHeaderBytes plus 32 bytes for each of 10 fields.
HTTP2_MAX_HEADER_LIST_SIZE = MAX_HEADER_BYTES + 10 * 32
# --http2-max-streams-per-connection=0 means 100 since kube 1.29 (CVE-2023-44487): the limit Go's
# HTTP/2 client assumes, so a client can open no more streams than it would by default.
DEFAULT_HTTP2_MAX_STREAMS = 100
# x/net/http2 goAwayTimeout: after GOAWAY and the last stream, wait before closing so the client
# reads the GOAWAY first (closing with unread input makes the kernel send RST, which can destroy it).
GOAWAY_CLOSE_DELAY = 1.0
# Go's rstAvoidanceDelay (closeWriteAndWait): an HTTP/1.1 connection closed while the client is
# still sending a body (a 413) stays open this long, its input discarded, so the close is not an
# RST that destroys the response before the client reads it.
CLOSE_WAIT_FOR_UNREAD_BODY = 0.5
# resourceBody99Percentile: HTTP/2's MaxReadFrameSize and MaxUploadBufferPerStream, so most POSTs
# fit in one frame and one window; the connection window is that times the stream limit.
HTTP2_FRAME_AND_STREAM_WINDOW = 256 * 1024


class ServingConfig(Config):
    """Hypercorn's Config plus the two settings it has no field for."""

    read_header_timeout: float = READ_HEADER_TIMEOUT
    goaway_chance: float = 0.0  # the probability of GOAWAY after an HTTP/2 request


def hypercorn_config(*, http2_max_streams: int = 0, goaway_chance: float = 0.0,
                     idle_timeout: float = IDLE_TIMEOUT,
                     read_header_timeout: float = READ_HEADER_TIMEOUT) -> ServingConfig:
    """Every Hypercorn setting that matters here, set to what kube's serving does."""
    config = ServingConfig()
    config.keep_alive_timeout = idle_timeout
    # kube has no cap on requests per connection; Hypercorn's 1000 sent GOAWAY mid-use.
    config.keep_alive_max_requests = sys.maxsize
    # No ReadTimeout in kube (a watch or slow upload may take long); headers are bounded instead.
    config.read_timeout = None
    config.read_header_timeout = read_header_timeout
    # Go bounds the TLS handshake by the smallest read/write timeout: ReadHeaderTimeout.
    config.ssl_handshake_timeout = read_header_timeout
    config.h11_max_incomplete_size = MAX_HEADER_BYTES  # request line + headers, else 431
    config.h2_max_header_list_size = HTTP2_MAX_HEADER_LIST_SIZE
    config.h2_max_concurrent_streams = http2_max_streams or DEFAULT_HTTP2_MAX_STREAMS
    config.h2_max_inbound_frame_size = HTTP2_FRAME_AND_STREAM_WINDOW
    config.include_server_header = False  # kube sends no Server header
    config.goaway_chance = goaway_chance
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")  # app crashes reach our log
    return config


class _ConnectionContext:
    """The worker context as Hypercorn's protocol code sees it: never terminated.

    Hypercorn's reaction to termination loses requests: HTTP/1.1 closes a connection that looks
    idle even with its next request already in the socket, and HTTP/2 resets new streams and sends
    h2's final GOAWAY, after which the streams in flight cannot be answered.
    :class:`PeerCertTCPServer` drains instead, watching ``shutting_down``.
    """

    def __init__(self, context: WorkerContext) -> None:
        self._context = context
        self.shutting_down = context.terminated
        self.terminated = context.event_class()  # never set

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class _IdleTask:
    """Hypercorn's TrioSingleTask (the connection's idle timer, which ``TCPServer.run`` starts
    and :meth:`PeerCertTCPServer._read_data` stops) without its lock and ``nursery.start``, which
    waits for the task to run: the timer now runs once per connection (requests move its
    deadline, :meth:`PeerCertTCPServer.protocol_send`), and a stop before it runs cancels it
    before its first checkpoint."""

    def __init__(self) -> None:
        self._scope: trio.CancelScope | None = None

    async def restart(self, task_group: Any, action: Callable[[], Awaitable[None]]) -> None:
        if self._scope is not None:
            self._scope.cancel()
        scope = self._scope = trio.CancelScope()

        async def run() -> None:
            with scope:
                await action()

        task_group.spawn(run)

    async def stop(self) -> None:
        if self._scope is not None:
            self._scope.cancel()
            self._scope = None


class PeerCertTCPServer(TCPServer):
    """One connection: Hypercorn's TCPServer plus the client certificate, graceful GOAWAY,
    header timeouts and a drain that answers every request it read (module docstring)."""

    context: _ConnectionContext
    config: ServingConfig

    def __init__(self, app: Any, config: Config, context: _ConnectionContext, state: Any,
                 stream: trio.SSLStream[trio.SocketStream]) -> None:
        super().__init__(app, config, context, state, stream)  # type: ignore[arg-type]
        self.idle_task = _IdleTask()  # type: ignore[assignment]
        self.shutting_down = context.shutting_down
        self._http2: HTTP2Protocol | None = None
        self._served = False  # a request has been received on this connection
        # The idle and header timeouts (see _idle_timeout): a request (HTTP/2: a stream) is being
        # served; the first bytes of the next HTTP/1.1 request arrived; the scope whose deadline
        # is the next timeout; an event set when the connection turns busy or idle.
        self._busy = False
        self._request_started = False
        self._timer = trio.CancelScope(deadline=trio.current_time() + config.read_header_timeout)
        self._busy_changed: trio.Event | None = None
        self._reader_done = False  # no more requests can arrive (EOF or a broken connection)
        self._watcher = trio.CancelScope()
        self._http1: HTTP1Protocol | None = None
        self._tls: dict[str, Any] | None = None  # the TLS scope extension, once handshaken
        self.direct = tlswrite.DirectWriter.of(stream, self.send_lock)  # the watch cache's writes

    def _start_protocol(self, task_group: TaskGroup) -> None:
        """The connection's protocol, by ALPN (Hypercorn's ``ProtocolWrapper`` built an h11
        protocol for every connection, and imported h11 for it)."""
        tls = isinstance(self.stream, trio.SSLStream)
        alpn = self.stream.selected_alpn_protocol() if tls else None
        socket = self.stream.transport_stream.socket if tls else self.stream.socket  # type: ignore[attr-defined]
        client = parse_socket_addr(socket.family, socket.getpeername())
        server = parse_socket_addr(socket.family, socket.getsockname())
        if alpn == "h2":
            from kernel.server.http2 import HTTP2Protocol  # with hpack's tables: on first use

            config = self.config
            self._http2 = HTTP2Protocol(
                self.app, self, tls=self._tls, client=client, server=server,
                send=self.protocol_send, max_concurrent_streams=config.h2_max_concurrent_streams,
                max_header_list_size=config.h2_max_header_list_size,
                frame_and_window=config.h2_max_inbound_frame_size,
                goaway_chance=config.goaway_chance)
            self.protocol = self._http2  # type: ignore[assignment]
            task_group.spawn(self._go_away_at_shutdown)
        else:
            self._http1 = HTTP1Protocol(self.app, self, tls=self._tls, client=client,
                                        server=server, send=self.protocol_send,
                                        max_header_bytes=self.config.h11_max_incomplete_size)
            self.protocol = self._http1  # type: ignore[assignment]

    async def go_away(self) -> None:
        """HTTP/2: send GOAWAY (once no response is being sent), then close once the streams it
        names are done."""
        if self._http2 is not None:
            await self._http2.request_go_away()

    async def _go_away_at_shutdown(self) -> None:
        # Busy HTTP/2 connections learn of the shutdown at once (Go's Shutdown does the same);
        # idle ones are handled by _idle_timeout, which also watches shutting_down.
        with self._watcher:
            await self.shutting_down.wait()
            await self.go_away()

    async def protocol_send(self, event: Event) -> None:
        if not isinstance(event, Updated):
            await super().protocol_send(event)
            return
        if self._reader_done or (self._http2 is not None and self._http2.closed):
            # The connection is over (Hypercorn still starts the next keep-alive cycle when a
            # response ends after the client left): no idle timer may hold it open. Its remaining
            # streams end by themselves, then the connection closes.
            return
        # Hypercorn restarts a timer task whenever the connection turns idle and cancels it when
        # a request comes; here the timer is one task for the connection's life, and this moves
        # its deadline: a task per request cost a small GET a quarter of its CPU.
        self._busy = not event.idle
        self._request_started = False
        if self._busy:
            self._served = True
            self._timer.deadline = math.inf
        elif self._http2 is not None and self._http2.go_away_requested:
            self._timer.deadline = trio.current_time()  # its last stream is done: close
        else:
            self._timer.deadline = trio.current_time() + self.config.keep_alive_timeout
        if self._busy_changed is not None:
            self._busy_changed.set()
            self._busy_changed = None

    async def _read_data(self) -> None:
        # Hypercorn's loop, without its read_timeout (kube has none) and noting the first bytes
        # of a request on an idle HTTP/1.1 connection, from which the header timeout runs.
        while True:
            try:
                data = await self.stream.receive_some(MAX_RECV)
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                break
            if not self._busy and not self._request_started:  # HTTP/1.1: the header timeout
                self._request_started = True
                self._timer.deadline = min(self._timer.deadline,
                                           trio.current_time() + self.config.read_header_timeout)
            await self.protocol.handle(RawData(bytes(data)))
            if data == b"":
                break
        self._reader_done = True
        await self.protocol.handle(Closed())
        # The connection is over: end the tasks that would otherwise outlive it (Hypercorn's idle
        # task would wait out the keep-alive timeout, holding the connection's task group).
        self._watcher.cancel()
        await self.idle_task.stop()

    async def _idle_timeout(self) -> None:
        """The connection's idle and header timeouts, for its whole life (started once by
        Hypercorn's ``TCPServer.run``): it closes the connection once idle for the keep-alive
        timeout (the header timeout before its first request), when an HTTP/1.1 request's header
        is slower than the header timeout from its first byte (a slowloris client), or when it is
        idle at shutdown. Requests move the deadline (see :meth:`protocol_send`)."""
        if self._http2 is not None:
            await self._http2_timeouts()
        elif not await self._http1_timeouts():
            return
        with trio.CancelScope(shield=True):
            await self._initiate_server_close()

    async def _until_busy_changes(self) -> None:
        self._busy_changed = trio.Event()
        await self._busy_changed.wait()

    async def _http1_timeouts(self) -> bool:
        """Whether to close the connection (else its response closes it)."""
        with self._timer:
            await self.shutting_down.wait()
            if self._busy:
                return False  # its response says Connection: close, and the connection closes
            if self._request_started or self._input_pending():
                # A request is arriving: served if its header comes within the header timeout.
                self._timer.deadline = min(self._timer.deadline,
                                           trio.current_time() + self.config.read_header_timeout)
                await self._until_busy_changes()
                return False
        return not self._busy

    async def _http2_timeouts(self) -> None:
        """Returns once the connection is to close, after a graceful GOAWAY."""
        http2 = self._http2
        assert http2 is not None
        with self._timer:
            await self.shutting_down.wait()
            while self._busy:  # GOAWAY went out at shutdown: its streams end first
                await self._until_busy_changes()
        if http2.last_stream_id is None:
            await http2.request_go_away()  # as Go's idle timer does: graceful
            await http2.goaway_sent.wait()  # after the last stream's END_STREAM
        await trio.sleep(GOAWAY_CLOSE_DELAY)

    def spawn(self, task: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run ``task`` in the connection's task group (it ends with the connection)."""
        self._task_group.spawn(task, *args)

    async def connection_broken(self) -> None:
        """A write found the client gone: end the connection as Hypercorn's own send would."""
        async with self.send_lock:
            await self.protocol.handle(Closed())

    def request_body_unread(self) -> bool:
        """HTTP/1.1: the request's body has not all arrived (the response comes first, e.g. a
        413), so the connection cannot be reused."""
        return self._http1 is not None and self._http1.request_body_unread()

    async def _close(self) -> None:
        if self.request_body_unread():
            await trio.sleep(CLOSE_WAIT_FOR_UNREAD_BODY)  # the reader goes on discarding input
        await super()._close()

    def _input_pending(self) -> bool:
        """Whether bytes have arrived that the reader task has not handed to the protocol yet:
        in the socket, as a partial TLS record, or as decrypted data. Such a connection is not
        idle: closing it would drop a request the client already sent."""
        stream = self.stream
        if stream.pending() or getattr(getattr(stream, "_incoming", None), "pending", 0):
            return True
        fd = stream.transport_stream.socket.fileno()
        if fd < 0:
            return False  # already closed: nothing more can arrive
        poll = select.poll()
        poll.register(fd, select.POLLIN)
        return bool(poll.poll(0))

    async def run(self) -> None:
        tls = None
        if isinstance(self.stream, trio.SSLStream):
            try:
                with trio.fail_after(self.config.ssl_handshake_timeout):
                    await self.stream.do_handshake()
            except (trio.BrokenResourceError, trio.TooSlowError):
                await self.stream.aclose()
                return  # bad or untrusted certificate, or a client that never finished
            der = self.stream.getpeercert(binary_form=True)
            tls = {"client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
                   "tls_version": None, "cipher_suite": None}
        self._tls = tls
        # Hypercorn's TCPServer.run from here, the protocol chosen by _start_protocol.
        try:
            async with TaskGroup() as task_group:
                self._task_group = task_group
                self._start_protocol(task_group)
                await self.protocol.initiate()
                await self.idle_task.restart(task_group, self._idle_timeout)
                await self._read_data()
        except OSError:
            pass
        except Exception:
            # A fault in one connection's handling ends that connection, not the server (Go's
            # server recovers each connection's panics too).
            logging.getLogger("hypercorn.error").exception("error serving a connection")
        finally:
            await self._close()


async def serve(
    app: ASGIApp,
    listeners: Sequence[trio.abc.Listener[trio.SSLStream[trio.SocketStream]]],
    *,
    stop_listening: Callable[[], Awaitable[None]],
    drain_timeout: float,
    on_stopped_listening: Callable[[], None],
    config: ServingConfig | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``listeners`` until ``stop_listening`` returns, then drain connections.

    Returns once every connection closed or ``drain_timeout`` seconds after listening stopped.
    """
    config = config or hypercorn_config()
    context = WorkerContext(None)
    connection = partial(PeerCertTCPServer, app, config, _ConnectionContext(context),
                         ConnectionState({}))
    async with trio.open_nursery() as connections:
        async with trio.open_nursery() as accepting:
            accepting.start_soon(partial(trio.serve_listeners, connection, list(listeners),
                                         handler_nursery=connections))
            task_status.started()
            await stop_listening()
            accepting.cancel_scope.cancel()
        for listener in listeners:
            await listener.aclose()
        on_stopped_listening()
        # Idle keep-alive connections close now, HTTP/2 ones after GOAWAY; the others once
        # their requests are answered.
        await context.terminated.set()
        connections.cancel_scope.deadline = trio.current_time() + drain_timeout

