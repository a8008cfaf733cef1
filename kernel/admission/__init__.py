"""Admission: mutate and validate objects after authorization, before storage.

An admission plugin is a component of ``kernel_admission_plugins``. It implements one or both of
the typed interfaces below; the kernel classifies it with ``isinstance`` when the chain is built
and refuses a component that implements neither:

- :class:`MutatingAdmission`: ``admit(attributes)`` may change ``attributes.object``;
- :class:`ValidatingAdmission`: ``validate(attributes)`` only accepts or refuses.

Every mutating plugin runs (in ``--enable-admission-plugins`` order) before any validating one,
as in kube-apiserver. A validating plugin gets its own copy of the object and old object, so a
change it makes is discarded rather than stored unvalidated. A plugin refuses by raising a
``StatusError``; :meth:`Attributes.forbidden` builds kube's admission Forbidden shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from kernel.apimachinery import status
from kernel.authentication.user import UserInfo
from kernel.endpoints.request import recorded

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
META_V1 = "meta.k8s.io/v1"


class GroupVersionKind(msgspec.Struct, frozen=True):
    group: str
    version: str
    kind: str


class GroupVersionResource(msgspec.Struct, frozen=True):
    group: str
    version: str
    resource: str

    @property
    def qualified(self) -> str:
        """``configmaps`` or ``deployments.apps``: kube's GroupResource.String()."""
        return f"{self.resource}.{self.group}" if self.group else self.resource


class Attributes(msgspec.Struct, frozen=True):
    """One admission request, shaped like kube's ``admission.Attributes``.

    ``object`` is the new object (None on DELETE); ``old_object`` the stored one (None on CREATE).
    ``options`` is the request's options object as kube serializes it: ``CreateOptions``,
    ``UpdateOptions`` (also for a PATCH) or ``DeleteOptions``. The fields are fixed; only the
    object a mutating plugin receives is meant to be changed, in place.
    """

    user: UserInfo
    operation: Operation
    object: dict[str, Any] | None
    old_object: dict[str, Any] | None
    options: Mapping[str, Any]
    dry_run: bool
    kind: GroupVersionKind
    resource: GroupVersionResource
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    def forbidden(self, reason: str, causes: Sequence[Mapping[str, str]] = ()) -> status.StatusError:
        """kube's ``admission.NewForbidden``: ``<resource> "<name>" is forbidden: <reason>``,
        with optional ``details.causes``."""
        name = self.name or _object_name(self.object) or _object_name(self.old_object)
        subject = f'{self.resource.qualified} "{name}"' if name else self.resource.qualified
        error = status.forbidden(f"{subject} is forbidden: {reason}", self.resource.group,
                                 self.resource.resource, name)
        if causes:
            error.details = {**(error.details or {}), "causes": [dict(cause) for cause in causes]}
        return error

    def add_warning(self, text: str) -> None:
        """A ``Warning`` header on the response to this request (kube's warning.AddWarning)."""
        recorded.add_warning(text)

    def add_annotation(self, key: str, value: str) -> None:
        """An annotation on this request's audit event (kube's Attributes.AddAnnotation); the first
        value given for a key is kept."""
        recorded.add_audit_annotation(key, value)

    def copied(self) -> Attributes:
        """These attributes with their own copy of the objects (for a validating plugin)."""
        return msgspec.structs.replace(self, object=_copy(self.object), old_object=_copy(self.old_object))


@runtime_checkable
class MutatingAdmission(Protocol):
    def handles(self, operation: Operation) -> bool: ...

    async def admit(self, attributes: Attributes) -> None:
        """Change ``attributes.object`` in place, or raise a ``StatusError`` to refuse."""


@runtime_checkable
class ValidatingAdmission(Protocol):
    def handles(self, operation: Operation) -> bool: ...

    async def validate(self, attributes: Attributes) -> None:
        """Raise a ``StatusError`` to refuse; changes to the objects are discarded."""


@dataclass
class Admission:
    """The admission chain a :class:`~kernel.registry.store.Store` gets when it is built.

    Stores are built before the admission plugins (plugins may look stores up through the
    context), so the server creates this empty, hands it to every store, and :meth:`install`\\ s
    the built plugins once.
    """

    mutating: list[tuple[str, MutatingAdmission]] = field(default_factory=list)
    validating: list[tuple[str, ValidatingAdmission]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    _installed: bool = field(default=False, init=False, repr=False)

    def install(self, plugins: Sequence[tuple[str, object]]) -> None:
        if self._installed:
            raise RuntimeError("the admission chain is installed once, when the server is built")
        self._installed = True
        for name, plugin in plugins:
            mutating = isinstance(plugin, MutatingAdmission)
            validating = isinstance(plugin, ValidatingAdmission)
            if not (mutating or validating):
                raise TypeError(f"admission plugin {name!r} implements neither MutatingAdmission "
                                "(handles, admit) nor ValidatingAdmission (handles, validate)")
            if mutating:
                self.mutating.append((name, plugin))  # type: ignore[arg-type]
            if validating:
                self.validating.append((name, plugin))  # type: ignore[arg-type]
            self.names.append(name)

    async def __call__(self, attributes: Attributes) -> None:
        for _, mutator in self.mutating:
            if mutator.handles(attributes.operation):
                await mutator.admit(attributes)
        for _, validator in self.validating:
            if validator.handles(attributes.operation):
                await validator.validate(attributes.copied())

    def may_mutate(self, operation: Operation) -> bool:
        """Whether a mutating plugin handles ``operation`` (if none does, admission leaves the
        object as it was)."""
        return any(mutator.handles(operation) for _, mutator in self.mutating)


def options_object(kind: str, dry_run: bool, **fields: Any) -> dict[str, Any]:
    """A metav1 options object (``CreateOptions``, ``UpdateOptions``, ``DeleteOptions``)."""
    options: dict[str, Any] = {"kind": kind, "apiVersion": META_V1}
    if dry_run:
        options["dryRun"] = ["All"]
    options.update({key: value for key, value in fields.items() if value})
    return options


def _copy(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    # stored objects are JSON values: a msgspec round trip copies them several times faster
    # than copy.deepcopy
    return None if obj is None else msgspec.json.decode(msgspec.json.encode(obj))


def _object_name(obj: dict[str, Any] | None) -> str:
    meta = (obj or {}).get("metadata")
    return (meta.get("name") or meta.get("generateName") or "") if isinstance(meta, dict) else ""


def default_enabled(factory: Callable[..., Any]) -> Callable[..., Any]:
    """Mark an admission plugin factory as on unless ``--disable-admission-plugins`` names it."""
    factory.default_enabled = True  # type: ignore[attr-defined]
    return factory


#: kube-apiserver runs these last, in this order, whatever order they are enabled in
#: (pkg/kubeapiserver/options/plugins.go: "webhook, resourcequota, and deny plugins must go at
#: the end"): policies and webhooks see the object as every other plugin left it.
LAST = ("MutatingAdmissionPolicy", "MutatingAdmissionWebhook", "ValidatingAdmissionPolicy",
        "ValidatingAdmissionWebhook", "ResourceQuota", "AlwaysDeny")


def admission_order(provided: Mapping[str, tuple[str, Any]], enabled: Sequence[str],
                    disabled: Sequence[str]) -> list[str]:
    """Default-enabled plugins (in plugin order), then ``--enable-admission-plugins`` in its order,
    then those of :data:`LAST` in kube's order."""
    chain = [name for name, (_, factory) in provided.items()
             if getattr(factory, "default_enabled", False) and name not in enabled]
    chain += list(enabled)
    chain = [name for name in chain if name not in LAST] + [name for name in LAST if name in chain]
    return [name for name in chain if name not in disabled]
