"""Helpers for the REST-semantics tests (test_rest_*.py), whose ``api``/``start_api`` fixtures
are in tests/conftest.py: kube's ``metav1.Status`` checks and watch streams read line by line,
with timeouts only as hang guards (HANG_GUARD), never as speed assertions.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import trio

from conftest import HANG_GUARD

CM = "/api/v1/namespaces/{ns}/configmaps"
SECRETS = "/api/v1/namespaces/{ns}/secrets"
NAMESPACES = "/api/v1/namespaces"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def assert_status(response: httpx.Response, code: int, reason: str, message: str | None = None,
                  details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A failure ``metav1.Status`` as kube writes it; returns the body."""
    assert response.status_code == code, response.text
    assert response.headers["content-type"] == "application/json", response.headers
    body = response.json()
    assert body["kind"] == "Status" and body["apiVersion"] == "v1", body
    assert body["status"] == "Failure" and body["code"] == code and body["reason"] == reason, body
    assert "metadata" in body, body
    if message is not None:
        assert body["message"] == message, body
    if details is not None:
        assert body.get("details") == details, body
    return body


class WatchStream:
    """The events of one watch response, decoded line by line."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, timeout: float = HANG_GUARD) -> dict[str, Any]:
        with trio.fail_after(timeout):
            while True:
                line = await self._lines.__anext__()
                if line.strip():
                    return json.loads(line)

    async def take(self, count: int) -> list[dict[str, Any]]:
        return [await self.next() for _ in range(count)]

    async def rest(self, timeout: float = HANG_GUARD) -> list[dict[str, Any]]:
        """Every remaining event until the server ends the stream."""
        events = []
        with trio.fail_after(timeout):
            async for line in self._lines:
                if line.strip():
                    events.append(json.loads(line))
        return events


class open_watch:
    """``async with open_watch(client, path, params) as stream``: a watch request, streamed."""

    def __init__(self, client: httpx.AsyncClient, path: str, params: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self._context = client.stream("GET", path, params={"watch": "true", **(params or {})},
                                      headers=headers)

    async def __aenter__(self) -> WatchStream:
        with trio.fail_after(HANG_GUARD):
            response = await self._context.__aenter__()
        assert response.status_code == 200, (await response.aread()).decode()
        return WatchStream(response)

    async def __aexit__(self, *exc: Any) -> None:
        await self._context.__aexit__(*exc)


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["metadata"]["name"] for item in items]


def events(stream_events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"].get("name", "")) for e in stream_events]


async def aiter_pages(client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    while True:
        response = await client.get(path, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        yield page
        token = page["metadata"].get("continue")
        if not token:
            return
        params = {**params, "continue": token}
