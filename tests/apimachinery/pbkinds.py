"""Every protobuf schema the decoder tests read bodies as, by (apiVersion, kind).

The served kinds are those the API group plugins declare on their ResourceSpecs (the same
schemas the server uses). Kinds kubectl sends that no plugin serves yet (Deployment, the
authorization reviews, ServiceAccount, TokenRequest) are kept here — from the generated data
where the generator covers the group, hand-written for authorization.k8s.io — so the decoder stays checked against kubectl's captured bodies for them too.
"""

from __future__ import annotations

from pathlib import Path

from kernel_api_authentication.reviews import RESOURCES as AUTHENTICATION
from kernel_api_core import RESOURCES as CORE
from kernel_api_core.types import CORE_V1

from kernel.apimachinery.apitypes import GeneratedTypes
from kernel.apimachinery.protobuf.meta import (LABEL_SELECTOR_REQUIREMENT,
                                               OBJECT_META)
from kernel.apimachinery.protobuf.schema import (STRINGS, Message, boolean, map_of, message, string)
from kernel.registry.resource import protobuf_kinds

# --- generated: core/v1 kinds not served yet, apps/v1 (its plugin's data, beside no plugin yet)

_ROOT = Path(__file__).resolve().parents[2]
APPS_V1 = GeneratedTypes(_ROOT / "plugins/api_apps/kernel_api_apps/generated/v1.json")
DEPLOYMENT = APPS_V1.message("Deployment")

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
    ("v1", "ServiceAccount"): CORE_V1.message("ServiceAccount"),
    ("apps/v1", "Deployment"): DEPLOYMENT,
    ("authorization.k8s.io/v1", "SubjectAccessReview"): SUBJECT_ACCESS_REVIEW,
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"):
        Message("LocalSubjectAccessReview", SUBJECT_ACCESS_REVIEW.fields),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): SELF_SUBJECT_ACCESS_REVIEW,
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): SELF_SUBJECT_RULES_REVIEW,
    ("authentication.k8s.io/v1", "TokenRequest"): CORE_V1.message("TokenRequest"),
}
