"""kube's authorizer library (library/authz.go): ``authorizer.group(g).resource(r)...check(verb)``,
``authorizer.path(p).check(verb)``, ``authorizer.serviceAccount(ns, name)``, the Decision's
``allowed()``, ``reason()``, ``errored()``, ``error()``, and the selectors.

The checks are messages holding a *handle*: the per-request ``Authorizer`` (a Python callable
the consumer supplies) is found by that handle while the values that carry it are alive.
``authorize(attributes) -> (decision, reason)``: ``decision`` is ``"allow"``, ``"deny"`` or
``"no-opinion"`` (or a bool); an exception makes the Decision ``errored()``.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from .. import opaque
from ..decls import fn, member

PKG = "kubernetes.authorization"
AUTHZ, PATH, GROUP, RESOURCE, DECISION = (f"{PKG}.{n}" for n in (
    "Authorizer", "PathCheck", "GroupCheck", "ResourceCheck", "Decision"))
Authorize = Callable[[Mapping[str, Any]], Any]
_handles: "weakref.WeakValueDictionary[str, Authorizer]" = weakref.WeakValueDictionary()
_ids = itertools.count(1)
_SELECTORS = ("field_selector", "label_selector")


class Authorizer:
    """A request's authorizer for CEL: pass it as the ``authorizer`` variable's value."""

    def __init__(self, authorize: Authorize) -> None:
        self.authorize = authorize
        self.handle = str(next(_ids))
        _handles[self.handle] = self

    def value(self) -> Any:
        return opaque.new(AUTHZ, handle=self.handle)

    def resource_check(self, group: str = "", resource: str = "", subresource: str = "",
                       namespace: str = "", name: str = "") -> Any:
        """``authorizer.requestResource``: the check for the request's own resource."""
        return opaque.new(RESOURCE, handle=self.handle, group=group, resource=resource,
                          subresource=subresource, namespace=namespace, name=name)


def _path(authz: Any, path: str) -> Any:
    if not path:
        raise ValueError("path must not be empty")
    return opaque.new(PATH, handle=authz.handle, service_account=authz.service_account, path=path)


def _service_account(authz: Any, namespace: str, name: str) -> Any:
    if not name:
        raise ValueError("Invalid service account name")
    if not namespace:
        raise ValueError("Invalid service account namespace")
    return opaque.new(AUTHZ, handle=authz.handle, service_account=f"system:serviceaccount:{namespace}:{name}")


def _resource(group: Any, resource: str) -> Any:
    if not resource:
        raise ValueError("resource must not be empty")
    return opaque.new(RESOURCE, handle=group.handle, service_account=group.service_account,
                      group=group.group, resource=resource)


def _with(field: str) -> Callable[[Any, str], Any]:
    def impl(check: Any, text: str) -> Any:
        copy = opaque.new(RESOURCE)
        copy.CopyFrom(check)
        setattr(copy, field, text)
        return copy
    return impl


def _attributes(check: Any, verb: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {"verb": verb, "user": check.service_account or None}
    if check.DESCRIPTOR.full_name == PATH:
        attributes.update(resourceRequest=False, path=check.path)
        return attributes
    attributes.update(resourceRequest=True, apiGroup=check.group, apiVersion="*", resource=check.resource,
                      subresource=check.subresource, namespace=check.namespace, name=check.name,
                      fieldSelector=check.field_selector, labelSelector=check.label_selector)
    return attributes


def _check(check: Any, verb: str) -> Any:
    authorizer = _handles.get(check.handle)
    if authorizer is None:
        return opaque.new(DECISION, decision="no-opinion", error="no authorizer for this evaluation")
    try:
        decision, reason = authorizer.authorize(_attributes(check, verb))
    except Exception as error:  # the authorizer failed: kube's Decision carries the error
        return opaque.new(DECISION, decision="no-opinion", error=str(error) or type(error).__name__)
    if isinstance(decision, bool):
        decision = "allow" if decision else "no-opinion"
    return opaque.new(DECISION, decision=str(decision).lower(), reason=reason or "")


def _error(decision: Any) -> str:
    return decision.error


FUNCTIONS = [
    fn("path", member("authorizer_path", f"{AUTHZ}, string", PATH, _path)),
    fn("group", member("authorizer_group", f"{AUTHZ}, string", GROUP,
                       lambda a, g: opaque.new(GROUP, handle=a.handle, service_account=a.service_account, group=g))),
    fn("serviceAccount", member("authorizer_serviceaccount", f"{AUTHZ}, string, string", AUTHZ, _service_account)),
    fn("resource", member("groupcheck_resource", f"{GROUP}, string", RESOURCE, _resource)),
    fn("subresource", member("resourcecheck_subresource", f"{RESOURCE}, string", RESOURCE, _with("subresource"))),
    fn("namespace", member("resourcecheck_namespace", f"{RESOURCE}, string", RESOURCE, _with("namespace"))),
    fn("name", member("resourcecheck_name", f"{RESOURCE}, string", RESOURCE, _with("name"))),
    fn("fieldSelector", member("authorizer_fieldselector", f"{RESOURCE}, string", RESOURCE, _with("field_selector"))),
    fn("labelSelector", member("authorizer_labelselector", f"{RESOURCE}, string", RESOURCE, _with("label_selector"))),
    # one implementation: cel-cpp dispatches on kinds, and both receivers are messages
    fn("check", member("pathcheck_check", f"{PATH}, string", DECISION, _check),
       member("resourcecheck_check", f"{RESOURCE}, string", DECISION)),
    fn("errored", member("decision_errored", DECISION, "bool", lambda d: bool(d.error))),
    fn("error", member("decision_error", DECISION, "string", _error)),
    fn("allowed", member("decision_allowed", DECISION, "bool", lambda d: d.decision == "allow")),
    fn("reason", member("decision_reason", DECISION, "string", lambda d: d.reason)),
]
