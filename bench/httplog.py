"""The request log filter's cost at -v=0, now that it is always installed (so that
``PUT /debug/flags/v`` can turn request lines on at runtime).

Times a request through a do-nothing handler three ways: without the filter (as at -v=0 before),
with it at -v=0 (one cached ``isEnabledFor`` and one extra coroutine frame), and with it at -v=2
writing to a null handler (the cost of a logged request). No assertions.

    .venv/bin/python bench/httplog.py
"""

from __future__ import annotations

import logging
import time

import trio

from kernel import logs
from kernel.server.filters.httplog import with_http_logging
from kernel.endpoints.request import Request

N = 200_000
SCOPE = {"type": "http", "method": "GET", "path": "/api/v1/namespaces/default/configmaps",
         "raw_path": b"/api/v1/namespaces/default/configmaps", "query_string": b"limit=5",
         "headers": [(b"user-agent", b"kubectl/v1.32.4")], "client": ("127.0.0.1", 50000)}


async def handler(request: Request) -> None:
    request.status = 200


async def per_request(chain, n: int) -> float:
    request = Request(SCOPE, None, None)  # type: ignore[arg-type]
    start = time.perf_counter()
    for _ in range(n):
        await chain(request)
    return (time.perf_counter() - start) / n


async def main() -> None:
    logging.getLogger().handlers[:] = [logging.NullHandler()]
    logs.set_verbosity(0)
    bare = await per_request(handler, N)
    filtered = await per_request(with_http_logging(handler), N)
    logs.set_verbosity(2)
    logged = await per_request(with_http_logging(handler), N // 10)
    logs.set_verbosity(0)
    print(f"no filter (before, -v=0):      {bare * 1e9:8.0f} ns/request")
    print(f"filter installed, -v=0:        {filtered * 1e9:8.0f} ns/request "
          f"(+{(filtered - bare) * 1e9:.0f} ns)")
    print(f"filter installed, -v=2 logged: {logged * 1e9:8.0f} ns/request")


if __name__ == "__main__":
    trio.run(main)
