"""authentication.k8s.io/v1: the create-only resources, their discovery, and the review objects."""

from __future__ import annotations

import importlib.metadata

import kernel_api_authentication
from kernel.endpoints.discovery import aggregated_discovery, api_resource_list
from kernel.apimachinery.fieldvalidation import check
from kernel.endpoints.openapi import v3
from kernel.authentication import AuthenticationError, AuthenticatorChain, UserInfo, bearer_token
from kernel.authentication.user import user_info_json
from kernel.testing import assemble
from kernel_api_authentication.reviews import (RESOURCES, SelfSubjectReviewREST, TokenReviewREST,
                                               tokenreview_spec)


class Tokens:
    async def authenticate(self, request):
        token = bearer_token(request)
        if token == "good":
            return UserInfo("jane", "u-1", ("dev",), {"scopes": ["a", "b"]})
        if token == "revoked":
            raise AuthenticationError("token revoked")
        return None


def test_entry_point_and_group(tmp_path) -> None:
    (ep,) = [ep for ep in importlib.metadata.entry_points(group="kernel.plugins")
             if ep.name == "api_authentication"]
    assert ep.load() is kernel_api_authentication and ep.dist.name == "kernel-api-authentication"
    server = assemble(tmp_path, "--plugins=api_core,api_authentication,storage_memory",
                      "--api-audiences=api")
    group = server.context.component("api_groups", "authentication.k8s.io/v1")
    assert group.prefix == "/apis/authentication.k8s.io/v1"
    assert set(group.storage) == {"selfsubjectreviews", "tokenreviews"}  # nothing stored


def test_discovery_lists_create_only_cluster_scoped_kinds() -> None:
    from kernel.endpoints.apigroup import APIGroup
    group = APIGroup("authentication.k8s.io", "v1", RESOURCES)
    assert [(r["name"], r["kind"], r["namespaced"], r["verbs"], r["singularName"])
            for r in api_resource_list(group)["resources"]] == [
        ("selfsubjectreviews", "SelfSubjectReview", False, ["create"], "selfsubjectreview"),
        ("tokenreviews", "TokenReview", False, ["create"], "tokenreview")]
    (item,) = aggregated_discovery([group], core=False)["items"]
    assert item["metadata"] == {"name": "authentication.k8s.io"}
    assert [r["scope"] for r in item["versions"][0]["resources"]] == ["Cluster", "Cluster"]
    document = v3.build_documents([group])["apis/authentication.k8s.io/v1"]
    assert set(document["paths"]) == {"/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                      "/apis/authentication.k8s.io/v1/tokenreviews",
                                      "/apis/authentication.k8s.io/v1/"}
    assert set(document["paths"]["/apis/authentication.k8s.io/v1/tokenreviews"]) >= {"post"}


def test_schemas_accept_the_objects_kubectl_sends() -> None:
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "metadata": {},
              "spec": {"token": "t", "audiences": ["a"]}}
    report = check(review, tokenreview_spec.schema_name, tokenreview_spec.schemas)
    assert not report.type_errors and not report.unknown
    report = check({**review, "spec": {"tokn": "t"}}, tokenreview_spec.schema_name, tokenreview_spec.schemas)
    assert report.unknown


def test_user_info_leaves_empty_fields_out() -> None:
    assert user_info_json(UserInfo("system:anonymous", "", ("system:unauthenticated",))) == {
        "username": "system:anonymous", "groups": ["system:unauthenticated"]}
    assert user_info_json(UserInfo("j", "u", (), {"k": ("v",)})) == {"username": "j", "uid": "u",
                                                                "extra": {"k": ["v"]}}


async def test_self_subject_review() -> None:
    review = await SelfSubjectReviewREST().create("", {}, UserInfo("jane", "", ("dev",)))
    assert review["kind"] == "SelfSubjectReview" and review["apiVersion"] == "authentication.k8s.io/v1"
    assert review["metadata"]["creationTimestamp"].endswith("Z")
    assert review["status"] == {"userInfo": {"username": "jane", "groups": ["dev"]}}


async def test_token_review_runs_the_servers_chain() -> None:
    rest = TokenReviewREST(AuthenticatorChain([("tokens", Tokens())], None).authenticate, ["api"])
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "metadata": {"name": "r"}, "spec": {"token": "good"}}
    good = await rest.create("", body, None)
    assert good["metadata"] == {"name": "r"} and good["spec"] == {"token": "good"}
    assert good["status"] == {"authenticated": True, "audiences": ["api"], "user": {
        "username": "jane", "uid": "u-1", "groups": ["dev", "system:authenticated"],
        "extra": {"scopes": ["a", "b"]}}}
    revoked = await rest.create("", {**body, "spec": {"token": "revoked"}}, None)
    assert revoked["status"] == {"user": {}, "error": "tokens: token revoked"}
    unknown = await rest.create("", {**body, "spec": {"token": "who"}}, None)
    assert unknown["status"] == {"user": {}, "error": "invalid bearer token"}


def test_each_review_declares_its_protobuf_schema() -> None:
    from kernel.apimachinery import protobuf
    from kernel.registry.resource import protobuf_kinds
    kinds = protobuf_kinds(RESOURCES)
    assert set(kinds) == {("authentication.k8s.io/v1", "SelfSubjectReview"),
                          ("authentication.k8s.io/v1", "TokenReview")}
    assert all(spec.protobuf.name == spec.kind
               and spec.protobuf.resolved()[1].message.name == "ObjectMeta" for spec in RESOURCES)

    def ld(number: int, data: bytes) -> bytes:  # a length-delimited field, length < 128
        return bytes([number << 3 | 2, len(data)]) + data

    type_meta = ld(1, b"authentication.k8s.io/v1") + ld(2, b"TokenReview")
    raw = ld(2, ld(1, b"abc") + ld(2, b"api"))  # spec: token, audiences
    assert protobuf.decode(protobuf.MAGIC + ld(1, type_meta) + ld(2, raw), None, kinds) == {
        "kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
        "spec": {"token": "abc", "audiences": ["api"]}}
