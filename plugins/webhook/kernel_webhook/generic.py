"""kube's GenericWebhook (k8s.io/apiserver/pkg/util/webhook/webhook.go) for the webhooks
configured by a kubeconfig file: the authorization and token authentication webhooks, the audit
webhook backend.

    webhook = GenericWebhook.from_file("/etc/kernel/hook.kubeconfig", timeout=30)
    answer = await webhook.post({"apiVersion": ..., "kind": "TokenReview", "spec": {...}})
    await webhook.aclose()

``post`` POSTs the object as JSON to the kubeconfig's ``server`` (its CA, client certificate or
bearer token, TLS server name) and returns the decoded JSON answer (None when the body is
empty); a transient failure is retried with the backoff (kube's DefaultShouldRetry: a reset
connection, HTTP 429, 500, 504, or an answer with Retry-After). Failures raise
:class:`WebhookError`. ``post_once`` is one attempt, for callers that time or count each one
(and retry with :func:`kernel_webhook.backoff.with_backoff`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import trio

from kernel_webhook import kubeconfig
from kernel_webhook.backoff import DEFAULT_BACKOFF, Backoff, with_backoff

if TYPE_CHECKING:
    import httpx  # imported on first use, as in kernel_webhook.client

#: kube's request timeout for a webhook built from a kubeconfig (webhookutil.LoadKubeconfig).
DEFAULT_TIMEOUT = 30.0
#: The answers kube's DefaultShouldRetry retries: TooManyRequests, InternalError, Timeout.
RETRY_STATUS = frozenset({429, 500, 504})


class WebhookError(Exception):
    """A failed call: ``retry`` says whether kube would try again; ``result`` is ``error`` or
    ``timeout`` (for metrics); ``code`` is the HTTP status of an error answer (0 for none)."""

    def __init__(self, message: str, retry: bool = False, result: str = "error", code: int = 0) -> None:
        super().__init__(message)
        self.retry = retry
        self.result = result
        self.code = code


def should_retry(error: Exception) -> bool:
    return isinstance(error, WebhookError) and error.retry


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


class GenericWebhook:
    """One webhook of a kubeconfig; see the module docstring. Its httpx client is made in the
    event loop that first posts (and must be closed there with ``aclose``)."""

    def __init__(self, client: kubeconfig.ClientConfig, timeout: float = DEFAULT_TIMEOUT,
                 backoff: Backoff = DEFAULT_BACKOFF) -> None:
        self.client_config = client
        self.timeout = timeout
        self.backoff = backoff
        self._ssl = client.ssl_context()
        self._http: httpx.AsyncClient | None = None

    @classmethod
    def from_file(cls, path: str, timeout: float = DEFAULT_TIMEOUT,
                  backoff: Backoff = DEFAULT_BACKOFF) -> GenericWebhook:
        """From a kubeconfig file; :class:`kernel_webhook.kubeconfig.KubeconfigError` says why not."""
        return cls(kubeconfig.load(path), timeout, backoff)

    @property
    def server(self) -> str:
        return self.client_config.server

    def __repr__(self) -> str:
        return f"GenericWebhook({self.server!r})"

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            headers = {"Accept": "application/json", "Content-Type": "application/json"}
            if self.client_config.token:
                headers["Authorization"] = f"Bearer {self.client_config.token}"
            self._http = httpx.AsyncClient(verify=self._ssl, headers=headers, timeout=self.timeout,
                                           follow_redirects=False)
        return self._http

    async def post(self, obj: Any) -> Any:
        """POST ``obj`` (JSON-encodable, or bytes sent as they are), retried with the backoff; the
        decoded JSON answer (None for an empty body). WebhookError when every attempt failed."""
        return await with_backoff(lambda: self.post_once(obj), self.backoff, should_retry,
                                  f"webhook {self.server}")

    async def post_once(self, obj: Any) -> Any:
        """One attempt of :meth:`post`."""
        import httpx

        body = obj if isinstance(obj, bytes) else msgspec.json.encode(obj)
        extensions = {"sni_hostname": self.client_config.server_name} if self.client_config.server_name else None
        with trio.move_on_after(self.timeout) as scope:
            try:
                response = await self._client().post(self.server, content=body, extensions=extensions)
            except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as error:
                retry = isinstance(error, httpx.RemoteProtocolError) or _connection_reset(error)
                raise WebhookError(_describe(error), retry=retry) from None
            except httpx.TimeoutException as error:
                raise WebhookError(_describe(error), result="timeout") from None
            except httpx.HTTPError as error:  # refused, TLS: not transient for kube
                raise WebhookError(_describe(error)) from None
        if scope.cancelled_caught:
            raise WebhookError(f'Post "{self.server}": context deadline exceeded', result="timeout")
        if not 200 <= response.status_code < 300:
            code = response.status_code
            retry = code in RETRY_STATUS or "retry-after" in response.headers
            raise WebhookError(f"the webhook answered HTTP {code}: {response.text[:200]}", retry=retry,
                               result="timeout" if code == 504 else "error", code=code)
        if not response.content.strip():
            return None  # an answer without a body (the audit webhook's): only success counts
        try:
            return msgspec.json.decode(response.content)
        except msgspec.DecodeError as error:
            raise WebhookError(f"invalid response: {error}", code=response.status_code) from None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
