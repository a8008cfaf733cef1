"""WithAuthentication: run the authenticator chain; 401 when a credential is bad or none is accepted."""

from __future__ import annotations

import logging

from kernel.apimachinery import status
from kernel.authentication import AuthenticationError, Authenticator
from kernel.endpoints.request import Handler, Request

log = logging.getLogger("kernel.authentication")


async def unauthorized(request: Request) -> None:
    await request.respond_error(status.unauthorized())


def with_authentication(handler: Handler, authenticator: Authenticator,
                        failed: Handler = unauthorized) -> Handler:
    """``failed`` answers a request no authenticator accepted (kube's failed handler, audited
    when auditing is on)."""
    async def authentication(request: Request) -> None:
        try:
            user = await authenticator.authenticate(request)
        except AuthenticationError as error:
            log.info("unable to authenticate the request: %s", error)
            user = None
        if user is None:
            await failed(request)
            return
        request.user = user
        # The credential has done its job: it must not travel further (to logs, proxies, ...).
        request.remove_header("authorization")
        await handler(request)

    return authentication
