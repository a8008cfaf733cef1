"""WithRequestInfo: resolve what a request is about (:mod:`kernel.endpoints.request.requestinfo`)
before anything else reads it, and refuse paths that try to step outside their resource."""

from __future__ import annotations

from kernel.apimachinery import status
from kernel.endpoints.request import Handler, Request
from kernel.endpoints.request.requestinfo import new_request_info


def _clean(path: str) -> bool:
    """Refuse paths with empty, ``.`` or ``..`` segments: no path trick reaches another resource.

    Substring tests rather than a split: this runs for every request."""
    if not path.startswith("/"):
        return False
    # one trailing slash is fine (the Python client sends /version/)
    probe = (path[:-1] if path.endswith("/") else path) + "/"
    return probe == "/" or ("//" not in probe and "/./" not in probe and "/../" not in probe)


def with_request_info(handler: Handler) -> Handler:
    async def request_info(request: Request) -> None:
        if not _clean(request.path):
            await request.respond_error(status.bad_request(f"invalid request path {request.path!r}"))
            return
        try:
            request.info = new_request_info(request.method, request.path, request.query)
        except status.StatusError as error:
            await request.respond_error(error)
            return
        await handler(request)

    return request_info
