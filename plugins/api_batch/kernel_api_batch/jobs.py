"""jobs (batch/v1 Job): v1 defaulting, the generated selector and labels of kube's job strategy,
validation, /status and printer columns."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import msgspec

from kernel.apimachinery.validation import FieldError, GoLiteral
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN, human_duration, parse_time
from kernel.registry.resource import Object, ResourceSpec, Strategy, TableColumn
from kernel_api_apps import podtemplate, workload as w
from kernel_api_apps.status import ReplicasStatusStrategy, nonnegative_fields

from kernel_api_batch.types import TYPES

SCHEMA_NAME = "io.k8s.api.batch.v1.Job"
DESCRIPTION = "Job represents the configuration of a single job."
# the generated labels, legacy and prefixed (batch.LegacyJobNameLabel, batch.JobNameLabel, ...)
JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")
CONTROLLER_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
NON_INDEXED, INDEXED = "NonIndexed", "Indexed"
RESTART_POLICIES = ("OnFailure", "Never")


def json_value(value: Any) -> GoLiteral:
    """A structured bad value as field.Error renders one it can marshal: its JSON."""
    return GoLiteral(msgspec.json.encode(value).decode())


def default_job_spec(spec: Object) -> None:
    """The pod defaults of a Job's template (also a CronJob's jobTemplate: SetDefaults_Job is not
    applied there, only the pod spec defaults are)."""
    podtemplate.default_template(spec.get("template"))


def default(obj: Object) -> None:
    """SetDefaults_Job (JobPodReplacementPolicy on, as since 1.29)."""
    spec = w.section(obj, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2**31 - 1 if spec.get("backoffLimitPerIndex") is not None else 6
    spec.setdefault("completionMode", NON_INDEXED)
    spec.setdefault("suspend", False)
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    spec.setdefault("manualSelector", False)
    default_job_spec(spec)
    _default_job_labels(obj)


def _default_job_labels(obj: Object) -> None:
    """A Job without labels takes its template's (SetDefaults_Job; kube shares the map, so the
    generated labels show on the Job too)."""
    meta = w.section(obj, "metadata")
    labels = ((w.spec_of(obj).get("template") or {}).get("metadata") or {}).get("labels")
    if labels and not meta.get("labels"):
        meta["labels"] = dict(labels)


def generate_selector(obj: Object) -> None:
    """generateSelector: template labels job-name and controller-uid (both forms) unless the user
    set them, and a selector on batch.kubernetes.io/controller-uid."""
    meta, spec = obj["metadata"], w.spec_of(obj)
    template = w.section(spec, "template")
    labels = w.section(w.section(template, "metadata"), "labels")
    for key in JOB_NAME_LABELS:
        labels.setdefault(key, meta.get("name", ""))
    for key in CONTROLLER_UID_LABELS:
        labels.setdefault(key, meta.get("uid", ""))
    selector = w.section(spec, "selector")
    w.section(selector, "matchLabels").setdefault(CONTROLLER_UID, meta.get("uid", ""))


def _validate_generated_selector(obj: Object) -> list[FieldError]:
    spec, meta = w.spec_of(obj), obj.get("metadata") or {}
    if spec.get("manualSelector") or not isinstance(spec.get("selector"), dict):
        return []
    errs: list[FieldError] = []
    uid, name = meta.get("uid") or "", meta.get("name") or ""
    if not uid:
        errs.append(FieldError.required("metadata.uid", ""))
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    expected = {"controller-uid": uid, "job-name": name, CONTROLLER_UID: uid,
                "batch.kubernetes.io/job-name": name}
    for key, value in expected.items():  # ValidateHasLabel
        if key not in labels:
            errs.append(FieldError.required(f"spec.template.metadata.labels[{key}]", ""))
        elif labels[key] != value:
            errs.append(FieldError.invalid(f"spec.template.metadata.labels[{key}]", labels[key],
                                           f"must be '{value}'"))
    parsed = w.parse_selector(spec["selector"])
    if parsed is not None and not parsed.matches(expected):
        errs.append(FieldError.invalid("spec.selector", w.selector_go_string(spec["selector"]),
                                       "`selector` not auto-generated"))
    return errs


def validate_job_spec(spec: Object, path: str) -> list[FieldError]:
    """validateJobSpec: counts, completion mode, the template and its restartPolicy."""
    errs: list[FieldError] = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
                "ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes"):
        errs += w.nonnegative(spec.get(key), f"{path}.{key}")
    mode = spec.get("completionMode")
    if mode is not None and mode not in (NON_INDEXED, INDEXED):
        errs.append(FieldError.not_supported(f"{path}.completionMode", mode, (NON_INDEXED, INDEXED)))
    if mode == INDEXED and spec.get("completions") is None:
        errs.append(FieldError.required(f"{path}.completions", "when completion mode is Indexed"))
    errs += podtemplate.validate_template(spec.get("template"), f"{path}.template")
    policy = w.pod_template_spec(spec.get("template")).get("restartPolicy") or ""
    here = f"{path}.template.spec.restartPolicy"
    if policy in ("Always", ""):
        errs.append(FieldError.required(here, 'valid values: "OnFailure", "Never"'))
    elif policy not in RESTART_POLICIES:
        errs.append(FieldError.not_supported(here, policy, RESTART_POLICIES))
    elif spec.get("podFailurePolicy") and policy != "Never":
        errs.append(FieldError.invalid(here, policy, 'only "Never" is supported when podFailurePolicy is specified'))
    return errs


def validate_spec(spec: Object) -> list[FieldError]:
    """ValidateJobSpec: validateJobSpec plus the selector against the template's labels."""
    errs = validate_job_spec(spec, "spec")
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        errs.append(FieldError.required("spec.selector", ""))
    else:
        errs += w.validate_label_selector(selector, "spec.selector")
        parsed = w.parse_selector(selector)
        if parsed is not None:
            errs += w.template_matches(parsed, spec.get("template"), "spec.template")
    return errs


def _immutable(new: Any, old: Any, path: str) -> list[FieldError]:
    return [] if new == old else [FieldError.invalid(path, json_value(new), "field is immutable")]


class JobStrategy(Strategy):
    """pkg/registry/batch/job's strategy."""

    track_generation = True

    def prepare_for_create(self, obj: Object) -> None:
        unlabelled = not w.section(obj, "metadata").get("labels")
        default(obj)
        if not w.spec_of(obj).get("manualSelector"):
            generate_selector(obj)
        if unlabelled:  # kube's Job shares its template's label map: it sees the generated ones
            obj["metadata"].pop("labels", None)
            _default_job_labels(obj)
        obj["status"] = {}

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        default(obj)
        w.keep_old_status(obj, old)
        w.set_generation(obj, old)

    def validate(self, obj: Object) -> list[Any]:
        return _validate_generated_selector(obj) + validate_spec(w.spec_of(obj))

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        """ValidateJobSpecUpdate: the template only changes while the Job is suspended."""
        new_spec, old_spec = w.spec_of(obj), w.spec_of(old)
        errs = validate_spec(new_spec)
        if new_spec.get("completionMode") != INDEXED:
            errs += _immutable(new_spec.get("completions"), old_spec.get("completions"), "spec.completions")
        errs += w.selector_immutable(obj, old)
        if not old_spec.get("suspend"):
            errs += _immutable(new_spec.get("template"), old_spec.get("template"), "spec.template")
        for key in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
            errs += _immutable(new_spec.get(key), old_spec.get(key), f"spec.{key}")
        return errs


class JobStatusStrategy(ReplicasStatusStrategy):
    def validate_status(self, status: Object) -> list[FieldError]:
        return nonnegative_fields(status, ("active", "succeeded", "failed", "ready", "terminating"))


def _has_condition(obj: Object, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True"
               for c in w.status_of(obj).get("conditions") or [] if isinstance(c, dict))


def _status(obj: Object) -> str:
    """printJob's Status cell."""
    if _has_condition(obj, "Complete"):
        return "Complete"
    if _has_condition(obj, "Failed"):
        return "Failed"
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    for kind in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if _has_condition(obj, kind):
            return kind
    return "Running"


def _completions(obj: Object) -> str:
    spec, succeeded = w.spec_of(obj), w.status_of(obj).get("succeeded") or 0
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    parallelism = spec.get("parallelism") or 0
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def _duration(obj: Object) -> str:
    status = w.status_of(obj)
    start = parse_time(status.get("startTime"))
    if start is None:
        return ""
    end = parse_time(status.get("completionTime"))
    if end is None:
        end = datetime.now(timezone.utc)
    return human_duration((end - start).total_seconds())


def containers_columns(template_of: Any) -> tuple[TableColumn, ...]:
    """The -o wide Containers, Images and Selector columns of a job (or a cronjob's jobTemplate)."""
    return (
        TableColumn("Containers", "string", lambda o: w.containers_cells(template_of(o).get("template"))[0],
                    priority=1, description="Names of each container in the template."),
        TableColumn("Images", "string", lambda o: w.containers_cells(template_of(o).get("template"))[1],
                    priority=1, description="Images referenced by each container in the template."),
        TableColumn("Selector", "string", lambda o: w.format_label_selector(template_of(o).get("selector")),
                    priority=1,
                    description="A label query over pods that should match the pod count. Normally, the "
                                "system sets this field for you. More info: https://kubernetes.io/docs/concepts"
                                "/overview/working-with-objects/labels/#label-selectors"),
    )


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Status", "string", _status, description="Status of the job."),
    TableColumn("Completions", "string", _completions,
                description="The number of pods which reached phase Succeeded. The value increases "
                            "monotonically for a given spec. However, it may decrease in reaction to "
                            "scale down of elastic indexed jobs."),
    TableColumn("Duration", "string", _duration, description="Time required to complete the job."),
    AGE_COLUMN,
    *containers_columns(w.spec_of),
)

job_spec = ResourceSpec(
    group="batch", version="v1", kind="Job", plural="jobs", singular="job", namespaced=True,
   
    **TYPES.spec_fields("Job"),
    categories=("all",), subresources=("status",),
    strategy=JobStrategy(), subresource_strategies={"status": JobStatusStrategy()},
    table_columns=TABLE_COLUMNS, description=DESCRIPTION,
)
