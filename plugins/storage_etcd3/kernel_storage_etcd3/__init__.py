"""storage_etcd3: the ``etcd3`` storage backend (``--storage-backend=etcd3``), with kube's flags.

State lives in etcd, so any number of ``kernel serve`` processes can share one etcd cluster, as
kube-apiservers do. The plugin contributes the backend, the ``etcd`` check of /healthz, /livez
and /readyz, and the compactor (a post-start hook that starts it in the server's background).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kernel import hookimpl
from kernel.context import ServerContext
from kernel.server.healthz import CheckFailed, HealthCheck
from kernel.server.options import Options, OptionSet, non_negative_duration, string_list
from kernel.storage.errors import StorageError
from kernel.storage.keys import resource_prefix

from kernel_storage_etcd3 import config as etcd_config
from kernel_storage_etcd3.config import EtcdConfig, parse_server

__all__ = ["Etcd3Storage", "EtcdConfig", "Compactor"]


def __getattr__(name: str) -> Any:
    """The store and compactor import the gRPC stack: only when used, not when the plugin loads
    (every installed plugin loads, whichever backend is selected)."""
    if name == "Etcd3Storage":
        from kernel_storage_etcd3.store import Etcd3Storage
        return Etcd3Storage
    if name == "Compactor":
        from kernel_storage_etcd3.compactor import Compactor
        return Compactor
    raise AttributeError(name)

BACKEND = "etcd3"


@hookimpl
def kernel_add_options(options: OptionSet) -> None:
    add = options.add
    add("etcd-servers", default=[], type=string_list,
        help="List of etcd servers to connect with (scheme://ip:port), comma separated.")
    add("etcd-prefix", default=etcd_config.DEFAULT_PREFIX,
        help="The prefix to prepend to all resource paths in etcd.")
    add("etcd-cafile", default="", help="SSL Certificate Authority file used to secure etcd "
                                        "communication.")
    add("etcd-certfile", default="", help="SSL certification file used to secure etcd "
                                          "communication.")
    add("etcd-keyfile", default="", help="SSL key file used to secure etcd communication.")
    add("etcd-compaction-interval", default=etcd_config.DEFAULT_COMPACTION_INTERVAL,
        type=non_negative_duration,
        help="The interval of compaction requests. If 0, the compaction request from apiserver "
             "is disabled.")
    add("etcd-healthcheck-timeout", default=etcd_config.DEFAULT_HEALTHCHECK_TIMEOUT,
        type=non_negative_duration, help="The timeout to use when checking etcd health.")
    add("etcd-readycheck-timeout", default=etcd_config.DEFAULT_READYCHECK_TIMEOUT,
        type=non_negative_duration, help="The timeout to use when checking etcd readiness")


def _in_use(options: Options) -> bool:
    return getattr(options, "storage_backend", None) == BACKEND


@hookimpl
def kernel_validate_options(options: Options) -> list[str]:
    if not _in_use(options):
        return []
    errors = etcd_config.validate(options.etcd_servers, options.etcd_cafile,
                                  options.etcd_certfile, options.etcd_keyfile)
    for flag in ("healthcheck", "readycheck"):
        if getattr(options, f"etcd_{flag}_timeout") <= 0:
            errors.append(f"--etcd-{flag}-timeout: must be greater than 0")
    return errors


def config_from(options: Options) -> EtcdConfig:
    return EtcdConfig(
        servers=tuple(parse_server(server) for server in options.etcd_servers),
        prefix=options.etcd_prefix, ca_file=options.etcd_cafile,
        cert_file=options.etcd_certfile, key_file=options.etcd_keyfile,
        compaction_interval=options.etcd_compaction_interval,
        healthcheck_timeout=options.etcd_healthcheck_timeout,
        readycheck_timeout=options.etcd_readycheck_timeout,
        request_timeout=getattr(options, "request_timeout", 0) or etcd_config.DEFAULT_REQUEST_TIMEOUT)


@hookimpl
def kernel_storage_backends() -> dict[str, Callable[[ServerContext], Any]]:
    def factory(context: ServerContext) -> Any:
        from kernel_storage_etcd3.store import Etcd3Storage
        return Etcd3Storage(config_from(context.options), ttls=event_ttls(context.options))
    return {BACKEND: factory}


def event_ttls(options: Options) -> dict[str, float]:
    """``--event-ttl``: Events (events.k8s.io ones are stored as core ones) get an etcd lease."""
    return {resource_prefix("", "events"): getattr(options, "event_ttl", 0)}


def _storage(context: ServerContext) -> Any:
    """This plugin's storage when the server stores in etcd, else None (no API groups, or another
    --storage-backend)."""
    return context.component("storage_backends", BACKEND)


def _check(storage: Any, timeout: float) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        try:
            await storage.check(timeout)
        except StorageError as error:
            raise CheckFailed(f"error getting data from etcd: {error.message}") from None
    return check


@hookimpl
def kernel_health_checks(context: ServerContext) -> list[HealthCheck]:
    storage = _storage(context)
    if storage is None:
        return []
    config = storage.config
    # kube's "etcd" check; /readyz uses --etcd-readycheck-timeout, the others the healthcheck one.
    return [HealthCheck("etcd", _check(storage, config.healthcheck_timeout), readyz=False),
            HealthCheck("etcd", _check(storage, config.readycheck_timeout),
                        livez=False, healthz=False)]


@hookimpl
def kernel_post_start_hooks(context: ServerContext) -> dict[str, Callable[[ServerContext], Awaitable[None]]]:
    storage = _storage(context)
    if storage is None or not storage.config.compaction_interval:
        return {}

    async def start_compactor(context: ServerContext) -> None:
        from kernel_storage_etcd3.compactor import Compactor
        context.spawn("etcd-compactor", Compactor(storage, storage.config.compaction_interval).run)

    return {"start-etcd-compactor": start_compactor}
