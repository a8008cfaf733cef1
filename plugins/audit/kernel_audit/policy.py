"""The audit policy (audit.k8s.io/v1 Policy): loading and validating the file, and evaluating its
rules for a request (k8s.io/apiserver/pkg/audit/policy: reader.go, checker.go; validation.go).

The first rule that matches decides the level; a request no rule matches is not audited. A
rule's ``omitStages`` adds to the policy's; its ``omitManagedFields`` overrides the policy's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import msgspec

from kernel.apimachinery.validation import FieldError, aggregate_message, is_dns1123_subdomain
from kernel.audit import Level, RequestAuditConfig, Stage
from kernel.authorization import Attributes

log = logging.getLogger("kernel.audit.policy")

GROUP_VERSION = "audit.k8s.io/v1"
LEVELS = (Level.NONE, Level.METADATA, Level.REQUEST, Level.REQUEST_RESPONSE)
RULE_FIELDS = frozenset({"level", "users", "userGroups", "verbs", "resources", "namespaces",
                         "nonResourceURLs", "omitStages", "omitManagedFields"})
POLICY_FIELDS = frozenset({"apiVersion", "kind", "metadata", "rules", "omitStages",
                           "omitManagedFields"})


class PolicyError(Exception):
    """The policy file cannot be used; the message is kube's."""


class GroupResources(msgspec.Struct, frozen=True):
    group: str = ""
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()


class PolicyRule(msgspec.Struct, frozen=True):
    level: str
    users: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    resources: tuple[GroupResources, ...] = ()
    namespaces: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: tuple[str, ...] = ()
    omit_managed_fields: bool | None = None


class Policy(msgspec.Struct, frozen=True):
    rules: tuple[PolicyRule, ...]
    omit_stages: tuple[str, ...] = ()
    omit_managed_fields: bool = False


# -- loading -----------------------------------------------------------------------------------

def load_policy_file(path: str) -> Policy:
    """LoadPolicyFromFile, with kube's error texts (the caller adds "loading audit policy file: ")."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise PolicyError(f'failed to read file path "{path}": open {path}: '
                          f'{(error.strerror or str(error)).lower()}') from None
    try:
        return load_policy(data)
    except PolicyError as error:
        raise PolicyError(f"{error}: from file {path}") from None


def load_policy(data: bytes) -> Policy:
    import yaml  # only a server given --audit-policy-file reads YAML here

    try:
        raw = yaml.safe_load(data)
    except yaml.YAMLError as error:
        raise PolicyError(f"failed decoding: {_one_line(error)}") from None
    if not isinstance(raw, dict):
        raise PolicyError("failed decoding: Object 'Kind' is missing in '" + _one_line(data.decode(
            "utf-8", "replace")) + "'")
    kind, api_version = raw.get("kind"), raw.get("apiVersion")
    if not kind:
        raise PolicyError(f"failed decoding: Object 'Kind' is missing in '{_one_line(str(raw))}'")
    if api_version != GROUP_VERSION or kind != "Policy":
        raise PolicyError(f'failed decoding: no kind "{kind}" is registered for version '
                          f'"{api_version}" in scheme "k8s.io/apiserver/pkg/audit/scheme.go:30"')
    unknown = sorted(set(raw) - POLICY_FIELDS)
    try:
        policy = _decode(raw, unknown)
    except (TypeError, ValueError) as error:
        raise PolicyError(f"failed decoding: {error}") from None
    if unknown:  # kube decodes strictly, then leniently with a warning
        log.warning("Audit policy contains errors, falling back to lenient decoding: "
                    "strict decoding error: %s", ", ".join(f'unknown field "{f}"' for f in unknown))
    errors = validate_policy(policy)
    if errors:
        raise PolicyError(aggregate_message(errors))
    if not policy.rules:
        raise PolicyError("loaded illegal policy with 0 rules")
    return policy


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def _strings(value: Any, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{field}: expected a list of strings")
    return tuple(value)


def _decode(raw: dict[str, Any], unknown: list[str]) -> Policy:
    rules = raw.get("rules") or []
    if not isinstance(rules, list):
        raise TypeError("rules: expected a list")
    decoded = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            raise TypeError(f"rules[{i}]: expected an object")
        unknown += [f"rules[{i}].{f}" for f in sorted(set(rule) - RULE_FIELDS)]
        resources = []
        for j, group in enumerate(rule.get("resources") or []):
            if not isinstance(group, dict):
                raise TypeError(f"rules[{i}].resources[{j}]: expected an object")
            resources.append(GroupResources(
                str(group.get("group") or ""),
                _strings(group.get("resources"), f"rules[{i}].resources[{j}].resources"),
                _strings(group.get("resourceNames"), f"rules[{i}].resources[{j}].resourceNames")))
        omit_managed = rule.get("omitManagedFields")
        decoded.append(PolicyRule(
            level=str(rule.get("level") or ""),
            users=_strings(rule.get("users"), f"rules[{i}].users"),
            user_groups=_strings(rule.get("userGroups"), f"rules[{i}].userGroups"),
            verbs=_strings(rule.get("verbs"), f"rules[{i}].verbs"),
            resources=tuple(resources),
            namespaces=_strings(rule.get("namespaces"), f"rules[{i}].namespaces"),
            non_resource_urls=_strings(rule.get("nonResourceURLs"), f"rules[{i}].nonResourceURLs"),
            omit_stages=_strings(rule.get("omitStages"), f"rules[{i}].omitStages"),
            omit_managed_fields=None if omit_managed is None else bool(omit_managed)))
    return Policy(tuple(decoded), _strings(raw.get("omitStages"), "omitStages"),
                  bool(raw.get("omitManagedFields")))


# -- validation (apis/audit/validation) --------------------------------------------------------

def validate_policy(policy: Policy) -> list[FieldError]:
    errors = _validate_omit_stages(policy.omit_stages, "omitStages")
    for i, rule in enumerate(policy.rules):
        path = f"rules[{i}]"
        if not rule.level:
            errors.append(FieldError.required(f"{path}.level"))
        elif rule.level not in LEVELS:
            errors.append(FieldError.not_supported(f"{path}.level", rule.level, LEVELS))
        for j, url in enumerate(rule.non_resource_urls):
            if url == "*":
                continue
            if not url.startswith("/"):
                errors.append(FieldError.invalid(f"{path}.nonResourceURLs[{j}]", url,
                                                 "non-resource URL rules must begin with a '/' character"))
            if url and "*" in url[:-1]:
                errors.append(FieldError.invalid(f"{path}.nonResourceURLs[{j}]", url,
                                                 "non-resource URL wildcards '*' must be the final "
                                                 "character of the rule"))
        for group in rule.resources:
            if group.group and group.group != "*":
                problems = is_dns1123_subdomain(group.group)
                if problems:
                    errors.append(FieldError.invalid(f"{path}.resources.group", group.group,
                                                     ",".join(problems)))
            if group.resource_names and not group.resources:
                errors.append(FieldError.invalid(f"{path}.resources.resourceNames",
                                                 list(group.resource_names),
                                                 "using resourceNames requires at least one resource"))
        errors += _validate_omit_stages(rule.omit_stages, f"{path}.omitStages")
        if rule.non_resource_urls and (rule.resources or rule.namespaces):
            errors.append(FieldError.invalid(f"{path}.nonResourceURLs", list(rule.non_resource_urls),
                                             "rules cannot apply to both regular resources and "
                                             "non-resource URLs"))
    return errors


def _validate_omit_stages(stages: Sequence[str], path: str) -> list[FieldError]:
    return [FieldError.invalid(f"{path}[{i}]", stage, "allowed stages are " + ",".join(Stage.ALL))
            for i, stage in enumerate(stages) if stage not in Stage.ALL]


# -- evaluation (checker.go) -------------------------------------------------------------------

class PolicyRuleEvaluator:
    """kube's policyRuleEvaluator: the first matching rule's level, stages and managed-fields
    choice; ``None`` level when nothing matches."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._rules = [(rule, RequestAuditConfig(
            rule.level, frozenset(policy.omit_stages) | frozenset(rule.omit_stages),
            policy.omit_managed_fields if rule.omit_managed_fields is None else rule.omit_managed_fields))
            for rule in policy.rules]
        self._default = RequestAuditConfig(Level.NONE, frozenset(policy.omit_stages),
                                           policy.omit_managed_fields)

    def level_and_stages(self, attributes: Attributes) -> RequestAuditConfig:
        for rule, config in self._rules:
            if rule_matches(rule, attributes):
                return config
        return self._default


def rule_matches(rule: PolicyRule, attributes: Attributes) -> bool:
    user = attributes.user
    if rule.users and (user is None or user.name not in rule.users):
        return False
    if rule.user_groups and (user is None or not any(g in rule.user_groups for g in user.groups)):
        return False
    if rule.verbs and attributes.verb not in rule.verbs:
        return False
    if rule.namespaces or rule.resources:
        return _matches_resource(rule, attributes)
    if rule.non_resource_urls:
        return _matches_non_resource(rule, attributes)
    return True


def _matches_non_resource(rule: PolicyRule, attributes: Attributes) -> bool:
    if attributes.resource_request:
        return False
    path = attributes.path
    return any(spec == "*" or spec == path
               or (spec.endswith("*") and path.startswith(spec.rstrip("*")))
               for spec in rule.non_resource_urls)


def _matches_resource(rule: PolicyRule, attributes: Attributes) -> bool:
    if not attributes.resource_request:
        return False
    if rule.namespaces and attributes.namespace not in rule.namespaces:  # "" = cluster-scoped
        return False
    if not rule.resources:
        return True
    resource, subresource = attributes.resource, attributes.subresource
    combined = f"{resource}/{subresource}" if subresource else resource
    for group in rule.resources:
        if group.group != attributes.api_group and group.group != "*":
            continue
        if not group.resources:
            return True
        if group.resource_names and attributes.name not in group.resource_names:
            continue
        for wanted in group.resources:
            if wanted in (combined, "*"):
                return True
            if subresource and wanted.startswith("*/") and subresource == wanted[2:]:
                return True
            if wanted.endswith("/*") and resource == wanted[:-2]:
                return True
    return False
