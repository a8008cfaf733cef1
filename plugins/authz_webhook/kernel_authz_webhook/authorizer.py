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
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx
import trio

from kernel.authentication.user import UserInfo
from kernel.authorization import Attributes, AuthorizationError, Decision, Rules
from kernel_authz_webhook import sar
from kernel_authz_webhook.kubeconfig import ClientConfig
from kernel_authz_webhook.matchconditions import MatchConditions, MatchError
from kernel_authz_webhook.metrics import WebhookMetrics, unregistered

log = logging.getLogger("kernel.authz_webhook")
CACHE_SIZE = 8192
RETRY_STATUS = frozenset({429, 500, 504})


@dataclass(frozen=True)
class Backoff:
    """wait.Backoff: the first delay, its growth, its random spread, and the attempts."""

    duration: float = 0.5
    factor: float = 1.5
    jitter: float = 0.2
    steps: int = 5


@dataclass(frozen=True)
class Settings:
    name: str  # the chain entry's name, in logs and reasons
    version: str = "v1"
    timeout: float = 30.0
    authorized_ttl: float = 300.0  # 0: allowed answers are not cached
    unauthorized_ttl: float = 30.0
    decision_on_error: Decision = Decision.NO_OPINION
    backoff: Backoff = Backoff()


def _describe(error: BaseException) -> str:
    """``ConnectError: <the first message found down its causes>`` (httpx's own is often empty)."""
    seen: BaseException | None = error
    while seen is not None:
        if str(seen):
            return f"{type(error).__name__}: {seen}"
        seen = seen.__cause__ or seen.__context__
    return f"{type(error).__name__}: connection closed"


def _connection_reset(error: BaseException) -> bool:
    """Whether ECONNRESET is behind ``error`` (kube retries that, not a TLS failure or an EOF)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ConnectionResetError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class WebhookError(Exception):
    def __init__(self, message: str, retry: bool = False, result: str = "error") -> None:
        super().__init__(message)
        self.retry = retry
        self.result = result  # the metrics' label: error or timeout


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
        self._ssl = client.ssl_context()
        self._http: httpx.AsyncClient | None = None  # made in the event loop that uses it

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
        backoff = self.settings.backoff
        delay = backoff.duration
        for attempt in range(1, backoff.steps + 1):
            try:
                return await self._review(review)
            except WebhookError as error:
                if not error.retry or attempt == backoff.steps:
                    raise
                log.info("webhook authorizer %s: attempt %d failed, retrying: %s",
                         self.settings.name, attempt, error)
            await trio.sleep(delay * (1 + random.random() * backoff.jitter))
            delay *= backoff.factor
        raise AssertionError("unreachable")

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            headers = {"Accept": "application/json", "Content-Type": "application/json"}
            if self.client_config.token:
                headers["Authorization"] = f"Bearer {self.client_config.token}"
            self._http = httpx.AsyncClient(verify=self._ssl, headers=headers,
                                           timeout=self.settings.timeout, follow_redirects=False)
        return self._http

    async def _review(self, review: dict[str, Any]) -> dict[str, Any]:
        start = time.monotonic()
        try:
            status = await self._round_trip(review)
        except WebhookError as error:
            self.metrics.round_trip(self.settings.name, error.result, time.monotonic() - start)
            raise
        self.metrics.round_trip(self.settings.name, "success", time.monotonic() - start)
        return status

    async def _round_trip(self, review: dict[str, Any]) -> dict[str, Any]:
        extensions = {"sni_hostname": self.client_config.server_name} if self.client_config.server_name else None
        try:
            response = await self._client().post(self.client_config.server, extensions=extensions,
                                                 content=sar.body(review, self.settings.version))
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as error:
            retry = isinstance(error, httpx.RemoteProtocolError) or _connection_reset(error)
            raise WebhookError(_describe(error), retry=retry) from None
        except httpx.TimeoutException as error:
            raise WebhookError(_describe(error), result="timeout") from None
        except httpx.HTTPError as error:  # refused, TLS: not transient for kube
            raise WebhookError(_describe(error)) from None
        if not 200 <= response.status_code < 300:
            retry = response.status_code in RETRY_STATUS or "retry-after" in response.headers
            raise WebhookError(f"the webhook answered HTTP {response.status_code}: "
                               f"{response.text[:200]}", retry=retry,
                               result="timeout" if response.status_code == 504 else "error")
        try:
            return sar.status_of(response.json())
        except (ValueError, sar.ReviewError) as error:
            raise WebhookError(f"invalid response: {error}") from None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
