"""What a pod or a persistent volume references, read from the stored dicts (kube's
``podutil.VisitPodSecretNames``/``VisitPodConfigmapNames``, ``pvutil.VisitPVSecretNames`` and
``podutil.HasAPIObjectReference``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Object = dict[str, Any]
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
# Pod volume sources whose secret is ``<source>.secretRef.name`` (the in-tree plugins kube reads).
_VOLUME_SECRET_REFS = ("cephfs", "cinder", "flexVolume", "rbd", "scaleIO", "iscsi", "storageos")
# The same in a PV, where the ref may carry a namespace (else the claim's namespace applies).
_PV_SECRET_REFS = ("cephfs", "flexVolume", "rbd", "scaleIO", "iscsi")
_PV_NAMESPACED_SECRET_REFS = ("cinder", "storageos")
# CSI secret refs of a PV, and whether the kubelet reads each (controller secrets it does not).
_CSI_SECRET_REFS = (("controllerPublishSecretRef", False), ("controllerExpandSecretRef", False),
                    ("nodePublishSecretRef", True), ("nodeStageSecretRef", True),
                    ("nodeExpandSecretRef", True))


def _dict(value: Any) -> Object:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def containers(spec: Object) -> Iterator[Object]:
    """Init containers, containers and ephemeral containers (kube's AllContainers)."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from (_dict(c) for c in _list(spec.get(key)))


def _env_refs(container: Object, from_key: str, key_ref: str) -> Iterator[str]:
    for source in _list(container.get("envFrom")):
        yield _dict(_dict(source).get(from_key)).get("name") or ""
    for env in _list(container.get("env")):
        yield _dict(_dict(_dict(env).get("valueFrom")).get(key_ref)).get("name") or ""


def pod_secret_names(pod: Object) -> set[str]:
    """Secrets the pod references: imagePullSecrets, env and envFrom, and volumes."""
    spec = _dict(pod.get("spec"))
    names = {_dict(ref).get("name") or "" for ref in _list(spec.get("imagePullSecrets"))}
    for container in containers(spec):
        names.update(_env_refs(container, "secretRef", "secretKeyRef"))
    for volume in _list(spec.get("volumes")):
        volume = _dict(volume)
        names.add(_dict(volume.get("secret")).get("secretName") or "")
        names.add(_dict(volume.get("azureFile")).get("secretName") or "")
        names.add(_dict(_dict(volume.get("csi")).get("nodePublishSecretRef")).get("name") or "")
        for source in _VOLUME_SECRET_REFS:
            names.add(_dict(_dict(volume.get(source)).get("secretRef")).get("name") or "")
        for projection in _list(_dict(volume.get("projected")).get("sources")):
            names.add(_dict(_dict(projection).get("secret")).get("name") or "")
    names.discard("")
    return names


def pod_configmap_names(pod: Object) -> set[str]:
    """ConfigMaps the pod references: env and envFrom, configMap and projected volumes."""
    spec = _dict(pod.get("spec"))
    names: set[str] = set()
    for container in containers(spec):
        names.update(_env_refs(container, "configMapRef", "configMapKeyRef"))
    for volume in _list(spec.get("volumes")):
        volume = _dict(volume)
        names.add(_dict(volume.get("configMap")).get("name") or "")
        for projection in _list(_dict(volume.get("projected")).get("sources")):
            names.add(_dict(_dict(projection).get("configMap")).get("name") or "")
    names.discard("")
    return names


def pod_claim_names(pod: Object) -> set[str]:
    """PVCs the pod uses: persistentVolumeClaim volumes, and ``<pod>-<volume>`` for ephemeral ones."""
    pod_name = _dict(pod.get("metadata")).get("name") or ""
    names: set[str] = set()
    for volume in _list(_dict(pod.get("spec")).get("volumes")):
        volume = _dict(volume)
        if "persistentVolumeClaim" in volume:
            names.add(_dict(volume["persistentVolumeClaim"]).get("claimName") or "")
        elif "ephemeral" in volume:
            names.add(f"{pod_name}-{volume.get('name', '')}")
    names.discard("")
    return names


def is_mirror_pod(pod: Object) -> bool:
    return MIRROR_POD_ANNOTATION in _dict(_dict(pod.get("metadata")).get("annotations"))


def pv_secret_refs(pv: Object) -> list[tuple[str, str, bool]]:
    """``(namespace, name, kubelet-visible)`` of every secret a PV names (kube's VisitPVSecretNames)."""
    spec = _dict(pv.get("spec"))
    claim_namespace = _dict(spec.get("claimRef")).get("namespace") or ""
    refs: list[tuple[str, str, bool]] = []
    azure = _dict(spec.get("azureFile"))
    if azure.get("secretName"):
        refs.append((azure.get("secretNamespace") or claim_namespace, azure["secretName"], True))
    for source in _PV_SECRET_REFS:
        ref = _dict(_dict(spec.get(source)).get("secretRef"))
        refs.append((ref.get("namespace") or claim_namespace, ref.get("name") or "", True))
    for source in _PV_NAMESPACED_SECRET_REFS:
        ref = _dict(_dict(spec.get(source)).get("secretRef"))
        refs.append((ref.get("namespace") or "", ref.get("name") or "", True))
    csi = _dict(spec.get("csi"))
    for field, visible in _CSI_SECRET_REFS:
        ref = _dict(csi.get(field))
        refs.append((ref.get("namespace") or "", ref.get("name") or "", visible))
    return [ref for ref in refs if ref[1]]


# Volume sources a mirror pod may use: none of them needs the API (kube's HasAPIObjectReference).
_LOCAL_VOLUME_SOURCES = frozenset({
    "awsElasticBlockStore", "azureDisk", "cephfs", "cinder", "downwardAPI", "emptyDir", "fc",
    "flexVolume", "flocker", "gcePersistentDisk", "gitRepo", "hostPath", "image", "iscsi", "nfs",
    "photonPersistentDisk", "portworxVolume", "quobyte", "rbd", "scaleIO", "storageos",
    "vsphereVolume"})
_API_VOLUME_SOURCES = {
    "configMap": "configmaps (via configmap volumes)", "secret": "secrets (via secret volumes)",
    "csi": "csidrivers (via CSI volumes)", "glusterfs": "endpoints (via glusterFS volumes)",
    "persistentVolumeClaim": "persistentvolumeclaims",
    "ephemeral": "persistentvolumeclaims (via ephemeral volumes)",
    "azureFile": "secrets (via azureFile volumes)"}
_API_PROJECTIONS = {
    "configMap": "configmaps (via projected volumes)", "secret": "secrets (via projected volumes)",
    "serviceAccountToken": "serviceaccounts (via projected volumes)",
    "clusterTrustBundle": "clustertrustbundles", "podCertificate": "podcertificates"}


def api_object_reference(pod: Object) -> str | None:
    """What API objects the pod references (kube's words), or None; a mirror pod may not."""
    spec = _dict(pod.get("spec"))
    if spec.get("serviceAccountName"):
        return "serviceaccounts"
    if pod_secret_names(pod):
        return "secrets"
    if pod_configmap_names(pod):
        return "configmaps"
    if _list(spec.get("resourceClaims")):
        return "resourceclaims"
    for volume in _list(spec.get("volumes")):
        sources = [key for key in _dict(volume) if key != "name"]
        for source in sources:
            if source in _API_VOLUME_SOURCES:
                return _API_VOLUME_SOURCES[source]
            if source == "projected":
                for projection in _list(_dict(volume[source]).get("sources")):
                    for key in _dict(projection):
                        if key in _API_PROJECTIONS:
                            return _API_PROJECTIONS[key]
                        if key != "downwardAPI":
                            return f"unknown source for projected volume {volume.get('name')!r}"
            elif source not in _LOCAL_VOLUME_SOURCES:
                return f"unknown volume type for volume {volume.get('name')!r}"
    return None
