"""Every protobuf schema the decoder tests read bodies as, by (apiVersion, kind).

The served kinds are those the API group plugins declare on their ResourceSpecs (the same
schemas the server uses). Kinds kubectl sends that no plugin serves yet (Deployment, the
authorization reviews, ServiceAccount, TokenRequest) are kept here, built from the plugins'
shared types, so the decoder stays checked against kubectl's captured bodies for them too.
"""

from __future__ import annotations

from kernel_api_authentication.protobuf import TOKEN_REQUEST
from kernel_api_authentication.reviews import RESOURCES as AUTHENTICATION
from kernel_api_core import RESOURCES as CORE
from kernel_api_core.protobuf import POD_TEMPLATE_SPEC, SERVICE_ACCOUNT

from kernel.apimachinery.protobuf.meta import (LABEL_SELECTOR, LABEL_SELECTOR_REQUIREMENT,
                                               OBJECT_META)
from kernel.apimachinery.protobuf.schema import (STRINGS, Message, boolean, int32, int64,
                                                 int_or_string, map_of, message, string)
from kernel.apimachinery.resource import protobuf_kinds

# --- apps/v1 ---------------------------------------------------------------------------------

DEPLOYMENT = Message("Deployment", {
    1: message("metadata", OBJECT_META),
    2: message("spec", Message("DeploymentSpec", {
        1: int32("replicas", keep_zero=True), 2: message("selector", LABEL_SELECTOR),
        3: message("template", POD_TEMPLATE_SPEC),
        4: message("strategy", Message("DeploymentStrategy", {
            1: string("type"),
            2: message("rollingUpdate", Message("RollingUpdateDeployment", {
                1: int_or_string("maxUnavailable", keep_zero=True),
                2: int_or_string("maxSurge", keep_zero=True)}))})),
        5: int32("minReadySeconds"), 6: int32("revisionHistoryLimit", keep_zero=True),
        7: boolean("paused"), 9: int32("progressDeadlineSeconds", keep_zero=True),
    })),
    3: message("status", Message("DeploymentStatus", {
        1: int64("observedGeneration"), 2: int32("replicas"), 3: int32("updatedReplicas"),
        7: int32("readyReplicas"), 4: int32("availableReplicas"),
        5: int32("unavailableReplicas"), 8: int32("collisionCount", keep_zero=True),
    })),
})

# --- authorization/v1 ------------------------------------------------------------------------

RESOURCE_ATTRIBUTES = Message("ResourceAttributes", {
    1: string("namespace"), 2: string("verb"), 3: string("group"), 4: string("version"),
    5: string("resource"), 6: string("subresource"), 7: string("name"),
    8: message("fieldSelector", Message("FieldSelectorAttributes", {
        1: string("rawSelector"),
        2: message("requirements", Message("FieldSelectorRequirement", {
            1: string("key"), 2: string("operator"), 3: string("values", repeated=True)}),
            repeated=True)})),
    9: message("labelSelector", Message("LabelSelectorAttributes", {
        1: string("rawSelector"),
        2: message("requirements", LABEL_SELECTOR_REQUIREMENT, repeated=True)})),
})
NON_RESOURCE_ATTRIBUTES = Message("NonResourceAttributes", {1: string("path"), 2: string("verb")})

SUBJECT_ACCESS_REVIEW_STATUS = Message("SubjectAccessReviewStatus", {
    1: boolean("allowed", keep_zero=True), 4: boolean("denied"), 2: string("reason"),
    3: string("evaluationError"),
})

SUBJECT_ACCESS_REVIEW = Message("SubjectAccessReview", {
    1: message("metadata", OBJECT_META),
    2: message("spec", Message("SubjectAccessReviewSpec", {
        1: message("resourceAttributes", RESOURCE_ATTRIBUTES),
        2: message("nonResourceAttributes", NON_RESOURCE_ATTRIBUTES),
        3: string("user"), 4: string("groups", repeated=True),
        5: map_of("extra", STRINGS), 6: string("uid"),
    })),
    3: message("status", SUBJECT_ACCESS_REVIEW_STATUS),
})

SELF_SUBJECT_ACCESS_REVIEW = Message("SelfSubjectAccessReview", {
    1: message("metadata", OBJECT_META),
    2: message("spec", Message("SelfSubjectAccessReviewSpec", {
        1: message("resourceAttributes", RESOURCE_ATTRIBUTES),
        2: message("nonResourceAttributes", NON_RESOURCE_ATTRIBUTES),
    })),
    3: message("status", SUBJECT_ACCESS_REVIEW_STATUS),
})

_RULE_LISTS = {1: string("verbs", repeated=True)}
SELF_SUBJECT_RULES_REVIEW = Message("SelfSubjectRulesReview", {
    1: message("metadata", OBJECT_META),
    2: message("spec", Message("SelfSubjectRulesReviewSpec", {1: string("namespace")})),
    3: message("status", Message("SubjectRulesReviewStatus", {
        1: message("resourceRules", Message("ResourceRule", {
            **_RULE_LISTS, 2: string("apiGroups", repeated=True),
            3: string("resources", repeated=True), 4: string("resourceNames", repeated=True)}),
            repeated=True),
        2: message("nonResourceRules", Message("NonResourceRule", {
            **_RULE_LISTS, 2: string("nonResourceURLs", repeated=True)}), repeated=True),
        3: boolean("incomplete", keep_zero=True), 4: string("evaluationError"),
    })),
})

KINDS: dict[tuple[str, str], Message] = {
    **protobuf_kinds(CORE + AUTHENTICATION),
    ("v1", "ServiceAccount"): SERVICE_ACCOUNT,
    ("apps/v1", "Deployment"): DEPLOYMENT,
    ("authorization.k8s.io/v1", "SubjectAccessReview"): SUBJECT_ACCESS_REVIEW,
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"):
        Message("LocalSubjectAccessReview", SUBJECT_ACCESS_REVIEW.fields),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): SELF_SUBJECT_ACCESS_REVIEW,
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): SELF_SUBJECT_RULES_REVIEW,
    ("authentication.k8s.io/v1", "TokenRequest"): TOKEN_REQUEST,
}
