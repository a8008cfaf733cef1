"""Admission: mutate and validate objects after authorization, before storage."""

from __future__ import annotations

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
