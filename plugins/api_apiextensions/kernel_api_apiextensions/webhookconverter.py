"""CRD conversion with ``strategy: Webhook`` (apiextensions-apiserver pkg/apiserver/conversion
webhook_converter.go): objects not already in the wanted version are sent in one
ConversionReview to the CRD's webhook, and the answer is checked as kube checks it (uid, result,
count, apiVersion and kind of each object, unchanged name/namespace/uid; only labels and
annotations may change in metadata).

Any failure is kube's error for it, ``conversion webhook for <group>/<version>, Kind=<kind>
failed: ...``, answered as kube answers an error that is not a Status: 500 with no reason.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from kernel.apimachinery.status import StatusError
from kernel.apimachinery.validation import aggregate_message, validate_annotations, validate_labels
from kernel_webhook import CallError, ClientConfig, Resolver, post

Object = dict[str, Any]
GROUP = "apiextensions.k8s.io"
REVIEW_VERSIONS = ("v1", "v1beta1")
#: client-go's default request timeout for the conversion webhook client (kube: 30s).
TIMEOUT = 30.0


class ConversionError(Exception):
    pass


def _gvk(obj: Mapping[str, Any]) -> str:
    """schema.GroupVersionKind.String(): ``group/version, Kind=kind``."""
    api_version = obj.get("apiVersion") or ""
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={obj.get('kind') or ''}"


def failure(message: str) -> StatusError:
    """An error that is not a Status becomes 500 with its text and no reason (ErrorToAPIStatus)."""
    return StatusError(500, "", message)


class WebhookConverter:
    """The conversion webhook of one CRD."""

    def __init__(self, crd_name: str, webhook: Mapping[str, Any], resolver: Resolver | None) -> None:
        self.name = crd_name
        self.config = ClientConfig.from_dict(webhook.get("clientConfig") or {})
        versions = [v for v in webhook.get("conversionReviewVersions") or () if v in REVIEW_VERSIONS]
        self.review_version = versions[0] if versions else ""
        self.resolver = resolver

    async def convert(self, objects: Sequence[Object], api_version: str) -> list[Object]:
        """``objects`` in ``api_version``: those already in it are kept as they are."""
        pending = [i for i, obj in enumerate(objects) if obj.get("apiVersion") != api_version]
        if not pending:
            return list(objects)
        first = objects[pending[0]]
        try:
            converted = await self._review([objects[i] for i in pending], api_version, _gvk(first))
        except ConversionError as error:
            raise failure(str(error)) from None
        out = list(objects)
        for i, obj in zip(pending, converted):
            out[i] = obj
        return out

    async def _review(self, originals: list[Object], api_version: str, gvk: str) -> list[Object]:
        if not self.review_version:
            raise ConversionError(f"conversion webhook for {gvk} failed: webhook does not accept "
                                  "v1 or v1beta1 ConversionReview")
        uid = str(uuid.uuid4())
        review_api = f"{GROUP}/{self.review_version}"
        body = {"apiVersion": review_api, "kind": "ConversionReview",
                "request": {"uid": uid, "desiredAPIVersion": api_version, "objects": originals}}
        try:
            answer = await post(self.config, body, TIMEOUT, resolver=self.resolver)
        except CallError as error:
            raise ConversionError(f"conversion webhook for {gvk} failed: {error.detail}") from None
        try:
            converted = _converted_objects(answer, uid, self.review_version)
        except ConversionError as error:
            raise ConversionError(f"conversion webhook for {gvk} failed: {error}") from None
        if not isinstance(converted, list) or len(converted) != len(originals):
            count = len(converted) if isinstance(converted, list) else 0
            raise ConversionError(f"conversion webhook for {gvk} returned {count} objects, "
                                  f"expected {len(originals)}")
        return [_checked(original, obj, api_version, gvk, i, many=len(originals) > 1)
                for i, (original, obj) in enumerate(zip(originals, converted))]


def _converted_objects(answer: Any, uid: str, review_version: str) -> Any:
    """getConvertedObjectsFromResponse."""
    if not isinstance(answer, Mapping):
        raise ConversionError("unrecognized response type")
    if review_version == "v1":
        expected = f"{GROUP}/v1, Kind=ConversionReview"
        got = _gvk(answer)
        if got != expected:
            raise ConversionError(f"expected webhook response of {expected}, got {got}")
    response = answer.get("response")
    if not isinstance(response, Mapping):
        raise ConversionError("no response provided")
    if review_version == "v1" and response.get("uid") != uid:
        raise ConversionError(f'expected response.uid="{uid}", got "{response.get("uid") or ""}"')
    result = response.get("result") or {}
    if result.get("status") != "Success":
        if result.get("message"):
            raise ConversionError(result["message"])
        raise ConversionError(f"response.result.status was '{result.get('status') or ''}', "
                              "not 'Success'")
    return response.get("convertedObjects") or []


def _checked(original: Object, obj: Any, api_version: str, gvk: str, index: int, *,
             many: bool) -> Object:
    """One converted object, checked; its metadata is the original's but for labels and
    annotations (restoreObjectMeta)."""
    where = f"invalid converted object at index {index}" if many else "invalid object"
    prefix = f"conversion webhook for {gvk} returned "
    if not isinstance(obj, dict):
        raise ConversionError(f"{prefix}{where}: invalid type, expected=Unstructured")
    got = obj.get("apiVersion") or ""
    if got != api_version:
        at = where if many else "invalid object at index 0"
        raise ConversionError(f"{prefix}{at}: invalid groupVersion (expected {api_version}, "
                              f"received {got})")
    if obj.get("kind") != original.get("kind"):
        at = where if many else "invalid object at index 0"
        raise ConversionError(f"{prefix}{at}: invalid kind (expected {original.get('kind')}, "
                              f"received {obj.get('kind') or ''})")
    problem = _same_identity(original, obj)
    if problem:
        raise ConversionError(f"{prefix}{where}: {problem}")
    try:
        return _restore_metadata(original, obj)
    except ConversionError as error:
        at = f"invalid metadata in object at index {index}" if many else "invalid metadata"
        raise ConversionError(f"{prefix}{at}: {error}") from None


def _same_identity(original: Object, obj: Object) -> str:
    """validateConvertedObject: kind, name, namespace and uid are not the webhook's to change."""
    old, new = original.get("metadata") or {}, obj.get("metadata") or {}
    if not isinstance(new, Mapping):
        new = {}
    for label, a, b in (("kind", original.get("kind"), obj.get("kind")),
                        ("name", old.get("name"), new.get("name")),
                        ("namespace", old.get("namespace"), new.get("namespace")),
                        ("UID", old.get("uid"), new.get("uid"))):
        if (a or "") != (b or ""):
            return f"must have the same {label}: {a or ''} != {b or ''}"
    return ""


def _restore_metadata(original: Object, obj: Object) -> Object:
    if "metadata" not in obj:
        raise ConversionError("missing metadata in converted object")
    answered = obj["metadata"]
    if not isinstance(answered, Mapping):
        raise ConversionError("invalid metadata of type in converted object")
    metadata = copy.deepcopy(original.get("metadata") or {})
    for name in ("labels", "annotations"):
        value = answered.get(name)
        if value is None:
            metadata.pop(name, None)
            continue
        if not isinstance(value, Mapping):
            raise ConversionError(f"invalid metadata.{name} in converted object")
        for key, item in value.items():
            if not isinstance(item, str):
                raise ConversionError(f"metadata.{name}[{key}] must be a string, but is "
                                      f"{type(item).__name__} in converted object")
        if dict(value) != (metadata.get(name) or {}):
            errors = (validate_labels(dict(value), "metadata.labels") if name == "labels"
                      else validate_annotations(dict(value), "metadata.annotation"))
            if errors:
                raise ConversionError(aggregate_message(errors))
        metadata[name] = dict(value)
    return {**obj, "metadata": metadata}
