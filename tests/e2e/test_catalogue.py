"""The built-in catalogue end to end, with every API group plugin installed: what a kubectl user
does first on a fresh server (issue 11's walk-through)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import yaml

from kernel.testing import start_kernel


def test_kubectl_walk_through(tmp_path: Path) -> None:
    kernel = start_kernel(tmp_path)
    try:
        info = kernel.kubectl("cluster-info").stdout  # reads the kubernetes service in default
        assert "Kubernetes control plane is running at https://127.0.0.1:" in info
        service = kernel.kubectl_json("get", "service", "kubernetes")
        assert service["spec"]["clusterIP"] == "10.0.0.1"
        assert service["spec"]["ports"][0]["port"] == 443

        kernel.kubectl("create", "deployment", "web", "--image=nginx")  # sent as protobuf
        deployment = kernel.kubectl_json("get", "deployment", "web")
        assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}
        assert deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"
        kernel.kubectl("expose", "deployment", "web", "--port=80")
        exposed = kernel.kubectl_json("get", "service", "web")
        assert ipaddress.ip_address(exposed["spec"]["clusterIP"]) in ipaddress.ip_network("10.0.0.0/24")
        assert exposed["spec"]["selector"] == {"app": "web"}

        for args in (["job", "j", "--image=busybox"],
                     ["cronjob", "c", "--image=busybox", "--schedule=*/5 * * * *"],
                     ["ingress", "i", "--rule=foo.com/bar=svc:80"],
                     ["pdb", "p", "--selector=app=a", "--min-available=1"],
                     ["priorityclass", "pc", "--value=100"]):
            kernel.kubectl("create", *args)  # each sent as protobuf
        every = kernel.kubectl("get", "all").stdout
        for name in ("service/kubernetes", "service/web", "deployment.apps/web", "cronjob.batch/c",
                     "job.batch/j"):
            assert name in every, every
        assert kernel.kubectl_json("get", "priorityclass", "pc")["preemptionPolicy"] == "PreemptLowerPriority"
        assert json.loads(kernel.kubectl("get", "ingress", "i", "-o", "json").stdout)["spec"]["rules"][0][
            "http"]["paths"][0]["pathType"] == "Exact"

        explained = kernel.kubectl("explain", "pod.spec.containers").stdout
        assert "FIELD: containers <[]Container>" in explained and "imagePullPolicy" in explained
    finally:
        kernel.stop()


def _every_kind() -> list[dict]:
    """One object of every writable kind of the catalogue (componentstatuses are read-only)."""
    labels = {"app": "every"}
    pod_spec = {"containers": [{"name": "c", "image": "busybox:1.36"}]}
    template = {"metadata": {"labels": labels}, "spec": pod_spec}
    workload = {"selector": {"matchLabels": labels}, "template": template}
    job_template = {"spec": {"template": {"spec": {**pod_spec, "restartPolicy": "Never"}}}}
    # admission configuration that matches no request of this test
    nothing = {"operations": ["CREATE"], "apiGroups": ["example.com"], "apiVersions": ["v1"],
               "resources": ["widgets"]}
    webhook = {"clientConfig": {"url": "https://127.0.0.1:1/"}, "rules": [nothing], "sideEffects": "None",
               "admissionReviewVersions": ["v1"]}

    def obj(api_version: str, kind: str, name: str = "every", **body) -> dict:
        return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, **body}

    return [
        obj("v1", "Namespace", "every-ns"),
        obj("v1", "ConfigMap", data={"a": "b"}),
        obj("v1", "Secret", stringData={"a": "b"}),
        obj("v1", "ServiceAccount"),
        obj("v1", "Pod", spec=pod_spec),
        obj("v1", "Service", spec={"selector": labels, "ports": [{"port": 80}]}),
        obj("v1", "Endpoints", subsets=[{"addresses": [{"ip": "10.1.0.1"}], "ports": [{"port": 80}]}]),
        obj("v1", "Event", involvedObject={"kind": "Pod", "name": "every", "namespace": "default"},
            reason="Tested", message="every kind", type="Normal"),
        obj("v1", "LimitRange", spec={"limits": [{"type": "Container", "default": {"cpu": "100m"}}]}),
        obj("v1", "ResourceQuota", spec={"hard": {"pods": "10"}}),
        obj("v1", "PodTemplate", template=template),
        obj("v1", "ReplicationController", spec={"selector": labels, "template": template}),
        obj("v1", "PersistentVolume", spec={"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                            "hostPath": {"path": "/tmp/every"}}),
        obj("v1", "PersistentVolumeClaim", spec={"accessModes": ["ReadWriteOnce"],
                                                 "resources": {"requests": {"storage": "1Gi"}}}),
        obj("v1", "Node"),
        *(obj("apps/v1", kind, spec=workload) for kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet")),
        obj("apps/v1", "ControllerRevision", revision=1, data={"spec": {"template": template}}),
        obj("batch/v1", "Job", spec=job_template["spec"]),
        obj("batch/v1", "CronJob", spec={"schedule": "*/5 * * * *", "jobTemplate": job_template}),
        obj("autoscaling/v2", "HorizontalPodAutoscaler",
            spec={"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "every"},
                  "minReplicas": 1, "maxReplicas": 3}),
        obj("coordination.k8s.io/v1", "Lease", spec={"holderIdentity": "a"}),
        obj("events.k8s.io/v1", "Event", "every-new", eventTime="2026-01-01T00:00:00.000000Z",
            reportingController="kernel.test/every", reportingInstance="i", action="Test",
            reason="Tested", type="Normal", regarding={"kind": "Pod", "name": "every", "namespace": "default"}),
        obj("discovery.k8s.io/v1", "EndpointSlice", addressType="IPv4",
            endpoints=[{"addresses": ["10.1.0.1"]}], ports=[{"port": 80}]),
        obj("networking.k8s.io/v1", "IngressClass", spec={"controller": "example.com/ingress"}),
        obj("networking.k8s.io/v1", "Ingress", spec={"defaultBackend": {"service": {"name": "every",
                                                                                    "port": {"number": 80}}}}),
        obj("networking.k8s.io/v1", "NetworkPolicy", spec={"podSelector": {}}),
        obj("policy/v1", "PodDisruptionBudget", spec={"minAvailable": 1, "selector": {"matchLabels": labels}}),
        obj("storage.k8s.io/v1", "StorageClass", provisioner="example.com/disk"),
        obj("storage.k8s.io/v1", "CSIDriver", "disk.example.com", spec={}),
        obj("storage.k8s.io/v1", "CSINode", spec={"drivers": []}),
        obj("storage.k8s.io/v1", "VolumeAttachment", spec={"attacher": "disk.example.com", "nodeName": "every",
                                                           "source": {"persistentVolumeName": "every"}}),
        obj("scheduling.k8s.io/v1", "PriorityClass", value=1000),
        *(obj("admissionregistration.k8s.io/v1", kind, webhooks=[{**webhook, "name": "every.example.com"}])
          for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")),
        obj("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy",
            spec={"matchConstraints": {"resourceRules": [nothing]}, "validations": [{"expression": "true"}]}),
        obj("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding",
            spec={"policyName": "every", "validationActions": ["Deny"]}),
    ]


def test_apply_a_manifest_of_every_kind(tmp_path: Path) -> None:
    kernel = start_kernel(tmp_path)
    try:
        items = _every_kind()
        manifest = tmp_path / "every.yaml"
        manifest.write_text(yaml.safe_dump_all(items))
        out = [line for line in kernel.kubectl("apply", "-f", str(manifest)).stdout.splitlines() if line]
        assert len(out) == len(items) and all(line.endswith(" created") for line in out), out
        again = [line for line in kernel.kubectl("apply", "-f", str(manifest)).stdout.splitlines() if line]
        assert len(again) == len(items), again
        for item in items:  # each reads back as the kind it was sent as
            group = item["apiVersion"].rpartition("/")[0]
            resource = f"{item['kind'].lower()}.{group}" if group else item["kind"].lower()
            read = kernel.kubectl_json("get", resource, item["metadata"]["name"])
            assert (read["apiVersion"], read["kind"]) == (item["apiVersion"], item["kind"])
    finally:
        kernel.stop()
