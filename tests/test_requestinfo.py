"""Request info resolution, as k8s.io/apiserver's RequestInfoFactory does it."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from kernel.apimachinery.status import StatusError
from kernel.endpoints.request.requestinfo import new_request_info


def _info(method: str, target: str):
    path, _, query = target.partition("?")
    return new_request_info(method, path, parse_qs(query, keep_blank_values=True))


@pytest.mark.parametrize("method,target,expected", [
    # verb, resource request, group, version, namespace, resource, subresource, name
    ("GET", "/api/v1/namespaces", ("list", True, "", "v1", "", "namespaces", "", "")),
    ("GET", "/api/v1/namespaces/foo", ("get", True, "", "v1", "foo", "namespaces", "", "foo")),
    ("PUT", "/api/v1/namespaces/foo/finalize", ("update", True, "", "v1", "foo", "namespaces", "finalize", "foo")),
    ("GET", "/api/v1/namespaces/foo/status", ("get", True, "", "v1", "foo", "namespaces", "status", "foo")),
    ("GET", "/api/v1/namespaces/ns/configmaps", ("list", True, "", "v1", "ns", "configmaps", "", "")),
    ("GET", "/api/v1/namespaces/ns/configmaps?watch=true", ("watch", True, "", "v1", "ns", "configmaps", "", "")),
    ("GET", "/api/v1/namespaces/ns/configmaps?watch=false", ("list", True, "", "v1", "ns", "configmaps", "", "")),
    ("GET", "/api/v1/watch/namespaces/ns/configmaps", ("watch", True, "", "v1", "ns", "configmaps", "", "")),
    ("GET", "/api/v1/namespaces/ns/configmaps?fieldSelector=metadata.name%3Dx",
     ("list", True, "", "v1", "ns", "configmaps", "", "x")),
    ("POST", "/api/v1/namespaces/ns/configmaps", ("create", True, "", "v1", "ns", "configmaps", "", "")),
    ("PATCH", "/api/v1/namespaces/ns/configmaps/x", ("patch", True, "", "v1", "ns", "configmaps", "", "x")),
    ("DELETE", "/api/v1/namespaces/ns/configmaps/x", ("delete", True, "", "v1", "ns", "configmaps", "", "x")),
    ("DELETE", "/api/v1/namespaces/ns/configmaps", ("deletecollection", True, "", "v1", "ns", "configmaps", "", "")),
    ("GET", "/api/v1/configmaps", ("list", True, "", "v1", "", "configmaps", "", "")),
    ("GET", "/apis/apps/v1/namespaces/ns/deployments/d/scale",
     ("get", True, "apps", "v1", "ns", "deployments", "scale", "d")),
    ("GET", "/api/v1/namespaces/ns/pods/p/proxy/some/path",
     ("get", True, "", "v1", "ns", "pods", "proxy", "p")),
    ("GET", "/apis/apps/v1", ("get", False, "", "", "", "", "", "")),
    ("GET", "/api", ("get", False, "", "", "", "", "", "")),
    ("POST", "/readyz", ("post", False, "", "", "", "", "", "")),
])
def test_request_info(method, target, expected):
    info = _info(method, target)
    assert (info.verb, info.is_resource_request, info.api_group, info.api_version, info.namespace,
            info.resource, info.subresource, info.name) == expected


def test_long_running_and_mutating():
    assert _info("GET", "/api/v1/pods?watch=1").is_long_running
    assert _info("POST", "/api/v1/namespaces/n/pods/p/exec").is_long_running
    assert not _info("GET", "/api/v1/pods").is_long_running
    assert _info("DELETE", "/api/v1/namespaces/n/pods").is_mutating
    assert not _info("GET", "/api/v1/pods").is_mutating


def test_special_verb_without_resource_is_bad_request():
    with pytest.raises(StatusError) as error:
        _info("GET", "/api/v1/watch")
    assert error.value.code == 400


def test_lists_watches_and_deletecollections_carry_their_selectors() -> None:
    query = {"fieldSelector": ["spec.nodeName=n1"], "labelSelector": ["app=web"]}
    for method, path, extra, verb in (("GET", "/api/v1/pods", {}, "list"),
                                      ("GET", "/api/v1/pods", {"watch": ["1"]}, "watch"),
                                      ("DELETE", "/api/v1/namespaces/a/pods", {}, "deletecollection")):
        info = new_request_info(method, path, {**query, **extra})
        assert (info.verb, info.field_selector, info.label_selector) == (verb, "spec.nodeName=n1", "app=web")
    named = new_request_info("GET", "/api/v1/namespaces/a/pods/p", query)
    assert (named.verb, named.field_selector, named.label_selector) == ("get", "", "")
