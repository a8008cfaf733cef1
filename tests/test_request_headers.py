"""Request.headers: stored lower-cased, looked up in any case (plugins write "X-Api-Key")."""

from __future__ import annotations

import pytest

from kernel.endpoints.request import Request


def request(*headers: tuple[bytes, bytes]) -> Request:
    return Request({"headers": list(headers)}, None, None)  # type: ignore[arg-type]


def test_lookups_take_any_case_and_storage_stays_lower_case():
    headers = request((b"X-Api-Key", b"k1"), (b"accept", b"application/json")).headers
    assert headers["X-Api-Key"] == headers["x-api-key"] == headers["X-API-KEY"] == "k1"
    assert headers.get("X-Api-Key") == "k1" and headers.get("Accept") == "application/json"
    assert "X-Api-Key" in headers and "ACCEPT" in headers
    assert list(headers) == ["x-api-key", "accept"]


def test_missing_headers_are_missing_in_any_case():
    headers = request((b"accept", b"*/*")).headers
    assert headers.get("X-Api-Key") is None and headers.get("X-Api-Key", "") == ""
    assert "X-Api-Key" not in headers and 1 not in headers
    with pytest.raises(KeyError):
        headers["X-Api-Key"]
    with pytest.raises(KeyError):
        headers["x-api-key"]


def test_repeated_headers_are_joined_and_remove_header_drops_every_copy():
    req = request((b"Warning", b"a"), (b"warning", b"b"), (b"Authorization", b"Bearer t"))
    assert req.headers["Warning"] == "a,b"
    built = req.headers
    req.remove_header("authorization")
    assert req.headers is built  # not rebuilt
    assert "Authorization" not in req.headers
    assert req.scope["headers"] == [(b"Warning", b"a"), (b"warning", b"b")]
