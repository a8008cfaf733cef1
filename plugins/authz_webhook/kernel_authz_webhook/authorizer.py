"""The Webhook authorizer: asks a remote service with a SubjectAccessReview, caches its answers.

As kube's (staging/src/k8s.io/apiserver/plugin/pkg/authorizer/webhook): match conditions first
(a false one skips the webhook: NoOpinion); then the cache, keyed by the review's spec, with one
TTL for allowed answers and another for the rest (0 turns that side off); then a POST of the
review, retried with kube's DefaultRetryBackoff (0.5s, x1.5, 20% jitter, 5 attempts) when the
failure is transient (connection reset, 429, 500, 504, or a Retry-After header). A failure is
logged and raised as ``AuthorizationError`` carrying the failure policy's decision (NoOpinion by
default: the next mode decides; or Deny); a request no mode allows then is kube's 500.
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass
from typing import Any

from kernel.authentication.user import UserInfo
from kernel.authorization import Attributes, AuthorizationError, Decision, Rules
from kernel_authz_webhook import sar
from kernel_authz_webhook.matchconditions import MatchConditions, MatchError
from kernel_authz_webhook.metrics import WebhookMetrics, unregistered
from kernel_webhook.backoff import Backoff, with_backoff
from kernel_webhook.generic import GenericWebhook, WebhookError, should_retry
from kernel_webhook.kubeconfig import ClientConfig

__all__ = ["Backoff", "Settings", "WebhookAuthorizer"]

log = logging.getLogger("kernel.authz_webhook")
CACHE_SIZE = 8192


@dataclass(frozen=True)
class Settings:
    name: str  # the chain entry's name, in logs and reasons
    version: str = "v1"
    timeout: float = 30.0
    authorized_ttl: float = 300.0  # 0: allowed answers are not cached
    unauthorized_ttl: float = 30.0
    decision_on_error: Decision = Decision.NO_OPINION
    backoff: Backoff = Backoff()


class ResponseCache:
    """An LRU cache whose entries expire (kube's LRUExpireCache)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.entries: collections.OrderedDict[str, tuple[float, dict[str, Any]]] = collections.OrderedDict()

    def get(self, key: str) -> dict[str, Any] | None:
        found = self.entries.get(key)
        if found is None:
            return None
        if found[0] <= time.monotonic():
            del self.entries[key]
            return None
        self.entries.move_to_end(key)
        return found[1]

    def add(self, key: str, status: dict[str, Any], ttl: float) -> None:
        if ttl <= 0:
            return
        self.entries[key] = (time.monotonic() + ttl, status)
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


class WebhookAuthorizer:
    def __init__(self, client: ClientConfig, settings: Settings,
                 match_conditions: MatchConditions | None = None,
                 metrics: WebhookMetrics | None = None) -> None:
        self.client_config = client
        self.settings = settings
        self.match_conditions = match_conditions
        self.metrics = metrics or unregistered()
        self.cache = ResponseCache()
        self.webhook = GenericWebhook(client, settings.timeout)

    def __repr__(self) -> str:
        return f"WebhookAuthorizer({self.settings.name!r}, {self.client_config.server!r})"

    async def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        review = sar.spec(attributes)
        if self.match_conditions is not None:
            try:
                if not self.match_conditions.matches(sar.match_input(review)):
                    return Decision.NO_OPINION, ""
            except MatchError as error:
                log.error("webhook authorizer %s: match conditions failed: %s", self.settings.name, error)
                raise AuthorizationError(f"webhook authorizer {self.settings.name}: {error}",
                                         self.settings.decision_on_error) from None
        key = sar.cache_key(review)
        status = self.cache.get(key)
        if status is None:
            try:
                status = await self._review_with_retries(review)
            except WebhookError as error:
                log.error("Failed to make webhook authorizer request (%s, %s): %s",
                          self.settings.name, self.client_config.server, error)
                if self.settings.decision_on_error is Decision.NO_OPINION:
                    self.metrics.failed_open(self.settings.name, error.result)
                raise AuthorizationError(f"webhook authorizer {self.settings.name} failed: {error}",
                                         self.settings.decision_on_error) from None
            if sar.should_cache(attributes):
                allowed = bool(status.get("allowed"))
                self.cache.add(key, status, self.settings.authorized_ttl if allowed
                               else self.settings.unauthorized_ttl)
        if status.get("allowed") and status.get("denied"):
            log.error("webhook authorizer %s: webhook subject access review returned both allow "
                      "and deny response", self.settings.name)
        return sar.decision(status)

    async def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        return Rules(incomplete=True, error="webhook authorizer does not support user rule resolution")

    async def _review_with_retries(self, review: dict[str, Any]) -> dict[str, Any]:
        return await with_backoff(lambda: self._review(review), self.settings.backoff, should_retry,
                                  f"webhook authorizer {self.settings.name}")

    async def _review(self, review: dict[str, Any]) -> dict[str, Any]:
        start = time.monotonic()
        try:
            answer = await self.webhook.post_once(sar.body(review, self.settings.version))
            try:
                status = sar.status_of(answer)
            except (ValueError, sar.ReviewError) as error:
                raise WebhookError(f"invalid response: {error}") from None
        except WebhookError as error:
            self.metrics.round_trip(self.settings.name, error.result, time.monotonic() - start)
            raise
        self.metrics.round_trip(self.settings.name, "success", time.monotonic() - start)
        return status

    async def aclose(self) -> None:
        await self.webhook.aclose()
