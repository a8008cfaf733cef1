"""What the workload kinds (apps/v1 and batch/v1) share: selectors against template labels,
int-or-percent fields, non-negative counts, generation tracking, printer cells and schemas."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from kernel.apimachinery import validation
from kernel.apimachinery.lazyre import lazy_compile
from kernel.apimachinery.selectors import LabelSelector, SelectorError, label_selector_from_dict
from kernel.apimachinery.validation import FieldError, GoLiteral
from kernel.registry.resource import Strategy

Object = dict[str, Any]

NEGATIVE = "must be greater than or equal to 0"  # apimachinery IsNegativeErrorMsg
SELECTOR_MISMATCH = "`selector` does not match template `labels`"
_PERCENT_FMT = "[0-9]+%"
_PERCENT_RE = lazy_compile(_PERCENT_FMT)
_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def section(obj: Object, key: str) -> Object:
    """``obj[key]`` as a dict, created when absent (so defaulting can write into it)."""
    value = obj.get(key)
    if not isinstance(value, dict):
        value = obj[key] = {}
    return value


def nonnegative(value: Any, path: str) -> list[FieldError]:
    return [FieldError.invalid(path, value, NEGATIVE)] if isinstance(value, int) and value < 0 else []


# -- label selectors ----------------------------------------------------------------------------

def _go_map(values: Mapping[str, Any]) -> str:
    return "map[string]string{" + "".join(f"{k}: {v}," for k, v in sorted(values.items())) + "}"


def selector_go_string(selector: Mapping[str, Any] | None) -> GoLiteral:
    """*metav1.LabelSelector as its generated String() prints it (field.Error shows Stringers so)."""
    if selector is None:
        return GoLiteral("nil")
    exprs = "".join(
        "LabelSelectorRequirement{Key:%s,Operator:%s,Values:[%s],}," % (
            e.get("key", ""), e.get("operator", ""), " ".join(e.get("values") or []))
        for e in selector.get("matchExpressions") or [])
    return GoLiteral(f"&LabelSelector{{MatchLabels:{_go_map(selector.get('matchLabels') or {})},"
                     f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}")


def validate_label_selector(selector: Mapping[str, Any], path: str) -> list[FieldError]:
    """metav1validation.ValidateLabelSelector (strict label values)."""
    errs: list[FieldError] = []
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        here = f"{path}.matchExpressions[{i}]"
        op, values = expr.get("operator") or "", expr.get("values") or []
        if op in ("In", "NotIn") and not values:
            errs.append(FieldError.required(f"{here}.values",
                                            "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist") and values:
            errs.append(FieldError.forbidden(
                f"{here}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        elif op not in _OPERATORS:
            errs.append(FieldError.invalid(f"{here}.operator", op, "not a valid selector operator"))
        errs += [FieldError.invalid(f"{here}.key", expr.get("key") or "", m)
                 for m in validation.is_qualified_name(expr.get("key") or "")]
        for j, value in enumerate(values):
            errs += [FieldError.invalid(f"{here}.values[{j}]", value, m)
                     for m in validation.is_label_value(value)]
    return errs + validation.validate_labels(selector.get("matchLabels"), f"{path}.matchLabels")


def parse_selector(selector: Mapping[str, Any] | None) -> LabelSelector | None:
    """metav1.LabelSelectorAsSelector, or None when it does not convert."""
    try:
        return label_selector_from_dict(selector)
    except (SelectorError, ValueError):
        return None


def validate_selector_and_template(spec: Object, path: str, kind: str) -> list[FieldError]:
    """spec.selector is required, non-empty and valid, and selects the template's labels
    (ValidateDeploymentSpec / ValidateReplicaSetSpec / ValidateStatefulSetSpec)."""
    selector = spec.get("selector")
    errs: list[FieldError] = []
    if not isinstance(selector, dict):
        return [FieldError.required(f"{path}.selector", "")]
    errs += validate_label_selector(selector, f"{path}.selector")
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        errs.append(FieldError.invalid(f"{path}.selector", selector_go_string(selector),
                                       f"empty selector is invalid for {kind}"))
    parsed = parse_selector(selector)
    if parsed is None:
        errs.append(FieldError.invalid(f"{path}.selector", selector_go_string(selector), "invalid label selector"))
    else:
        errs += template_matches(parsed, spec.get("template"), f"{path}.template")
    return errs


def template_matches(selector: LabelSelector, template: Any, path: str) -> list[FieldError]:
    labels = ((template or {}).get("metadata") or {}).get("labels") or {}
    if not selector.empty and not selector.matches(labels):
        return [FieldError.invalid(f"{path}.metadata.labels", labels, SELECTOR_MISMATCH)]
    return []


def selector_immutable(new: Object, old: Object) -> list[FieldError]:
    """apps/v1 (and batch) selectors never change after create (ValidateImmutableField)."""
    a, b = (new.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector")
    if a != b:
        return [FieldError.invalid("spec.selector", selector_go_string(a), "field is immutable")]
    return []


# -- int or percent -----------------------------------------------------------------------------

def _percent(value: Any) -> int | None:
    if isinstance(value, str) and _PERCENT_RE.fullmatch(value):
        return int(value[:-1])
    return None


def int_or_percent_value(value: Any) -> int:
    """getIntOrPercentValue: the number, with or without its %; a bad string counts as 0."""
    if isinstance(value, int):
        return value
    return _percent(value) or 0


def _shown(value: Any) -> GoLiteral:
    return GoLiteral(str(value))  # IntOrString's String(): 25% or 1, unquoted


def positive_int_or_percent(value: Any, path: str) -> list[FieldError]:
    """ValidatePositiveIntOrPercent."""
    if isinstance(value, str):
        if _percent(value) is None:
            msg = validation.regex_error("a valid percent string must be a numeric string followed by "
                                         "an ending '%'", _PERCENT_FMT, "1%", "93%")
            return [FieldError.invalid(path, _shown(value), msg)]
        return []
    if isinstance(value, int) and value < 0:
        return [FieldError.invalid(path, value, NEGATIVE)]
    return []


def not_more_than_100_percent(value: Any, path: str) -> list[FieldError]:
    percent = _percent(value)
    if percent is not None and percent > 100:
        return [FieldError.invalid(path, _shown(value), "must not be greater than 100%")]
    return []


# -- generation ---------------------------------------------------------------------------------

def set_generation(obj: Object, old: Object, *, with_annotations: bool = False) -> None:
    """metadata.generation: the old one, plus one when the spec (and, for Deployments, the
    annotations) changed. Run after defaulting, so a PUT that leaves out defaulted fields is no
    change, as kube compares the decoded, defaulted object."""
    meta, old_meta = section(obj, "metadata"), old.get("metadata") or {}
    changed = obj.get("spec") != old.get("spec")
    if with_annotations:
        changed = changed or (meta.get("annotations") or {}) != (old_meta.get("annotations") or {})
    meta["generation"] = int(old_meta.get("generation") or 0) + (1 if changed else 0)


def keep_old_status(obj: Object, old: Object) -> None:
    """Status is written only through /status: an update of the main resource keeps the stored one."""
    if "status" in old:
        obj["status"] = copy.deepcopy(old["status"])
    else:
        obj.pop("status", None)


# -- printer cells ------------------------------------------------------------------------------

def pod_template_spec(template: Any) -> Object:
    return ((template or {}).get("spec") or {}) if isinstance(template, dict) else {}


def containers_cells(template: Any) -> tuple[str, str]:
    """layoutContainerCells: container names and images, comma-separated."""
    containers = [c for c in pod_template_spec(template).get("containers") or [] if isinstance(c, dict)]
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: ``<none>`` for an empty one, ``<error>`` for a bad one."""
    parsed = parse_selector(selector)
    if parsed is None:
        return "<error>"
    text = str(parsed)
    return "<none>" if not text else text


def format_labels(labels: Mapping[str, str] | None) -> str:
    """labels.FormatLabels: sorted k=v pairs, ``<none>`` when empty."""
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or "<none>"


def status_of(obj: Object) -> Object:
    value = obj.get("status")
    return value if isinstance(value, dict) else {}


def spec_of(obj: Object) -> Object:
    value = obj.get("spec")
    return value if isinstance(value, dict) else {}


# -- schemas ------------------------------------------------------------------------------------

class WorkloadStrategy(Strategy):
    """What the apps workloads' strategies share (pkg/registry/apps/*): the kind's defaults on
    every body, a fresh status on create, the old status kept on update, generation on spec
    changes, the spec validated, the selector immutable."""

    track_generation = True

    def __init__(self, default: Callable[[Object], None], validate_spec: Callable[[Object], list[FieldError]],
                 initial_status: Object | None = None, *, annotations_bump_generation: bool = False) -> None:
        self._default = default
        self._validate_spec = validate_spec
        #: the fields of the kind's Status without omitempty
        self.initial_status = initial_status or {}
        #: Deployments: annotation changes bump the generation too (the controller copies them)
        self.annotations_bump_generation = annotations_bump_generation

    def default(self, obj: Object) -> None:
        self._default(obj)

    def prepare_for_create(self, obj: Object) -> None:
        self.default(obj)
        obj["status"] = copy.deepcopy(self.initial_status)

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        self.default(obj)
        keep_old_status(obj, old)
        set_generation(obj, old, with_annotations=self.annotations_bump_generation)

    def validate(self, obj: Object) -> list[Any]:
        return self._validate_spec(spec_of(obj))

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return self.validate(obj) + selector_immutable(obj, old)
