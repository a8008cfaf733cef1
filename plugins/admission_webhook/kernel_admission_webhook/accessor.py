"""One webhook of a configuration, parsed once (kube's webhook.WebhookAccessor): its matching
criteria, client configuration, policies and compiled matchConditions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from kernel.admission.predicates import MatchCriteria
from kernel_webhook import ClientConfig

from kernel_admission_webhook.matchconditions import Condition, compile_conditions


@dataclass(eq=False)
class Hook:
    """A MutatingWebhook or ValidatingWebhook; ``uid`` is ``<configuration>/<webhook>/<n>``
    (``n`` counts earlier webhooks of the same name), as kube's configuration managers make it."""

    uid: str
    name: str
    configuration: str
    spec: Mapping[str, Any] = field(repr=False)
    mutating: bool = False

    @cached_property
    def criteria(self) -> MatchCriteria:
        return MatchCriteria.for_webhook(self.spec)

    @cached_property
    def client_config(self) -> ClientConfig | str:
        """The client configuration, or why it cannot be used (reported when called)."""
        try:
            return ClientConfig.from_dict(self.spec.get("clientConfig") or {})
        except ValueError as error:
            return str(error)

    @cached_property
    def conditions(self) -> tuple[Condition, ...]:
        return compile_conditions(self.spec.get("matchConditions") or ())

    @property
    def fail_closed(self) -> bool:
        """failurePolicy Fail (kube's default)."""
        return self.spec.get("failurePolicy", "Fail") != "Ignore"

    @property
    def side_effects(self) -> str | None:
        return self.spec.get("sideEffects")

    @property
    def timeout(self) -> float:
        return float(self.spec.get("timeoutSeconds") or 10)

    @property
    def reinvocable(self) -> bool:
        return self.spec.get("reinvocationPolicy") == "IfNeeded"

    @property
    def review_versions(self) -> list[str]:
        return list(self.spec.get("admissionReviewVersions") or ())


def hooks_of(configuration: Mapping[str, Any], mutating: bool) -> list[Hook]:
    """The webhooks of one configuration object, in order."""
    name = configuration["metadata"]["name"]
    seen: dict[str, int] = {}
    hooks = []
    for spec in configuration.get("webhooks") or ():
        hook_name = spec.get("name") or ""
        n = seen.get(hook_name, 0)
        seen[hook_name] = n + 1
        hooks.append(Hook(f"{name}/{hook_name}/{n}", hook_name, name, spec, mutating))
    return hooks
