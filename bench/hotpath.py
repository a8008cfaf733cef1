"""The kernel's own CPU per GET, LIST of 100 and CREATE: the full filter chain and handler called
in process as an ASGI app, no sockets, TLS or HTTP parsing (those are bench/api.py's floor).

Builds ``kernel serve --plugins=api_core,storage_memory`` (or ``--plugins``) in this process (the real server:
options, plugins, watch caches, started with ``run``), fills it as bench/api.py does, then calls
the ASGI app with the headers wrk sends (admin bearer token, JSON) and a ``send`` that keeps
nothing. Reports CPU µs per request (``time.process_time``, median of ``--rounds``), which a
shared machine disturbs much less than req/s; with ``--profile VERB`` it prints cProfile's top
functions for that verb instead.

    python bench/hotpath.py [--requests 3000] [--rounds 5] [--profile get|list|create] [--plugins P]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).parent))
from api import CONFIGMAP, CREATE_NAMESPACE, LIST_SIZE, NAMESPACE  # noqa: E402

from kernel import app  # noqa: E402

PLUGINS = "api_core,storage_memory"
from kernel.server.genericapiserver import create_server_chain, prepare_run, run  # noqa: E402


def build(workdir: Path, plugins: str = PLUGINS) -> Any:
    argv = ["--secure-port=0", "--bind-address=127.0.0.1", f"--cert-dir={workdir / 'certs'}",
            f"--data-dir={workdir / 'data'}", f"--plugins={plugins}"]
    run_options = app.build_options(argv)
    options, errors = app.parse(run_options, argv)
    errors += app.validate(run_options, options)
    if errors:
        raise SystemExit("; ".join(errors))
    app.complete(run_options, options)
    return prepare_run(create_server_chain(options, run_options.plugins))


class Caller:
    """Calls the server's ASGI app as Hypercorn would, for one request shape."""

    def __init__(self, server: Any, method: str, path: str, token: str) -> None:
        self.server, self.method, self.path = server, method, path
        self.headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode()),
                        (b"accept", b"application/json"), (b"content-type", b"application/json")]
        self.status = 0

    async def __call__(self, body: bytes = b"") -> int:
        headers = list(self.headers)
        if body:
            headers.append((b"content-length", str(len(body)).encode()))
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": self.method, "scheme": "https", "path": self.path,
                 "raw_path": self.path.encode(), "query_string": b"", "root_path": "",
                 "headers": headers, "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 6443)}
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await trio.sleep_forever()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]

        await self.server(scope, receive, send)
        return self.status


async def measure(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-hotpath-") as tmp:
        server = build(Path(tmp), args.plugins)
        async with trio.open_nursery() as nursery:
            await nursery.start(lambda task_status: run(server, handle_signals=False,
                                                        task_status=task_status))
            token = server.options.loopback_token
            collection = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
            namespaces = Caller(server, "POST", "/api/v1/namespaces", token)
            for name in (NAMESPACE, CREATE_NAMESPACE):
                await namespaces(json.dumps({"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": name}}).encode())
            fill = Caller(server, "POST", collection, token)
            for i in range(LIST_SIZE):
                assert await fill((CONFIGMAP % f"cm-{i}").encode()) == 201
            get = Caller(server, "GET", f"{collection}/cm-0", token)
            listing = Caller(server, "GET", collection, token)
            create = Caller(server, "POST", f"/api/v1/namespaces/{CREATE_NAMESPACE}/configmaps", token)
            counter = iter(range(10**9))

            async def one(verb: str) -> int:
                if verb == "create":
                    return await create((CONFIGMAP % f"c-{next(counter)}").encode())
                return await (get if verb == "get" else listing)()

            verbs = {"get": args.requests, "list": max(args.requests // 10, 50), "create": args.requests}
            if args.only:
                verbs = {args.only: verbs[args.only]}
            if args.profile:
                profile = cProfile.Profile(time.process_time)  # CPU: the machine is shared
                profile.enable()
                for _ in range(verbs[args.profile]):
                    await one(args.profile)
                profile.disable()
                stats = pstats.Stats(profile)
                stats.sort_stats("tottime").print_stats(25)
                stats.sort_stats("cumulative").print_stats(40)
            else:
                results: dict[str, list[float]] = {verb: [] for verb in verbs}
                for verb, count in verbs.items():  # warm-up
                    for _ in range(count // 10):
                        assert await one(verb) in (200, 201)
                for _ in range(args.rounds):  # interleaved rounds
                    for verb, count in verbs.items():
                        started = time.process_time()
                        for _ in range(count):
                            await one(verb)
                        results[verb].append((time.process_time() - started) / count * 1e6)
                calls: dict[str, float] = {}
                for verb in verbs:  # deterministic, unlike CPU time on a shared machine
                    profile = cProfile.Profile()
                    profile.enable()
                    for _ in range(200):
                        await one(verb)
                    profile.disable()
                    calls[verb] = pstats.Stats(profile).total_calls / 200  # type: ignore[attr-defined]
                print(f"kernel's own CPU per request, in process (µs; median of {args.rounds} "
                      f"rounds, min, max), and Python function calls per request:")
                for verb, values in results.items():
                    print(f"  {verb:6} {statistics.median(values):8.1f}  min {min(values):7.1f}  "
                          f"max {max(values):7.1f}  calls {calls[verb]:6.0f}")
            server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=("get", "list", "create"), help="measure one verb")
    parser.add_argument("--profile", choices=("get", "list", "create"))
    parser.add_argument("--plugins", default=PLUGINS,
                        help=f"the server's --plugins (default {PLUGINS}; every API group: "
                             "one watch cache per resource)")
    trio.run(measure, parser.parse_args())


if __name__ == "__main__":
    main()
