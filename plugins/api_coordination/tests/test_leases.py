"""Leases: kube's validation, the Holder column, and leader election by the `kubernetes` Python
client's own LeaderElection/LeaseLock against a real server."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

from kernel.testing import KernelProcess, start_kernel
from kernel_api_coordination.leases import lease_spec

PLUGINS = "--plugins=api_core,api_coordination,storage_memory"
WAIT = 90.0  # generous: these only bound a hang; nothing is timed


@pytest.fixture
def kernel(tmp_path: Path):
    kernel = start_kernel(tmp_path, PLUGINS)
    yield kernel
    kernel.stop()


def test_validation_messages() -> None:
    errors = lease_spec.strategy.validate({"spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1,
                                                    "preferredHolder": "x"}})
    assert [str(e) for e in errors] == [
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
        "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
        "spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined",
    ]


def test_kubectl_create_get_and_reject(kernel: KernelProcess) -> None:
    manifest = ("apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: l1}\n"
                "spec: {holderIdentity: node-a, leaseDurationSeconds: 40}\n")
    kernel.kubectl("apply", "-f", "-", input=manifest)
    out = kernel.kubectl("get", "leases", "l1").stdout.split("\n")
    assert out[0].split() == ["NAME", "HOLDER", "AGE"] and out[1].split()[:2] == ["l1", "node-a"]
    bad = kernel.kubectl("apply", "-f", "-", check=False,
                         input=manifest.replace("l1", "l2").replace("40", "-1"))
    assert bad.returncode != 0
    assert ('The Lease "l2" is invalid: spec.leaseDurationSeconds: Invalid value: -1: '
            "must be greater than 0") in bad.stderr
    with kernel.client() as http:
        assert http.get("/apis/coordination.k8s.io/v1/namespaces/default/leases/l2").status_code == 404


class Candidate:
    """One LeaderElection.run() in a thread; it leads until told to stop, then stops renewing
    (its onstarted_leading raises, which makes the client's renew loop give up)."""

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.leading, self.stop, self.stopped = threading.Event(), threading.Event(), threading.Event()
        lock = LeaseLock("the-lead", "default", identity)
        cfg = electionconfig.Config(lock, lease_duration=6, renew_deadline=4, retry_period=1,
                                    onstarted_leading=self._lead, onstopped_leading=self.stopped.set)
        self.thread = threading.Thread(target=leaderelection.LeaderElection(cfg).run, daemon=True)

    def _lead(self) -> None:
        self.leading.set()
        self.stop.wait()
        raise RuntimeError(f"{self.identity} steps down")


def _holder(api: client.CoordinationV1Api) -> tuple[str, str]:
    spec = api.read_namespaced_lease("the-lead", "default").spec
    return spec.holder_identity, str(spec.renew_time)


def test_leader_election_with_the_python_clients_lease_lock(kernel: KernelProcess) -> None:
    saved = client.Configuration.get_default_copy()
    config.load_kube_config(config_file=kernel.kubeconfig)  # LeaseLock uses the default client
    try:
        api = client.CoordinationV1Api()
        first, second = Candidate("candidate-a"), Candidate("candidate-b")
        first.thread.start()
        assert first.leading.wait(WAIT)
        second.thread.start()
        # the leader keeps renewing while the other candidate waits: renewTime moves, holder stays
        holder, renewed = _holder(api)
        assert holder == "candidate-a"
        for _ in range(2):
            for _ in range(int(WAIT * 10)):
                now = _holder(api)
                if now[1] != renewed:
                    break
                threading.Event().wait(0.1)
            assert now[0] == "candidate-a" and now[1] != renewed
            renewed = now[1]
        assert not second.leading.is_set()

        first.stop.set()  # the leader stops renewing; once the lease expires the other takes it
        assert first.stopped.wait(WAIT)
        assert second.leading.wait(WAIT)
        assert _holder(api)[0] == "candidate-b"
        table = kernel.kubectl("get", "lease", "the-lead", "-n", "default").stdout
        assert "candidate-b" in table
        second.stop.set()
    finally:
        client.Configuration.set_default(saved)
