"""AuthorizationConfiguration (apiserver.config.k8s.io): the authorizer chain as a file.

``--authorization-config`` names a file like kube-apiserver's: ``authorizers: [{type, name,
webhook}]``, the chain in that order, several ``Webhook`` entries allowed. Without it the chain
is built from ``--authorization-mode`` the way kube converts its legacy flags
(pkg/kubeapiserver/options/authorization.go): one entry per mode, named after it. Either way the
kernel builds each entry with the factory of its ``type`` (``kernel_authorizers``), which reads
the entry it is building from ``context.authorizer_config``.

Decoding and validation follow k8s.io/apiserver/pkg/apis/apiserver (load, v1 defaults,
validation) with kube's field paths and messages. Match conditions are checked here for shape
only (required, duplicates, at most 64); compiling their CEL is the Webhook mode's job, in its
``kernel_validate_options``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from kernel.apimachinery.validation import FieldError, is_dns1123_subdomain
from kernel.server.options import duration, format_duration

GROUP = "apiserver.config.k8s.io"
KIND = "AuthorizationConfiguration"
API_VERSIONS = tuple(f"{GROUP}/{v}" for v in ("v1", "v1beta1", "v1alpha1"))
WEBHOOK = "Webhook"
REPEATABLE_TYPES = frozenset({WEBHOOK})
#: The name kube gives the webhook built from the --authorization-webhook-* flags.
DEFAULT_WEBHOOK_NAME = "default"
KUBECONFIG_FILE = "KubeConfigFile"
IN_CLUSTER = "InClusterConfig"
FAILURE_POLICIES = ("NoOpinion", "Deny")
MAX_MATCH_CONDITIONS = 64
LOAD_ERROR = "failed to load AuthorizationConfiguration from file"


class ConfigError(ValueError):
    """An invalid file: ``errors`` holds one message per problem (kube's field paths)."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = list(errors)


class WebhookConfiguration(msgspec.Struct, frozen=True):
    """One Webhook entry's ``webhook`` (durations in seconds, defaults as kube's v1 defaulting)."""

    timeout: float
    subject_access_review_version: str
    failure_policy: str
    connection_type: str
    kubeconfig_file: str = ""
    match_condition_subject_access_review_version: str = ""
    authorized_ttl: float = 300.0
    unauthorized_ttl: float = 30.0
    cache_authorized_requests: bool = True
    cache_unauthorized_requests: bool = True
    match_conditions: tuple[str, ...] = ()


class AuthorizerConfiguration(msgspec.Struct, frozen=True):
    """One entry of the chain: the mode (``type``), its ``name``, a Webhook's settings."""

    type: str
    name: str
    webhook: WebhookConfiguration | None = None

    @property
    def label(self) -> str:
        """How the chain names it in the log and ``kernel plugins``: the mode, with the entry's
        name when it is not the one the legacy flags give (``Webhook/team-a``)."""
        if self.name in (self.type.lower(), DEFAULT_WEBHOOK_NAME):
            return self.type
        return f"{self.type}/{self.name}"


class AuthorizationConfiguration(msgspec.Struct, frozen=True):
    authorizers: tuple[AuthorizerConfiguration, ...] = ()


def from_modes(modes: Iterable[str]) -> AuthorizationConfiguration:
    """The chain ``--authorization-mode`` asks for; a Webhook entry has no ``webhook``: the mode
    builds it from its own --authorization-webhook-* flags."""
    return AuthorizationConfiguration(tuple(
        AuthorizerConfiguration(mode, DEFAULT_WEBHOOK_NAME if mode == WEBHOOK else mode.lower())
        for mode in modes))


def of_options(options: Any) -> AuthorizationConfiguration:
    """The chain the options ask for: the --authorization-config file, else the modes."""
    if options.authorization_config:
        return load(options.authorization_config)
    return from_modes(options.authorization_mode)


def modes(options: Any) -> list[str]:
    """The modes of the chain, in order (an unreadable file gives none: validation reports it)."""
    try:
        return [entry.type for entry in of_options(options).authorizers]
    except ConfigError:
        return []


def load(path: str) -> AuthorizationConfiguration:
    """Read and decode the file; ConfigError with kube's message when it cannot be."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ConfigError([f"open {path}: {(error.strerror or str(error)).lower()}"]) from None
    return decode(data)


# -- decoding ---------------------------------------------------------------------------------

_TOP = ("apiVersion", "kind", "authorizers")
_ENTRY = ("type", "name", "webhook")
_WEBHOOK = ("authorizedTTL", "cacheAuthorizedRequests", "unauthorizedTTL",
            "cacheUnauthorizedRequests", "timeout", "subjectAccessReviewVersion",
            "matchConditionSubjectAccessReviewVersion", "failurePolicy", "connectionInfo",
            "matchConditions")
_CONNECTION = ("type", "kubeConfigFile")


class _Decoder:
    """Strict decoding: unknown fields and wrong types are collected, then reported together."""

    def __init__(self) -> None:
        self.unknown: list[str] = []
        self.errors: list[str] = []

    def obj(self, value: Any, path: str, known: Sequence[str]) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.errors.append(f"{path}: expected an object")
            return {}
        for key in value:
            if key not in known:
                self.unknown.append(f'unknown field "{path + "." if path else ""}{key}"')
        return value

    def string(self, obj: Mapping[str, Any], key: str, path: str) -> str:
        value = obj.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.errors.append(f"{path}.{key}: expected a string")
            return ""
        return value

    def boolean(self, obj: Mapping[str, Any], key: str, path: str) -> bool:
        value = obj.get(key, True)  # v1 defaulting: both cache flags default to true
        if not isinstance(value, bool):
            self.errors.append(f"{path}.{key}: expected true or false")
            return True
        return value

    def duration(self, obj: Mapping[str, Any], key: str, path: str) -> float:
        text = obj.get(key)
        if text is None or text == "":
            return 0.0
        if not isinstance(text, str):
            self.errors.append(f"{path}.{key}: expected a duration string such as 30s")
            return 0.0
        try:
            return duration(text)
        except ValueError:
            self.errors.append(f'{path}.{key}: time: invalid duration "{text}"')
            return 0.0


def decode(data: bytes) -> AuthorizationConfiguration:
    """Decode YAML or JSON as kube's strict decoder would, applying v1's defaults."""
    import yaml  # only a server given --authorization-config reads YAML here

    try:
        document = yaml.safe_load(data)
    except yaml.YAMLError as error:
        raise ConfigError([f"{LOAD_ERROR}: {error}"]) from None
    if not isinstance(document, Mapping):
        raise ConfigError([f"{LOAD_ERROR}: expected an {KIND} object"])
    api_version, kind = document.get("apiVersion"), document.get("kind")
    if not api_version:
        raise ConfigError([f"{LOAD_ERROR}: Object 'apiVersion' is missing"])
    if not kind:
        raise ConfigError([f"{LOAD_ERROR}: Object 'Kind' is missing"])
    if api_version not in API_VERSIONS or kind != KIND:
        raise ConfigError([f'{LOAD_ERROR}: no kind "{kind}" is registered for version '
                           f'"{api_version}"; supported: {KIND} of {", ".join(API_VERSIONS)}'])
    decoder = _Decoder()
    top = decoder.obj(document, "", _TOP)
    entries = top.get("authorizers") or []
    if not isinstance(entries, list):
        decoder.errors.append("authorizers: expected a list")
        entries = []
    authorizers = tuple(_entry(decoder, entry, f"authorizers[{i}]") for i, entry in enumerate(entries))
    if decoder.unknown:
        decoder.errors.insert(0, "strict decoding error: " + ", ".join(decoder.unknown))
    if decoder.errors:
        raise ConfigError([f"{LOAD_ERROR}: {error}" for error in decoder.errors])
    return AuthorizationConfiguration(authorizers)


def _entry(decoder: _Decoder, value: Any, path: str) -> AuthorizerConfiguration:
    entry = decoder.obj(value, path, _ENTRY)
    webhook = None
    if entry.get("webhook") is not None:
        webhook = _webhook(decoder, entry["webhook"], f"{path}.webhook")
    return AuthorizerConfiguration(decoder.string(entry, "type", path),
                                   decoder.string(entry, "name", path), webhook)


def _webhook(decoder: _Decoder, value: Any, path: str) -> WebhookConfiguration:
    hook = decoder.obj(value, path, _WEBHOOK)
    connection = decoder.obj(hook.get("connectionInfo"), f"{path}.connectionInfo", _CONNECTION)
    conditions = hook.get("matchConditions") or []
    if not isinstance(conditions, list):
        decoder.errors.append(f"{path}.matchConditions: expected a list")
        conditions = []
    expressions = []
    for i, condition in enumerate(conditions):
        condition = decoder.obj(condition, f"{path}.matchConditions[{i}]", ("expression",))
        expressions.append(decoder.string(condition, "expression", f"{path}.matchConditions[{i}]"))
    return WebhookConfiguration(
        timeout=decoder.duration(hook, "timeout", path),
        subject_access_review_version=decoder.string(hook, "subjectAccessReviewVersion", path),
        failure_policy=decoder.string(hook, "failurePolicy", path),
        connection_type=decoder.string(connection, "type", f"{path}.connectionInfo"),
        kubeconfig_file=decoder.string(connection, "kubeConfigFile", f"{path}.connectionInfo"),
        match_condition_subject_access_review_version=decoder.string(
            hook, "matchConditionSubjectAccessReviewVersion", path),
        authorized_ttl=decoder.duration(hook, "authorizedTTL", path) or 300.0,
        unauthorized_ttl=decoder.duration(hook, "unauthorizedTTL", path) or 30.0,
        cache_authorized_requests=decoder.boolean(hook, "cacheAuthorizedRequests", path),
        cache_unauthorized_requests=decoder.boolean(hook, "cacheUnauthorizedRequests", path),
        match_conditions=tuple(expressions))


# -- validation -------------------------------------------------------------------------------

def validate(config: AuthorizationConfiguration, known_types: Iterable[str]) -> list[str]:
    """kube's ValidateAuthorizationConfiguration plus LoadAndValidateData's name rule; ``known_types``
    are the modes the selected plugins provide."""
    known = sorted(set(known_types))
    errors: list[FieldError] = []
    if not config.authorizers:
        errors.append(FieldError.required("authorizers", "at least one authorization mode must be defined"))
    seen_types: set[str] = set()
    seen_names: set[str] = set()
    for i, entry in enumerate(config.authorizers):
        path = f"authorizers[{i}]"
        if not entry.type:
            errors.append(FieldError.required(f"{path}.type"))
            continue
        if entry.type not in known:
            errors.append(FieldError.not_supported(f"{path}.type", entry.type, known))
            continue
        if entry.type in seen_types and entry.type not in REPEATABLE_TYPES:
            errors.append(FieldError.duplicate(f"{path}.type", entry.type))
            continue
        seen_types.add(entry.type)
        if not entry.name:
            errors.append(FieldError.required(f"{path}.name"))
        elif entry.name in seen_names:
            errors.append(FieldError.duplicate(f"{path}.name", entry.name))
        elif problems := is_dns1123_subdomain(entry.name):
            errors.append(FieldError.invalid(f"{path}.name", entry.name,
                                             f"authorizer name is invalid: {', '.join(problems)}"))
        seen_names.add(entry.name)
        if entry.type == WEBHOOK:
            if entry.webhook is None:
                errors.append(FieldError.required(f"{path}.webhook", "required when type=Webhook"))
                continue
            errors += validate_webhook(entry.webhook, path)
        elif entry.webhook is not None:
            errors.append(FieldError.invalid(f"{path}.webhook", "non-null",
                                             "may only be specified when type=Webhook"))
    if errors:
        return [str(error) for error in errors]
    return [f"expected name {e.type.lower()} for authorizer {e.type} instead of {e.name}"
            for e in config.authorizers if e.type != WEBHOOK and e.name != e.type.lower()]


def _go_duration(seconds: float) -> str:
    """Go's Duration.String(), negatives included."""
    return "-" + format_duration(-seconds) if seconds < 0 else format_duration(seconds)


def validate_webhook(hook: WebhookConfiguration, path: str) -> list[FieldError]:
    """kube's ValidateWebhookConfiguration (its paths omit ``.webhook``, as kube's do)."""
    errors: list[FieldError] = []
    if hook.timeout == 0:
        errors.append(FieldError.required(f"{path}.timeout"))
    elif not 0 < hook.timeout <= 30:
        errors.append(FieldError.invalid(f"{path}.timeout", _go_duration(hook.timeout),
                                         "must be > 0s and <= 30s"))
    for name, ttl in (("authorizedTTL", hook.authorized_ttl), ("unauthorizedTTL", hook.unauthorized_ttl)):
        if ttl < 0:
            errors.append(FieldError.invalid(f"{path}.{name}", _go_duration(ttl), "must be > 0s"))
    if not hook.subject_access_review_version:
        errors.append(FieldError.required(f"{path}.subjectAccessReviewVersion"))
    elif hook.subject_access_review_version not in ("v1", "v1beta1"):
        errors.append(FieldError.not_supported(f"{path}.subjectAccessReviewVersion",
                                               hook.subject_access_review_version, ["v1", "v1beta1"]))
    version = hook.match_condition_subject_access_review_version
    if not version and hook.match_conditions:
        errors.append(FieldError.required(f"{path}.matchConditionSubjectAccessReviewVersion",
                                          "required if match conditions are specified"))
    elif version and version != "v1":
        errors.append(FieldError.not_supported(f"{path}.matchConditionSubjectAccessReviewVersion",
                                               version, ["v1"]))
    if not hook.failure_policy:
        errors.append(FieldError.required(f"{path}.failurePolicy"))
    elif hook.failure_policy not in FAILURE_POLICIES:
        errors.append(FieldError.not_supported(f"{path}.failurePolicy", hook.failure_policy,
                                               FAILURE_POLICIES))
    errors += _validate_connection(hook, f"{path}.connectionInfo")
    errors += _validate_match_conditions(hook.match_conditions, f"{path}.matchConditions")
    return errors


def _validate_connection(hook: WebhookConfiguration, path: str) -> list[FieldError]:
    kubeconfig = hook.kubeconfig_file
    if not hook.connection_type:
        return [FieldError.required(f"{path}.type")]
    if hook.connection_type == IN_CLUSTER:
        if kubeconfig:
            return [FieldError.invalid(f"{path}.kubeConfigFile", kubeconfig,
                                       "can only be set when type=KubeConfigFile")]
        return []
    if hook.connection_type != KUBECONFIG_FILE:
        return [FieldError.not_supported(f"{path}.type", hook.connection_type, [IN_CLUSTER, KUBECONFIG_FILE])]
    if not kubeconfig:
        return [FieldError.required(f"{path}.kubeConfigFile")]
    if not os.path.isabs(kubeconfig):
        return [FieldError.invalid(f"{path}.kubeConfigFile", kubeconfig, "must be an absolute path")]
    try:
        regular = Path(kubeconfig).is_file()
        os.stat(kubeconfig)
    except OSError as error:
        return [FieldError.invalid(f"{path}.kubeConfigFile", kubeconfig,
                                   f"error loading file: stat {kubeconfig}: "
                                   f"{(error.strerror or str(error)).lower()}")]
    if not regular:
        return [FieldError.invalid(f"{path}.kubeConfigFile", kubeconfig, "must be a regular file")]
    return []


def _validate_match_conditions(expressions: Sequence[str], path: str) -> list[FieldError]:
    if len(expressions) > MAX_MATCH_CONDITIONS:
        return [FieldError.too_many(path, len(expressions), MAX_MATCH_CONDITIONS)]
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, expression in enumerate(expressions):
        where = f"{path}[{i}].expression"
        if not expression.strip():
            errors.append(FieldError.required(where))
        elif expression in seen:
            errors.append(FieldError.duplicate(where, expression))
        seen.add(expression)
    return errors
