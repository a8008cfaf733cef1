"""Protobuf schemas of authentication.k8s.io/v1 kinds (numbers from its generated.proto).

TokenReview and SelfSubjectReview are declared on their ResourceSpecs. TokenRequest, the body of
core's ``serviceaccounts/token`` subresource (``kubectl create token``), is not served yet.
"""

from __future__ import annotations

from kernel.apimachinery.protobuf.meta import OBJECT_META
from kernel.apimachinery.protobuf.schema import (STRINGS, Message, boolean, int64, map_of, message,
                                                 string, time)

USER_INFO = Message("UserInfo", {
    1: string("username"), 2: string("uid"), 3: string("groups", repeated=True),
    4: map_of("extra", STRINGS),
})

SELF_SUBJECT_REVIEW = Message("SelfSubjectReview", {
    1: message("metadata", OBJECT_META),
    2: message("status", Message("SelfSubjectReviewStatus", {1: message("userInfo", USER_INFO)})),
})

TOKEN_REVIEW = Message("TokenReview", {
    1: message("metadata", OBJECT_META),
    2: message("spec", Message("TokenReviewSpec", {
        1: string("token"), 2: string("audiences", repeated=True)})),
    3: message("status", Message("TokenReviewStatus", {
        1: boolean("authenticated"), 2: message("user", USER_INFO),
        4: string("audiences", repeated=True), 3: string("error")})),
})

TOKEN_REQUEST = Message("TokenRequest", {
    1: message("metadata", OBJECT_META),
    2: message("spec", Message("TokenRequestSpec", {
        1: string("audiences", repeated=True),
        4: int64("expirationSeconds", keep_zero=True),
        3: message("boundObjectRef", Message("BoundObjectReference", {
            1: string("kind"), 2: string("apiVersion"), 3: string("name"), 4: string("uid")})),
    })),
    3: message("status", Message("TokenRequestStatus", {
        1: string("token"), 2: time("expirationTimestamp")})),
})

