"""Storage keys (kube's etcd layout), continue tokens (kube's format), storage error texts."""

from __future__ import annotations

import base64
import json

import pytest

from kernel.storage.continuation import LATEST, decode_continue, encode_continue
from kernel.storage.errors import ConflictError, InvalidContinueError, KeyNotFoundError
from kernel.storage.interface import Preconditions, WatchEvent, filter_event
from kernel.storage.keys import list_prefix, object_key, prefix_end, resource_prefix


@pytest.mark.parametrize(("group", "resource", "prefix"), [
    ("", "configmaps", "/registry/configmaps/"),
    ("", "namespaces", "/registry/namespaces/"),
    ("", "nodes", "/registry/minions/"),
    ("", "services", "/registry/services/specs/"),
    ("", "endpoints", "/registry/services/endpoints/"),
    ("apps", "deployments", "/registry/deployments/"),
    ("rbac.authorization.k8s.io", "roles", "/registry/roles/"),
    ("networking.k8s.io", "ingresses", "/registry/ingress/"),
    ("apiextensions.k8s.io", "customresourcedefinitions",
     "/registry/apiextensions.k8s.io/customresourcedefinitions/"),
    ("stable.example.com", "crontabs", "/registry/stable.example.com/crontabs/"),
])
def test_resource_prefixes_follow_kube(group: str, resource: str, prefix: str) -> None:
    assert resource_prefix(group, resource) == prefix


def test_object_keys_and_list_prefixes() -> None:
    configmaps = resource_prefix("", "configmaps")
    assert object_key(configmaps, "x", "default") == "/registry/configmaps/default/x"
    assert object_key(resource_prefix("", "namespaces"), "default") == "/registry/namespaces/default"
    assert list_prefix(configmaps, "a") == "/registry/configmaps/a/"
    assert not object_key(configmaps, "x", "ab").startswith(list_prefix(configmaps, "a"))
    assert list_prefix(configmaps) == configmaps
    assert prefix_end("/registry/configmaps/") == "/registry/configmaps0"
    with pytest.raises(ValueError, match="Name parameter required."):
        object_key(configmaps, "", "default")
    with pytest.raises(ValueError, match=r'Name parameter invalid: "a/b": may not contain \'/\''):
        object_key(configmaps, "a/b", "default")
    with pytest.raises(ValueError, match="may not be '..'"):
        object_key(configmaps, "..", "default")


def test_continue_tokens_use_kubes_format() -> None:
    token = encode_continue("/registry/configmaps/ns/b\x00", "/registry/configmaps/", 42)
    raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    assert raw == {"v": "meta.k8s.io/v1", "rv": 42, "start": "ns/b\x00"}
    assert "=" not in token
    assert decode_continue(token, "/registry/configmaps/") == ("/registry/configmaps/ns/b\x00", 42)
    latest = encode_continue("/p/x", "/p/", LATEST)
    assert decode_continue(latest, "/p/") == ("/p/x", -1)


@pytest.mark.parametrize(("payload", "reason"), [
    ({"v": "meta.k8s.io/v1", "rv": 0, "start": "x"}, "incorrect encoded start resourceVersion"),
    ({"v": "meta.k8s.io/v1", "rv": 3, "start": ""}, "encoded start key empty"),
    ({"v": "v2", "rv": 3, "start": "x"}, "server does not recognize this encoded version"),
    ({"v": "meta.k8s.io/v1", "rv": 3, "start": "../secrets/x"}, "continue key is not valid"),
    ({"v": "meta.k8s.io/v1", "rv": 3, "start": "a//b"}, "continue key is not valid"),
])
def test_bad_continue_tokens(payload: dict, reason: str) -> None:
    token = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    with pytest.raises(InvalidContinueError, match=reason) as info:
        decode_continue(token, "/registry/configmaps/")
    assert info.value.message.startswith("invalid continue token: continue key is not valid")


def test_storage_error_texts() -> None:
    error = KeyNotFoundError("/registry/configmaps/ns/x")
    assert error.key == "/registry/configmaps/ns/x"
    with pytest.raises(ConflictError) as info:
        Preconditions(uid="a").check("/k", {"metadata": {"uid": "b"}})
    assert str(info.value) == ("StorageError: invalid object, Code: 4, Key: /k, ResourceVersion: 0, "
                               "AdditionalErrorMsg: Precondition failed: UID in precondition: a, "
                               "UID in object meta: b")
    Preconditions(uid="b", resource_version="3").check(
        "/k", {"metadata": {"uid": "b", "resourceVersion": "3"}})


def test_filter_event_follows_kube() -> None:
    def blue(obj: dict) -> bool:
        return obj["metadata"].get("labels", {}).get("color") == "blue"

    red = {"metadata": {"name": "x", "labels": {"color": "red"}, "resourceVersion": "4"}}
    navy = {"metadata": {"name": "x", "labels": {"color": "blue"}, "resourceVersion": "5"}}
    became = WatchEvent("MODIFIED", navy, red, 5)
    assert filter_event(became, blue).type == "ADDED"  # type: ignore[union-attr]
    assert filter_event(became, None) is became
    left = WatchEvent("MODIFIED", {**red, "metadata": {**red["metadata"], "resourceVersion": "6"}},
                      navy, 6)
    gone = filter_event(left, blue)
    assert gone is not None and gone.type == "DELETED"
    assert gone.object["metadata"]["labels"] == {"color": "blue"}
    assert gone.object["metadata"]["resourceVersion"] == "6"
    assert navy["metadata"]["resourceVersion"] == "5"  # not modified in place
    assert filter_event(WatchEvent("MODIFIED", red, red, 7), blue) is None
    assert filter_event(WatchEvent("DELETED", red, red, 8), blue) is None
