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
from kernel.server.options import duration

from kernel_audit.log import FORMATS, FORMAT_JSON, MODE_BATCH, MODE_BLOCKING, MODES, LogBackend, Stdout
from kernel_audit.policy import PolicyError, PolicyRuleEvaluator, load_policy_file
from kernel_audit.rotate import RotatingFile
from kernel_audit.webhook import add_webhook_options, webhook_backend, webhook_option_errors

GROUP_VERSIONS = ("audit.k8s.io/v1",)
MEGABYTE = 1024 * 1024


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
    add("audit-log-compress", default=False, type=_boolean,
        help="If set, the rotated log files will be compressed using gzip.")
    add("audit-log-mode", default=MODE_BLOCKING,
        help="Strategy for sending audit events. Blocking indicates sending events should block "
             "server responses. Batch causes the backend to buffer and write events "
             "asynchronously. Known modes are batch,blocking,blocking-strict.")
    add("audit-log-batch-buffer-size", default=10000, type=int,
        help="The size of the buffer to store events before batching and writing. Only used in "
             "batch mode.")
    add("audit-log-batch-max-size", default=1, type=int,
        help="The maximum size of a batch. Only used in batch mode.")
    add("audit-log-batch-max-wait", default=0.0, type=duration,
        help="The amount of time to wait before force writing the batch that hadn't reached the "
             "max size. Only used in batch mode.")
    add("audit-log-batch-throttle-enable", default=False, type=_boolean,
        help="Whether batching throttling is enabled. Only used in batch mode.")
    add("audit-log-batch-throttle-qps", default=0.0, type=float,
        help="Maximum average number of batches per second. Only used in batch mode.")
    add("audit-log-batch-throttle-burst", default=0, type=int,
        help="Maximum number of requests sent at the same moment if ThrottleQPS was not utilized "
             "before. Only used in batch mode.")
    add_webhook_options(options)


def _boolean(text: str) -> bool:
    from kernel.server.options import boolean
    return boolean(text)


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
    """AuditLogOptions.Validate, each message after its flag."""
    errors = []
    mode = options.audit_log_mode
    if mode not in MODES:
        errors.append(f"--audit-log-mode: invalid audit log mode {mode}, allowed modes are "
                      f'"{",".join(MODES)}"')
    elif mode == MODE_BATCH:
        for flag, value, what in (
                ("audit-log-batch-buffer-size", options.audit_log_batch_buffer_size, "buffer size"),
                ("audit-log-batch-max-size", options.audit_log_batch_max_size, "max batch size")):
            if value <= 0:
                errors.append(f"--{flag}: invalid audit batch log {what} {value}, must be a "
                              "positive number")
        if options.audit_log_batch_throttle_enable:
            if options.audit_log_batch_throttle_qps <= 0:
                errors.append(f"--audit-log-batch-throttle-qps: invalid audit batch log throttle "
                              f"QPS {options.audit_log_batch_throttle_qps:g}, must be a positive number")
            if options.audit_log_batch_throttle_burst <= 0:
                errors.append(f"--audit-log-batch-throttle-burst: invalid audit batch log throttle "
                              f"burst {options.audit_log_batch_throttle_burst}, must be a positive number")
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
