"""batch/v1 through a real `kernel serve`: kubectl create job/cronjob, get -o wide, /status."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel.testing import KUBECTL, KernelProcess, start_kernel

pytestmark = pytest.mark.skipif(not os.path.exists(KUBECTL), reason=f"{KUBECTL} is not installed")

JOBS = "/apis/batch/v1/namespaces/default/jobs"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelProcess]:
    running = start_kernel(tmp_path_factory.mktemp("batch"))
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait()


def _create_as_json(kernel: KernelProcess, *args: str) -> str:
    """``kubectl create <args>`` built by kubectl, sent as JSON (kubectl create -f -)."""
    built = kernel.kubectl("create", "--dry-run=client", "-o", "json", *args).stdout
    return kernel.kubectl("create", "-f", "-", input=built).stdout.strip()


def test_create_job_built_by_kubectl(kernel: KernelProcess) -> None:
    assert _create_as_json(kernel, "job", "pi", "--image=perl:5.34", "--", "perl", "-e", "print 1") == \
        "job.batch/pi created"
    job = kernel.kubectl_json("get", "job", "pi")
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert job["spec"]["backoffLimit"] == 6 and job["metadata"]["labels"]["job-name"] == "pi"
    lines = kernel.kubectl("get", "job", "pi", "-o", "wide").stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", "CONTAINERS", "IMAGES",
                                "SELECTOR"]
    cells = lines[1].split()
    assert cells[:3] == ["pi", "Running", "0/1"]
    assert cells[-3:] == ["pi", "perl:5.34", f"batch.kubernetes.io/controller-uid={uid}"]


def test_job_status_only_through_status(kernel: KernelProcess) -> None:
    _create_as_json(kernel, "job", "done", "--image=busybox")
    status = {"succeeded": 1, "startTime": "2024-05-01T10:00:00Z", "completionTime": "2024-05-01T10:00:42Z",
              "conditions": [{"type": "Complete", "status": "True"}]}
    with kernel.client() as client:
        ignored = client.patch(f"{JOBS}/done", json={"status": {"succeeded": 5}},
                               headers={"content-type": "application/merge-patch+json"})
        assert ignored.status_code == 200 and ignored.json()["status"] == {}
        written = client.patch(f"{JOBS}/done/status", json={"status": status},
                               headers={"content-type": "application/merge-patch+json"})
        assert written.status_code == 200, written.text
        assert written.json()["metadata"]["generation"] == 1
    cells = kernel.kubectl("get", "job", "done", "--no-headers").stdout.split()
    assert cells[:4] == ["done", "Complete", "1/1", "42s"]


def test_create_cronjob_built_by_kubectl(kernel: KernelProcess) -> None:
    assert _create_as_json(kernel, "cronjob", "hello", "--image=busybox", "--schedule=*/5 * * * *") == \
        "cronjob.batch/hello created"
    lines = kernel.kubectl("get", "cronjob", "hello", "-o", "wide").stdout.splitlines()
    assert lines[0].split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE",
                                "CONTAINERS", "IMAGES", "SELECTOR"]
    cells = lines[1].split()
    assert cells[:9] == ["hello", "*/5", "*", "*", "*", "*", "<none>", "False", "0"]
    assert cells[-3:] == ["hello", "busybox", "<none>"]


def test_invalid_schedule_is_422_and_changes_nothing(kernel: KernelProcess) -> None:
    result = kernel.kubectl("create", "cronjob", "bad", "--image=busybox", "--schedule=61 * * * *",
                            "--dry-run=client", "-o", "json")
    created = kernel.kubectl("create", "-f", "-", input=result.stdout, check=False)
    assert created.returncode == 1
    assert created.stderr.strip() == (
        'The CronJob "bad" is invalid: spec.schedule: Invalid value: "61 * * * *": '
        "end of range (61) above maximum (59): 61")
    assert kernel.kubectl("get", "cronjob", "bad", check=False).returncode == 1


def test_kubectl_create_job(kernel: KernelProcess) -> None:
    kernel.kubectl("create", "job", "pb", "--image=busybox")


def test_kubectl_create_cronjob(kernel: KernelProcess) -> None:
    kernel.kubectl("create", "cronjob", "pb", "--image=busybox", "--schedule=@hourly")


def test_left_out_with_plugins_flag(tmp_path: Path) -> None:
    running = start_kernel(tmp_path, "--plugins=api_core,api_apps,storage_memory")
    try:
        with running.client() as client:
            groups = [g["name"] for g in client.get("/apis").json()["groups"]]
            assert "batch" not in groups and "apps" in groups
            assert client.get(JOBS).status_code == 404
        resources = running.kubectl("api-resources", "-o", "name").stdout.split()
        assert "jobs.batch" not in resources and "deployments.apps" in resources
    finally:
        running.stop()
