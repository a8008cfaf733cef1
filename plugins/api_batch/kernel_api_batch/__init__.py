"""The batch/v1 API group: jobs and cronjobs (``cron`` checks schedules as kube's parser does).

The pod template rules and selector helpers are the apps plugin's (kernel_api_apps.podtemplate,
kernel_api_apps.workload): one implementation for every workload kind.
"""

from __future__ import annotations

from kernel_api_batch.cronjobs import cronjob_spec
from kernel_api_batch.jobs import job_spec

RESOURCES = [job_spec, cronjob_spec]

__all__ = ["RESOURCES", "cronjob_spec", "job_spec"]
