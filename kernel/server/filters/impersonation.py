"""WithImpersonation: act as another user named by ``Impersonate-*`` headers, if allowed to.

Runs after authentication, before max-in-flight and authorization (kube's order). Each requested
part of the new identity is checked with the ``impersonate`` verb through the authorizer chain:
the user (``users``, or ``serviceaccounts`` in its namespace for a service account's name),
each group (``groups``), each extra value (``userextras/<key>``, authentication.k8s.io) and the
uid (``uids``, authentication.k8s.io). Any refusal is kube's 403; groups, extras or a uid
without a user are a 400. The request then carries the new user in ``request.user`` and the
authenticated one in ``request.original_user`` (for audit), and the headers are gone.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote

import msgspec

from kernel import logs
from kernel.apimachinery import status
from kernel.apimachinery.validation import is_dns1123_label, is_dns1123_subdomain
from kernel.authentication import ANONYMOUS, AUTHENTICATED, UNAUTHENTICATED, UserInfo
from kernel.authorization import Attributes, AuthorizationError, Authorizer, Decision, forbidden_message
from kernel.endpoints.request import Handler, Request

log = logging.getLogger("kernel.impersonation")

USER_HEADER = "impersonate-user"
GROUP_HEADER = "impersonate-group"
UID_HEADER = "impersonate-uid"
EXTRA_PREFIX = "impersonate-extra-"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
AUTHENTICATION_GROUP = "authentication.k8s.io"


class ImpersonationRequest(msgspec.Struct, frozen=True):
    """One part of the requested identity (kube uses a corev1.ObjectReference for it)."""

    kind: str  # ServiceAccount, User, Group, UserExtra, UID
    name: str
    namespace: str = ""
    extra_key: str = ""

    @property
    def api_version(self) -> str:
        return f"{AUTHENTICATION_GROUP}/v1" if self.kind in ("UserExtra", "UID") else ""

    def __str__(self) -> str:
        # Go's %v of the ObjectReference: {Kind Namespace Name UID APIVersion ResourceVersion FieldPath}
        return "{" + " ".join([self.kind, self.namespace, self.name, "", self.api_version, "",
                               self.extra_key]) + "}"


def split_service_account(username: str) -> tuple[str, str] | None:
    """serviceaccount.SplitUsername: ``system:serviceaccount:<ns>:<name>``, else None."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    parts = username[len(SERVICE_ACCOUNT_PREFIX):].split(":")
    if len(parts) != 2 or is_dns1123_label(parts[0]) or is_dns1123_subdomain(parts[1]):
        return None
    return parts[0], parts[1]


def _raw_headers(request: Request) -> list[tuple[str, str]]:
    """Every header line, name lower-cased, repeated ones kept apart (Go's Header map keeps each
    value; ``request.headers`` joins them with commas)."""
    return [(name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in request.scope["headers"]]


def unescape_extra_key(encoded: str) -> str:
    """The extra key of an ``Impersonate-Extra-<key>`` header (already lower-cased), %-decoded;
    kept as sent when it does not decode, as kube does."""
    try:
        return unquote(encoded, errors="strict")
    except UnicodeDecodeError:
        return encoded


def impersonation_requests(request: Request) -> list[ImpersonationRequest]:
    """buildImpersonationRequests: what the headers ask for, in kube's order; 400 when they ask
    for groups, extras or a uid without a user."""
    headers = _raw_headers(request)
    found: list[ImpersonationRequest] = []
    user = next((value for name, value in headers if name == USER_HEADER), "")
    if user:
        account = split_service_account(user)
        found.append(ImpersonationRequest("ServiceAccount", account[1], account[0]) if account
                     else ImpersonationRequest("User", user))
    found += [ImpersonationRequest("Group", value) for name, value in headers if name == GROUP_HEADER]
    found += [ImpersonationRequest("UserExtra", value, extra_key=unescape_extra_key(name[len(EXTRA_PREFIX):]))
              for name, value in headers if name.startswith(EXTRA_PREFIX)]
    uid = next((value for name, value in headers if name == UID_HEADER), "")
    if uid:
        found.append(ImpersonationRequest("UID", uid))
    if not user and found:
        raise status.bad_request(f"requested [{' '.join(map(str, found))}] without impersonating a user")
    return found


def acting_as(requestor: UserInfo, wanted: ImpersonationRequest) -> Attributes:
    """The attributes of the ``impersonate`` check for one part of the identity."""
    resource, subresource, group = {
        "ServiceAccount": ("serviceaccounts", "", ""), "User": ("users", "", ""),
        "Group": ("groups", "", ""), "UID": ("uids", "", AUTHENTICATION_GROUP),
        "UserExtra": ("userextras", wanted.extra_key, AUTHENTICATION_GROUP)}[wanted.kind]
    return Attributes(user=requestor, verb="impersonate", resource_request=True,
                      namespace=wanted.namespace, api_group=group,
                      api_version="v1" if group else "", resource=resource,
                      subresource=subresource, name=wanted.name)


def impersonated_user(wanted: list[ImpersonationRequest], groups_given: bool) -> UserInfo:
    """The identity the request takes on, built as kube builds it: a service account's groups
    unless groups are given, then system:authenticated (system:unauthenticated for anonymous)
    unless already there."""
    name, uid = "", ""
    groups: list[str] = []
    extra: dict[str, list[str]] = {}
    for part in wanted:
        if part.kind == "ServiceAccount":
            name = f"{SERVICE_ACCOUNT_PREFIX}{part.namespace}:{part.name}"
            if not groups_given:
                groups = ["system:serviceaccounts", f"system:serviceaccounts:{part.namespace}"]
        elif part.kind == "User":
            name = part.name
        elif part.kind == "Group":
            groups.append(part.name)
        elif part.kind == "UserExtra":
            extra.setdefault(part.extra_key, []).append(part.name)
        else:
            uid = part.name
    if name != ANONYMOUS:
        if AUTHENTICATED not in groups and UNAUTHENTICATED not in groups:
            groups.append(AUTHENTICATED)
    elif UNAUTHENTICATED not in groups:
        groups.append(UNAUTHENTICATED)
    return UserInfo(name, uid, tuple(groups), {key: tuple(values) for key, values in extra.items()})


def _remove_impersonation_headers(request: Request) -> None:
    names = {name for name, _ in _raw_headers(request)
             if name in (USER_HEADER, GROUP_HEADER, UID_HEADER) or name.startswith(EXTRA_PREFIX)}
    for name in names:
        request.remove_header(name)


def _user_string(user: UserInfo) -> str:
    return (user.name or "<empty>") + (f"[{','.join(user.groups)}]" if user.groups else "")


def with_impersonation(handler: Handler, authorizer: Authorizer) -> Handler:
    async def impersonation(request: Request) -> None:
        if not any(name[:12].lower() == b"impersonate-" for name, _ in request.scope["headers"]):
            await handler(request)  # the common case: no header to parse
            return
        try:
            wanted = impersonation_requests(request)
        except status.StatusError as error:
            log.log(logs.level(4), "%s", error.message)
            await request.respond_error(error)
            return
        if not wanted:
            await handler(request)
            return
        requestor = request.user
        assert requestor is not None
        for part in wanted:
            attributes = acting_as(requestor, part)
            try:
                decision, reason = await authorizer.authorize(attributes)
            except AuthorizationError as error:  # kube: a failed check forbids impersonation
                decision, reason = error.decision, error.reason or str(error)
            if decision is not Decision.ALLOW:
                log.log(logs.level(4), "forbidden impersonation of %s by %s: %s", part,
                        requestor.name, reason)
                await request.respond_error(status.forbidden(
                    forbidden_message(attributes, reason), attributes.api_group,
                    attributes.resource, attributes.name))
                return
        groups_given = any(name == GROUP_HEADER for name, _ in _raw_headers(request))
        user = impersonated_user(wanted, groups_given)
        request.original_user, request.user = requestor, user
        if request.audit is not None:
            request.audit.log_impersonated_user(user)
        log.log(logs.level(3), "%s is impersonating %s", _user_string(requestor), _user_string(user))
        _remove_impersonation_headers(request)
        await handler(request)

    return impersonation
