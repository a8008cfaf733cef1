"""Schemas of the kube kinds kubectl sends as protobuf, keyed by (apiVersion, kind).

Field numbers are those of k8s.io/api's generated.proto files. Pod specs are covered for what
``kubectl create deployment`` and common hand-written clients set; a set field outside these
schemas is refused (415) rather than dropped, see ``schema.decode_message``.
"""

from __future__ import annotations

from .meta import LABEL_SELECTOR, LABEL_SELECTOR_REQUIREMENT, OBJECT_META
from .schema import (BYTES, QUANTITY, STRINGS, Message, boolean, int32, int64,
                     int_or_string, map_of, message, quantity, string, time)

# --- core/v1 ---------------------------------------------------------------------------------

LOCAL_OBJECT_REFERENCE = Message("LocalObjectReference", {1: string("name")})
OBJECT_REFERENCE = Message("ObjectReference", {
    1: string("kind"), 2: string("namespace"), 3: string("name"), 4: string("uid"),
    5: string("apiVersion"), 6: string("resourceVersion"), 7: string("fieldPath"),
})

NAMESPACE = Message("Namespace", {
    1: message("metadata", OBJECT_META),
    2: message("spec", Message("NamespaceSpec", {1: string("finalizers", repeated=True)})),
    3: message("status", Message("NamespaceStatus", {1: string("phase")})),
})

CONFIG_MAP = Message("ConfigMap", {
    1: message("metadata", OBJECT_META), 2: map_of("data"), 3: map_of("binaryData", BYTES),
    4: boolean("immutable", keep_zero=True),
})

SECRET = Message("Secret", {
    1: message("metadata", OBJECT_META), 2: map_of("data", BYTES), 4: map_of("stringData"),
    3: string("type"), 5: boolean("immutable", keep_zero=True),
})

SERVICE_ACCOUNT = Message("ServiceAccount", {
    1: message("metadata", OBJECT_META),
    2: message("secrets", OBJECT_REFERENCE, repeated=True),
    3: message("imagePullSecrets", LOCAL_OBJECT_REFERENCE, repeated=True),
    4: boolean("automountServiceAccountToken", keep_zero=True),
})


def _key_selector(name: str) -> Message:
    """ConfigMapKeySelector / SecretKeySelector: the LocalObjectReference is inlined in JSON."""
    return Message(name, {
        1: message("localObjectReference", LOCAL_OBJECT_REFERENCE, inline=True),
        2: string("key"), 3: boolean("optional", keep_zero=True),
    })


def _env_source_ref(name: str) -> Message:
    return Message(name, {
        1: message("localObjectReference", LOCAL_OBJECT_REFERENCE, inline=True),
        2: boolean("optional", keep_zero=True),
    })


ENV_VAR_SOURCE = Message("EnvVarSource", {
    1: message("fieldRef", Message("ObjectFieldSelector", {
        1: string("apiVersion"), 2: string("fieldPath")})),
    2: message("resourceFieldRef", Message("ResourceFieldSelector", {
        1: string("containerName"), 2: string("resource"), 3: quantity("divisor")})),
    3: message("configMapKeyRef", _key_selector("ConfigMapKeySelector")),
    4: message("secretKeyRef", _key_selector("SecretKeySelector")),
})

CONTAINER = Message("Container", {
    1: string("name"), 2: string("image"),
    3: string("command", repeated=True), 4: string("args", repeated=True),
    5: string("workingDir"),
    6: message("ports", Message("ContainerPort", {
        1: string("name"), 2: int32("hostPort"), 3: int32("containerPort", keep_zero=True),
        4: string("protocol"), 5: string("hostIP")}), repeated=True),
    19: message("envFrom", Message("EnvFromSource", {
        1: string("prefix"),
        2: message("configMapRef", _env_source_ref("ConfigMapEnvSource")),
        3: message("secretRef", _env_source_ref("SecretEnvSource"))}), repeated=True),
    7: message("env", Message("EnvVar", {
        1: string("name"), 2: string("value"), 3: message("valueFrom", ENV_VAR_SOURCE)}),
        repeated=True),
    8: message("resources", Message("ResourceRequirements", {
        1: map_of("limits", QUANTITY), 2: map_of("requests", QUANTITY)})),
    9: message("volumeMounts", Message("VolumeMount", {
        1: string("name"), 2: boolean("readOnly"), 3: string("mountPath"), 4: string("subPath"),
        5: string("mountPropagation", keep_zero=True), 6: string("subPathExpr"),
        7: string("recursiveReadOnly", keep_zero=True)}), repeated=True),
    13: string("terminationMessagePath"), 20: string("terminationMessagePolicy"),
    14: string("imagePullPolicy"),
    16: boolean("stdin"), 17: boolean("stdinOnce"), 18: boolean("tty"),
    24: string("restartPolicy", keep_zero=True),
})

POD_SPEC = Message("PodSpec", {
    2: message("containers", CONTAINER, repeated=True),
    20: message("initContainers", CONTAINER, repeated=True),
    3: string("restartPolicy"),
    4: int64("terminationGracePeriodSeconds", keep_zero=True),
    5: int64("activeDeadlineSeconds", keep_zero=True),
    6: string("dnsPolicy"), 7: map_of("nodeSelector"),
    8: string("serviceAccountName"), 9: string("serviceAccount"),
    21: boolean("automountServiceAccountToken", keep_zero=True),
    10: string("nodeName"), 11: boolean("hostNetwork"), 12: boolean("hostPID"),
    13: boolean("hostIPC"), 27: boolean("shareProcessNamespace", keep_zero=True),
    15: message("imagePullSecrets", LOCAL_OBJECT_REFERENCE, repeated=True),
    16: string("hostname"), 17: string("subdomain"), 19: string("schedulerName"),
    22: message("tolerations", Message("Toleration", {
        1: string("key"), 2: string("operator"), 3: string("value"), 4: string("effect"),
        5: int64("tolerationSeconds", keep_zero=True)}), repeated=True),
    24: string("priorityClassName"), 25: int32("priority", keep_zero=True),
    29: string("runtimeClassName", keep_zero=True),
    30: boolean("enableServiceLinks", keep_zero=True),
    31: string("preemptionPolicy", keep_zero=True),
})

POD_TEMPLATE_SPEC = Message("PodTemplateSpec", {
    1: message("metadata", OBJECT_META), 2: message("spec", POD_SPEC),
})

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

# --- authentication/v1 -----------------------------------------------------------------------

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

KINDS: dict[tuple[str, str], Message] = {
    ("v1", "Namespace"): NAMESPACE,
    ("v1", "ConfigMap"): CONFIG_MAP,
    ("v1", "Secret"): SECRET,
    ("v1", "ServiceAccount"): SERVICE_ACCOUNT,
    ("apps/v1", "Deployment"): DEPLOYMENT,
    ("authorization.k8s.io/v1", "SubjectAccessReview"): SUBJECT_ACCESS_REVIEW,
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"):
        Message("LocalSubjectAccessReview", SUBJECT_ACCESS_REVIEW.fields),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): SELF_SUBJECT_ACCESS_REVIEW,
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): SELF_SUBJECT_RULES_REVIEW,
    ("authentication.k8s.io/v1", "SelfSubjectReview"): SELF_SUBJECT_REVIEW,
    ("authentication.k8s.io/v1", "TokenReview"): TOKEN_REVIEW,
    ("authentication.k8s.io/v1", "TokenRequest"): TOKEN_REQUEST,
}
