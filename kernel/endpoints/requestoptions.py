"""The options of write requests (metav1 CreateOptions, UpdateOptions, PatchOptions, DeleteOptions).

Read from the query string (and, for a delete, its body) and validated as
k8s.io/apimachinery/pkg/apis/meta/v1/validation does it: every problem of one request in a single
422 Invalid naming the options kind (``CreateOptions.meta.k8s.io "" is invalid: ...``), before the
body is even decoded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from kernel.apimachinery import status
from kernel.apimachinery.queryparams import int_param
from kernel.apimachinery.validation import FieldError, invalid
from kernel.endpoints.request import Request
from kernel.storage.interface import Preconditions

META_GROUP = "meta.k8s.io"
DRY_RUN_ALL = "All"
#: allowedFieldValidationValues, in sets.List (sorted) order as kube's message lists them.
FIELD_VALIDATION_VALUES = ("", "Ignore", "Strict", "Warn")
PROPAGATION_POLICIES = ("Foreground", "Background", "Orphan")


#: FieldManagerMaxLength.
FIELD_MANAGER_MAX_LENGTH = 128


class WriteOptions(msgspec.Struct, frozen=True):
    dry_run: bool
    field_validation: str  # Strict, Warn or Ignore; unset means Warn (kube's default since 1.23)
    field_manager: str = ""
    force: bool = False  # PatchOptions.force: an apply takes the fields others own


def field_manager_errors(manager: str) -> list[FieldError]:
    """ValidateFieldManager: at most 128 bytes, printable characters only."""
    errors = []
    if len(manager.encode()) > FIELD_MANAGER_MAX_LENGTH:
        errors.append(FieldError.too_long("fieldManager", manager, FIELD_MANAGER_MAX_LENGTH))
    if not manager.isprintable():
        errors.append(FieldError.invalid("fieldManager", manager, "must only contain printable characters"))
    return errors


def dry_run_errors(values: Sequence[str]) -> list[FieldError]:
    """ValidateDryRun: every value must be "All"; the bad value is the whole list."""
    if all(value == DRY_RUN_ALL for value in values):
        return []
    return [FieldError.not_supported("dryRun", list(values), [DRY_RUN_ALL])]


def write_options(request: Request, kind: str, apply: bool = False) -> WriteOptions:
    """Validate{Create,Update,Patch}Options; ``kind`` is CreateOptions, UpdateOptions or
    PatchOptions; ``apply``: the patch is a server-side apply (fieldManager required, force
    allowed)."""
    dry_run = request.query.get("dryRun") or []
    mode = request.query_value("fieldValidation")
    manager = request.query_value("fieldManager") or ""
    force = _force(request) if kind == "PatchOptions" else None
    errors: list[FieldError] = []
    if kind == "PatchOptions" and not apply and force is not None:
        errors.append(FieldError.forbidden("force", "may not be specified for non-apply patch"))
    if apply and not manager:
        errors.append(FieldError.required("fieldManager", "is required for apply patch"))
    errors += field_manager_errors(manager)
    errors += dry_run_errors(dry_run)
    if mode not in FIELD_VALIDATION_VALUES:
        errors.append(FieldError.not_supported("fieldValidation", mode, FIELD_VALIDATION_VALUES))
    if errors:
        raise invalid(kind, "", errors, META_GROUP)
    return WriteOptions(bool(dry_run), mode or "Warn", manager, bool(force))


def _force(request: Request) -> bool | None:
    """PatchOptions.force from the query (a bool as Go's strconv.ParseBool reads it)."""
    if "force" not in request.query:
        return None
    value = request.query_value("force") or ""
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("", "0", "f", "F", "FALSE", "false", "False"):
        return False
    raise status.bad_request(f'strconv.ParseBool: parsing "{value}": invalid syntax')


class DeleteOptions(msgspec.Struct, frozen=True):
    preconditions: Preconditions | None
    dry_run: bool

    @classmethod
    def parse(cls, raw: Mapping[str, Any], request: Request) -> DeleteOptions:
        """From the body (``raw``) and the query string; ValidateDeleteOptions' 422 if invalid."""
        if not raw:  # kube decodes the query only without a body: a bad integer there is a 400
            int_param(request.query, "gracePeriodSeconds")
        policy = raw.get("propagationPolicy") or request.query_value("propagationPolicy")
        dry_run = list(raw.get("dryRun") or []) + list(request.query.get("dryRun") or [])
        errors: list[FieldError] = []
        if policy and policy not in PROPAGATION_POLICIES:
            errors.append(FieldError.not_supported("propagationPolicy", policy, [*PROPAGATION_POLICIES, "nil"]))
        errors += dry_run_errors(dry_run)
        if errors:
            raise invalid("DeleteOptions", "", errors, META_GROUP)
        pre = raw.get("preconditions") or {}
        if not isinstance(pre, Mapping):
            raise status.bad_request("DeleteOptions.preconditions must be an object")
        preconditions = None
        if pre.get("uid") or pre.get("resourceVersion"):
            preconditions = Preconditions(uid=pre.get("uid"), resource_version=pre.get("resourceVersion"))
        return cls(preconditions, bool(dry_run))

    def as_object(self) -> dict[str, Any]:
        """The metav1 DeleteOptions object admission plugins receive."""
        pre = self.preconditions
        return {"kind": "DeleteOptions", "apiVersion": f"{META_GROUP}/v1",
                **({"dryRun": [DRY_RUN_ALL]} if self.dry_run else {}),
                **({"preconditions": {k: v for k, v in (("uid", pre.uid), ("resourceVersion",
                                                                       pre.resource_version)) if v}}
                   if pre else {})}
