"""namespaces (v1 Namespace): schema, strategies and printer columns as kube-apiserver has them.

Three strategies, as in pkg/registry/core/namespace: the main resource (spec.finalizers and status
are the server's), ``namespaces/status`` (only status changes) and ``namespaces/finalize`` (only
spec.finalizers changes; the namespace controller empties it before the namespace goes away).
"""

from __future__ import annotations

import copy
from typing import Any

from kernel.registry.resource import Object, ResourceSpec, Strategy, TableColumn
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.apimachinery.validation import FieldError, is_dns1123_label, is_qualified_name
from kernel_api_core.types import CORE_V1

SCHEMA_NAME = "io.k8s.api.core.v1.Namespace"

ACTIVE, TERMINATING = "Active", "Terminating"
FINALIZER_KUBERNETES = "kubernetes"
#: The label kube keeps equal to the namespace's name (so selectors can pick namespaces by name).
NAME_LABEL = "kubernetes.io/metadata.name"
# helper.IsStandardFinalizerName: the only finalizers that may go without a domain prefix.
_STANDARD_FINALIZERS = frozenset({FINALIZER_KUBERNETES, "orphan", "foregroundDeletion"})



def validate_namespace_name(name: str, prefix: bool = False) -> list[str]:
    """ValidateNamespaceName: a DNS-1123 label; a generateName prefix may end in '-'."""
    if prefix and len(name) > 1 and name.endswith("-"):
        name = name[:-2] + "a"  # kube's maskTrailingDash, verbatim
    return is_dns1123_label(name)


def validate_finalizer_name(name: str, path: str) -> list[FieldError]:
    """A qualified name, and without a domain only one of kube's standard finalizers."""
    errs = [FieldError.invalid(path, name, m) for m in is_qualified_name(name)]
    if "/" not in name and name not in _STANDARD_FINALIZERS:
        errs.append(FieldError.invalid(path, name, "name is neither a standard finalizer name nor is it "
                                                   "fully qualified"))
    return errs


def _phase(obj: Object) -> str:
    return (obj.get("status") or {}).get("phase") or ""


class NamespaceStrategy(Strategy):
    """Create: status is Active and spec.finalizers gets "kubernetes". Update through the main
    resource keeps the stored spec.finalizers and status, whatever the client sent."""

    allow_create_on_update = False
    allow_unconditional_update = True

    def prepare_for_create(self, obj: Object) -> None:
        obj["status"] = {"phase": ACTIVE}
        spec = obj.get("spec") or {}
        finalizers = list(spec.get("finalizers") or [])
        if FINALIZER_KUBERNETES not in finalizers:
            finalizers.append(FINALIZER_KUBERNETES)
        spec["finalizers"] = finalizers
        obj["spec"] = spec
        self.canonicalize(obj)

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        spec = obj.get("spec") or {}
        old_spec = old.get("spec") or {}
        if "finalizers" in old_spec:
            spec["finalizers"] = copy.deepcopy(old_spec["finalizers"])
        else:
            spec.pop("finalizers", None)
        obj["spec"] = spec
        _carry(obj, old, "status")
        self.canonicalize(obj)

    def canonicalize(self, obj: Object) -> None:
        """The name label always equals the name (kube's Canonicalize; call again once a
        generateName has become a name)."""
        metadata = obj.setdefault("metadata", {})
        if metadata.get("name"):
            metadata["labels"] = {**(metadata.get("labels") or {}), NAME_LABEL: metadata["name"]}

    def validate(self, obj: Object) -> list[Any]:
        # ValidateNamespace reports every finalizer on the list's path, without an index.
        errs: list[FieldError] = []
        for name in (obj.get("spec") or {}).get("finalizers") or []:
            errs += validate_finalizer_name(name, "spec.finalizers")
        return errs

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return self.validate(obj)

    def delete_pending(self, obj: Object) -> bool:
        """A namespace stays (Terminating) until the namespace controller emptied it and removed
        spec.finalizers, and until any metadata.finalizers are gone."""
        return bool((obj.get("spec") or {}).get("finalizers")) or super().delete_pending(obj)

    def prepare_for_delete(self, obj: Object) -> None:
        obj.setdefault("status", {})["phase"] = TERMINATING

    def field_selectors(self, obj: Object) -> dict[str, str]:
        # "name" is a kube bug kept for compatibility; metadata.name works too.
        return {"status.phase": _phase(obj), "name": (obj.get("metadata") or {}).get("name", "")}


class NamespaceStatusStrategy(NamespaceStrategy):
    """namespaces/status: the spec is the stored one; the phase must agree with deletionTimestamp."""

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        _carry(obj, old, "spec")
        self.canonicalize(obj)

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        phase = _phase(obj)
        if not (obj.get("metadata") or {}).get("deletionTimestamp"):
            if phase != ACTIVE:
                return [FieldError.invalid("status.Phase", phase,
                                           "may only be 'Active' if `deletionTimestamp` is empty")]
        elif phase != TERMINATING:
            return [FieldError.invalid("status.Phase", phase,
                                       "may only be 'Terminating' if `deletionTimestamp` is not empty")]
        return []


class NamespaceFinalizeStrategy(NamespaceStrategy):
    """namespaces/finalize: only spec.finalizers may change; the status is the stored one."""

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        _carry(obj, old, "status")
        self.canonicalize(obj)

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        errs: list[FieldError] = []
        for i, name in enumerate((obj.get("spec") or {}).get("finalizers") or []):
            errs += validate_finalizer_name(name, f"spec.finalizers[{i}]")
        return errs


def _carry(obj: Object, old: Object, key: str) -> None:
    if key in old:
        obj[key] = copy.deepcopy(old[key])
    else:
        obj.pop(key, None)


STATUS_STRATEGY = NamespaceStatusStrategy()
FINALIZE_STRATEGY = NamespaceFinalizeStrategy()

TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Status", "string", _phase, description="The status of the namespace"),
    AGE_COLUMN,
)

namespace_spec = ResourceSpec(
    group="",
    version="v1",
    kind="Namespace",
    plural="namespaces",
    singular="namespace",
    namespaced=False,
    **CORE_V1.spec_fields("Namespace"),
    short_names=("ns",),
    # namespaces have no deletecollection: each one is deleted through its finalizer
    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    subresources=("status", "finalize"),
    strategy=NamespaceStrategy(),
    subresource_strategies={"status": STATUS_STRATEGY, "finalize": FINALIZE_STRATEGY},
    table_columns=TABLE_COLUMNS,
    name_validator=validate_namespace_name,
    # kube's AddFieldLabelConversionsForNamespace: status.phase and metadata.name only (the
    # strategy's "name" attribute is unreachable through a field selector)
    selectable_fields=("status.phase",),
    description=CORE_V1.description("Namespace"),
)
