"""A real TokenReview webhook for tests: :class:`kernel_webhook.testing.WebhookServer` answering
TokenReviews from a table of tokens.

    with TokenWebhook({"t-alice": {"username": "alice", "groups": ["devs"]}}) as webhook:
        config = webhook.write_kubeconfig(tmp_path / "authn.kubeconfig")
        ...                                  # kernel serve --authentication-token-webhook-config-file=...
        webhook.reviews                      # every TokenReview received, in order
        webhook.server.fail_next(500)        # the next answer is an HTTP 500

A token of the table is authenticated as its user; any other is not (``authenticated: false``);
``errors`` maps tokens to a ``status.error`` and ``audiences`` to the ``status.audiences`` returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kernel_webhook.testing import WebhookServer

PATH = "/authenticate"


class TokenWebhook:
    def __init__(self, users: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.users: dict[str, Mapping[str, Any]] = dict(users or {})
        self.errors: dict[str, str] = {}
        self.audiences: list[str] | None = None
        self.server = WebhookServer(self._answer)

    @property
    def reviews(self) -> list[dict[str, Any]]:
        """Every TokenReview POSTed (failed answers too)."""
        return [body for path, _, body in self.server.requests if path.startswith(PATH)]

    def calls(self, token: str) -> int:
        return sum(review["spec"]["token"] == token for review in self.reviews)

    def _answer(self, path: str, review: Any) -> Any:
        token = review["spec"]["token"]
        status: dict[str, Any] = {"user": {}}
        if token in self.users:
            status = {"authenticated": True, "user": dict(self.users[token])}
        elif token in self.errors:
            status["error"] = self.errors[token]
        if self.audiences is not None:
            status["audiences"] = self.audiences
        return {"apiVersion": review["apiVersion"], "kind": "TokenReview", "status": status}

    def write_kubeconfig(self, file: Path, token: str = "") -> str:
        return self.server.write_kubeconfig(file, PATH, token)

    def start(self) -> TokenWebhook:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> TokenWebhook:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)
