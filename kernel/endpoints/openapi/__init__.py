"""OpenAPI v3 (/openapi/v3, /openapi/v3/<path>) and v2 (/openapi/v2), generated from the groups.

Serving follows kube-openapi's handlers: the v3 index lists each document with ``?hash=<etag>``;
a request carrying the current hash is cacheable forever (``public, immutable``), a stale hash is
redirected to the current URL, and every answer has an ETag honoured by If-None-Match. Documents
are generated and encoded once per set of groups (kernel.server.apigroups builds them again
when a group is added or removed while serving).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import cached_property
from urllib.parse import urlencode

from kernel.endpoints.apigroup import APIGroup
from kernel.apimachinery import status
from kernel.endpoints.discovery import Encoded, Mountable, etag_of, parse_accept, send_document
from kernel.endpoints.openapi import meta, v2, v2proto, v3
from kernel.endpoints.openapi.meta import meta_schemas
from kernel.endpoints.request import Handler, Request
from kernel.version import version_info

__all__ = ["OpenAPIService", "install_openapi", "meta", "meta_schemas", "openapi_routes", "v2", "v2_form", "v2proto",
           "v3"]

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
        if media.type == "application" and media.subtype in v2proto.SUBTYPES:
            return "protobuf"
    return None


def not_acceptable() -> status.StatusError:
    return status.StatusError(406, "NotAcceptable",
                              "only the following media types are accepted: application/json")


class OpenAPIService:
    """The encoded documents of one set of groups, and the handlers serving them."""

    def __init__(self, groups: Iterable[APIGroup], version: str = "unversioned") -> None:
        self.version = version
        self.documents = v3.build_documents(groups, version)
        self.encoded = {key: Encoded.of(doc) for key, doc in self.documents.items()}
        self.index = Encoded.of({"paths": {key: {"serverRelativeURL": self.url(key)}
                                           for key in sorted(self.encoded)}})

    def hash(self, key: str) -> str:
        return self.encoded[key].etag.strip('"')

    def url(self, key: str) -> str:
        return f"/openapi/v3/{key}?{urlencode({'hash': self.hash(key)})}"

    @cached_property
    def swagger(self) -> Encoded:
        """The v2 document, built on first use (only old clients and apply ask for it)."""
        return Encoded.of(v2.build_document(self.documents.values(), self.version))

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
                import email.utils  # the email package is ~0.4 MB an idle server does not need
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
        body = v2proto.encode_document(v2.build_document(self.documents.values(), self.version))
        return body, etag_of(body)

    async def serve_v2(self, request: Request) -> None:
        form = v2_form(request.headers.get("accept", ""))
        if form == "protobuf":
            body, etag = self.swagger_protobuf
            await send_document(request, body, etag, content_type=v2proto.MEDIA_TYPE.encode())
        elif form == "json":
            await send_document(request, self.swagger.body, self.swagger.etag)
        else:
            await request.respond_error(not_acceptable())

    def routes(self) -> dict[str, Handler]:
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
