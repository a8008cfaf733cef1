"""Graceful shutdown of ``kernel serve`` on SIGTERM, in kube-apiserver's order.

ShutdownInitiated (/readyz fails, requests are still served) → --shutdown-delay-duration →
AfterShutdownDelayDuration → NotAcceptingNewRequest → the listener closes (at once, or once
drained with --shutdown-send-retry-after) → in-flight requests drain → pre-shutdown hooks → exit 0.

The log is the clock: a lifecycle signal's line is written just before its event is set, so a
request sent after the line appeared must see the new state.
"""

from __future__ import annotations

import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import Running, plugin_env

THINGS = "/apis/alpha.test.kernel.dev/v1/things"
READYZ = "/readyz?verbose"


def lifecycle_signals(log: str) -> list[str]:
    return re.findall(r"lifecycle signal (\w+)", log)


def logged(kernel: Running, signal_name: str) -> bool:
    return f"lifecycle signal {signal_name}" in kernel.log()


def wait_for_log(kernel: Running, signal_name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not logged(kernel, signal_name):
        assert time.monotonic() < deadline, f"{signal_name} never logged:\n{kernel.log()}"
        time.sleep(0.01)


@pytest.fixture
def start(kernel_process, test_plugins_path: str, tmp_path: Path) -> Callable[..., Running]:
    """Start ``kernel serve`` with test_alpha: a ?sleep= endpoint, and a pre-shutdown hook that
    records into tmp_path/record."""

    def start_kernel(*args: str) -> Running:
        return kernel_process("--plugins=test_alpha", "--storage-backend=alpha-dict", *args,
                              env=plugin_env(test_plugins_path,
                                             KERNEL_TEST_RECORD=str(tmp_path / "record")))

    return start_kernel


class SlowRequest(threading.Thread):
    """A request the handler answers after ``seconds``; it is in flight when SIGTERM comes."""

    def __init__(self, kernel: Running, seconds: float) -> None:
        super().__init__(daemon=True)
        self.kernel, self.seconds = kernel, seconds
        self.response: httpx.Response | None = None
        self.error: Exception | None = None
        self.start()
        time.sleep(0.5)  # let it reach the handler; if late, it still arrives during the delay

    def run(self) -> None:
        try:
            with self.kernel.client(timeout=60) as client:
                self.response = client.get(f"{THINGS}?sleep={self.seconds}")
        except Exception as error:  # reported by result()
            self.error = error

    def result(self) -> httpx.Response:
        self.join(60)
        assert self.error is None, repr(self.error)
        assert self.response is not None
        return self.response


@dataclass
class Poll:
    path: str
    after_initiated: bool  # ShutdownInitiated was in the log before the request was sent
    before_delay_end: bool  # AfterShutdownDelayDuration was not in the log once it returned
    status: int | None = None
    body: str = ""
    error: Exception | None = None


class Poller(threading.Thread):
    """Polls /readyz (HTTP/1.1, as load balancers do) and a normal request (HTTP/2) back to back
    until NotAcceptingNewRequest (or the process is gone)."""

    def __init__(self, kernel: Running) -> None:
        super().__init__(daemon=True)
        self.kernel = kernel
        self.polls: list[Poll] = []
        self.start()

    def run(self) -> None:
        with self.kernel.client() as probe, self.kernel.client(http2=True) as client:
            while (self.kernel.process.poll() is None
                   and not logged(self.kernel, "NotAcceptingNewRequest")):
                self.poll(probe, READYZ)
                self.poll(client, THINGS)

    def poll(self, client: httpx.Client, path: str) -> None:
        poll = Poll(path, logged(self.kernel, "ShutdownInitiated"), False)
        try:
            response = client.get(path)
            poll.status, poll.body = response.status_code, response.text
        except httpx.TransportError as error:
            poll.error = error
        poll.before_delay_end = not logged(self.kernel, "AfterShutdownDelayDuration")
        self.polls.append(poll)

    def result(self, path: str) -> list[Poll]:
        self.join(60)
        return [poll for poll in self.polls if poll.path == path]


def test_graceful_shutdown_in_kube_order(start: Callable[..., Running], tmp_path: Path) -> None:
    kernel = start("--shutdown-delay-duration=2s")
    poller = Poller(kernel)
    slow = SlowRequest(kernel, 3)  # outlasts the delay: it must be drained, not cut
    kernel.process.send_signal(signal.SIGTERM)

    assert kernel.process.wait(30) == 0, kernel.log()
    assert slow.result().status_code == 200

    readyz = poller.result(READYZ)
    assert any(p.status == 200 for p in readyz if not p.after_initiated)
    after = [p for p in readyz if p.after_initiated]
    assert after, "no /readyz poll after ShutdownInitiated"
    for poll in after:  # failing from the first poll on, and only because of the shutdown
        if poll.error is not None and not poll.before_delay_end:
            # Sent on a keep-alive connection just as the server closed it after the delay
            # (the listener is going away): never a 200, and never during the delay.
            assert isinstance(poll.error, httpx.RemoteProtocolError), poll
            continue
        assert poll.status == 500, poll
        assert re.findall(r"\[-\]\S+", poll.body) == ["[-]shutdown"], poll.body

    requests = poller.result(THINGS)
    during_delay = [p for p in requests if p.after_initiated and p.before_delay_end]
    assert during_delay, "no request was made during the shutdown delay"
    for poll in requests:
        if poll.before_delay_end:
            assert poll.error is None and poll.status == 200, poll

    log = kernel.log()
    # The listener closes at NotAcceptingNewRequest; the slow request drains after that.
    assert lifecycle_signals(log) == [
        "HasBeenReady", "ShutdownInitiated", "AfterShutdownDelayDuration", "NotAcceptingNewRequest",
        "HTTPServerStoppedListening", "InFlightRequestsDrained"]
    # Pre-shutdown hooks run while requests are still served (kube's order): the slow request
    # was in flight when the hook ran.
    assert (log.index("lifecycle signal ShutdownInitiated")
            < log.index("running pre-shutdown hook alpha-drain")
            < log.index("lifecycle signal NotAcceptingNewRequest"))
    ran = re.search(r"pre-shutdown hook alpha-drain ran; in flight (\d+)", (tmp_path / "record").read_text())
    assert ran and int(ran.group(1)) >= 1, "the hook should run while the slow request is in flight"


def test_new_connections_are_refused_once_the_listener_closed(start: Callable[..., Running]) -> None:
    kernel = start()
    slow = SlowRequest(kernel, 2)  # keeps the process draining after the listener closed
    kernel.process.send_signal(signal.SIGTERM)
    wait_for_log(kernel, "HTTPServerStoppedListening")

    host, port = kernel.url.removeprefix("https://").rsplit(":", 1)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=10).close()
    with kernel.client() as client, pytest.raises(httpx.ConnectError):
        client.get("/version")
    assert kernel.process.poll() is None  # refused by a live, draining server

    assert slow.result().status_code == 200
    assert kernel.process.wait(30) == 0, kernel.log()


def _assert_retry_after(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == "5"
    assert response.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "The apiserver is shutting down, please try again later.",
        "reason": "TooManyRequests", "details": {"retryAfterSeconds": 5}, "code": 429}


def test_send_retry_after_answers_429_while_draining(start: Callable[..., Running]) -> None:
    kernel = start("--shutdown-send-retry-after=true", "--shutdown-delay-duration=1s")
    slow = SlowRequest(kernel, 3)
    kernel.process.send_signal(signal.SIGTERM)
    wait_for_log(kernel, "NotAcceptingNewRequest")

    # The listener stays open until drained: new connections get 429 and are told to go away
    # (Connection: close on HTTP/1.1; on HTTP/2 the header is dropped and GOAWAY sent instead).
    with kernel.client() as client:
        response = client.get(THINGS)
    _assert_retry_after(response)
    assert response.headers["connection"] == "close"
    with kernel.client(http2=True) as client:
        response = client.get(THINGS)
    assert response.http_version == "HTTP/2"
    _assert_retry_after(response)
    assert slow.is_alive() and not logged(kernel, "InFlightRequestsDrained")

    assert slow.result().status_code == 200
    assert kernel.process.wait(30) == 0, kernel.log()
    assert lifecycle_signals(kernel.log()) == [
        "HasBeenReady", "ShutdownInitiated", "AfterShutdownDelayDuration", "NotAcceptingNewRequest",
        "InFlightRequestsDrained", "HTTPServerStoppedListening"]


def test_second_sigterm_during_the_delay_exits_at_once(start: Callable[..., Running]) -> None:
    kernel = start("--shutdown-delay-duration=60s")
    kernel.process.send_signal(signal.SIGTERM)
    wait_for_log(kernel, "ShutdownInitiated")
    kernel.process.send_signal(signal.SIGTERM)
    # A hang guard, far below the 60 s delay a graceful exit would take.
    assert kernel.process.wait(10) != 0
    log = kernel.log()
    assert "received SIGTERM again: exiting immediately" in log
    assert "AfterShutdownDelayDuration" not in log


def test_watches_end_cleanly_at_shutdown_and_do_not_hold_the_drain(kernel_process) -> None:
    """A watch is long-running: it is served through the delay, then ends cleanly (a complete
    chunked response) when the server stops accepting requests, and exit is not held up by it."""
    kernel = kernel_process("--shutdown-delay-duration=1s", "--request-timeout=30s")
    lines: list[str] = []
    outcome: dict[str, object] = {}

    def watch() -> None:
        with kernel.client(timeout=httpx.Timeout(30)) as client:
            try:
                with client.stream("GET", "/api/v1/namespaces/default/configmaps",
                                   params={"watch": "true", "timeoutSeconds": "600"}) as response:
                    outcome["status"] = response.status_code
                    for line in response.iter_lines():
                        lines.append(line)
                outcome["ended"] = "cleanly"
            except httpx.HTTPError as error:  # a cut connection instead of a complete response
                outcome["ended"] = repr(error)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with kernel.client() as client:
        deadline = time.monotonic() + 10
        while outcome.get("status") != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        kernel.process.send_signal(signal.SIGTERM)
        wait_for_log(kernel, "ShutdownInitiated")
        # During the delay the watch still delivers events.
        assert client.post("/api/v1/namespaces/default/configmaps",
                           json={"metadata": {"name": "during-delay"}}).status_code == 201
    watcher.join(timeout=20)
    assert outcome.get("ended") == "cleanly", outcome
    assert any('"during-delay"' in line and '"ADDED"' in line for line in lines), lines
    assert kernel.process.wait(20) == 0
    log = kernel.log()
    # Ended at NotAcceptingNewRequest, long before the 30 s drain bound would have cut it.
    signals = lifecycle_signals(log)
    assert signals[-3] == "NotAcceptingNewRequest"
    assert set(signals[-2:]) == {"HTTPServerStoppedListening", "InFlightRequestsDrained"}


STUCK_TEARDOWN = """
import sys, threading
import kernel.cli

kernel.cli.EXIT_TIMEOUT = 1.0
# A non-daemon thread that never ends: the interpreter's teardown waits for it forever.
threading.Thread(target=threading.Event().wait, name="never-ends").start()
sys.exit(kernel.cli.main())
"""


def test_a_teardown_that_hangs_after_the_server_stopped_still_ends_the_process(
        kernel_process, tmp_path: Path) -> None:
    # kube's process ends with its server; a thread left behind by a library must not keep this
    # one (and a --workers supervisor waiting for it) alive: past kernel.cli.EXIT_TIMEOUT every
    # thread's stack goes to the log and the process exits 1.
    wrapper = tmp_path / "stuck.py"
    wrapper.write_text(STUCK_TEARDOWN)
    kernel = kernel_process("--plugins=api_core,storage_memory", command=(sys.executable, str(wrapper)))
    kernel.process.send_signal(signal.SIGTERM)
    assert kernel.process.wait(timeout=30) == 1
    log = kernel.log()
    stopped = log.index("server stopped")
    # The dump: the watchdog's line, then the stacks, the main thread's in the teardown's join.
    assert log.index("Timeout (0:00:01)!") > stopped, log[-3000:]
    assert re.search(r'File ".*threading.py", line \d+ in _shutdown', log), log[-3000:]
