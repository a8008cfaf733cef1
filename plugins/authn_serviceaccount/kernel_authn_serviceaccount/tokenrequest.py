"""POST serviceaccounts/<name>/token: kube's TokenREST (pkg/registry/core/serviceaccount/storage).

The request is an authentication.k8s.io/v1 TokenRequest: audiences default to the API audiences,
expirationSeconds to 3600 (at least 600, at most 2^32, cut to
--service-account-max-token-expiration), and ``spec.boundObjectRef`` may bind the token to a
Pod, Secret or Node that must exist (with the uid given, if any). The answer is the request with
``status.token`` and ``status.expirationTimestamp``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from kernel.apimachinery import status
from kernel.apimachinery.validation import FieldError, invalid
from kernel.registry.subresources import CustomSubresource, SubresourceCall

from kernel_authn_serviceaccount.tokens import (EXPIRATION_EXTENSION_SECONDS,
                                                WARN_ONLY_BOUND_TOKEN_EXPIRATION, TokenGenerator,
                                                claims)

GROUP, VERSION, KIND = "authentication.k8s.io", "v1", "TokenRequest"
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 10 * 60
MAX_EXPIRATION = 1 << 32

Object = dict[str, Any]


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(int(seconds), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def validate_token_request(request: Object) -> list[FieldError]:
    """kube's ValidateTokenRequest."""
    seconds = request["spec"]["expirationSeconds"]
    if seconds < MIN_EXPIRATION:
        return [FieldError.invalid("spec.expirationSeconds", seconds,
                                   "may not specify a duration less than 10 minutes")]
    if seconds > MAX_EXPIRATION:
        return [FieldError.invalid("spec.expirationSeconds", seconds,
                                   "may not specify a duration larger than 2^32 seconds")]
    return []


@dataclass
class TokenREST:
    generator: TokenGenerator
    api_audiences: Sequence[str]
    max_expiration: int = 0  # seconds; 0: no cap
    extend_expiration: bool = True

    async def create(self, call: SubresourceCall) -> Object:
        request = call.copy_body()
        meta = request.setdefault("metadata", {})
        name, namespace = call.name, call.namespace
        if meta.get("name") and meta["name"] != name:
            raise invalid(KIND, name, [FieldError.invalid(
                "metadata.name", meta["name"], "must match the service account name if specified")], GROUP)
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise invalid(KIND, name, [FieldError.invalid(
                "metadata.namespace", meta["namespace"],
                "must match the service account namespace if specified")], GROUP)
        sa = await call.stores("", "serviceaccounts").get(namespace, name)
        sa_uid = sa["metadata"].get("uid", "")
        if meta.get("uid") and meta["uid"] != sa_uid:
            raise status.conflict(GROUP, KIND, name, (
                f"the UID in the token request ({meta['uid']}) does not match the UID of the "
                f"service account ({sa_uid})"))
        spec = request.setdefault("spec", {})
        if not spec.get("audiences"):
            spec["audiences"] = list(self.api_audiences)
        if spec.get("expirationSeconds") is None:
            spec["expirationSeconds"] = DEFAULT_EXPIRATION
        now = time.time()
        meta.update(name=name, namespace=namespace, uid=sa_uid, creationTimestamp=_timestamp(now))
        request["status"] = {}
        errors = validate_token_request(request)
        if errors:
            raise invalid(KIND, "", errors, GROUP)
        pod, secret, node = await self._bound_objects(call, spec.get("boundObjectRef"), name)
        if self.max_expiration and spec["expirationSeconds"] > self.max_expiration:
            spec["expirationSeconds"] = self.max_expiration
        expiration, warn_after = spec["expirationSeconds"], 0
        if (self.extend_expiration and pod is not None and expiration == WARN_ONLY_BOUND_TOKEN_EXPIRATION
                and set(spec["audiences"]) <= set(self.api_audiences)):
            # an admission-injected token: valid a year, flagged stale after the hour it asked for
            warn_after, expiration = expiration, EXPIRATION_EXTENSION_SECONDS
        token = self.generator.generate(claims(sa, spec["audiences"], expiration, pod=pod,
                                               secret=secret, node=node, warn_after=warn_after,
                                               now=now))
        out = copy.deepcopy(request)
        out["status"] = {"token": token,
                         "expirationTimestamp": _timestamp(now + spec["expirationSeconds"])}
        return out

    async def _bound_objects(self, call: SubresourceCall, ref: Object | None, name: str
                             ) -> tuple[Object | None, Object | None, Object | None]:
        if not ref:
            return None, None, None
        api_version, kind = ref.get("apiVersion") or "", ref.get("kind") or ""
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        ref_name = ref.get("name") or ""
        pod = secret = node = None
        if group == "" and kind == "Pod":
            pod = bound = await call.stores("", "pods").get(call.namespace, ref_name)
            if (pod.get("spec") or {}).get("serviceAccountName") != name:
                raise status.bad_request(f'cannot bind token for serviceaccount "{name}" to pod '
                                         "running with different serviceaccount name.")
            node_name = (pod.get("spec") or {}).get("nodeName")
            if node_name:  # the node's name is kept even when the Node object is gone
                node = await _get_or_none(call, "nodes", "", node_name) or {"metadata": {"name": node_name}}
        elif group == "" and kind == "Node":
            node = bound = await call.stores("", "nodes").get("", ref_name)
        elif group == "" and kind == "Secret":
            secret = bound = await call.stores("", "secrets").get(call.namespace, ref_name)
        else:
            gvk = f"{api_version}, Kind={kind}" if "/" in api_version else f"/{api_version}, Kind={kind}"
            raise status.bad_request(f"cannot bind token to object of type {gvk}")
        uid = bound["metadata"].get("uid", "")
        if ref.get("uid") and ref["uid"] != uid:
            raise status.conflict(group, kind, ref_name, (
                f"the UID in the bound object reference ({ref['uid']}) does not match the UID in "
                "record. The object might have been deleted and then recreated"))
        return pod, secret, node


async def _get_or_none(call: SubresourceCall, resource: str, namespace: str, name: str) -> Object | None:
    try:
        return await call.stores("", resource).get(namespace, name)
    except status.StatusError as error:
        if error.code == 404:
            return None
        raise


def token_subresource(rest: TokenREST) -> CustomSubresource:
    from kernel_api_core.types import CORE_V1  # the TokenRequest schema ships with core/v1

    return CustomSubresource(
        group=GROUP, version=VERSION, kind=KIND, handler=rest.create,
        description="TokenRequest requests a token for a given service account.",
        **CORE_V1.spec_fields(KIND))
