"""The webhook token authenticator (k8s.io/apiserver/plugin/pkg/authenticator/token/webhook,
behind kube's token cache as pkg/kubeapiserver/authenticator builds it).

A bearer token is sent to the webhook in a TokenReview with the request's audiences (the API's,
``--api-audiences``); the call is retried with kube's backoff on transient failures. The answer:

- authenticated: the user (username, uid, groups, extra); when the request has audiences, those the
  webhook returned (or, when it returned none, the API's) must intersect them, else the token is
  not this authenticator's;
- not authenticated with ``status.error``: an error (401; the chain never falls back to anonymous);
- not authenticated without one: not this authenticator's token (``None``; the chain answers 401
  if no other authenticator knows it).

A webhook that cannot be reached is an error too (401), logged as kube logs it. Answers are cached
for ``--authentication-token-webhook-cache-ttl``, both kinds; errors are not.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kernel.authentication import AuthenticationError, UserInfo, bearer_token
from kernel_authn_webhook import tokenreview
from kernel_authn_webhook.cache import Record, TokenCache
from kernel_webhook.generic import GenericWebhook, WebhookError

if TYPE_CHECKING:
    from kernel.endpoints.request import Request

log = logging.getLogger("kernel.authn_webhook")


class WebhookTokenAuthenticator:
    def __init__(self, webhook: GenericWebhook, version: str, cache_ttl: float,
                 api_audiences: Sequence[str] = ()) -> None:
        if version not in tokenreview.VERSIONS:
            raise ValueError(f'unsupported authentication webhook version "{version}", supported '
                             f'versions are "v1", "v1beta1"')
        self.webhook = webhook
        self.version = version
        self.api_audiences = tuple(api_audiences)
        self.cache = TokenCache(cache_ttl, cache_ttl)

    def __repr__(self) -> str:
        return f"WebhookTokenAuthenticator({self.webhook.server!r}, {self.version})"

    async def authenticate(self, request: Request) -> UserInfo | None:
        token = bearer_token(request)
        if token is None:
            return None
        audiences = self.api_audiences
        record = await self.cache.lookup(token, audiences, lambda: self._review(token, audiences))
        if record.error:
            raise AuthenticationError(record.error)
        return record.user

    async def _review(self, token: str, audiences: Sequence[str]) -> Record:
        try:
            answer = await self.webhook.post(tokenreview.request(token, audiences, self.version))
            status = tokenreview.status_of(answer)
        except (WebhookError, tokenreview.ReviewError) as error:
            log.error("Failed to make webhook authenticator request (%s): %s", self.webhook.server, error)
            return Record(error=f"webhook token authenticator: {error}")
        if audiences:
            granted = status.audiences or self.api_audiences
            if not any(audience in granted for audience in audiences):
                return Record()
        if not status.authenticated:
            return Record(error=status.error)
        return Record(user=status.user)

    async def aclose(self) -> None:
        await self.webhook.aclose()
