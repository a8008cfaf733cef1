"""The audit event of one request, built as the request goes (kube's AuditContext + request.go).

The audit filter makes one :class:`AuditContext` per audited request and puts it on
``request.audit``; the code serving the request fills it in through the helpers at the bottom
(``log_request_object`` and friends), which cost one attribute test when auditing is off. Each
stage hands the backends a fresh snapshot (a plain dict in audit.k8s.io/v1 field order), so a
backend may keep it while the request goes on.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from kernel.audit import API_VERSION, Level, RequestAuditConfig, Stage
from kernel.authentication.user import UserInfo, user_info_json

if TYPE_CHECKING:
    from kernel.audit import Backend, Union
    from kernel.authorization import Attributes
    from kernel.endpoints.request import Request

MAX_USER_AGENT_LENGTH = 1024
USER_AGENT_TRUNCATED = "...TRUNCATED"


_last_second: tuple[int, str] = (-1, "")  # the last whole second formatted (swapped whole)


def micro_time(seconds: float) -> str:
    """metav1.MicroTime's JSON form: RFC 3339 in UTC with microseconds."""
    global _last_second
    whole = int(seconds)
    second, text = _last_second
    if second != whole:  # formatting the date is most of the cost: once a second
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _last_second = (whole, text)
    return f"{text}.{int((seconds - whole) * 1e6):06d}Z"


def received_wall_time(request: Request) -> float:
    """The wall-clock time the request was received (``request.received`` is a perf counter)."""
    return time.time() - (time.perf_counter() - request.received)


def source_ips(request: Request) -> list[str]:
    """utilnet.SourceIPs: X-Forwarded-For's addresses, X-Real-Ip unless among them, then the
    peer address unless it repeats the last one."""
    ips: list[str] = []
    forwarded = real = ""
    for name, value in request.scope["headers"]:
        lowered = name.lower()
        if lowered == b"x-forwarded-for" and not forwarded:
            forwarded = value.decode("latin-1")
        elif lowered == b"x-real-ip" and not real:
            real = value.decode("latin-1").strip()
    if forwarded:
        ips += [part.strip() for part in forwarded.split(",") if _is_ip(part.strip())]
    if real and _is_ip(real) and real not in ips:
        ips.append(real)
    client = request.scope.get("client")
    if client and (not ips or ips[-1] != client[0]):
        ips.append(client[0])
    return ips


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _user_agent(request: Request) -> str:
    for name, value in request.scope["headers"]:
        if name.lower() == b"user-agent":
            agent = value.decode("latin-1")
            return agent if len(agent) <= MAX_USER_AGENT_LENGTH else (
                agent[:MAX_USER_AGENT_LENGTH] + USER_AGENT_TRUNCATED)
    return ""


class AuditContext:
    """The event being built for one request, and where its stages go."""

    __slots__ = ("level", "omit_stages", "omit_managed_fields", "sink", "long_running",
                 "annotations", "audit_id", "request_uri", "verb", "user", "impersonated_user",
                 "source_ips", "user_agent", "object_ref", "response_status", "request_object",
                 "response_object", "received", "stage", "_status_from_error")

    def __init__(self, config: RequestAuditConfig, sink: Backend | Union, request: Request,
                 attributes: Attributes, long_running: bool) -> None:
        """LogRequestMetadata: what is known when the audit stage sees the request."""
        self.level = config.level
        self.omit_stages = config.omit_stages
        self.omit_managed_fields = config.omit_managed_fields
        self.sink = sink
        self.long_running = long_running
        self.annotations = request.audit_annotations  # admission and authorization add to it
        self.audit_id = request.audit_id
        self.request_uri = request.request_uri
        self.verb = attributes.verb
        self.user = user_info_json(attributes.user) if attributes.user is not None else {}
        self.impersonated_user: dict[str, Any] | None = None
        self.source_ips = source_ips(request)
        self.user_agent = _user_agent(request)
        self.object_ref: dict[str, str] | None = None
        if attributes.resource_request:
            self.object_ref = {key: value for key, value in (
                ("resource", attributes.resource), ("namespace", attributes.namespace),
                ("name", attributes.name), ("apiGroup", attributes.api_group),
                ("apiVersion", attributes.api_version),
                ("subresource", attributes.subresource)) if value}
        self.response_status: dict[str, Any] | None = None
        self.request_object: Any = None
        self.response_object: Any = None
        self.received = micro_time(received_wall_time(request))
        self.stage = ""
        self._status_from_error = False

    # -- stages ------------------------------------------------------------------------------

    def event(self, stage: str, stage_timestamp: str) -> dict[str, Any]:
        """A snapshot of the event at ``stage``, in audit.k8s.io/v1 field order, omitempty."""
        event: dict[str, Any] = {"kind": "Event", "apiVersion": API_VERSION, "level": self.level,
                                 "auditID": self.audit_id, "stage": stage,
                                 "requestURI": self.request_uri, "verb": self.verb,
                                 "user": self.user}
        if self.impersonated_user is not None:
            event["impersonatedUser"] = self.impersonated_user
        if self.source_ips:
            event["sourceIPs"] = self.source_ips
        if self.user_agent:
            event["userAgent"] = self.user_agent
        if self.object_ref is not None:
            event["objectRef"] = dict(self.object_ref)
        if self.response_status is not None:
            event["responseStatus"] = dict(self.response_status)
        if self.request_object is not None:
            event["requestObject"] = self.request_object
        if self.response_object is not None:
            event["responseObject"] = self.response_object
        event["requestReceivedTimestamp"] = self.received
        event["stageTimestamp"] = stage_timestamp
        if self.annotations:
            event["annotations"] = dict(self.annotations)
        return event

    def process_stage(self, stage: str) -> bool:
        """ProcessEventStage: emit the event at ``stage`` unless the policy omits it."""
        self.stage = stage
        if stage in self.omit_stages:
            return True
        stamp = self.received if stage == Stage.REQUEST_RECEIVED else micro_time(time.time())
        return self.sink.process_events((self.event(stage, stamp),))

    # -- what the request's code records -------------------------------------------------------

    def response_started(self, code: int) -> None:
        """The response's headers go out: its code; ResponseStarted for a long-running request."""
        if self.response_status is None:
            self.response_status = {"metadata": {}}
        self.response_status["code"] = code
        if self.long_running:
            self.process_stage(Stage.RESPONSE_STARTED)

    def log_status(self, status: Mapping[str, Any]) -> None:
        """The metav1.Status the response carries (an error, or a delete's Success)."""
        self.response_status = {"metadata": {}, **{key: status[key] for key in (
            "status", "message", "reason", "details", "code") if status.get(key)}}

    def log_impersonated_user(self, user: UserInfo) -> None:
        self.impersonated_user = user_info_json(user)

    def log_request_object(self, obj: Any, metadata: Mapping[str, Any] | None = None) -> None:
        """LogRequestObject: the decoded body (Request level and up); its metadata fills what
        the object reference lacks (a create's name, the uid and resourceVersion)."""
        if self.object_ref is not None and metadata:
            ref = self.object_ref
            for key in ("namespace", "name", "uid", "resourceVersion"):
                value = metadata.get(key)
                if value and isinstance(value, str) and key not in ref:
                    ref[key] = value
        if Level.less(self.level, Level.REQUEST):
            return
        # Encoded now: the request's code goes on to change the object (admission, defaults).
        self.request_object = msgspec.Raw(msgspec.json.encode(
            _without_managed_fields(obj) if self.omit_managed_fields else obj))

    def log_request_patch(self, patch: bytes) -> None:
        """LogRequestPatch: the patch as sent (JSON patches and merge patches are JSON)."""
        if Level.less(self.level, Level.REQUEST):
            return
        try:
            self.request_object = msgspec.json.decode(patch)
        except msgspec.DecodeError:  # a YAML apply patch: kept as text
            self.request_object = patch.decode("utf-8", "replace")

    def log_response_object(self, obj: Any) -> None:
        """LogResponseObject: the object returned (RequestResponse level only)."""
        if Level.less(self.level, Level.REQUEST_RESPONSE):
            return
        if self.omit_managed_fields:
            obj = _without_managed_fields(obj)
        self.response_object = obj if isinstance(obj, msgspec.Raw) else msgspec.Raw(msgspec.json.encode(obj))


def _without_managed_fields(obj: Any) -> Any:
    """A copy of an object (or of a list's items) without metadata.managedFields."""
    if isinstance(obj, msgspec.Raw):
        obj = msgspec.json.decode(obj)
    elif not isinstance(obj, dict):
        obj = msgspec.to_builtins(obj)
    if not isinstance(obj, dict):
        return obj
    copy = dict(obj)
    metadata = copy.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        copy["metadata"] = {k: v for k, v in metadata.items() if k != "managedFields"}
    items = copy.get("items")
    if isinstance(items, list):
        copy["items"] = [_without_managed_fields(item) for item in items]
    return copy


# -- helpers for the code serving a request: no-ops unless the request is audited ---------------

def log_request_object(request: Request, obj: Any) -> None:
    audit: AuditContext | None = request.audit
    if audit is not None:
        metadata = obj.get("metadata") if isinstance(obj, dict) else getattr(obj, "metadata", None)
        if metadata is not None and not isinstance(metadata, dict):
            metadata = msgspec.to_builtins(metadata)
        audit.log_request_object(obj, metadata if isinstance(metadata, dict) else None)


def log_request_patch(request: Request, patch: bytes) -> None:
    audit: AuditContext | None = request.audit
    if audit is not None:
        audit.log_request_patch(patch)


def log_status(request: Request, status: Mapping[str, Any]) -> None:
    audit: AuditContext | None = request.audit
    if audit is not None:
        audit.log_status(status)


def log_response_object(request: Request, obj: Any, encoded_json: bytes | None = None) -> None:
    """``encoded_json``: the response body when it is already JSON, reused as it is."""
    audit: AuditContext | None = request.audit
    if audit is not None and not Level.less(audit.level, Level.REQUEST_RESPONSE):
        # The response body may end in a newline (kube's JSON does); an event is one line.
        audit.log_response_object(msgspec.Raw(encoded_json.rstrip()) if encoded_json is not None else obj)
