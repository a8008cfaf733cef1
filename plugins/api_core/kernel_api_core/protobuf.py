"""Protobuf schemas of core/v1 kinds (field numbers of k8s.io/api/core/v1/generated.proto).

Namespace, ConfigMap and Secret are declared on their ResourceSpecs, so the kernel's decoder reads
them from ``application/vnd.kubernetes.protobuf`` bodies sent to this group. ServiceAccount and
the pod types are core/v1 too but not served yet: they are here for the resources to come and for
other groups' kinds that embed them (apps/v1's PodTemplateSpec). Pod specs cover what ``kubectl
create deployment`` and common hand-written clients set; a set field outside a schema is refused
(415) rather than dropped, see ``kernel.apimachinery.protobuf.schema.decode_message``.
"""

from __future__ import annotations

from kernel.apimachinery.protobuf.meta import OBJECT_META
from kernel.apimachinery.protobuf.schema import (BYTES, QUANTITY, Message, boolean, int32, int64,
                                                 map_of, message, quantity, string)

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

