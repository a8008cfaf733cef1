"""mutatingwebhookconfigurations and validatingwebhookconfigurations: defaulting (v1
defaults.go), validation (pkg/apis/admissionregistration/validation) and printer columns."""

from __future__ import annotations

from typing import Any

from kernel.apimachinery.commonvalidation import validate_label_selector
from kernel.apimachinery.validation import FieldError
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, Strategy, TableColumn

from kernel_webhook import validate_client_config

from kernel_api_admissionregistration import expressions
from kernel_api_admissionregistration.rules import (
    FAILURE_POLICIES,
    MATCH_POLICIES,
    validate_fully_qualified_name,
    validate_match_conditions,
    validate_review_versions,
    validate_rule_with_operations,
)
from kernel_api_admissionregistration.types import TYPES

GROUP, VERSION = "admissionregistration.k8s.io", "v1"
SIDE_EFFECTS = ("None", "NoneOnDryRun", "Some", "Unknown")
NO_SIDE_EFFECTS = ("None", "NoneOnDryRun")
REINVOCATION_POLICIES = ("IfNeeded", "Never")


def _webhooks(obj: Object) -> list[dict[str, Any]]:
    hooks = obj.get("webhooks")
    return [h for h in hooks if isinstance(h, dict)] if isinstance(hooks, list) else []


def default_rule(rule: dict[str, Any]) -> None:
    rule.setdefault("scope", "*")


def default_webhook(hook: dict[str, Any], mutating: bool) -> None:
    """SetDefaults_{Validating,Mutating}Webhook, _Rule and _ServiceReference."""
    hook.setdefault("failurePolicy", "Fail")
    hook.setdefault("matchPolicy", "Equivalent")
    hook.setdefault("namespaceSelector", {})
    hook.setdefault("objectSelector", {})
    hook.setdefault("timeoutSeconds", 10)
    if mutating:
        hook.setdefault("reinvocationPolicy", "Never")
    for rule in hook.get("rules") or ():
        if isinstance(rule, dict):
            default_rule(rule)
    service = (hook.get("clientConfig") or {}).get("service")
    if isinstance(service, dict):
        service.setdefault("port", 443)


def _enum(hook: dict[str, Any], key: str, allowed: tuple[str, ...], path: str) -> list[FieldError]:
    value = hook.get(key)
    if value is not None and value not in allowed:
        return [FieldError.not_supported(f"{path}.{key}", value, allowed)]
    return []


def validate_webhook(hook: dict[str, Any], path: str, mutating: bool, strict: bool) -> list[FieldError]:
    """validate{Validating,Mutating}Webhook. ``strict``: the checks kube relaxes on update only
    for configurations already stored without them (side effects, review versions)."""
    errs = validate_fully_qualified_name(hook.get("name") or "", f"{path}.name")
    for i, rule in enumerate(hook.get("rules") or ()):
        errs += validate_rule_with_operations(rule if isinstance(rule, dict) else {}, f"{path}.rules[{i}]")
    errs += _enum(hook, "failurePolicy", FAILURE_POLICIES, path)
    errs += _enum(hook, "matchPolicy", MATCH_POLICIES, path)
    allowed = NO_SIDE_EFFECTS if strict else SIDE_EFFECTS
    if hook.get("sideEffects") is None:
        errs.append(FieldError.required(f"{path}.sideEffects", "must specify one of " + ", ".join(allowed)))
    else:
        errs += _enum(hook, "sideEffects", allowed, path)
    timeout = hook.get("timeoutSeconds")
    if isinstance(timeout, int) and not 1 <= timeout <= 30:
        errs.append(FieldError.invalid(f"{path}.timeoutSeconds", timeout,
                                       "the timeout value must be between 1 and 30 seconds"))
    for key in ("namespaceSelector", "objectSelector"):
        errs += validate_label_selector(hook.get(key), f"{path}.{key}")
    if mutating:
        errs += _enum(hook, "reinvocationPolicy", REINVOCATION_POLICIES, path)
    errs += validate_client_config(hook.get("clientConfig") or {}, f"{path}.clientConfig")
    errs += validate_match_conditions(hook.get("matchConditions") or [], f"{path}.matchConditions",
                                      expressions.match_condition_check)
    errs += validate_review_versions(hook.get("admissionReviewVersions") or [],
                                     f"{path}.admissionReviewVersions", strict)
    return errs


class WebhookConfigurationStrategy(Strategy):
    """Cluster-scoped; generation counts changes of ``webhooks``."""

    track_generation = True
    allow_create_on_update = False
    allow_unconditional_update = True

    def __init__(self, mutating: bool) -> None:
        self.mutating = mutating

    def default(self, obj: Object) -> None:
        for hook in _webhooks(obj):
            default_webhook(hook, self.mutating)

    def _validate(self, obj: Object, strict: bool) -> list[FieldError]:
        errs: list[FieldError] = []
        names: set[str] = set()
        for i, hook in enumerate(_webhooks(obj)):
            errs += validate_webhook(hook, f"webhooks[{i}]", self.mutating, strict)
            name = hook.get("name") or ""
            if name and name in names:
                errs.append(FieldError.duplicate(f"webhooks[{i}].name", name))
            names.add(name)
        return errs

    def validate(self, obj: Object) -> list[Any]:
        return self._validate(obj, strict=True)

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        # kube keeps accepting what it stored before its checks got stricter: only when every
        # old webhook already met them are they enforced on an update
        old_hooks = _webhooks(old)
        strict = all(h.get("sideEffects") in NO_SIDE_EFFECTS for h in old_hooks) and all(
            set(h.get("admissionReviewVersions") or ()) & {"v1", "v1beta1"} for h in old_hooks)
        return self._validate(obj, strict=strict)


def _spec(kind: str, plural: str, singular: str, mutating: bool) -> ResourceSpec:
    columns = (
        NAME_COLUMN,
        TableColumn("Webhooks", "integer", lambda o: len(_webhooks(o)),
                    description="Webhooks indicates the number of webhooks registered in this configuration"),
        AGE_COLUMN,
    )
    return ResourceSpec(
        group=GROUP,
        version=VERSION,
        kind=kind,
        plural=plural,
        singular=singular,
        namespaced=False,
        **TYPES.spec_fields(kind),
        categories=("api-extensions",),
        strategy=WebhookConfigurationStrategy(mutating),
        table_columns=columns,
        description=TYPES.description(kind),
    )


mutating_spec = _spec("MutatingWebhookConfiguration", "mutatingwebhookconfigurations",
                      "mutatingwebhookconfiguration", mutating=True)
validating_spec = _spec("ValidatingWebhookConfiguration", "validatingwebhookconfigurations",
                        "validatingwebhookconfiguration", mutating=False)
