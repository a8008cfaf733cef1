"""Apply every policy and binding that matches a request (kube's validating ``dispatcher``):
matching, params, evaluation, then the bindings' validationActions — Deny refuses, Warn adds a
warning, Audit records an annotation — and the first denial refuses with kube's status."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol


import msgspec

from kernel.admission import Attributes
from kernel.admission.predicates import Match, MatchCriteria, Matcher
from kernel.admission.request import admission_request
from kernel.apimachinery import status

from .compiler import NAMESPACE, OBJECT, OLD_OBJECT, PARAMS, REQUEST, CompiledPolicy
from .params import ConfigurationError, ParamSource, collect_params
from .namespaceobject import namespace_object
from .validator import (DENY, ERROR, MAX_AUDIT_VALUE_BYTES, PUBLISH, Decision, Scope,
                        ValidateResult, validate)

FAILURE_KEY = "validation.policy.admission.k8s.io/validation_failure"
_CODES = {"Forbidden": 403, "Unauthorized": 401, "RequestEntityTooLarge": 413, "Invalid": 422}


class Recorder(Protocol):
    """Where warnings and audit annotations of one request go (kernel.admission.Attributes:
    ``add_warning`` and ``add_annotation``, kube's warning.AddWarning and AddAnnotation)."""

    def add_warning(self, text: str) -> None: ...

    def add_annotation(self, key: str, value: str) -> None: ...


class Binding(msgspec.Struct, frozen=True):
    binding: Mapping[str, Any]
    criteria: MatchCriteria | None  # None: no matchResources, it matches what the policy does

    @property
    def name(self) -> str:
        return (self.binding.get("metadata") or {}).get("name", "")

    @property
    def spec(self) -> Mapping[str, Any]:
        return self.binding.get("spec") or {}


class PolicyHook(msgspec.Struct, frozen=True):
    """One policy with its bindings, compiled (kube's PolicyHook)."""

    policy: Mapping[str, Any]
    compiled: CompiledPolicy
    criteria: MatchCriteria
    bindings: tuple[Binding, ...]
    params: ParamSource | None = None
    configuration_error: str = ""

    @property
    def name(self) -> str:
        return self.compiled.name


class _Denial(msgspec.Struct):
    policy: str
    binding: str | None
    message: str
    reason: str = ""


class Dispatch(msgspec.Struct):
    """One request's pass over the policies."""

    attributes: Attributes
    matcher: Matcher
    namespace: Callable[[str], Mapping[str, Any] | None]
    recorder: Recorder
    authorizer: Mapping[str, Any] | None = None  # the authorizer's CEL values, when a policy uses it
    denials: list[_Denial] = msgspec.field(default_factory=list)

    def config_error(self, hook: PolicyHook, binding: Binding | None, error: str) -> None:
        """kube's addConfigError: Ignore skips the policy, Fail denies."""
        if hook.compiled.failure_policy == "Ignore":
            return
        if hook.compiled.failure_policy != "Fail":
            message = f"unrecognized failure policy: '{hook.compiled.failure_policy}'"
        elif binding is None:
            message = f"failed to configure policy: {error}"
        else:
            message = f"failed to configure binding: {error}"
        self.denials.append(_Denial(hook.name, binding.name if binding else None, message))

    def run(self, hooks: Sequence[PolicyHook]) -> None:
        for hook in hooks:
            try:
                match = self.matcher.policy(hook.criteria, self.attributes)
            except status.StatusError as error:
                self.config_error(hook, None, error.message)
                continue
            if match is None:
                continue
            if hook.configuration_error:
                self.config_error(hook, None, hook.configuration_error)
                continue
            annotations: dict[str, list[str]] = {}
            for binding in hook.bindings:
                self._binding(hook, binding, match, annotations)
            for key, values in annotations.items():
                self.recorder.add_annotation(f"{hook.name}/{key}", ", ".join(values))
        if self.denials:
            raise self._refusal(self.denials[0])

    def _binding(self, hook: PolicyHook, binding: Binding, match: Match,
                 annotations: dict[str, list[str]]) -> None:
        if binding.criteria is not None:
            try:
                if self.matcher.policy(binding.criteria, self.attributes) is None:
                    return
            except status.StatusError as error:
                self.config_error(hook, binding, error.message)
                return
        try:
            params = collect_params(hook.params, binding.spec.get("paramRef"),
                                    self.attributes.namespace)
        except ConfigurationError as error:
            self.config_error(hook, binding, str(error))
            return
        values = self._values(match, hook.compiled.reads)
        for param in params:
            extra = self.authorizer if hook.compiled.uses_authorizer else None
            scope = Scope(hook.compiled, {**values, PARAMS: param}, extra)
            self._act(hook, binding, validate(hook.compiled, scope), annotations)

    def _values(self, match: Match, reads: frozenset[str]) -> dict[str, Any]:
        attributes = self.attributes
        namespace = None
        # a Namespace carries its own name as its namespace: kube gives it no namespaceObject
        if attributes.namespace and not (attributes.kind.kind == "Namespace"
                                         and attributes.kind.group == ""):
            namespace = self.namespace(attributes.namespace)
            if namespace is None:
                raise status.not_found("", "namespaces", attributes.namespace)
        values = {OBJECT: attributes.object, OLD_OBJECT: attributes.old_object,
                  NAMESPACE: namespace_object(namespace)}
        if REQUEST in reads:  # built only for a policy that reads it
            values[REQUEST] = admission_request(attributes, match)
        return values

    def _act(self, hook: PolicyHook, binding: Binding, result: ValidateResult,
             annotations: dict[str, list[str]]) -> None:
        actions = binding.spec.get("validationActions") or ()
        for index, decision in enumerate(result.decisions):
            if decision.action != DENY:
                continue
            for action in actions:
                if action == "Deny":
                    self.denials.append(_Denial(hook.name, binding.name, decision.message,
                                                decision.reason))
                elif action == "Warn":
                    self.recorder.add_warning(
                        f"Validation failed for ValidatingAdmissionPolicy '{hook.name}' with "
                        f"binding '{binding.name}': {decision.message}")
                elif action == "Audit":
                    self.recorder.add_annotation(FAILURE_KEY, _failure_value(hook, binding, index,
                                                                         decision))
        for audit in result.audit_annotations:
            if audit.action == PUBLISH:
                value = audit.value[:MAX_AUDIT_VALUE_BYTES]
                values = annotations.setdefault(audit.key, [])
                if value not in values:
                    values.append(value)
            elif audit.action == ERROR:
                self.denials.append(_Denial(hook.name, binding.name, audit.error))

    def _refusal(self, denial: _Denial) -> status.StatusError:
        """kube's admission Forbidden with the decision's reason and its code, and the message
        as a cause."""
        if denial.binding is None:
            message = f"ValidatingAdmissionPolicy '{denial.policy}' denied request: {denial.message}"
        else:
            message = (f"ValidatingAdmissionPolicy '{denial.policy}' with binding "
                       f"'{denial.binding}' denied request: {denial.message}")
        error = self.attributes.forbidden(message, [{"message": message}])
        error.reason = denial.reason or "Invalid"
        error.code = _CODES.get(error.reason, 422)
        return error


def _failure_value(hook: PolicyHook, binding: Binding, index: int, decision: Decision) -> str:
    return json.dumps([{"message": decision.message, "policy": hook.name, "binding": binding.name,
                        "expressionIndex": index,
                        "validationActions": list(binding.spec.get("validationActions") or ())}],
                      separators=(",", ":"))
