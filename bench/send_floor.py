"""The least a watch event's delivery can cost a Python server: encrypt the event's bytes for
each watcher's TLS connection and send them on its loopback TCP socket, in a plain loop, with
nothing else (no HTTP framing, no watch cache, no event loop).

``bench/fanout.py`` runs this in each round, pinned to the servers' core like the kernel, so its
one-write fan-out can be read against what the machine allows: deliveries/s can be no higher
than 1 ÷ (TLS + send) per watcher. The reader (a subprocess on ``--reader-cpu``) reads every
socket with epoll and drops the bytes, as the watch client reads (but without decrypting).

Each watcher's TLS session is real (TLS 1.3, handshaken over memory BIOs with a client context
in this process), so every record is encrypted with its own keys, as the kernel's are.

    python bench/send_floor.py [--watchers 1000] [--size 700] [--rounds 30] [--reader-cpu 1]

Prints one JSON line: CPU µs per watcher (median of the rounds) for the send alone, the TLS
encryption alone, and both.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

READER = """
import select, socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
poll = select.epoll()
by_fd = {}
for s in sockets:
    s.setblocking(False)
    poll.register(s.fileno(), select.EPOLLIN)
    by_fd[s.fileno()] = s
print("ready", flush=True)
while True:
    for fd, _ in poll.poll():
        try:
            by_fd[fd].recv(65536)
        except BlockingIOError:
            pass
"""


def _contexts(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "send-floor")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    (directory / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "tls.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(directory / "tls.crt", directory / "tls.key")
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    return server, client


def _session(server: ssl.SSLContext, client: ssl.SSLContext) -> tuple[ssl.SSLObject, ssl.MemoryBIO]:
    """A handshaken server-side TLS object and the BIO its records come out of."""
    s_in, s_out, c_in, c_out = (ssl.MemoryBIO() for _ in range(4))
    ours = server.wrap_bio(s_in, s_out, server_side=True)
    theirs = client.wrap_bio(c_in, c_out)
    for _ in range(10):
        for end in (theirs, ours):
            try:
                end.do_handshake()
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    return ours, s_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--size", type=int, default=700, help="bytes of one event, as sent")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--reader-cpu", type=int, help="pin the reader to this CPU")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="send-floor-") as tmp:
        server_context, client_context = _contexts(Path(tmp))
    sessions = [_session(server_context, client_context) for _ in range(args.watchers)]
    listener = socket.create_server(("127.0.0.1", 0), backlog=args.watchers)
    pin = ["taskset", "-c", str(args.reader_cpu)] if args.reader_cpu is not None else []
    reader = subprocess.Popen(
        [*pin, sys.executable, "-c", READER, str(listener.getsockname()[1]), str(args.watchers)],
        stdout=subprocess.PIPE)
    try:
        connections = [listener.accept()[0] for _ in range(args.watchers)]
        for connection in connections:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as the kernel's
            connection.setblocking(False)
        if reader.stdout is None or reader.stdout.readline().strip() != b"ready":
            raise SystemExit("the reader did not start")
        data = os.urandom(args.size)
        pairs = list(zip(connections, sessions))
        per: dict[str, list[float]] = {"send_us": [], "tls_us": [], "tls_send_us": []}
        for _ in range(args.rounds):  # interleaved, so drift affects all three alike
            start = time.thread_time()
            for connection in connections:
                connection.send(data)
            per["send_us"].append(time.thread_time() - start)
            time.sleep(0.02)
            start = time.thread_time()
            for tls, out in sessions:
                tls.write(data)
                out.read()
            per["tls_us"].append(time.thread_time() - start)
            start = time.thread_time()
            for connection, (tls, out) in pairs:
                tls.write(data)
                connection.send(out.read())
            per["tls_send_us"].append(time.thread_time() - start)
            time.sleep(0.02)
    finally:
        reader.kill()
        reader.wait()
    print(json.dumps({key: round(statistics.median(values) / args.watchers * 1e6, 2)
                      for key, values in per.items()}))


if __name__ == "__main__":
    main()
