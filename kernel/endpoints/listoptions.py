"""metav1.ListOptions from the query string, validated the way kube-apiserver validates them."""

from __future__ import annotations


import msgspec

from kernel.apimachinery import selectors, status, validation
from kernel.apimachinery.queryparams import bool_param, int_param, parse_uint64
from kernel.apimachinery.validation import go_quote
from kernel.registry.resource import Object, ResourceSpec
from kernel.endpoints.request import Request

EXACT, NOT_OLDER_THAN = "Exact", "NotOlderThan"
# kube's default watch timeout is random in [minRequestTimeout, 2*minRequestTimeout]; 30 min here.
DEFAULT_WATCH_TIMEOUT = 1800.0
# time.Duration(seconds) * time.Second must fit in int64 nanoseconds: about 292 years.
MAX_WATCH_TIMEOUT = ((1 << 63) - 1) // 1_000_000_000


class ListQuery(msgspec.Struct):
    label_selector: selectors.LabelSelector
    field_selector: selectors.FieldSelector
    limit: int
    continue_token: str
    resource_version: str
    resource_version_match: str
    watch: bool
    allow_bookmarks: bool
    send_initial_events: bool | None
    timeout_seconds: float | None

    def revision(self) -> int | None:
        """The revision to list at: an exact one, 0 for "any" (whatever the watch cache holds,
        as kube serves resourceVersion=0), or None for the current state (a consistent read)."""
        if self.resource_version_match == EXACT:
            return parse_resource_version(self.resource_version)
        if self.resource_version == "0":
            return 0
        return None

    def min_revision(self) -> int:
        """NotOlderThan (a resourceVersion without Exact): the list must be at least this fresh."""
        if self.resource_version_match == EXACT or self.resource_version in ("", "0"):
            return 0
        return parse_resource_version(self.resource_version)


def parse_resource_version(text: str) -> int:
    """The storage versioner's ParseResourceVersion: strconv.ParseUint, else a 400 with the
    storage layer's field error text."""
    try:
        return parse_uint64(text)
    except ValueError as error:
        raise status.bad_request(f"resourceVersion: Invalid value: {go_quote(text)}: {error}") from None


def parse_list_query(request: Request, spec: ResourceSpec, watch: bool) -> ListQuery:
    try:
        label_selector = selectors.parse_label_selector(request.query_value("labelSelector"))
        field_selector = selectors.parse_field_selector(request.query_value("fieldSelector"))
        field_selector.validate(selectable(spec) if spec.selectable_fields else None)
    except selectors.SelectorError as error:
        raise status.bad_request(str(error)) from None
    limit = int_param(request.query, "limit") or 0
    timeout = int_param(request.query, "timeoutSeconds")
    query = ListQuery(
        label_selector=label_selector, field_selector=field_selector, limit=max(limit, 0),
        continue_token=request.query_value("continue"),
        resource_version=request.query_value("resourceVersion"),
        resource_version_match=request.query_value("resourceVersionMatch"),
        watch=watch, allow_bookmarks=bool(bool_param(request.query, "allowWatchBookmarks")),
        send_initial_events=bool_param(request.query, "sendInitialEvents"),
        timeout_seconds=_watch_timeout(timeout))
    errors = _validate(query)
    if errors:
        raise validation.invalid("ListOptions", "", errors, "meta.k8s.io")
    if query.resource_version and query.resource_version != "0":
        parse_resource_version(query.resource_version)
    if not watch and query.continue_token and query.resource_version not in ("", "0"):
        # the storage layer's check (storage.ValidateListOptions), a 400 rather than a 422
        raise status.bad_request("specifying resource version is not allowed when using continue")
    return query


def _watch_timeout(seconds: int | None) -> float | None:
    """None (unset or 0) means the server's default; a negative timeout ends the watch at once,
    as kube's timer does; a huge one is capped where Go's time.Duration would overflow."""
    if not seconds:
        return None
    return float(min(max(seconds, 0), MAX_WATCH_TIMEOUT))


def _validate(query: ListQuery) -> list:
    """kube's ValidateListOptions (apis/meta/internalversion/validation), errors in its order."""
    forbidden, not_supported = validation.FieldError.forbidden, validation.FieldError.not_supported
    errors = []
    match, rv = query.resource_version_match, query.resource_version
    if query.watch:
        if query.send_initial_events is not None and match != NOT_OLDER_THAN:
            errors.append(forbidden("resourceVersionMatch",
                                    f"sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER_THAN}"))
        if match:
            if query.send_initial_events is None:
                errors.append(forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden for watch "
                                                                "unless sendInitialEvents is provided"))
            if match != NOT_OLDER_THAN:
                errors.append(not_supported("resourceVersionMatch", match, [NOT_OLDER_THAN]))
            if query.continue_token:
                errors.append(forbidden("resourceVersionMatch",
                                        "resourceVersionMatch is forbidden when continue is provided"))
        return errors
    if match:
        if not rv:
            errors.append(forbidden("resourceVersionMatch",
                                    "resourceVersionMatch is forbidden unless resourceVersion is provided"))
        if query.continue_token:
            errors.append(forbidden("resourceVersionMatch",
                                    "resourceVersionMatch is forbidden when continue is provided"))
        if match not in (EXACT, NOT_OLDER_THAN):
            errors.append(not_supported("resourceVersionMatch", match, [EXACT, NOT_OLDER_THAN, ""]))
        if match == EXACT and rv == "0":
            errors.append(forbidden("resourceVersionMatch",
                                    'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
    if query.send_initial_events is not None:
        errors.append(forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    return errors


def object_predicate(spec: ResourceSpec, query: ListQuery):
    """The predicate for storage: labels and fields of an object against the selectors."""
    labels, fields = query.label_selector, query.field_selector
    if labels.empty and fields.empty:
        return None
    strategy = spec.strategy

    def matches(obj: Object) -> bool:
        meta = obj.get("metadata") or {}
        if not labels.matches(meta.get("labels") or {}):
            return False
        if fields.empty:
            return True
        values = {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", "")}
        values.update(strategy.field_selectors(obj))
        return fields.matches(values)

    return matches


def selectable(spec: ResourceSpec) -> list[str]:
    """The field labels a resource's list accepts. As kube's field label conversions for
    cluster-scoped kinds (Namespace, Node, ...) do, only namespaced ones take metadata.namespace."""
    return ["metadata.name", *(["metadata.namespace"] if spec.namespaced else []), *spec.selectable_fields]
