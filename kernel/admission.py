"""Admission: mutate and validate objects after authorization, before storage."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kernel.authentication import UserInfo


@dataclass
class AdmissionAttributes:
    operation: str  # CREATE, UPDATE, DELETE, CONNECT
    user: UserInfo
    group: str
    version: str
    resource: str
    subresource: str
    namespace: str
    name: str
    object: Any
    old_object: Any
    dry_run: bool


class AdmissionPlugin(Protocol):
    """An admission plugin implements ``admit`` (mutating), ``validate``, or both.

    Either raises a ``kernel.apimachinery.status.StatusError`` to refuse the request.
    """

    def handles(self, operation: str) -> bool: ...


def default_enabled(factory: Callable[..., Any]) -> Callable[..., Any]:
    """Mark an admission plugin factory as on unless ``--disable-admission-plugins`` names it."""
    factory.default_enabled = True  # type: ignore[attr-defined]
    return factory


def admission_order(provided: Mapping[str, tuple[str, Any]], enabled: Sequence[str],
                    disabled: Sequence[str]) -> list[str]:
    """Default-enabled plugins (in plugin order), then ``--enable-admission-plugins`` in its order."""
    chain = [name for name, (_, factory) in provided.items()
             if getattr(factory, "default_enabled", False) and name not in enabled]
    chain += list(enabled)
    return [name for name in chain if name not in disabled]
