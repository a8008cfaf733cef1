"""Request.headers (case-insensitive lookups) against the plain lower-cased dict it replaced.

Times, with kubectl's headers: a request's header handling as the pipeline does it for a kubectl
GET (build, read ``authorization``, strip it, read ``accept``), before and now; and the lookups
alone (``get`` of present and absent names), plain dict against ``Headers``. No assertions.

    .venv/bin/python bench/headers.py
"""

from __future__ import annotations

import timeit

from kernel.endpoints.request import Headers, Request

SCOPE_HEADERS = [
    (b"host", b"127.0.0.1:6443"),
    (b"user-agent", b"kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd"),
    (b"accept", b"application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;"
                b"v=v1beta1;g=meta.k8s.io,application/json"),
    (b"authorization", b"Bearer 0123456789abcdef0123456789abcdef0123456789a"),
    (b"kubectl-command", b"kubectl get"),
    (b"kubectl-session", b"6bc5e1d2-6b2c-4b57-8f4d-bb0e7c3f2a11"),
    (b"accept-encoding", b"gzip"),
]
LOOKUPS = ("authorization", "accept", "content-type", "if-none-match")


class PlainRequest(Request):
    """Request.headers as it was before case-insensitive lookups: a plain lower-cased dict."""

    __slots__ = ()

    @property
    def headers(self) -> dict[str, str]:  # type: ignore[override]
        if self._headers is None:
            headers: dict[str, str] = {}
            for raw_name, raw_value in self.scope["headers"]:
                name = raw_name.decode("latin-1").lower()
                value = raw_value.decode("latin-1")
                headers[name] = f"{headers[name]},{value}" if name in headers else value
            self._headers = headers  # type: ignore[assignment]
        return self._headers  # type: ignore[return-value]


def plain_request() -> None:
    """Before: authentication dropped the cache, so the headers were built twice."""
    request = PlainRequest({"headers": SCOPE_HEADERS}, None, None)  # type: ignore[arg-type]
    request.headers.get("authorization")
    request.scope["headers"] = [(k, v) for k, v in request.scope["headers"]
                                if k.lower() != b"authorization"]
    request._headers = None
    request.headers.get("accept")


def kernel_request() -> None:
    """Now: built once, Authorization removed in place (Request.remove_header)."""
    request = Request({"headers": SCOPE_HEADERS}, None, None)  # type: ignore[arg-type]
    request.headers.get("authorization")
    request.remove_header("authorization")
    request.headers.get("accept")


def lookups(headers: dict[str, str]) -> None:
    for name in LOOKUPS:
        headers.get(name)


def best_ns(funcs: list, number: int = 20000, rounds: int = 15) -> list[float]:
    """The best of ``rounds`` interleaved timings of each function (the machine is shared)."""
    best = [float("inf")] * len(funcs)
    for _ in range(rounds):
        for i, func in enumerate(funcs):
            best[i] = min(best[i], timeit.timeit(func, number=number) / number * 1e9)
    return best


if __name__ == "__main__":
    headers = dict(PlainRequest({"headers": SCOPE_HEADERS}, None, None).headers)  # type: ignore[arg-type]
    ci_headers = Headers(headers)
    base, ours, plain_get, ci_get = best_ns([
        plain_request, kernel_request, lambda: lookups(headers), lambda: lookups(ci_headers)])
    print(f"request, before (plain dict, built twice): {base:6.0f} ns")
    print(f"request, now (Headers, built once):        {ours:6.0f} ns  ({ours / base:.2f}x)")
    n = len(LOOKUPS)
    print(f"get, plain dict:                           {plain_get / n:6.0f} ns")
    print(f"get, Headers:                              {ci_get / n:6.0f} ns  "
          f"(+{(ci_get - plain_get) / n:.0f} ns)")
