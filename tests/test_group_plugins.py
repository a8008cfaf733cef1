"""The smaller API group plugins together, and each one left out with --plugins: its group
disappears from discovery and OpenAPI and everything else keeps working."""

from __future__ import annotations

from pathlib import Path

from kernel.testing import start_kernel

GROUPS = {  # plugin -> (group/version, a resource of it)
    "api_coordination": ("coordination.k8s.io/v1", "leases"),
    "api_events": ("events.k8s.io/v1", "events"),
    "api_discovery": ("discovery.k8s.io/v1", "endpointslices"),
    "api_networking": ("networking.k8s.io/v1", "ingresses"),
    "api_policy": ("policy/v1", "poddisruptionbudgets"),
    "api_storage": ("storage.k8s.io/v1", "storageclasses"),
    "api_scheduling": ("scheduling.k8s.io/v1", "priorityclasses"),
    "api_rbac": ("rbac.authorization.k8s.io/v1", "roles"),
    "api_authorization": ("authorization.k8s.io/v1", "selfsubjectaccessreviews"),
    "api_apiextensions": ("apiextensions.k8s.io/v1", "customresourcedefinitions"),
    "api_admissionregistration": ("admissionregistration.k8s.io/v1", "validatingadmissionpolicies"),
}


def _served(kernel) -> tuple[set[str], set[str]]:
    with kernel.client() as http:
        groups = {v["groupVersion"] for g in http.get("/apis").json()["groups"] for v in g["versions"]}
        openapi = {p.removeprefix("apis/") for p in http.get("/openapi/v3").json()["paths"]}
    return groups, openapi


def test_all_groups_then_each_left_out(tmp_path: Path) -> None:
    everything = ",".join(["api_core", "storage_memory", *GROUPS])
    kernel = start_kernel(tmp_path / "all", f"--plugins={everything}")
    try:
        groups, openapi = _served(kernel)
        assert {gv for gv, _ in GROUPS.values()} <= groups
        assert {gv for gv, _ in GROUPS.values()} <= openapi
        resources = kernel.kubectl("api-resources", "-o", "name").stdout.split()
        assert {"leases.coordination.k8s.io", "ingresses.networking.k8s.io", "priorityclasses.scheduling.k8s.io",
                "csinodes.storage.k8s.io", "endpointslices.discovery.k8s.io",
                "poddisruptionbudgets.policy", "events.events.k8s.io"} <= set(resources)
    finally:
        kernel.stop()

    for left_out, (group_version, plural) in GROUPS.items():
        rest = ",".join(["api_core", "storage_memory", *(p for p in GROUPS if p != left_out)])
        kernel = start_kernel(tmp_path / left_out, f"--plugins={rest}")
        try:
            groups, openapi = _served(kernel)
            assert group_version not in groups and group_version not in openapi
            assert {gv for p, (gv, _) in GROUPS.items() if p != left_out} <= groups
            with kernel.client() as http:
                assert http.get(f"/apis/{group_version}/{plural}").status_code == 404
                assert http.get(f"/openapi/v3/apis/{group_version}").status_code == 404
                other = "api_policy" if left_out != "api_policy" else "api_coordination"
                other_gv, other_plural = GROUPS[other]
                assert http.get(f"/apis/{other_gv}/{other_plural}").status_code == 200
            kernel.kubectl("api-resources")  # discovery stays whole for kubectl
        finally:
            kernel.stop()


def test_events_k8s_io_needs_no_core_group(tmp_path: Path) -> None:
    kernel = start_kernel(tmp_path, "--plugins=api_events,storage_memory")
    try:
        with kernel.client() as http:
            assert http.get("/apis/events.k8s.io/v1/events").status_code == 200
            assert http.get("/api/v1/events").status_code == 404
    finally:
        kernel.stop()


MANIFEST = """
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: m-lease}
spec: {holderIdentity: me, leaseDurationSeconds: 15}
---
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: m-event}
eventTime: "2026-01-02T03:04:05.000000Z"
reportingController: example.com/ctl
reportingInstance: ctl-1
action: Apply
reason: Applied
type: Normal
note: applied
regarding: {kind: Pod, namespace: default, name: web}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: m-slice, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [10.1.2.3]}]
ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: m-class}
spec: {controller: example.com/ingress}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: m-ingress}
spec:
  ingressClassName: m-class
  rules:
  - host: foo.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: m-netpol}
spec: {podSelector: {matchLabels: {app: web}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: m-pdb}
spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: m-sc}
provisioner: example.com/disk
---
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata: {name: disk.example.com}
spec: {}
---
apiVersion: storage.k8s.io/v1
kind: CSINode
metadata: {name: node-1}
spec: {drivers: [{name: disk.example.com, nodeID: n1}]}
---
apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata: {name: m-va}
spec: {attacher: disk.example.com, nodeName: node-1, source: {persistentVolumeName: pv-1}}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: m-pc}
value: 1000
"""


def test_apply_a_manifest_of_every_kind_twice(tmp_path: Path) -> None:
    kernel = start_kernel(tmp_path, f"--plugins={','.join(['api_core', 'storage_memory', *GROUPS])}")
    try:
        first = kernel.kubectl("apply", "-f", "-", input=MANIFEST).stdout
        assert first.count(" created") == 12, first
        before = kernel.kubectl_json("get", "endpointslice", "m-slice")["metadata"]
        again = kernel.kubectl("apply", "-f", "-", input=MANIFEST).stdout
        # Two patches are never empty, as against kube: the slice's ports (an atomic list whose live
        # items carry defaults the manifest lacks) and the PDB's selector (patch strategy
        # "replace"); nothing changes on the server though.
        assert again.count(" unchanged") == 10, again
        assert "endpointslice.discovery.k8s.io/m-slice configured" in again
        assert "poddisruptionbudget.policy/m-pdb configured" in again
        after = kernel.kubectl_json("get", "endpointslice", "m-slice")["metadata"]
        assert (after["resourceVersion"], after["generation"]) == (before["resourceVersion"], 1)
        kinds = "leases,events.events.k8s.io,endpointslices,ingressclasses,ingresses,networkpolicies,pdb,sc," \
                "csidrivers,csinodes,volumeattachments,priorityclasses"
        names = {n.split("/", 1)[1] for n in kernel.kubectl("get", kinds, "-o", "name").stdout.split()}
        assert {"m-lease", "m-event", "m-slice", "m-class", "m-ingress", "m-netpol", "m-pdb", "m-sc",
                "disk.example.com", "node-1", "m-va", "m-pc"} <= names
    finally:
        kernel.stop()
