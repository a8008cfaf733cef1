"""batch/v1 strategies: defaults, the generated selector and labels, validation, cron schedules."""

from __future__ import annotations

import copy

import pytest

from kernel_api_batch import RESOURCES, cronjob_spec, job_spec
from kernel_api_batch.cron import CronError, check_schedule

UID = "0b7e6f3a-1111-2222-3333-444455556666"


def _job(**spec) -> dict:
    template = {"spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl:5.34"}]}}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default", "uid": UID},
            "spec": {"template": template, **spec}}


def _cronjob(schedule: str = "*/5 * * * *", **spec) -> dict:
    job = {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "hello", "namespace": "default"},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": job}, **spec}}


def _messages(errors) -> list[str]:
    return [str(e) for e in errors]


def test_names() -> None:
    assert [(s.kind, s.plural, tuple(s.short_names), tuple(s.categories), tuple(s.subresources))
            for s in RESOURCES] == [("Job", "jobs", (), ("all",), ("status",)),
                                    ("CronJob", "cronjobs", ("cj",), ("all",), ("status",))]
    assert all(s.group_version == "batch/v1" for s in RESOURCES)


def test_job_defaults_and_generated_selector() -> None:
    obj = _job()
    job_spec.strategy.prepare_for_create(obj)
    spec = obj["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"], spec["completionMode"],
            spec["suspend"], spec["podReplacementPolicy"], spec["manualSelector"]) == (
        1, 1, 6, "NonIndexed", False, "TerminatingOrFailed", False)
    generated = {"batch.kubernetes.io/controller-uid": UID, "batch.kubernetes.io/job-name": "pi",
                 "controller-uid": UID, "job-name": "pi"}
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": UID}}
    assert spec["template"]["metadata"]["labels"] == generated
    assert obj["metadata"]["labels"] == generated  # kube's Job shares its template's label map
    assert obj["status"] == {}
    assert job_spec.strategy.validate(obj) == []
    # parallelism alone leaves completions unset; a labelled Job keeps its own labels
    obj = _job(parallelism=3)
    obj["metadata"]["labels"] = {"team": "a"}
    job_spec.strategy.prepare_for_create(obj)
    assert "completions" not in obj["spec"] and obj["metadata"]["labels"] == {"team": "a"}


def test_job_restart_policy_must_be_on_failure_or_never() -> None:
    obj = _job()
    del obj["spec"]["template"]["spec"]["restartPolicy"]  # defaulted to Always, as a pod's is
    job_spec.strategy.prepare_for_create(obj)
    assert _messages(job_spec.strategy.validate(obj)) == [
        'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']


def test_job_wrong_generated_labels_and_manual_selector() -> None:
    obj = _job()
    obj["spec"]["template"]["metadata"] = {"labels": {"job-name": "other"}}
    job_spec.strategy.prepare_for_create(obj)
    assert _messages(job_spec.strategy.validate(obj)) == [
        "spec.template.metadata.labels[job-name]: Invalid value: \"other\": must be 'pi'"]
    manual = _job(manualSelector=True, selector={"matchLabels": {"app": "x"}})
    manual["spec"]["template"]["metadata"] = {"labels": {"app": "y"}}
    job_spec.strategy.prepare_for_create(manual)
    assert _messages(job_spec.strategy.validate(manual)) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"y"}: '
        "`selector` does not match template `labels`"]


def test_job_template_immutable_unless_suspended() -> None:
    old = _job()
    job_spec.strategy.prepare_for_create(old)
    old["metadata"]["generation"] = 1
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:5.36"
    new["spec"]["completions"] = 2
    job_spec.strategy.prepare_for_update(new, old)
    messages = _messages(job_spec.strategy.validate_update(new, old))
    assert [m.split(":")[0] for m in messages] == ["spec.completions", "spec.template"]
    assert messages[0] == "spec.completions: Invalid value: 2: field is immutable"
    assert new["metadata"]["generation"] == 2
    old["spec"]["suspend"] = True
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:5.36"
    assert job_spec.strategy.validate_update(new, old) == []


def test_cronjob_defaults() -> None:
    obj = _cronjob()
    cronjob_spec.strategy.prepare_for_create(obj)
    spec = obj["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"], spec["successfulJobsHistoryLimit"],
            spec["failedJobsHistoryLimit"]) == ("Allow", False, 3, 1)
    job = spec["jobTemplate"]["spec"]
    assert "backoffLimit" not in job and job["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert cronjob_spec.strategy.validate(obj) == []


@pytest.mark.parametrize("schedule,message", [
    ("not a cron", "expected exactly 5 fields, found 3: [not a cron]"),
    ("61 * * * *", "end of range (61) above maximum (59): 61"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("@every soon", 'failed to parse duration @every soon: time: invalid duration "soon"'),
])
def test_bad_schedules_get_the_parsers_message(schedule: str, message: str) -> None:
    with pytest.raises(CronError) as error:
        check_schedule(schedule)
    assert str(error.value) == message
    obj = _cronjob(schedule)
    cronjob_spec.strategy.prepare_for_create(obj)
    assert _messages(cronjob_spec.strategy.validate(obj)) == [
        f"spec.schedule: Invalid value: \"{schedule}\": {message}"]


@pytest.mark.parametrize("schedule", ["*/5 * * * *", "0 0 1 jan *", "0 9 * * MON-FRI", "@hourly",
                                      "@every 1h30m", "0,30 8-18/2 ? * sun", "0 0 * * 6"])
def test_good_schedules(schedule: str) -> None:
    check_schedule(schedule)


def test_cronjob_rules() -> None:
    obj = _cronjob("TZ=UTC 0 * * * *", concurrencyPolicy="Sometimes", timeZone="Mars/Base")
    obj["metadata"]["name"] = "n" * 53
    obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    cronjob_spec.strategy.prepare_for_create(obj)
    assert _messages(cronjob_spec.strategy.validate(obj)) == [
        'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone '
        "field instead",
        'spec.timeZone: Invalid value: "Mars/Base": unknown time zone Mars/Base',
        'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"',
        'spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
        f'metadata.name: Invalid value: "{"n" * 53}": must be no more than 52 characters']
