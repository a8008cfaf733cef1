"""OpenAPI component schemas of authentication.k8s.io/v1 (k8s.io/api/authentication/v1), as kube
publishes them: field validation, ``kubectl explain`` and ``create -f`` read these."""

from __future__ import annotations

from typing import Any

from kernel.apimachinery import schemas as meta

PREFIX = "io.k8s.api.authentication.v1."
SELF_SUBJECT_REVIEW = PREFIX + "SelfSubjectReview"
TOKEN_REVIEW = PREFIX + "TokenReview"
USER_INFO = PREFIX + "UserInfo"

_USER_INFO: dict[str, Any] = {
    "description": "UserInfo holds the information about the user needed to implement the user.Info interface.",
    "properties": {
        "extra": {"additionalProperties": {"items": {"default": "", "type": "string"}, "type": "array"},
                  "description": "Any additional information provided by the authenticator.",
                  "type": "object"},
        "groups": meta.string_list("The names of groups this user is a part of.",
                                   **{"x-kubernetes-list-type": "atomic"}),
        "uid": {"description": "A unique value that identifies this user across time. If this user is "
                               "deleted and another user by the same name is added, they will have "
                               "different UIDs.", "type": "string"},
        "username": {"description": "The name that uniquely identifies this user among all active users.",
                     "type": "string"},
    },
    "type": "object",
}


def _kind(kind: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "description": description,
        "properties": {
            "apiVersion": meta.type_meta_properties()["apiVersion"],
            "kind": meta.type_meta_properties()["kind"],
            "metadata": meta.ref_field(meta.OBJECT_META, meta.OBJECT_METADATA_DESCRIPTION, default={}),
            **properties,
        },
        "type": "object",
        "x-kubernetes-group-version-kind": meta.gvk("authentication.k8s.io", "v1", kind),
    }
    if required:
        schema["required"] = required
    return schema


SELF_SUBJECT_REVIEW_SCHEMAS: dict[str, Any] = {
    SELF_SUBJECT_REVIEW: _kind(
        "SelfSubjectReview",
        "SelfSubjectReview contains the user information that the kube-apiserver has about the user "
        "making this request. When using impersonation, users will receive the user info of the user "
        "being impersonated.  If impersonation or request header authentication is used, any extra "
        "keys will have their case ignored and returned as lowercase.",
        {"status": meta.ref_field(PREFIX + "SelfSubjectReviewStatus",
                                  "Status is filled in by the server with the user attributes.",
                                  default={})}, []),
    PREFIX + "SelfSubjectReviewStatus": {
        "description": "SelfSubjectReviewStatus is filled by the kube-apiserver and sent back to a user.",
        "properties": {"userInfo": meta.ref_field(USER_INFO, "User attributes of the user making this request.",
                                                  default={})},
        "type": "object",
    },
    USER_INFO: _USER_INFO,
    **meta.meta_schemas(),
}

TOKEN_REVIEW_SCHEMAS: dict[str, Any] = {
    TOKEN_REVIEW: _kind(
        "TokenReview",
        "TokenReview attempts to authenticate a token to a known user. Note: TokenReview requests may "
        "be cached by the webhook token authenticator plugin in the kube-apiserver.",
        {"spec": meta.ref_field(PREFIX + "TokenReviewSpec",
                                "Spec holds information about the request being evaluated", default={}),
         "status": meta.ref_field(PREFIX + "TokenReviewStatus",
                                  "Status is filled in by the server and indicates whether the request "
                                  "can be authenticated.", default={})},
        ["spec"]),
    PREFIX + "TokenReviewSpec": {
        "description": "TokenReviewSpec is a description of the token authentication request.",
        "properties": {
            "audiences": meta.string_list(
                "Audiences is a list of the identifiers that the resource server presented with the "
                "token identifies as. Audience-aware token authenticators will verify that the token was "
                "intended for at least one of the audiences in this list. If no audiences are provided, "
                "the audience will default to the audience of the Kubernetes apiserver.",
                **{"x-kubernetes-list-type": "atomic"}),
            "token": {"description": "Token is the opaque bearer token.", "type": "string"},
        },
        "type": "object",
    },
    PREFIX + "TokenReviewStatus": {
        "description": "TokenReviewStatus is the result of the token authentication request.",
        "properties": {
            "audiences": meta.string_list(
                "Audiences are audience identifiers chosen by the authenticator that are compatible "
                "with both the TokenReview and token. An identifier is any identifier in the "
                "intersection of the TokenReviewSpec audiences and the token's audiences. A client of "
                "the TokenReview API that sets the spec.audiences field should validate that a "
                "compatible audience identifier is returned in the status.audiences field to ensure "
                "that the TokenReview server is audience aware. If a TokenReview returns an empty "
                "status.audience field where status.authenticated is \"true\", the token is valid "
                "against the audience of the Kubernetes API server.",
                **{"x-kubernetes-list-type": "atomic"}),
            "authenticated": {"description": "Authenticated indicates that the token was associated "
                                             "with a known user.", "type": "boolean"},
            "error": {"description": "Error indicates that the token couldn't be checked",
                      "type": "string"},
            "user": meta.ref_field(USER_INFO, "User is the UserInfo associated with the provided token.",
                                   default={}),
        },
        "type": "object",
    },
    USER_INFO: _USER_INFO,
    **meta.meta_schemas(),
}
