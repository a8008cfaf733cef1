"""cronjobs (batch/v1 CronJob): v1 defaulting, validation (the schedule is a cron expression,
the job template's restartPolicy OnFailure or Never), /status and printer columns."""

from __future__ import annotations

from typing import Any

from kernel.apimachinery.lazyre import lazy_compile
from kernel.apimachinery.validation import FieldError
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN, age
from kernel.registry.resource import Object, ResourceSpec, Strategy, TableColumn
from kernel_api_apps import workload as w
from kernel_api_apps.status import ReplicasStatusStrategy

from kernel_api_batch import cron
from kernel_api_batch.jobs import containers_columns, default_job_spec, validate_job_spec
from kernel_api_batch.types import TYPES

SCHEMA_NAME = "io.k8s.api.batch.v1.CronJob"
DESCRIPTION = "CronJob represents the configuration of a single cron job."
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
# the cronjob controller appends "-<11 chars>" to name jobs, and a job name is a 63-char label
MAX_NAME = 63 - 11
_ZONE_PART = lazy_compile(r"[A-Za-z.\-_0-9+]{1,14}")


def default(obj: Object) -> None:
    """SetDefaults_CronJob, and the pod defaults of the job template."""
    spec = w.section(obj, "spec")
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict) and isinstance(job_template.get("spec"), dict):
        default_job_spec(job_template["spec"])


def _validate_schedule(schedule: str, old: str | None, time_zone: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    try:
        cron.check_schedule(schedule)
    except cron.CronError as error:
        errs.append(FieldError.invalid("spec.schedule", schedule, str(error)))
    allow_tz = old is not None and "TZ" in old
    if allow_tz and "TZ" in schedule and time_zone is not None:
        errs.append(FieldError.invalid("spec.schedule", schedule,
                                       "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
    elif not allow_tz and "TZ" in schedule:
        errs.append(FieldError.invalid("spec.schedule", schedule,
                                       "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    return errs


def _validate_time_zone(zone: Any) -> list[FieldError]:
    if zone is None:
        return []
    path = "spec.timeZone"
    if zone == "":
        return [FieldError.invalid(path, zone, "timeZone must be nil or non-empty string")]
    for part in zone.split("/"):
        if part in (".", "..") or part.startswith("-") or not _ZONE_PART.fullmatch(part):
            return [FieldError.invalid(path, zone, f"unknown time zone {zone}")]
    if zone.lower() == "local":
        return [FieldError.invalid(path, zone, "timeZone must be an explicit time zone as defined in "
                                               "https://www.iana.org/time-zones")]
    import zoneinfo  # with sysconfig: by the first CronJob with a timeZone

    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [FieldError.invalid(path, zone, f"unknown time zone {zone}")]
    return []


def validate_spec(spec: Object, old: Object | None) -> list[FieldError]:
    """validateCronJobSpec."""
    errs: list[FieldError] = []
    schedule = spec.get("schedule") or ""
    if not schedule:
        errs.append(FieldError.required("spec.schedule", ""))
    else:
        errs += _validate_schedule(schedule, None if old is None else old.get("schedule") or "",
                                   spec.get("timeZone"))
    errs += w.nonnegative(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds")
    if old is None or old.get("timeZone") != spec.get("timeZone"):
        errs += _validate_time_zone(spec.get("timeZone"))
    policy = spec.get("concurrencyPolicy") or ""
    if not policy:
        errs.append(FieldError.required("spec.concurrencyPolicy", ""))
    elif policy not in CONCURRENCY_POLICIES:
        errs.append(FieldError.not_supported("spec.concurrencyPolicy", policy, CONCURRENCY_POLICIES))
    job = (spec.get("jobTemplate") or {}).get("spec") or {}
    errs += validate_job_spec(job, "spec.jobTemplate.spec")
    if job.get("selector") is not None:  # ValidateJobTemplateSpec
        errs.append(FieldError.invalid("spec.jobTemplate.spec.selector", w.selector_go_string(job["selector"]),
                                       "`selector` will be auto-generated"))
    if job.get("manualSelector"):
        errs.append(FieldError.not_supported("spec.jobTemplate.spec.manualSelector", True, ("nil", "false")))
    errs += w.nonnegative(spec.get("successfulJobsHistoryLimit"), "spec.successfulJobsHistoryLimit")
    return errs + w.nonnegative(spec.get("failedJobsHistoryLimit"), "spec.failedJobsHistoryLimit")


class CronJobStrategy(Strategy):
    """pkg/registry/batch/cronjob's strategy."""

    track_generation = True

    def prepare_for_create(self, obj: Object) -> None:
        default(obj)
        obj["status"] = {}

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        default(obj)
        w.keep_old_status(obj, old)
        w.set_generation(obj, old)

    def validate(self, obj: Object) -> list[Any]:
        errs = validate_spec(w.spec_of(obj), None)
        name = (obj.get("metadata") or {}).get("name") or ""
        if len(name) > MAX_NAME:
            errs.append(FieldError.invalid("metadata.name", name, f"must be no more than {MAX_NAME} characters"))
        return errs

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        # no name length check: older cronjobs with longer names stay updatable
        return validate_spec(w.spec_of(obj), w.spec_of(old))


def _job_spec(obj: Object) -> Object:
    return (w.spec_of(obj).get("jobTemplate") or {}).get("spec") or {}


def _suspend(obj: Object) -> str:
    value = w.spec_of(obj).get("suspend")
    return "<unset>" if value is None else ("True" if value else "False")


def _last_schedule(obj: Object) -> str:
    last = w.status_of(obj).get("lastScheduleTime")
    return age(last) if last else "<none>"


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Schedule", "string", lambda o: w.spec_of(o).get("schedule") or "",
                description="The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
    TableColumn("Timezone", "string", lambda o: w.spec_of(o).get("timeZone") or "<none>",
                description="The time zone name for the given schedule, see "
                            "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, "
                            "this will default to the time zone of the kube-controller-manager process. The "
                            "set of valid time zone names and the time zone offset is loaded from the system-"
                            "wide time zone database by the API server during CronJob validation and the "
                            "controller manager during execution. If no system-wide time zone database can be "
                            "found a bundled version of the database is used instead. If the time zone name "
                            "becomes invalid during the lifetime of a CronJob or due to a change in host "
                            "configuration, the controller will stop creating new new Jobs and will create a "
                            "system event with the reason UnknownTimeZone. More information can be found in "
                            "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones"),
    TableColumn("Suspend", "boolean", _suspend,
                description="This flag tells the controller to suspend subsequent executions, it does not "
                            "apply to already started executions.  Defaults to false."),
    TableColumn("Active", "integer", lambda o: len(w.status_of(o).get("active") or []),
                description="A list of pointers to currently running jobs."),
    TableColumn("Last Schedule", "string", _last_schedule,
                description="Information when was the last time the job was successfully scheduled."),
    AGE_COLUMN,
    *containers_columns(_job_spec),
)

cronjob_spec = ResourceSpec(
    group="batch", version="v1", kind="CronJob", plural="cronjobs", singular="cronjob", namespaced=True,
   
    **TYPES.spec_fields("CronJob"),
    short_names=("cj",), categories=("all",), subresources=("status",),
    strategy=CronJobStrategy(), subresource_strategies={"status": ReplicasStatusStrategy()},
    table_columns=TABLE_COLUMNS, description=DESCRIPTION,
)
