"""pods (v1 Pod): kube's defaulting, validation, update rules, binding, selectors and columns.

Nothing runs a pod: the server stores it, a scheduler binds it (``pods/binding``) and whatever
plays the kubelet writes ``/status``.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from kernel.apimachinery import status as st
from kernel.apimachinery.validation import FieldError, aggregate_message, is_dns1123_subdomain
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN, age, parse_time
from kernel.registry.resource import Object, ResourceSpec, Strategy, StatusStrategy, TableColumn
from kernel.registry.subresources import CustomSubresource, SubresourceCall
from kernel_api_core import _core
from kernel_api_core.eviction import create_eviction
from kernel_api_core.types import CORE_V1

KIND = "Pod"
SCHEMA_NAME = "io.k8s.api.core.v1.Pod"
DESCRIPTION = ("Pod is a collection of containers that can run on a host. This resource is created by "
               "clients and scheduled onto hosts.")

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PROTOCOLS = ("SCTP", "TCP", "UDP")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
CONTAINER_LISTS = ("initContainers", "containers")

#: ValidatePodUpdate's updatablePodSpecFields, joined as kube prints them.
UPDATABLE_FIELDS = ",".join((
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
))
UPDATE_FORBIDDEN = "pod updates may not change fields other than " + UPDATABLE_FIELDS


# -- defaulting (pkg/apis/core/v1/defaults.go) --------------------------------------------------

def image_tag(image: str) -> str:
    """The tag of an image reference ("" when it has none or only a digest)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def default_container(container: Object) -> None:
    if not container.get("imagePullPolicy"):
        # parsers.ParseImageName defaults a missing tag to "latest" (a digest-only one too)
        tag = image_tag(container.get("image") or "")
        digest = "@" in (container.get("image") or "")
        container["imagePullPolicy"] = "Always" if (tag or ("" if digest else "latest")) == "latest" \
            else "IfNotPresent"
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    if container.get("resources") is None:
        container["resources"] = {}
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(container.get(probe), dict):
            for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                               ("failureThreshold", 3)):
                if not container[probe].get(key):
                    container[probe][key] = value


def default_pod_spec(spec: Object) -> None:
    """SetDefaults_PodSpec and the container defaults: what any pod template gets too."""
    spec["restartPolicy"] = spec.get("restartPolicy") or "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    spec["schedulerName"] = spec.get("schedulerName") or "default-scheduler"
    spec["dnsPolicy"] = spec.get("dnsPolicy") or "ClusterFirst"
    for key in CONTAINER_LISTS:
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                default_container(container)


def default_pod(pod: Object) -> None:
    """SetDefaults_Pod: the spec defaults, requests from limits, enableServiceLinks, host ports."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    default_pod_spec(spec)
    for key in CONTAINER_LISTS:
        for container in spec.get(key) or []:
            if not isinstance(container, dict):
                continue
            resources = container["resources"]
            if resources.get("limits"):
                requests = resources.setdefault("requests", {})
                for name, value in resources["limits"].items():
                    requests.setdefault(name, value)
            if spec.get("hostNetwork"):
                for port in container.get("ports") or []:
                    if isinstance(port, dict) and not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True


def qos_class(pod: Object) -> str:
    """qos.GetPodQOS, for the cpu and memory of the regular and init containers."""
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    spec = pod.get("spec") or {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        resources = container.get("resources") or {}
        for name, value in (resources.get("requests") or {}).items():
            quantity = _core.parse_quantity(value)
            if name in ("cpu", "memory") and quantity and quantity > 0:
                requests[name] = requests.get(name, Decimal(0)) + quantity
        container_limits = set()
        for name, value in (resources.get("limits") or {}).items():
            quantity = _core.parse_quantity(value)
            if name in ("cpu", "memory") and quantity and quantity > 0:
                container_limits.add(name)
                limits[name] = limits.get(name, Decimal(0)) + quantity
        if container_limits != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"
    return "Burstable"


# -- validation (pkg/apis/core/validation) ------------------------------------------------------

def check_quantities(pod: Object) -> None:
    """A quantity kube cannot parse fails decoding (400), before any validation."""
    spec = pod.get("spec") or {}
    for key in CONTAINER_LISTS:
        for container in spec.get(key) or []:
            resources = (container.get("resources") if isinstance(container, dict) else None) or {}
            for part in ("limits", "requests"):
                for value in (resources.get(part) or {}).values():
                    if _core.parse_quantity(value) is None:
                        raise st.bad_request(f'{KIND} in version "v1" cannot be handled as a {KIND}: '
                                             f"{_core.QUANTITY_MESSAGE}")


def _resource_errors(resources: Object, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    for part, values in (("limits", limits), ("requests", requests)):
        for name, value in values.items():
            quantity = _core.parse_quantity(value)
            if quantity is not None and quantity < 0:
                errs.append(FieldError.invalid(f"{path}.{part}[{name}]", str(value),
                                               "must be greater than or equal to 0"))
    for name, value in requests.items():
        request, limit = _core.parse_quantity(value), _core.parse_quantity(limits.get(name))
        if name in limits and request is not None and limit is not None and request > limit:
            errs.append(FieldError.invalid(f"{path}.requests", str(value),
                                           f"must be less than or equal to {name} limit of {limits[name]}"))
    return errs


def _container_errors(container: Any, path: str, names: set[str]) -> list[FieldError]:
    if not isinstance(container, dict):
        return [FieldError.invalid(path, container, "must be an object")]
    errs: list[FieldError] = []
    name = container.get("name") or ""
    if not name:
        errs.append(FieldError.required(f"{path}.name", ""))
    else:
        errs += _core.dns_label_errors(name, f"{path}.name")
        if name in names:
            errs.append(FieldError.duplicate(f"{path}.name", name))
        names.add(name)
    if not container.get("image"):
        errs.append(FieldError.required(f"{path}.image", ""))
    port_names: set[str] = set()
    for i, port in enumerate(container.get("ports") or []):
        ppath = f"{path}.ports[{i}]"
        if port.get("name"):
            errs += _core.validate_port_name(port["name"], f"{ppath}.name")
            if port["name"] in port_names:
                errs.append(FieldError.duplicate(f"{ppath}.name", port["name"]))
            port_names.add(port["name"])
        if port.get("containerPort") in (None, 0):
            errs.append(FieldError.required(f"{ppath}.containerPort", ""))
        else:
            errs += _core.validate_port(port["containerPort"], f"{ppath}.containerPort")
        if port.get("hostPort"):
            errs += _core.validate_port(port["hostPort"], f"{ppath}.hostPort")
        errs += _core.check_enum(port.get("protocol"), f"{ppath}.protocol", PROTOCOLS)
    errs += _core.check_enum(container.get("imagePullPolicy"), f"{path}.imagePullPolicy", PULL_POLICIES)
    errs += _core.check_enum(container.get("terminationMessagePolicy"), f"{path}.terminationMessagePolicy",
                             TERMINATION_MESSAGE_POLICIES)
    errs += _resource_errors(container.get("resources") or {}, f"{path}.resources")
    return errs


def validate_pod_spec(spec: Any, path: str = "spec") -> list[FieldError]:
    if not isinstance(spec, dict):
        return [FieldError.required(f"{path}.containers", "")]
    errs: list[FieldError] = []
    names: set[str] = set()  # container names are unique across init and regular containers
    containers = spec.get("containers") or []
    if not containers:
        errs.append(FieldError.required(f"{path}.containers", ""))
    for key in ("containers", "initContainers"):
        for i, container in enumerate(spec.get(key) or []):
            errs += _container_errors(container, f"{path}.{key}[{i}]", names)
    errs += _core.check_enum(spec.get("restartPolicy"), f"{path}.restartPolicy", RESTART_POLICIES)
    errs += _core.check_enum(spec.get("dnsPolicy"), f"{path}.dnsPolicy", DNS_POLICIES)
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0:
        errs.append(FieldError.invalid(f"{path}.terminationGracePeriodSeconds", grace,
                                       "must be greater than or equal to 0"))
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and (not isinstance(deadline, int) or not 1 <= deadline <= 2**31 - 1):
        errs.append(FieldError.invalid(f"{path}.activeDeadlineSeconds", deadline,
                                       "must be between 1 and 2147483647, inclusive"))
    if spec.get("nodeSelector"):
        errs += _core.validate_label_map(spec["nodeSelector"], f"{path}.nodeSelector")
    if spec.get("serviceAccountName"):
        errs += [FieldError.invalid(f"{path}.serviceAccountName", spec["serviceAccountName"], m)
                 for m in _dns_subdomain(spec["serviceAccountName"])]
    if spec.get("nodeName"):
        errs += [FieldError.invalid(f"{path}.nodeName", spec["nodeName"], m)
                 for m in _dns_subdomain(spec["nodeName"])]
    return errs


def _dns_subdomain(value: str) -> list[str]:
    return is_dns1123_subdomain(value)


def _munged(new_spec: Object, old_spec: Object) -> Object:
    """The new spec with what an update may change taken from the old one (kube's mungedPodSpec)."""
    munged = copy.deepcopy(new_spec)
    for key in CONTAINER_LISTS:
        for container, old in zip(munged.get(key) or [], old_spec.get(key) or []):
            if isinstance(container, dict) and isinstance(old, dict):
                container["image"] = old.get("image")
    for key in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        if key in old_spec:
            munged[key] = copy.deepcopy(old_spec[key])
        else:
            munged.pop(key, None)
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if isinstance(old_grace, int) and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    return munged


def _spec_diff(old: Object, new: Object) -> str:
    """A short account of the changed top-level spec fields (kube prints a go-cmp diff here)."""
    lines = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            lines.append(f"-  {key}: {json.dumps(old.get(key), sort_keys=True)}")
            lines.append(f"+  {key}: {json.dumps(new.get(key), sort_keys=True)}")
    return "  core.PodSpec{\n" + "\n".join(lines) + "\n  }\n"


def validate_pod_update(new: Object, old: Object) -> list[FieldError]:
    """ValidatePodUpdate: only images, activeDeadlineSeconds, added tolerations and a grace
    period of 1 after a negative one may change."""
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    errs: list[FieldError] = []
    for key in ("containers", "initContainers"):
        new_list, old_list = new_spec.get(key) or [], old_spec.get(key) or []
        if len(new_list) != len(old_list):
            return [FieldError.forbidden(f"spec.{key}", "pod updates may not add or remove containers")]
        for i, container in enumerate(new_list):
            image = container.get("image") or ""
            if not image:
                errs.append(FieldError.required(f"spec.{key}[{i}].image", ""))
            elif image.strip() != image:
                errs.append(FieldError.invalid(f"spec.{key}[{i}].image", image,
                                               "must not have leading or trailing whitespace"))
    deadline, old_deadline = new_spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    if deadline is not None:
        if not isinstance(deadline, int) or not 0 <= deadline <= 2**31 - 1:
            return errs + [FieldError.invalid("spec.activeDeadlineSeconds", deadline,
                                              "must be between 0 and 2147483647, inclusive")]
        if old_deadline is not None and old_deadline < deadline:
            return errs + [FieldError.invalid("spec.activeDeadlineSeconds", deadline,
                                              "must be less than or equal to previous value")]
    elif old_deadline is not None:
        errs.append(FieldError.invalid("spec.activeDeadlineSeconds", None,
                                       "must not update from a positive integer to nil value"))
    old_tolerations = old_spec.get("tolerations") or []
    new_tolerations = new_spec.get("tolerations") or []
    for i, toleration in enumerate(old_tolerations):
        if toleration not in new_tolerations:
            errs.append(FieldError.forbidden(f"spec.tolerations[{i}]", "existing toleration can not be "
                                             "modified except its tolerationSeconds"))
    if new_spec == old_spec:
        return errs
    munged = _munged(new_spec, old_spec)
    if munged != old_spec:
        errs.append(FieldError.forbidden("spec", f"{UPDATE_FORBIDDEN}\n{_spec_diff(old_spec, munged)}"))
    return errs


# -- strategy -----------------------------------------------------------------------------------

def _status(obj: Object) -> Object:
    return obj.get("status") or {}


def _spec(obj: Object) -> Object:
    return obj.get("spec") or {}


def pod_ip(obj: Object) -> str:
    ips = _status(obj).get("podIPs") or []
    return (ips[0].get("ip") or "") if ips else (_status(obj).get("podIP") or "")


def selectable_fields(obj: Object) -> dict[str, str]:
    """PodToSelectableFields (metadata.name and metadata.namespace come from the kernel)."""
    spec, stat = _spec(obj), _status(obj)
    return {
        "spec.nodeName": spec.get("nodeName") or "",
        "spec.restartPolicy": spec.get("restartPolicy") or "",
        "spec.schedulerName": spec.get("schedulerName") or "",
        "spec.serviceAccountName": spec.get("serviceAccountName") or "",
        "spec.hostNetwork": "true" if spec.get("hostNetwork") else "false",
        "status.phase": stat.get("phase") or "",
        "status.podIP": pod_ip(obj),
        "status.podIPs": ",".join(ip.get("ip") or "" for ip in stat.get("podIPs") or []),
        "status.nominatedNodeName": stat.get("nominatedNodeName") or "",
    }


SELECTABLE_FIELDS = ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                     "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP",
                     "status.podIPs", "status.nominatedNodeName")


class PodStrategy(Strategy):
    """pkg/registry/core/pod: defaults, status Pending on create, the stored status on update."""

    allow_create_on_update = False
    allow_unconditional_update = True

    def prepare_for_create(self, obj: Object) -> None:
        check_quantities(obj)
        default_pod(obj)
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj)}

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        check_quantities(obj)
        default_pod(obj)
        _core.carry(obj, old, "status")

    def validate(self, obj: Object) -> list[Any]:
        errs = validate_pod_spec(obj.get("spec"))
        if (_spec(obj).get("ephemeralContainers")):
            errs.append(FieldError.forbidden("spec.ephemeralContainers", "cannot be set on create"))
        return errs

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return validate_pod_spec(obj.get("spec")) + validate_pod_update(obj, old)

    def field_selectors(self, obj: Object) -> dict[str, str]:
        return selectable_fields(obj)


class PodStatusStrategy(StatusStrategy):
    """pods/status: only status changes (the generic status strategy), with the pod's selectors."""

    def field_selectors(self, obj: Object) -> dict[str, str]:
        return selectable_fields(obj)


# -- binding ------------------------------------------------------------------------------------

def bind(pod: Object, binding: Object) -> Object:
    """pods/<name>/binding: the pod with ``spec.nodeName`` set from a v1 Binding (kube's
    BindingREST), or a StatusError: 500 for an invalid Binding (kube returns its aggregate error
    unwrapped), 409 when the pod is bound already, being deleted or gated."""
    name = (pod.get("metadata") or {}).get("name", "")
    meta = binding.get("metadata") or {}
    if meta.get("name") and meta["name"] != name:
        raise st.bad_request("name in URL does not match name in Binding object")
    target = binding.get("target") or {}
    errs = []
    if target.get("kind") and target["kind"] != "Node":
        errs.append(FieldError.not_supported("target.kind", target["kind"], ["Node", "<empty>"]))
    if not target.get("name"):
        errs.append(FieldError.required("target.name", ""))
    if errs:
        raise st.internal_error(aggregate_message(errs))

    def refuse(why: str) -> st.StatusError:
        return st.conflict("", "pods/binding", name, why)

    pod_meta = pod.get("metadata") or {}
    if meta.get("uid") and meta["uid"] != pod_meta.get("uid"):
        raise refuse(f"Precondition failed: UID in precondition: {meta['uid']}, UID in object meta: "
                     f"{pod_meta.get('uid', '')}")
    if pod_meta.get("deletionTimestamp"):
        raise refuse(f"pod {name} is being deleted, cannot be assigned to a host")
    spec = pod.setdefault("spec", {})
    if spec.get("nodeName"):
        raise refuse(f'pod {name} is already assigned to node "{spec["nodeName"]}"')
    if spec.get("schedulingGates"):
        raise refuse(f"pod {name} has non-empty .spec.schedulingGates")
    spec["nodeName"] = target["name"]
    if meta.get("annotations"):
        pod_meta = pod.setdefault("metadata", {})
        pod_meta["annotations"] = {**(pod_meta.get("annotations") or {}), **meta["annotations"]}
    _set_condition(pod.setdefault("status", {}), {"type": "PodScheduled", "status": "True"})
    return pod


def _set_condition(status: Object, condition: Object) -> None:
    """podutil.UpdatePodCondition: replace the condition of that type; a status change stamps
    lastTransitionTime."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    conditions = status.setdefault("conditions", [])
    for i, existing in enumerate(conditions):
        if existing.get("type") == condition["type"]:
            if existing.get("status") != condition["status"]:
                condition["lastTransitionTime"] = now
            else:
                condition["lastTransitionTime"] = existing.get("lastTransitionTime")
            conditions[i] = {**existing, **condition}
            return
    conditions.append({**condition, "lastProbeTime": None, "lastTransitionTime": now})


# -- table (printPod) ---------------------------------------------------------------------------

def _terminated_reason(state: Object, prefix: str = "") -> str:
    if state.get("reason"):
        return prefix + state["reason"]
    if state.get("signal"):
        return f"{prefix}Signal:{state['signal']}"
    return f"{prefix}ExitCode:{state.get('exitCode', 0)}"


def _restartable(container: Object | None) -> bool:
    return bool(container) and container.get("restartPolicy") == "Always"


def _later(a: datetime | None, b: Any) -> datetime | None:
    parsed = parse_time(b) if isinstance(b, str) else None
    return parsed if parsed and (a is None or parsed > a) else a


def pod_row(pod: Object) -> dict[str, Any]:
    """READY, STATUS and RESTARTS as kubectl's printPod computes them."""
    spec, stat = _spec(pod), _status(pod)
    total = len(spec.get("containers") or [])
    ready = restarts = sidecar_restarts = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None
    phase = stat.get("phase") or ""
    reason = stat.get("reason") or phase
    for condition in stat.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    init_containers = {c.get("name"): c for c in spec.get("initContainers") or []}
    total += sum(1 for c in init_containers.values() if _restartable(c))
    initializing = False
    init_statuses = stat.get("initContainerStatuses") or []
    for i, container in enumerate(init_statuses):
        restarts += container.get("restartCount") or 0
        finished = ((container.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        last_restart = _later(last_restart, finished)
        sidecar = _restartable(init_containers.get(container.get("name")))
        if sidecar:
            sidecar_restarts += container.get("restartCount") or 0
            last_sidecar_restart = _later(last_sidecar_restart, finished)
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and (terminated.get("exitCode") or 0) == 0:
            continue
        if sidecar and container.get("started"):
            if container.get("ready"):
                ready += 1
            continue
        if terminated is not None:
            reason = _terminated_reason(terminated, "Init:")
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or [])}"
        initializing = True
        break
    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True"
                      for c in stat.get("conditions") or [])
    if not initializing or initialized:
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running, error_reason = False, ""
        for container in reversed(stat.get("containerStatuses") or []):
            restarts += container.get("restartCount") or 0
            finished = ((container.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
            last_restart = _later(last_restart, finished)
            state = container.get("state") or {}
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif state.get("terminated") is not None:
                reason = _terminated_reason(state["terminated"])
                if (state["terminated"].get("exitCode") or 0) != 0:
                    error_reason = reason
            elif container.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed":
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in stat.get("conditions") or [])
            if has_running and pod_ready:
                reason = "Running"
            elif error_reason:
                reason = error_reason
            elif has_running:
                reason = "NotReady"
    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    if deleting and stat.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_cell = str(restarts)
    if restarts and last_restart is not None:
        restarts_cell = f"{restarts} ({age(last_restart.isoformat())} ago)"
    return {"ready": f"{ready}/{total}", "status": reason, "restarts": restarts_cell}


def readiness_gates(pod: Object) -> str:
    gates = _spec(pod).get("readinessGates") or []
    if not gates:
        return _core.NONE
    conditions = _status(pod).get("conditions") or []
    true = 0
    for gate in gates:
        for condition in conditions:
            if condition.get("type") == gate.get("conditionType"):
                true += condition.get("status") == "True"
                break
    return f"{true}/{len(gates)}"


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Ready", "string", lambda o: pod_row(o)["ready"],
                description="The aggregate readiness state of this pod for accepting traffic."),
    TableColumn("Status", "string", lambda o: pod_row(o)["status"],
                description="The aggregate status of the containers in this pod."),
    TableColumn("Restarts", "string", lambda o: pod_row(o)["restarts"],
                description="The number of times the containers in this pod have been restarted and when "
                            "the last container in this pod has restarted."),
    AGE_COLUMN,
    TableColumn("IP", "string", lambda o: pod_ip(o) or _core.NONE, priority=1,
                description="podIP address allocated to the pod. Routable at least within the cluster. "
                            "Empty if not yet allocated."),
    TableColumn("Node", "string", lambda o: _spec(o).get("nodeName") or _core.NONE, priority=1,
                description="NodeName indicates in which node this pod is scheduled. If empty, this pod "
                            "is a candidate for scheduling by the scheduler defined in schedulerName."),
    TableColumn("Nominated Node", "string", lambda o: _status(o).get("nominatedNodeName") or _core.NONE,
                priority=1, description="nominatedNodeName is set only when this pod preempts other pods "
                                        "on the node, but it cannot be scheduled right away as preemption "
                                        "victims receive their graceful termination periods."),
    TableColumn("Readiness Gates", "string", readiness_gates, priority=1,
                description="If specified, all readiness gates will be evaluated for pod readiness."),
)


class BindingStrategy(Strategy):
    """The pod update a binding makes: ``bind`` set spec.nodeName and checked everything (kube's
    BindingREST writes the pod without the pod update rules, which forbid changing nodeName)."""

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return []


async def create_binding(call: SubresourceCall) -> Object:
    """POST pods/<name>/binding: admitted as a CREATE of the Binding, then the pod is written."""
    await call.store.update(call.namespace, call.name, lambda pod: bind(pod, call.body), call.user,
                            dry_run=call.dry_run, subresource="binding", check_name=False, admit=False)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


BINDING = CustomSubresource(
    group="", version="v1", kind="Binding", handler=create_binding,
    description=("Binding ties one object to another; for example, a pod is bound to a node by a "
                 "scheduler."),
    **CORE_V1.spec_fields("Binding"))


EVICTION = CustomSubresource(
    group="policy", version="v1", kind="Eviction", handler=create_eviction,
    description="Eviction evicts a pod from its node subject to certain policies and safety constraints.",
    **CORE_V1.spec_fields("Eviction"))


pod_spec = ResourceSpec(
    group="",
    version="v1",
    kind=KIND,
    plural="pods",
    singular="pod",
    namespaced=True,
    **CORE_V1.spec_fields(KIND),
    short_names=("po",),
    categories=("all",),
    subresources=("status",),
    strategy=PodStrategy(),
    subresource_strategies={"status": PodStatusStrategy(), "binding": BindingStrategy()},
    custom_subresources={"binding": BINDING, "eviction": EVICTION},
    table_columns=TABLE_COLUMNS,
    selectable_fields=SELECTABLE_FIELDS,
    description=DESCRIPTION,
)
