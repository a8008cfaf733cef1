"""OpenAPI v3 (/openapi/v3, /openapi/v3/<path>) and v2 (/openapi/v2), generated from the groups.

Serving follows kube-openapi's handlers: the v3 index lists each document with ``?hash=<etag>``;
a request carrying the current hash is cacheable forever (``public, immutable``), a stale hash is
redirected to the current URL, and every answer has an ETag honoured by If-None-Match. Like
kube-openapi's lazy handlers, nothing is generated until it is asked for: each document is
generated and encoded on its first request and kept for the service's set of groups (a change
to the groups makes a new service: kernel.server.apigroups). The generators (v3, v2, v2proto)
are imported on that first request too, so a server nobody asks for OpenAPI does not hold them.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from kernel.endpoints.apigroup import APIGroup
from kernel.apimachinery import status
from kernel.endpoints.discovery import Encoded, Mountable, etag_of, parse_accept, send_document
from kernel.endpoints.openapi.index import document_keys
from kernel.endpoints.request import Handler, Request
from kernel.version import version_info

if TYPE_CHECKING:
    from kernel.endpoints.openapi.v3 import Document

__all__ = ["EncodedDocuments", "OpenAPIService", "document_keys", "install_openapi", "meta",
           "meta_schemas", "openapi_routes", "v2", "v2_form", "v2proto", "v3"]

#: What the generator modules' names resolve to on first use (``from kernel.endpoints.openapi
#: import v3`` still works: Python imports the submodule).
_LAZY = {"meta": "kernel.endpoints.openapi.meta", "v2": "kernel.endpoints.openapi.v2",
         "v2proto": "kernel.endpoints.openapi.v2proto", "v3": "kernel.endpoints.openapi.v3"}

# v2proto's, kept here so negotiating does not import the encoder (a test checks they match).
V2_PROTOBUF_SUBTYPES = ("com.github.proto-openapi.spec.v2@v1.0+protobuf",
                        "com.github.proto-openapi.spec.v2.v1.0+protobuf")
V2_PROTOBUF_MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(_LAZY[name])
    if name == "meta_schemas":
        return importlib.import_module(_LAZY["meta"]).meta_schemas
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


ONE_YEAR = 365 * 24 * 3600


def json_acceptable(accept: str) -> bool:
    """Whether the client takes JSON; the protobuf forms of the documents are not served."""
    for media in parse_accept(accept):
        if media.matches("application", "json"):
            return True
    return False


def v2_form(accept: str) -> str | None:
    """``json`` or ``protobuf``: the first of the client's media ranges (in preference order)
    that one of them matches, as kube-openapi picks; None when neither is acceptable."""
    for media in parse_accept(accept or "*/*"):
        if media.matches("application", "json"):
            return "json"
        if media.type == "application" and media.subtype in V2_PROTOBUF_SUBTYPES:
            return "protobuf"
    return None


def not_acceptable() -> status.StatusError:
    return status.StatusError(406, "NotAcceptable",
                              "only the following media types are accepted: application/json")


class EncodedDocuments(Mapping[str, Encoded]):
    """The v3 documents by index key, each generated and encoded on first access and kept."""

    def __init__(self, groups: tuple[APIGroup, ...], version: str) -> None:
        self.groups = groups
        self.version = version
        self.keys_in_order = document_keys(groups)
        self._known = frozenset(self.keys_in_order)
        self._built: dict[str, Encoded] = {}

    def __getitem__(self, key: str) -> Encoded:
        doc = self._built.get(key)
        if doc is None:
            if key not in self._known:
                raise KeyError(key)
            self.build(key)
            doc = self._built[key]
        return doc

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys_in_order)

    def __len__(self) -> int:
        return len(self.keys_in_order)

    def build(self, *keys: str) -> None:
        """Generate and encode ``keys`` (every missing one when none are named) in one pass."""
        from kernel.endpoints.openapi import v3

        missing = [key for key in (keys or self.keys_in_order) if key not in self._built]
        if missing:
            self.keep(v3.build_documents(self.groups, self.version, missing))

    def keep(self, documents: Mapping[str, Document]) -> None:
        """Encode and keep those of ``documents`` (generated for another use) not kept yet."""
        for key, doc in documents.items():
            if key not in self._built:
                self._built[key] = Encoded.of(doc)


class OpenAPIService:
    """The documents of one set of groups, generated on first request, and their handlers."""

    def __init__(self, groups: Iterable[APIGroup], version: str = "unversioned") -> None:
        self.version = version
        self.groups = tuple(groups)
        self.encoded = EncodedDocuments(self.groups, version)

    @property
    def documents(self) -> dict[str, Document]:
        """Every v3 document, generated now (for inspection: serving keeps only the bytes)."""
        from kernel.endpoints.openapi import v3

        return v3.build_documents(self.groups, self.version)

    def hash(self, key: str) -> str:
        return self.encoded[key].etag.strip('"')

    def url(self, key: str) -> str:
        return f"/openapi/v3/{key}?{urlencode({'hash': self.hash(key)})}"

    @cached_property
    def index(self) -> Encoded:
        """The index names every document's hash, so it needs all of them (built in one pass)."""
        self.encoded.build()
        return Encoded.of({"paths": {key: {"serverRelativeURL": self.url(key)}
                                     for key in sorted(self.encoded)}})

    def _swagger_document(self) -> Document:
        from kernel.endpoints.openapi import v2

        documents = self.documents
        # Generating is most of the cost and encoding little: keep the v3 bytes, a client that
        # reads v2 (kubectl validating a List) reads v3 too.
        self.encoded.keep(documents)
        return v2.build_document(documents.values(), self.version)

    @cached_property
    def swagger(self) -> Encoded:
        """The v2 document (only old clients and apply ask for it)."""
        return Encoded.of(self._swagger_document())

    async def serve_index(self, request: Request) -> None:
        await send_document(request, self.index.body, self.index.etag)

    def document_handler(self, key: str) -> Handler:
        async def handler(request: Request) -> None:
            if not json_acceptable(request.headers.get("accept", "")):
                await request.respond_error(not_acceptable())
                return
            doc = self.encoded[key]
            wanted = request.query_value("hash")
            if wanted and wanted != self.hash(key):
                await request.respond(301, b"", b"text/plain; charset=utf-8",
                                      [(b"location", self.url(key).encode())])
                return
            if wanted:
                import email.utils  # only here: an idle server need not load the email package

                expires = email.utils.formatdate(time.time() + ONE_YEAR, usegmt=True)
                headers = [(b"cache-control", b"public, immutable"),
                           (b"expires", expires.encode())]
            else:
                headers = [(b"cache-control", b"no-cache, private")]
            await send_document(request, doc.body, doc.etag, headers=headers)
        return handler

    @cached_property
    def swagger_protobuf(self) -> tuple[bytes, str]:
        """The v2 document as gnostic's protobuf (kubectl's client-side validation asks for it)."""
        from kernel.endpoints.openapi import v2proto

        body = v2proto.encode_document(self._swagger_document())
        return body, etag_of(body)

    async def serve_v2(self, request: Request) -> None:
        form = v2_form(request.headers.get("accept", ""))
        if form == "protobuf":
            body, etag = self.swagger_protobuf
            await send_document(request, body, etag, content_type=V2_PROTOBUF_MEDIA_TYPE.encode())
        elif form == "json":
            await send_document(request, self.swagger.body, self.swagger.etag)
        else:
            await request.respond_error(not_acceptable())

    def routes(self) -> dict[str, Handler]:
        """Every path → its handler; nothing is generated until a handler runs."""
        routes: dict[str, Handler] = {"/openapi/v3": self.serve_index, "/openapi/v2": self.serve_v2}
        for key in self.encoded:
            routes[f"/openapi/v3/{key}"] = self.document_handler(key)
        return routes


def openapi_routes(groups: Iterable[APIGroup], version: str = "unversioned") -> dict[str, Handler]:
    """Every OpenAPI path → its handler, for ``server.non_resource.update(...)``."""
    return OpenAPIService(groups, version).routes()


def install_openapi(server: Mountable) -> OpenAPIService:
    """Mount /openapi/v2 and /openapi/v3 for the server's groups (prepare_run)."""
    service = OpenAPIService(server.api_groups.values(), version_info()["gitVersion"])
    server.non_resource.update(service.routes())
    return service
