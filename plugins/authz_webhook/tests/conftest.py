"""Fixtures: a real local HTTPS webhook that decides by the rules a test sets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kernel_authz_webhook.testing import LocalWebhook


def by_user(review: dict[str, Any]) -> dict[str, Any]:
    """alice is allowed, bob is denied, anyone else gets no opinion; the reason names the rule."""
    user = review["spec"].get("user")
    if user == "alice":
        return {"allowed": True, "reason": "alice may"}
    if user == "bob":
        return {"allowed": False, "denied": True, "reason": "bob is banned"}
    return {"allowed": False, "reason": f"no rule for {user}"}


@pytest.fixture
def webhook() -> Iterator[LocalWebhook]:
    with LocalWebhook() as hook:
        hook.decide = by_user
        yield hook
