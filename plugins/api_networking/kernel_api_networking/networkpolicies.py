"""networkpolicies (networking.k8s.io/v1 NetworkPolicy): defaulting (policyTypes, port protocol
TCP) and validation as kube has them, and the Pod-Selector column."""

from __future__ import annotations

import ipaddress
from typing import Any

from kernel.apimachinery import commonvalidation as cv
from kernel.apimachinery.validation import FieldError, GoLiteral
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, TableColumn

from kernel_api_networking._common import GROUP, VERSION, SpecStrategy, spec_of
from kernel_api_networking.types import TYPES

KIND = "NetworkPolicy"
SCHEMA_NAME = "io.k8s.api.networking.v1.NetworkPolicy"
DESCRIPTION = "NetworkPolicy describes what network traffic is allowed for a set of Pods"
PROTOCOLS = ("TCP", "UDP", "SCTP")
POLICY_TYPES = ("Ingress", "Egress")


def default(obj: Object) -> None:
    """SetDefaults_NetworkPolicy and SetDefaults_NetworkPolicyPort."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for port in (rule or {}).get("ports") or []:
                if isinstance(port, dict) and port.get("protocol") is None:
                    port["protocol"] = "TCP"


def _port_errors(port: Object, at: str) -> list[FieldError]:
    errs: list[FieldError] = []
    protocol = port.get("protocol")
    if protocol is not None and protocol not in PROTOCOLS:
        errs.append(FieldError.not_supported(f"{at}.protocol", protocol, PROTOCOLS))
    number, end = port.get("port"), port.get("endPort")
    if number is None:
        if end is not None:
            errs.append(FieldError.invalid(f"{at}.endPort", end, "may not be specified when `port` is not specified"))
    elif isinstance(number, int):
        errs += [FieldError.invalid(f"{at}.port", number, m) for m in cv.is_valid_port_num(number)]
        if end is not None:
            if end < number:
                errs.append(FieldError.invalid(f"{at}.endPort", number, "must be greater than or equal to `port`"))
            errs += [FieldError.invalid(f"{at}.endPort", end, m) for m in cv.is_valid_port_num(end)]
    else:
        if end is not None:
            errs.append(FieldError.invalid(f"{at}.endPort", end, "may not be specified when `port` is non-numeric"))
        errs += [FieldError.invalid(f"{at}.port", number, m) for m in cv.is_valid_port_name(str(number))]
    return errs


def _cidr_errors(value: str, at: str) -> list[FieldError]:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return [FieldError.invalid(at, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []


def _peer_errors(peer: Object, at: str) -> list[FieldError]:
    errs: list[FieldError] = []
    count = 0
    for key in ("podSelector", "namespaceSelector"):
        if peer.get(key) is not None:
            count += 1
            errs += cv.validate_label_selector(peer[key], f"{at}.{key}")
    block = peer.get("ipBlock")
    if block is not None:
        count += 1
        cidr = block.get("cidr") or ""
        if not cidr:
            errs.append(FieldError.required(f"{at}.ipBlock.cidr"))
        else:
            errs += _cidr_errors(cidr, f"{at}.ipBlock.cidr")
            for i, except_cidr in enumerate(block.get("except") or []):
                errs += _cidr_errors(except_cidr, f"{at}.ipBlock.except[{i}]")
    if count == 0:
        errs.append(FieldError.required(at, "must specify a peer"))
    elif count > 1 and block is not None:
        errs.append(FieldError.forbidden(at, "may not specify both ipBlock and another peer"))
    return errs


def validate_spec(spec: Object) -> list[FieldError]:
    errs = cv.validate_label_selector(spec.get("podSelector"), "spec.podSelector")
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(spec.get(direction) or []):
            at = f"spec.{direction}[{i}]"
            for j, port in enumerate((rule or {}).get("ports") or []):
                errs += _port_errors(port, f"{at}.ports[{j}]")
            for j, peer in enumerate((rule or {}).get(peers_key) or []):
                errs += _peer_errors(peer, f"{at}.{peers_key}[{j}]")
    types = spec.get("policyTypes") or []
    if len(types) > 2:
        return errs + [FieldError.invalid("spec.policyTypes", GoLiteral(str(types)), "may not specify more than two policyTypes")]
    errs += [FieldError.not_supported(f"spec.policyTypes[{i}]", t, POLICY_TYPES)
             for i, t in enumerate(types) if t not in POLICY_TYPES]
    return errs


class NetworkPolicyStrategy(SpecStrategy):
    def default(self, obj: Object) -> None:
        default(obj)

    def validate(self, obj: Object) -> list[Any]:
        return validate_spec(spec_of(obj))


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Pod-Selector", "string", lambda o: cv.format_label_selector(spec_of(o).get("podSelector") or {}),
                description="podSelector selects the pods to which this NetworkPolicy object applies."),
    AGE_COLUMN,
)

networkpolicy_spec = ResourceSpec(
    group=GROUP,
    version=VERSION,
    kind=KIND,
    plural="networkpolicies",
    singular="networkpolicy",
    namespaced=True,
    **TYPES.spec_fields(KIND),
    short_names=("netpol",),
    strategy=NetworkPolicyStrategy(),
    table_columns=TABLE_COLUMNS,
    description=DESCRIPTION,
)
