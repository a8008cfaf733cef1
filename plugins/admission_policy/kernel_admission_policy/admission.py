"""The ``ValidatingAdmissionPolicy`` admission plugin (kube's validating ``Plugin``): every
request is checked against the policies and bindings in force, read through informers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import trio

from kernel.admission import Attributes, Operation, ValidatingAdmission
from kernel.admission.predicates import Matcher
from kernel.context import ServerContext

from . import manifests
from .authorizer import RequestAuthorizer
from .dispatcher import Dispatch, PolicyHook
from .source import BINDINGS, GROUP, POLICIES, ParamResource, PolicySource

log = logging.getLogger("kernel.admission.policy")
MANIFESTS_OPTION = "validating_admission_policy_static_manifests_dir"
NAME = "ValidatingAdmissionPolicy"
SYNC_TIMEOUT = 10.0  # how long a request waits for the policies to be listed at startup
PARAM_SYNC_TIMEOUT = 1.0  # kube waits a second for a new paramKind's informer
#: requests on these are never subject to policies (kube's IsExemptAdmissionConfigurationResource)
EXEMPT = frozenset({"validatingwebhookconfigurations", "mutatingwebhookconfigurations",
                    "validatingadmissionpolicies", "validatingadmissionpolicybindings",
                    "mutatingadmissionpolicies", "mutatingadmissionpolicybindings"})


class ValidatingAdmissionPolicyPlugin(ValidatingAdmission):
    def __init__(self, context: ServerContext) -> None:
        self.context = context
        self._resources: dict[tuple[str, str, str], ParamResource] = {}
        self.source = PolicySource(self._find_resource, context.informer)
        try:  # created now, so it is listed by the time requests come
            self._namespaces: Any = context.informer("", "namespaces")
        except KeyError:  # no core group: every request is cluster-scoped
            self._namespaces = None
        directory = getattr(context.options, MANIFESTS_OPTION, "")
        self.static = manifests.load(directory) if directory else ([], [])
        self.static_source = PolicySource(self._find_resource, context.informer)
        try:
            self.policies = context.informer(GROUP, POLICIES)
            self.bindings = context.informer(GROUP, BINDINGS)
        except KeyError:  # admissionregistration.k8s.io is not served: no policy can exist
            log.info("%s: %s is not served, no policy applies", NAME, GROUP)
            self.policies = self.bindings = None
            return
        for informer in (self.policies, self.bindings):
            informer.add_event_handler(self.source.changed, self.source.changed,
                                       self.source.changed)

    def handles(self, operation: Operation) -> bool:
        return True

    def _find_resource(self, group: str, version: str, kind: str) -> ParamResource | None:
        """The served resource of a kind, looked up again when unknown (CRDs come and go)."""
        key = (group, version, kind)
        if key not in self._resources:
            for store_group, resource in self.context.resources():
                if store_group != group:
                    continue
                spec = self.context.store(store_group, resource).spec
                found = (spec.group, spec.version, spec.kind)
                self._resources.setdefault(found, ParamResource(spec.group, spec.plural, spec.namespaced))
        return self._resources.get(key)

    def _namespace(self, name: str) -> Mapping[str, Any] | None:
        return None if self._namespaces is None else self._namespaces.get(name)

    def _namespace_labels(self, name: str) -> Mapping[str, str] | None:
        namespace = self._namespace(name)
        return None if namespace is None else (namespace["metadata"].get("labels") or {})

    async def _hooks(self, attributes: Attributes) -> list[PolicyHook]:
        """The static policies' hooks, then those of the API (kube's composite source)."""
        hooks = self.static_source.hooks(*self.static)
        if self.policies is None or self.bindings is None:
            return hooks
        if not (self.policies.has_synced and self.bindings.has_synced):
            with trio.move_on_after(SYNC_TIMEOUT):
                await self.policies.wait_synced()
                await self.bindings.wait_synced()
            if not (self.policies.has_synced and self.bindings.has_synced):
                raise attributes.forbidden("not yet ready to handle request")
        hooks = hooks + self.source.hooks(self.policies.list(), self.bindings.list())
        for hook in hooks:
            lister = hook.params.lister if hook.params else None
            if lister is not None and not lister.has_synced:
                with trio.move_on_after(PARAM_SYNC_TIMEOUT):
                    await lister.wait_synced()
        return hooks

    async def validate(self, attributes: Attributes) -> None:
        if attributes.resource.group == GROUP and attributes.resource.resource in EXEMPT:
            return
        hooks = await self._hooks(attributes)
        if not hooks:
            return
        # only a namespaced request looks its namespace up (a Namespace is its own)
        if (attributes.namespace and attributes.resource.resource != "namespaces"
                and self._namespaces is not None and not self._namespaces.has_synced):
            with trio.move_on_after(SYNC_TIMEOUT):
                await self._namespaces.wait_synced()
        matcher = Matcher(self._namespace_labels)
        dispatch = Dispatch(attributes, matcher, self._namespace, attributes)
        if not any(hook.compiled.uses_authorizer for hook in hooks):
            dispatch.run(hooks)
            return
        # CEL calls the authorizer synchronously: evaluate off the loop, checks go back to it
        dispatch.authorizer = RequestAuthorizer(self.context.authorize, attributes).values
        await trio.to_thread.run_sync(dispatch.run, hooks)


def validating_admission_policy(context: ServerContext) -> ValidatingAdmissionPolicyPlugin:
    return ValidatingAdmissionPolicyPlugin(context)
