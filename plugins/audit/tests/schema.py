"""audit.k8s.io/v1 Event as test data (k8s.io/apiserver/pkg/apis/audit/v1/types.go): each field's
JSON name, type and whether it is omitempty, and a checker that walks an event against it."""

from __future__ import annotations

import re
from typing import Any

MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")  # metav1.MicroTime, UTC
LEVELS = {"None", "Metadata", "Request", "RequestResponse"}
STAGES = {"RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"}

# name: (type, omitempty)
EVENT = {
    "kind": (str, False), "apiVersion": (str, False),  # TypeMeta (inline)
    "level": (str, False), "auditID": (str, False), "stage": (str, False),
    "requestURI": (str, False), "verb": (str, False), "user": (dict, False),
    "impersonatedUser": (dict, True), "authenticationMetadata": (dict, True),
    "sourceIPs": (list, True), "userAgent": (str, True), "objectRef": (dict, True),
    "responseStatus": (dict, True), "requestObject": (object, True),
    "responseObject": (object, True), "requestReceivedTimestamp": (str, False),
    "stageTimestamp": (str, False), "annotations": (dict, True),
}
USER_INFO = {"username": (str, True), "uid": (str, True), "groups": (list, True),
             "extra": (dict, True)}  # authentication/v1 UserInfo
OBJECT_REFERENCE = {name: (str, True) for name in (
    "resource", "namespace", "name", "uid", "apiGroup", "apiVersion", "resourceVersion",
    "subresource")}
STATUS = {"kind": (str, True), "apiVersion": (str, True), "metadata": (dict, False),
          "status": (str, True), "message": (str, True), "reason": (str, True),
          "details": (dict, True), "code": (int, True)}  # metav1.Status


def _check(value: dict[str, Any], fields: dict[str, tuple[type, bool]], where: str) -> None:
    unknown = set(value) - set(fields)
    assert not unknown, f"{where}: fields not in the schema: {sorted(unknown)}"
    for name, (kind, omitempty) in fields.items():
        if name not in value:
            assert omitempty, f"{where}.{name} is required"
            continue
        item = value[name]
        assert isinstance(item, kind), f"{where}.{name}: {item!r} is not {kind.__name__}"
        if omitempty and kind is not object:
            assert item not in ("", [], {}, 0), f"{where}.{name} is empty but omitempty"


def check_event(event: dict[str, Any]) -> None:
    """Fail unless ``event`` is a valid audit.k8s.io/v1 Event as kube's encoder writes it."""
    _check(event, EVENT, "event")
    assert event["kind"] == "Event" and event["apiVersion"] == "audit.k8s.io/v1"
    assert event["level"] in LEVELS - {"None"}
    assert event["stage"] in STAGES
    assert MICRO_TIME.match(event["requestReceivedTimestamp"]), event["requestReceivedTimestamp"]
    assert MICRO_TIME.match(event["stageTimestamp"]), event["stageTimestamp"]
    assert event["stageTimestamp"] >= event["requestReceivedTimestamp"]
    _check(event["user"], USER_INFO, "user")
    if "impersonatedUser" in event:
        _check(event["impersonatedUser"], USER_INFO, "impersonatedUser")
    for user in (event["user"], event.get("impersonatedUser") or {}):
        assert all(isinstance(g, str) for g in user.get("groups", ()))
        assert all(isinstance(v, list) for v in user.get("extra", {}).values())
    assert all(isinstance(ip, str) for ip in event.get("sourceIPs", ()))
    if "objectRef" in event:
        _check(event["objectRef"], OBJECT_REFERENCE, "objectRef")
    if "responseStatus" in event:
        _check(event["responseStatus"], STATUS, "responseStatus")
    assert all(isinstance(v, str) for v in event.get("annotations", {}).values())
