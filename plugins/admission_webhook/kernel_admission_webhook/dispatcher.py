"""What both webhook plugins share (kube's generic.Webhook): the webhooks of the configurations,
whether one applies to a request (``should_call``), and one call with its answer checked
(``call``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import trio

from kernel.admission import Attributes
from kernel.admission.predicates import Match, Matcher, with_match
from kernel.admission.request import admission_request
from kernel.apimachinery import status
from kernel.apimachinery.status import StatusError
from kernel_webhook import CallError, ClientConfig, ClientPool, Resolver, post

from kernel_admission_webhook import matchconditions
from kernel_admission_webhook.accessor import Hook, hooks_of
from kernel_admission_webhook.errors import CallFailure, dry_run_unsupported
from kernel_admission_webhook.review import AdmissionResponse, InvalidResponse, create_review, verify_response

GROUP = "admissionregistration.k8s.io"
#: kube never sends the admission configuration objects themselves to webhooks (a webhook that
#: refuses everything could then not be removed): rules.IsExemptAdmissionConfigurationResource.
EXEMPT = frozenset({"validatingwebhookconfigurations", "mutatingwebhookconfigurations",
                    "validatingadmissionpolicies", "validatingadmissionpolicybindings",
                    "mutatingadmissionpolicies", "mutatingadmissionpolicybindings"})
READY_TIMEOUT = 10.0


class Configurations:
    """The webhooks of every configuration of one kind, sorted by configuration name as kube's
    configuration managers sort them; parsed once per configuration resourceVersion."""

    def __init__(self, informer: Any, mutating: bool, static: list[Hook] | None = None) -> None:
        self._informer = informer
        self.static = static or []  # from files (manifests.py): first, and for every resource
        self._mutating = mutating
        self._parsed: dict[str, tuple[str, list[Hook]]] = {}
        self._key: tuple[tuple[str, str], ...] = ()
        self._hooks: list[Hook] = []

    async def wait_ready(self) -> bool:
        if self._informer is None or self._informer.has_synced:
            return True
        with trio.move_on_after(READY_TIMEOUT):
            await self._informer.wait_synced()
            return True
        return False

    def hooks(self) -> list[Hook]:
        """The API's webhooks (after the static ones, which :meth:`Dispatcher.hooks_for` adds)."""
        if self._informer is None:
            return []
        objects = sorted(self._informer.list(), key=lambda obj: obj["metadata"]["name"])
        key = tuple((obj["metadata"]["name"], obj["metadata"].get("resourceVersion", "")) for obj in objects)
        if key != self._key:
            parsed = {}
            for obj, (name, version) in zip(objects, key):
                known = self._parsed.get(name)
                parsed[name] = known if known and known[0] == version else (version, hooks_of(obj, self._mutating))
            self._parsed, self._key = parsed, key
            self._hooks = [hook for name, _ in key for hook in parsed[name][1]]
        return self._hooks


def _labels(obj: Mapping[str, Any] | None) -> Mapping[str, str] | None:
    return None if obj is None else (obj.get("metadata") or {}).get("labels") or {}


class Dispatcher:
    def __init__(self, configurations: Configurations, namespaces: Any, namespace_store: Any,
                 resolver: Resolver | None, authorize: matchconditions.Authorize | None = None) -> None:
        self.configurations = configurations
        self._namespaces = namespaces  # the namespaces informer (None: no core group)
        self._namespace_store = namespace_store
        self._resolver = resolver
        self._authorize = authorize  # for matchConditions' ``authorizer``
        self.pool = ClientPool()

    async def hooks_for(self, attributes: Attributes) -> list[Hook]:
        """The webhooks to consider (none for the exempt configuration resources); refuses the
        request when the configurations are not known yet, as kube does."""
        static = self.configurations.static
        if attributes.resource.group == GROUP and attributes.resource.resource in EXEMPT:
            return static
        if not await self.configurations.wait_ready():
            raise attributes.forbidden("not yet ready to handle request")
        api = self.configurations.hooks()
        return static + api if static else api

    async def matcher(self, attributes: Attributes) -> Matcher:
        """A Matcher with the request's namespace labels looked up (the informer, else storage:
        a namespace just created may not have reached the informer yet)."""
        name = attributes.namespace
        found = self._namespaces.get(name) if name and self._namespaces is not None else None
        if name and found is None and self._namespace_store is not None:
            try:
                found = await self._namespace_store.get("", name)
            except StatusError as error:
                if error.code != 404:
                    raise status.internal_error(error.message) from None
        labels = _labels(found)
        return Matcher(lambda namespace: labels if namespace == name else None)

    async def should_call(self, matcher: Matcher, hook: Hook, attributes: Attributes) -> Match | None:
        """kube's ShouldCallHook: rules and selectors, then matchConditions."""
        match = matcher.webhook(hook.criteria, attributes)
        if match is None or not hook.conditions:
            return match
        matched = with_match(attributes, match)
        request = admission_request(matched, match)
        values = {"object": attributes.object, "oldObject": attributes.old_object, "request": request}
        if self._authorize is not None and matchconditions.uses_authorizer(hook.conditions):
            authorizer = matchconditions.cel_authorizer(attributes.user, self._authorize)
            resource = match.resource
            values["authorizer"] = authorizer
            values["authorizer.requestResource"] = authorizer.resource_check(
                resource.group, resource.resource, match.subresource, attributes.namespace, attributes.name)
            result = await matchconditions.match_in_thread(hook.conditions, values, hook.fail_closed)
        else:
            result = matchconditions.match(hook.conditions, values, hook.fail_closed)
        if result.error:  # kube's NewForbidden(resource, attr.GetName(), err)
            resource, name = attributes.resource, attributes.name
            subject = f'{resource.qualified} "{name}"' if name else resource.qualified
            raise status.forbidden(f"{subject} is forbidden: {result.error}", resource.group, resource.resource, name)
        return match if result.matches else None

    async def call(self, hook: Hook, match: Match, attributes: Attributes) -> AdmissionResponse:
        """Send the AdmissionReview and check the answer; its warnings and audit annotations are
        recorded on the request. StatusError for a refusal kube makes before calling (dry run);
        CallFailure when the call or the answer fails."""
        if attributes.dry_run:
            if hook.side_effects is None:
                raise CallFailure(f'failed calling webhook "{hook.name}": Webhook SideEffects is nil')
            if hook.side_effects not in ("None", "NoneOnDryRun"):
                raise dry_run_unsupported(hook.name)
        created = create_review(with_match(attributes, match), match, hook.review_versions)
        if created is None:
            raise CallFailure(f'failed calling webhook "{hook.name}": could not create admission objects: '
                              "webhook does not accept known AdmissionReview versions (v1, v1beta1)")
        uid, review = created
        config = hook.client_config
        if not isinstance(config, ClientConfig):
            raise CallFailure(f'failed calling webhook "{hook.name}": could not get REST client: {config}')
        try:
            answer = await post(config, review, hook.timeout, resolver=self._resolver, pool=self.pool)
        except CallError as error:
            raise CallFailure(error.message(hook.name)) from None
        try:
            response = verify_response(uid, hook.mutating, review, answer)
        except InvalidResponse as error:
            raise CallFailure(f'failed calling webhook "{hook.name}": received invalid webhook response: {error}') from None
        for key, value in response.audit_annotations.items():
            attributes.add_annotation(f"{hook.name}/{key}", value)
        for warning in response.warnings:
            attributes.add_warning(warning)
        return response


def mutation_annotation(hook: Hook, mutated: bool) -> str:
    """kube's MutationAuditAnnotation value."""
    return json.dumps({"configuration": hook.configuration, "webhook": hook.name, "mutated": mutated},
                      separators=(",", ":"))
