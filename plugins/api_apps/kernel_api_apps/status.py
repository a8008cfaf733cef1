"""The ``/status`` subresource of a workload: only status changes (the kernel's generic status
strategy), and the new status is validated as kube's ValidateXStatusUpdate does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel.apimachinery.validation import FieldError
from kernel.registry.resource import Object, StatusStrategy

from kernel_api_apps import workload as w


class ReplicasStatusStrategy(StatusStrategy):
    """``validate_status`` says what a valid status is; ``validate_update`` checks it on every write."""

    def __init__(self, validate_status: Callable[[Object], list[FieldError]] | None = None) -> None:
        self._validate_status = validate_status

    def validate_status(self, status: Object) -> list[FieldError]:
        return self._validate_status(status) if self._validate_status else []

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return self.validate_status(w.status_of(obj))


def nonnegative_fields(status: Object, keys: tuple[str, ...]) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in keys:
        errs += w.nonnegative(status.get(key), f"status.{key}")
    return errs


def replica_count_errors(status: Object, counts: tuple[str, ...], at_most_replicas: tuple[str, ...]
                         ) -> list[FieldError]:
    """The rules kube's Deployment and ReplicaSet status validation share: every count is
    non-negative, ``at_most_replicas`` do not exceed status.replicas, available ≤ ready."""
    errs = nonnegative_fields(status, counts)
    replicas = status.get("replicas") or 0
    for key in at_most_replicas:
        if (status.get(key) or 0) > replicas:
            errs.append(FieldError.invalid(f"status.{key}", status[key], "cannot be greater than status.replicas"))
    if (status.get("availableReplicas") or 0) > (status.get("readyReplicas") or 0):
        errs.append(FieldError.invalid("status.availableReplicas", status["availableReplicas"],
                                       "cannot be greater than readyReplicas"))
    return errs
