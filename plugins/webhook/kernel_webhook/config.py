"""A webhook's ``clientConfig`` (admissionregistration's and apiextensions' WebhookClientConfig):
``url``, or ``service`` {namespace, name, path, port}, and ``caBundle``; validated as kube's
k8s.io/apiserver/pkg/util/webhook/validation.go does."""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from collections.abc import Mapping
from typing import Any

import msgspec

from kernel.apimachinery.commonvalidation import is_valid_port_num
from kernel.apimachinery.validation import FieldError, is_dns1123_subdomain

_FORM = "; desired format: https://host[/path]"


class ServiceReference(msgspec.Struct, frozen=True):
    namespace: str
    name: str
    path: str = ""
    port: int = 443

    @property
    def server_name(self) -> str:
        """The name the webhook's certificate must hold: ``<name>.<namespace>.svc``."""
        return f"{self.name}.{self.namespace}.svc"

    def as_dict(self) -> dict[str, Any]:
        """The shape the service resolver takes."""
        return {"namespace": self.namespace, "name": self.name, "port": self.port}


class ClientConfig(msgspec.Struct, frozen=True):
    """One webhook's client configuration; ``ca_bundle`` is PEM (decoded from base64), or None
    for the system's trust roots."""

    url: str | None = None
    service: ServiceReference | None = None
    ca_bundle: bytes | None = None

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> ClientConfig:
        """From kube's JSON (``caBundle`` base64 as in the API); ValueError when malformed (use
        :func:`validate_client_config` for kube's field errors first)."""
        service = config.get("service")
        reference = None
        if service is not None:
            reference = ServiceReference(service.get("namespace") or "", service.get("name") or "",
                                         service.get("path") or "", int(service.get("port") or 443))
        ca = config.get("caBundle")
        try:
            ca_bundle = base64.b64decode(ca, validate=True) if ca else None
        except (binascii.Error, TypeError) as error:
            raise ValueError(f"caBundle is not valid base64: {error}") from None
        if (config.get("url") is None) == (reference is None):
            raise ValueError("exactly one of url or service is required")
        return cls(config.get("url"), reference, ca_bundle)

    @property
    def request_url(self) -> str:
        """The URL posted to: ``url``, or ``https://<name>.<namespace>.svc:<port><path>`` (the address
        dialled is the resolved endpoint; this one names the request, as kube's does)."""
        if self.url is not None:
            return self.url
        assert self.service is not None
        return f"https://{self.service.server_name}:{self.service.port}{self.service.path}"


def validate_url(url: str, path: str, force_https: bool = True) -> list[FieldError]:
    """kube's ValidateWebhookURL."""
    try:
        parsed = urllib.parse.urlsplit(url)
    except ValueError as error:
        return [FieldError.required(path, f"url must be a valid URL: {error}{_FORM}")]
    errors = []
    if force_https and parsed.scheme != "https":
        errors.append(FieldError.invalid(path, parsed.scheme, "'https' is the only allowed URL scheme" + _FORM))
    if not parsed.netloc.rpartition("@")[2]:
        errors.append(FieldError.invalid(path, "", "host must be specified" + _FORM))
    if "@" in parsed.netloc:
        errors.append(FieldError.invalid(path, parsed.netloc.rpartition("@")[0],
                                         "user information is not permitted in the URL"))
    if parsed.fragment:
        errors.append(FieldError.invalid(path, parsed.fragment, "fragments are not permitted in the URL"))
    if parsed.query:
        errors.append(FieldError.invalid(path, parsed.query, "query parameters are not permitted in the URL"))
    return errors


def validate_service(service: Mapping[str, Any], path: str) -> list[FieldError]:
    """kube's ValidateWebhookService (``port`` defaults to 443, as the API defaults it)."""
    errors = []
    if not service.get("name"):
        errors.append(FieldError.required(f"{path}.name"))
    if not service.get("namespace"):
        errors.append(FieldError.required(f"{path}.namespace"))
    port = service.get("port", 443)
    if problems := is_valid_port_num(port):
        errors.append(FieldError.invalid(f"{path}.port", port, "port is not valid: " + ", ".join(problems)))
    url_path = service.get("path")
    if url_path is None or url_path in ("", "/"):
        return errors
    if url_path == "//":
        return [*errors, FieldError.invalid(f"{path}.path", url_path, "segment[0] may not be empty")]
    if not url_path.startswith("/"):
        errors.append(FieldError.invalid(f"{path}.path", url_path, "must start with a '/'"))
    steps = url_path[1:].removesuffix("/").split("/")
    for i, step in enumerate(steps):
        if not step:
            errors.append(FieldError.invalid(f"{path}.path", url_path, f"segment[{i}] may not be empty"))
            continue
        errors += [FieldError.invalid(f"{path}.path", url_path, f"segment[{i}]: {failure}")
                   for failure in is_dns1123_subdomain(step)]
    return errors


def validate_client_config(config: Mapping[str, Any] | None, path: str) -> list[FieldError]:
    """A WebhookClientConfig at ``path`` (``webhooks[0].clientConfig``): exactly one of url or
    service, each validated as kube does."""
    config = config or {}
    url, service = config.get("url"), config.get("service")
    if (url is None) == (service is None):
        return [FieldError.required(path, "exactly one of url or service is required")]
    if url is not None:
        return validate_url(url, f"{path}.url")
    return validate_service(service, f"{path}.service")
