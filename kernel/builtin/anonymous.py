"""The anonymous authenticator: system:anonymous in system:unauthenticated (--anonymous-auth).

The kernel always runs it last, and only when no other authenticator rejected a credential.
"""

from __future__ import annotations

from kernel import hookimpl
from kernel.authentication import ANONYMOUS, UNAUTHENTICATED, UserInfo
from kernel.endpoints.request import Request

ANONYMOUS_USER = UserInfo(ANONYMOUS, "", (UNAUTHENTICATED,))


class AnonymousAuthenticator:
    async def authenticate(self, request: Request) -> UserInfo:
        return ANONYMOUS_USER


def _anonymous(context) -> AnonymousAuthenticator | None:
    return AnonymousAuthenticator() if context.options.anonymous_auth else None


@hookimpl
def kernel_authenticators():
    return {"anonymous": _anonymous}
