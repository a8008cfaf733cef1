"""The four access reviews: create-only virtual resources decided by the server's authorizer chain.

As in kube (pkg/registry/authorization/*), each resource has a REST object with only ``create``;
the kernel's generic handlers decode the body (JSON, YAML, or the protobuf ``kubectl auth can-i``
sends), check fields and encode the answer (201 Created). Nothing is stored. The authorization
filter has already required ``create`` on the review resource itself: a SubjectAccessReview
about another user needs that right, a SelfSubjectAccessReview only the caller's own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from kernel.apimachinery import status
from kernel.apimachinery.apitypes import GeneratedTypes
from kernel.apimachinery.validation import FieldError, invalid
from kernel.authentication import UserInfo
from kernel.authorization import Attributes, AuthorizationError, Decision, Rules
from kernel.registry.resource import ResourceSpec

from kernel_api_authorization import validation

#: authorization.k8s.io/v1's generated types (``generated/v1.json``, from scripts/generate-api).
AUTHORIZATION_V1 = GeneratedTypes.beside(__file__, "v1")

GROUP = "authorization.k8s.io"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"

Authorize = Callable[[Attributes], Awaitable[tuple[Decision, str]]]
RulesFor = Callable[[UserInfo, str], Awaitable[Rules]]


def _spec(kind: str, namespaced: bool = False) -> ResourceSpec:
    return ResourceSpec(group=GROUP, version=VERSION, kind=kind, plural=kind.lower() + "s",
                        singular=kind.lower(), namespaced=namespaced, verbs=("create",),
                        **AUTHORIZATION_V1.spec_fields(kind),
                        description=AUTHORIZATION_V1.description(kind))


subjectaccessreview_spec = _spec("SubjectAccessReview")
localsubjectaccessreview_spec = _spec("LocalSubjectAccessReview", namespaced=True)
selfsubjectaccessreview_spec = _spec("SelfSubjectAccessReview")
selfsubjectrulesreview_spec = _spec("SelfSubjectRulesReview")

RESOURCES = [localsubjectaccessreview_spec, selfsubjectaccessreview_spec,
             selfsubjectrulesreview_spec, subjectaccessreview_spec]


def _raw_selector(selector: Mapping[str, Any] | None) -> str:
    """A review's field or label selector as the query parameter would carry it: ``rawSelector``,
    else its ``In`` requirements of one value (``key=value``), as kube's conversion reads them."""
    if not selector:
        return ""
    if selector.get("rawSelector"):
        return selector["rawSelector"]
    terms = [f'{r.get("key")}={r["values"][0]}' for r in selector.get("requirements") or ()
             if r.get("operator") == "In" and len(r.get("values") or ()) == 1]
    return ",".join(terms)


def attributes_for(user: UserInfo, spec: Mapping[str, Any]) -> Attributes:
    """authorizationutil.ResourceAttributesFrom / NonResourceAttributesFrom: what the review asks."""
    resource = spec.get("resourceAttributes")
    if resource is not None:
        return Attributes(user=user, verb=resource.get("verb") or "", resource_request=True,
                          namespace=resource.get("namespace") or "",
                          api_group=resource.get("group") or "",
                          api_version=resource.get("version") or "",
                          resource=resource.get("resource") or "",
                          subresource=resource.get("subresource") or "",
                          name=resource.get("name") or "",
                          field_selector=_raw_selector(resource.get("fieldSelector")),
                          label_selector=_raw_selector(resource.get("labelSelector")))
    non_resource = spec.get("nonResourceAttributes") or {}
    return Attributes(user=user, verb=non_resource.get("verb") or "", resource_request=False,
                      path=non_resource.get("path") or "")


def subject_of(spec: Mapping[str, Any]) -> UserInfo:
    """The user a SubjectAccessReview asks about, exactly as given (no group is added)."""
    extra = {key: tuple(values or ()) for key, values in (spec.get("extra") or {}).items()}
    return UserInfo(spec.get("user") or "", spec.get("uid") or "", tuple(spec.get("groups") or ()),
                    extra)


async def decide(authorize: Authorize, attributes: Attributes) -> dict[str, Any]:
    """SubjectAccessReviewStatus, with Go's omitempty (``allowed`` is always there)."""
    error = ""
    try:
        decision, reason = await authorize(attributes)
    except AuthorizationError as failure:  # a mode failed: kube reports it, with the decision
        decision, reason, error = failure.decision, failure.reason, str(failure)
    review: dict[str, Any] = {"allowed": decision is Decision.ALLOW}
    if decision is Decision.DENY:
        review["denied"] = True
    if reason:
        review["reason"] = reason
    if error:
        review["evaluationError"] = error
    return review


def _answer(obj: Mapping[str, Any], kind: str, review_status: dict[str, Any]) -> dict[str, Any]:
    return {**obj, "kind": kind, "apiVersion": API_VERSION, "metadata": obj.get("metadata") or {},
            "status": review_status}


def _check(kind: str, errors: list[FieldError]) -> None:
    if errors:
        raise invalid(kind, "", errors, GROUP)


class SubjectAccessReviewREST:
    """May this user (``spec.user``, ``groups``, ``uid``, ``extra``) do this?"""

    spec = subjectaccessreview_spec

    def __init__(self, authorize: Authorize) -> None:
        self.authorize = authorize  # the server's chain: ServerContext.authorize

    async def create(self, namespace: str, obj: Mapping[str, Any], user: UserInfo | None, *,
                     dry_run: bool = False, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        _check("SubjectAccessReview", validation.review_errors(obj, self_review=False))
        spec = obj.get("spec") or {}
        review = await decide(self.authorize, attributes_for(subject_of(spec), spec))
        return _answer(obj, "SubjectAccessReview", review)


class LocalSubjectAccessReviewREST:
    """A SubjectAccessReview confined to the namespace of its path (namespace admins may ask)."""

    spec = localsubjectaccessreview_spec

    def __init__(self, authorize: Authorize) -> None:
        self.authorize = authorize

    async def create(self, namespace: str, obj: Mapping[str, Any], user: UserInfo | None, *,
                     dry_run: bool = False, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        meta = dict(obj.get("metadata") or {})
        # The generic handler's EnsureObjectNamespaceMatchesRequestNamespace: an object without a
        # namespace takes the path's; another namespace is refused before validation.
        if not meta.get("namespace"):
            meta["namespace"] = namespace
        elif meta["namespace"] != namespace:
            raise status.bad_request("the namespace of the provided object does not match the "
                                     "namespace sent on the request")
        obj = {**obj, "metadata": meta}
        _check("LocalSubjectAccessReview", validation.local_review_errors(obj))
        if not namespace:
            raise status.bad_request(f"namespace is required on this type: {namespace}")
        spec = obj.get("spec") or {}
        review = await decide(self.authorize, attributes_for(subject_of(spec), spec))
        return _answer(obj, "LocalSubjectAccessReview", review)


class SelfSubjectAccessReviewREST:
    """``kubectl auth can-i``: may I do this?"""

    spec = selfsubjectaccessreview_spec

    def __init__(self, authorize: Authorize) -> None:
        self.authorize = authorize

    async def create(self, namespace: str, obj: Mapping[str, Any], user: UserInfo | None, *,
                     dry_run: bool = False, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        _check("SelfSubjectAccessReview", validation.review_errors(obj, self_review=True))
        if user is None:
            raise status.bad_request("no user present on request")
        review = await decide(self.authorize, attributes_for(user, obj.get("spec") or {}))
        return _answer(obj, "SelfSubjectAccessReview", review)


def rules_status(rules: Rules) -> dict[str, Any]:
    """SubjectRulesReviewStatus: both rule lists always present, Go's omitempty inside them."""
    resource_rules = []
    for rule in rules.resource_rules:
        item: dict[str, Any] = {"verbs": list(rule.verbs)}
        for key, values in (("apiGroups", rule.api_groups), ("resources", rule.resources),
                            ("resourceNames", rule.resource_names)):
            if values:
                item[key] = list(values)
        resource_rules.append(item)
    non_resource_rules = []
    for non_resource in rules.non_resource_rules:
        item = {"verbs": list(non_resource.verbs)}
        if non_resource.non_resource_urls:
            item["nonResourceURLs"] = list(non_resource.non_resource_urls)
        non_resource_rules.append(item)
    review: dict[str, Any] = {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                              "incomplete": rules.incomplete}
    if rules.error:
        review["evaluationError"] = rules.error
    return review


class SelfSubjectRulesReviewREST:
    """``kubectl auth can-i --list``: every rule the chain grants me in ``spec.namespace``."""

    spec = selfsubjectrulesreview_spec

    def __init__(self, rules_for: RulesFor) -> None:
        self.rules_for = rules_for  # ServerContext.rules_for

    async def create(self, namespace: str, obj: Mapping[str, Any], user: UserInfo | None, *,
                     dry_run: bool = False, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        if user is None:
            raise status.bad_request("no user present on request")
        review_namespace = (obj.get("spec") or {}).get("namespace") or ""
        if not review_namespace:
            raise status.bad_request("no namespace on request")
        rules = await self.rules_for(user, review_namespace)
        # kube answers a fresh object: the spec asked is not echoed.
        return {"kind": "SelfSubjectRulesReview", "apiVersion": API_VERSION, "metadata": {},
                "spec": {}, "status": rules_status(rules)}
