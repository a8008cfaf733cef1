"""``kernel serve --workers=N``: N server processes on one port and one storage backend.

The parent ran options → validate → complete once (certificates, service account keys and the
loopback credentials exist before any worker starts). It then binds the port (SO_REUSEPORT,
not listening: this holds the port and resolves ``--secure-port=0``), and starts each worker by
re-executing ``kernel serve`` with the same flags (no fork after trio started). A worker reads
from its socketpair what must be the same in every worker (loopback token and uid, the port,
its index), runs complete again (it finds the parent's files), then serves on its own
SO_REUSEPORT socket with its own watch caches and informers, and reports ``ready``.

Supervision, as a kube admin expects of a supervisor (kubelet, systemd):

- SIGTERM or SIGINT to the parent is forwarded as SIGTERM to every worker; each drains as a
  single server does, and the parent exits once all have (0 if every worker exited 0). A second
  signal is forwarded too, and a worker getting its second signal exits at once.
- A worker that exits before it served (bad configuration, storage unreachable at startup and
  the worker gave up, port taken) stops the others and the parent exits 1: that is a failed start.
- A worker that dies after it served is logged with its exit status and restarted, with a back-off
  (1 s doubling up to 30 s; reset once a worker has run 60 s); the other workers keep serving.
- Workers run in their own process group (a terminal's Ctrl-C reaches only the parent, which
  forwards it once); a worker whose supervisor died (its end of the socketpair closes) shuts
  down gracefully.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Any

import msgspec
import trio

from kernel.server.genericapiserver import APIServer, ListenError, listen_address, run
from kernel.server.options import Options
from kernel.server.tls import bind_reuse_port

log = logging.getLogger("kernel")

#: The environment variable naming a worker's end of its socketpair (its file descriptor).
WORKER_SOCKET_ENV = "KERNEL_WORKER_SOCKET"
READY = b"ready\n"
RESTART_BACKOFF = 1.0
RESTART_BACKOFF_MAX = 30.0
#: A worker that ran this long before dying restarts after RESTART_BACKOFF again.
RESTART_BACKOFF_RESET = 60.0


class WorkerSpec(msgspec.Struct):
    """What the parent hands a worker: the values every worker must share."""

    index: int
    port: int
    loopback_token: str
    loopback_uid: str


# -- the worker side ----------------------------------------------------------------------------

def worker_channel() -> socket.socket | None:
    """This process's socketpair end if it is a worker (``kernel serve`` re-executed by the
    supervisor), else None."""
    fd = os.environ.pop(WORKER_SOCKET_ENV, None)
    if fd is None:
        return None
    return socket.socket(fileno=int(fd))


def read_spec(channel: socket.socket) -> WorkerSpec:
    data = b""
    while not data.endswith(b"\n"):
        chunk = channel.recv(4096)
        if not chunk:
            raise SystemExit("kernel worker: the supervisor closed the channel before the spec")
        data += chunk
    return msgspec.json.decode(data, type=WorkerSpec)


def apply_spec(options: Options, spec: WorkerSpec) -> None:
    """Make this worker's completed options the supervisor's where they must agree."""
    options.secure_port = spec.port
    # A loopback request may land on any worker: they all accept the same credentials.
    options.loopback_token = spec.loopback_token
    options.loopback_uid = spec.loopback_uid
    options.worker_index = spec.index
    if spec.index != 0:  # one writer for the kubeconfig
        options.write_kubeconfig = ""


class _WorkerLogPrefix(logging.Filter):
    """``[worker N]`` before each message, so that the workers' interleaved logs tell apart."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.prefix = f"[worker {index}] "

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "_worker_prefixed", False):
            record.msg = self.prefix + str(record.msg)
            record._worker_prefixed = True
        return True


def label_logs(index: int) -> None:
    """Prefix every log line of this worker (the handlers logs.setup installed)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(_WorkerLogPrefix(index))


async def run_worker(server: APIServer, spec: WorkerSpec, channel: socket.socket) -> None:
    """Serve as :func:`run` does; tell the supervisor once serving, and shut down gracefully
    if the supervisor goes away (its end of the channel closes) so no worker outlives it."""
    pid = os.getpid()
    server.metrics.add_callback_gauge(
        "kernel_worker_pid", "The process id of the --workers process that answered this scrape, "
        "by worker index.", "worker", lambda: [(str(spec.index), pid)])
    sock = trio.socket.from_stdlib_socket(channel)
    async with trio.open_nursery() as watcher:
        watcher.start_soon(_shutdown_when_orphaned, server, sock)
        async with trio.open_nursery() as serving:
            await serving.start(run, server)
            log.info("serving as worker %d (pid %d)", spec.index, pid)
            await sock.send(READY)
        watcher.cancel_scope.cancel()


async def _shutdown_when_orphaned(server: APIServer, sock: trio.socket.SocketType) -> None:
    while await sock.recv(64):
        pass
    log.warning("the --workers supervisor is gone: shutting down")
    server.shutdown()


# -- the supervisor side ------------------------------------------------------------------------

class Supervisor:
    def __init__(self, argv: Sequence[str], options: Options, sock: socket.socket) -> None:
        self.argv = list(argv)
        self.options = options
        self.port = sock.getsockname()[1]
        self.processes: dict[int, trio.Process] = {}
        self.stopping = False
        self.failed = False
        self.exit_codes: dict[int, int] = {}

    def command(self) -> list[str]:
        return [sys.executable, "-c", "import sys; from kernel.command import main; sys.exit(main())",
                "serve", *self.argv]

    def stop(self, signum: int = signal.SIGTERM) -> None:
        self.stopping = True
        for process in self.processes.values():
            if process.returncode is None:
                try:
                    process.send_signal(signum)
                except ProcessLookupError:
                    pass

    async def watch_signals(self) -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as received:
            async for signum in received:
                log.info("received %s: stopping %d workers", signal.Signals(signum).name,
                         len(self.processes))
                self.stop()

    async def keep_worker(self, index: int) -> None:
        """Run worker ``index``, restarting it when it dies after having served."""
        backoff = RESTART_BACKOFF
        while not self.stopping:
            started = trio.current_time()
            served, code = await self.run_once(index)
            if self.stopping:
                self.exit_codes[index] = code
                return
            if not served:
                log.error("worker %d exited %s before serving: stopping the others",
                          index, _describe(code))
                self.failed = True
                self.stop()
                return
            if trio.current_time() - started >= RESTART_BACKOFF_RESET:
                backoff = RESTART_BACKOFF
            log.error("worker %d exited %s; restarting it in %gs", index, _describe(code), backoff)
            await trio.sleep(backoff)
            backoff = min(backoff * 2, RESTART_BACKOFF_MAX)

    async def run_once(self, index: int) -> tuple[bool, int]:
        """Start worker ``index``, wait for it to exit: (whether it served, its return code)."""
        parent, child = socket.socketpair()
        served = False
        try:
            env = {**os.environ, WORKER_SOCKET_ENV: str(child.fileno())}
            process = await trio.lowlevel.open_process(
                self.command(), env=env, pass_fds=(child.fileno(),), process_group=0)
            child.close()
            self.processes[index] = process
            spec = WorkerSpec(index, self.port, self.options.loopback_token,
                              self.options.loopback_uid)
            try:
                parent.sendall(msgspec.json.encode(spec) + b"\n")
            except OSError:  # it died at once: its exit status tells why
                pass
            if self.stopping:  # a signal came while it was starting
                process.send_signal(signal.SIGTERM)
            channel = trio.socket.from_stdlib_socket(parent)
            async with trio.open_nursery() as nursery:
                async def wait_ready() -> None:
                    nonlocal served
                    try:
                        served = await channel.recv(len(READY)) == READY
                    except OSError:  # it exited without reading its spec: reset
                        pass
                nursery.start_soon(wait_ready)
                await process.wait()
                nursery.cancel_scope.cancel()
            if not served:  # it may have said so just before exiting
                try:
                    served = parent.recv(len(READY)) == READY
                except OSError:  # nothing there (non-blocking), or reset
                    pass
            return served, process.returncode
        finally:
            child.close()
            parent.close()


def _describe(code: int) -> str:
    if code < 0:
        return f"on signal {signal.Signals(-code).name}"
    return f"with code {code}"


async def _supervise(supervisor: Supervisor, workers: int) -> None:
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(supervisor.watch_signals)
            async with trio.open_nursery() as children:
                for index in range(workers):
                    children.start_soon(supervisor.keep_worker, index)
            nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):  # no worker outlives the supervisor
            for process in supervisor.processes.values():
                if process.returncode is None:
                    process.kill()
                    await process.wait()


def serve(argv: Sequence[str], options: Options) -> int:
    """Run ``options.workers`` workers of ``kernel serve argv``; the exit code of the whole."""
    try:
        # Held (bound, never listening) until the workers are gone: the port stays ours.
        sock = bind_reuse_port(options.bind_address, options.secure_port)
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise ListenError(f"failed to listen on "
                          f"{listen_address(options.bind_address, options.secure_port)}: {reason}") from error
    with sock:
        supervisor = Supervisor(argv, options, sock)
        log.info("starting %d workers on port %d", options.workers, supervisor.port)
        trio.run(_supervise, supervisor, options.workers)
    if supervisor.failed:
        return 1
    # Killed by the forwarded SIGTERM before its handler was installed (still starting): asked to.
    bad = {index: code for index, code in supervisor.exit_codes.items()
           if code not in (0, -signal.SIGTERM)}
    if bad:
        log.error("workers exited with errors: %s",
                  ", ".join(f"{index}: {_describe(code)}" for index, code in sorted(bad.items())))
        return 1
    log.info("all workers stopped")
    return 0

