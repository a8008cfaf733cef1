"""audit's hooks: the --audit-policy-file, --audit-log-* and --audit-webhook-* flags (kube's
names, defaults and messages), the policy, and the ``log`` and ``webhook`` backends' factories.

Auditing is on when a policy file is given and at least one backend is configured
(``--audit-log-path``, or a webhook); a backend without a policy records nothing, as in kube.
"""

from __future__ import annotations

from typing import Any

from kernel import hookimpl
from kernel.audit.metrics import AuditMetrics
from kernel.plugins import configured_by
from kernel.server.options import boolean

from kernel_audit.batch import BLOCKING, BatchConfig, add_batch_options, batch_option_errors
from kernel_audit.log import FORMATS, FORMAT_JSON, PLUGIN_NAME, LogBackend, Stdout
from kernel_audit.policy import PolicyError, PolicyRuleEvaluator, load_policy_file
from kernel_audit.rotate import RotatingFile
from kernel_audit.webhook import add_webhook_options, webhook_backend, webhook_option_errors

GROUP_VERSIONS = ("audit.k8s.io/v1",)
MEGABYTE = 1024 * 1024
# kube's defaults for the log's batch flags (a batch of one, no wait, no throttle)
LOG_BATCH_DEFAULTS = BatchConfig(buffer_size=10000, max_batch_size=1, max_batch_wait=0.0,
                                 throttle_enable=False, throttle_qps=0.0, throttle_burst=0)


@hookimpl
def kernel_add_options(options):
    add = options.add
    add("audit-policy-file", default="",
        help="Path to the file that defines the audit policy configuration.")
    add("audit-log-path", default="",
        help="If set, all requests coming to the apiserver will be logged to this file.  '-' means "
             "standard out.")
    add("audit-log-maxage", default=366, type=int,
        help="The maximum number of days to retain old audit log files based on the timestamp "
             "encoded in their filename. Setting a value of 0 means old audit log files are not "
             "removed based on age.")
    add("audit-log-maxbackup", default=100, type=int,
        help="The maximum number of old audit log files to retain. Setting a value of 0 will mean "
             "there's no restriction on the number of files.")
    add("audit-log-maxsize", default=100, type=int,
        help="The maximum size in megabytes of the audit log file before it gets rotated. Setting "
             "to 0 disables rotation (not recommended).")
    add("audit-log-format", default=FORMAT_JSON,
        help='Format of saved audits. "legacy" indicates 1-line text format for each event. "json" '
             "indicates structured json format. Known formats are legacy,json.")
    add("audit-log-version", default=GROUP_VERSIONS[0],
        help="API group and version used for serializing audit events written to log.")
    add("audit-log-compress", default=False, type=boolean,
        help="If set, the rotated log files will be compressed using gzip.")
    add_batch_options(options, PLUGIN_NAME, LOG_BATCH_DEFAULTS, mode=BLOCKING)
    add_webhook_options(options)


@hookimpl
def kernel_validate_options(options):
    errors = []
    if options.audit_policy_file:
        try:
            load_policy_file(options.audit_policy_file)
        except PolicyError as error:
            errors.append(f"--audit-policy-file: loading audit policy file: {error}")
    if options.audit_log_path:
        errors += _log_errors(options)
    errors += webhook_option_errors(options)
    return errors


def _log_errors(options: Any) -> list[str]:
    """AuditLogOptions.Validate: the mode and batch flags in kube's words (as the webhook's), the
    others each after its flag."""
    errors = batch_option_errors(options, PLUGIN_NAME)
    if options.audit_log_version not in GROUP_VERSIONS:
        errors.append('--audit-log-version: invalid group version, allowed versions are '
                      '["audit.k8s.io/v1"]')
    if options.audit_log_format not in FORMATS:
        errors.append(f"--audit-log-format: invalid audit log format {options.audit_log_format}, "
                      f'allowed formats are "{",".join(FORMATS)}"')
    for flag in ("maxage", "maxbackup", "maxsize"):
        value = getattr(options, f"audit_log_{flag}")
        if value < 0:
            errors.append(f"--audit-log-{flag} {value} can't be a negative number")
    return errors


@hookimpl
def kernel_complete_options(options):
    options.audit_policy = (PolicyRuleEvaluator(load_policy_file(options.audit_policy_file))
                            if options.audit_policy_file else None)


@hookimpl
def kernel_audit_policy(context):
    return context.options.audit_policy


@configured_by("audit-log-path")
def _log_backend(context) -> LogBackend:
    options = context.options
    if not options.audit_policy:
        context.logger("kernel.audit").info(
            "No audit policy file provided, no events will be recorded for log backend")
    return LogBackend(_writer_factory(options), format=options.audit_log_format,
                      mode=options.audit_log_mode,
                      buffer_size=options.audit_log_batch_buffer_size,
                      max_batch_size=options.audit_log_batch_max_size,
                      max_batch_wait=options.audit_log_batch_max_wait,
                      lost=AuditMetrics.of(context.metrics.registry).plugin_error)


def _writer_factory(options: Any):
    path = options.audit_log_path
    if path == "-":
        return Stdout
    # As kube's ensureLogFile: a missing file is created (0600, its directory 0700) at startup.
    ensure_log_file(path)

    def open_writer() -> RotatingFile:
        return RotatingFile(path, options.audit_log_maxsize * MEGABYTE, options.audit_log_maxbackup,
                            options.audit_log_maxage, options.audit_log_compress)
    return open_writer


def ensure_log_file(path: str) -> None:
    import os
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_RDWR, 0o600))


@hookimpl
def kernel_audit_backends():
    return {"log": _log_backend,
            "webhook": configured_by("audit-webhook-config-file")(webhook_backend)}
