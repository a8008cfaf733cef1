"""kube's URL library (library/urls.go), with Go's url.ParseRequestURI rules approximated:
an absolute URL (``scheme:...``) or an absolute path."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .. import opaque
from ..decls import fn, glob, member

U = "kubernetes.URL"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def request_uri_error(text: str) -> str | None:
    """Go's ``url.ParseRequestURI(text)`` error text, None when it parses."""
    if not text or not (_SCHEME.match(text) or text.startswith("/")):
        return f'parse "{text}": invalid URI for request'
    if any(ord(c) < 0x20 or c == "\x7f" for c in text):
        return f'parse "{text}": net/url: invalid control character in URL'
    return None


def _to_url(text: str) -> Any:
    error = request_uri_error(text)
    if error:
        raise ValueError(f"URL parse error during conversion from string: {error}")
    return opaque.new(U, value=text)


def _split(url: Any) -> Any:
    return urlsplit(url.value)


def _hostname(url: Any) -> str:
    host = _split(url).netloc.rsplit("@", 1)[-1]
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host[1:]
    return host.rsplit(":", 1)[0] if ":" in host else host


def _port(url: Any) -> str:
    host = _split(url).netloc.rsplit("@", 1)[-1]
    if host.startswith("["):
        rest = host[host.find("]") + 1:] if "]" in host else ""
        return rest[1:] if rest.startswith(":") else ""
    return host.rsplit(":", 1)[1] if ":" in host else ""


def _is_url(text: str) -> bool:
    return request_uri_error(text) is None


FUNCTIONS = [
    fn("url", glob("string_to_url", "string", U, _to_url)),
    fn("getScheme", member("url_get_scheme", U, "string", lambda u: _split(u).scheme)),
    fn("getHost", member("url_get_host", U, "string", lambda u: _split(u).netloc.rsplit("@", 1)[-1])),
    fn("getHostname", member("url_get_hostname", U, "string", _hostname)),
    fn("getPort", member("url_get_port", U, "string", _port)),
    fn("getEscapedPath", member("url_get_escaped_path", U, "string", lambda u: _split(u).path)),
    fn("getQuery", member("url_get_query", U, "map(string, list(string))",
                          lambda u: parse_qs(_split(u).query, keep_blank_values=True))),
    fn("isURL", glob("is_url_string", "string", "bool", _is_url)),
]
