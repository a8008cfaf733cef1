"""The server steps of the startup sequence: create_server_chain → prepare_run → run.

``create_server_chain`` builds the components plugins provide (authenticators, authorizers,
admission, storage, API groups, health checks, hooks) and the filter chain around the API
handler; ``prepare_run`` installs the non-resource endpoints; ``run`` serves HTTPS, runs the
post-start hooks, waits for a signal and shuts down gracefully in kube's order.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import trio

from kernel.server import kubeconfig
from kernel.admission import Admission, admission_order
from kernel.audit import SHUTDOWN_TIMEOUT as AUDIT_SHUTDOWN_TIMEOUT
from kernel.audit import Backend as AuditBackend, PolicyRuleEvaluator, Union as AuditUnion
from kernel.audit.metrics import AuditMetrics
from kernel.endpoints.apigroup import APIGroup
from kernel.apimachinery import status
from kernel.registry.store import Store
from kernel.authentication import MASTERS, AuthenticatorChain
from kernel.authorization import AuthorizerChain
from kernel.server.authorizationconfig import AuthorizerConfiguration
from kernel.server.apigroups import APIDocuments, install_group, refresh_documents
from kernel.server.authorizers import RELOAD_HOOK, build_authorizers, reload_hook
from kernel.server.certs import trust_anchor_pem
from kernel.context import ServerContext
from kernel.server.filters import build_handler_chain
from kernel.server.informers import InformerFactory
from kernel.server.healthz import CheckFailed, HealthCheck, HealthEndpoint, LogCheck, ping
from kernel.server.httpserver import hypercorn_config, serve
from kernel.server.tls import ServingContext, open_tls_listeners
from kernel.server.lifecycle import LifecycleSignals, WaitGroup
from kernel.server.metrics import Metrics
from kernel.server.options import Options
from kernel.plugins import PluginError, PluginManager, describe_unconfigured, unconfigured_reason
from kernel.endpoints.request import Handler, Request
from kernel.server.routes import ASGIApp, collect_routes, forward, route_for
from kernel.registry.subresources import CustomSubresource
from kernel.server.subresources import Subresources, SubresourceError, parse_key, unattached
from kernel.storage.cacher import Cacher
from kernel.version import version_info

log = logging.getLogger("kernel")

Hook = Callable[[ServerContext], Awaitable[None]]


class APIServer:
    """The assembled server: options, chains, endpoints and lifecycle state."""

    def __init__(self, options: Options, plugins: PluginManager) -> None:
        self.options = options
        self.plugins = plugins
        self.signals = LifecycleSignals()
        self.in_flight = WaitGroup()
        self.log_check = LogCheck()
        self.metrics = Metrics()  # this server's registry: plugins add their collectors to it
        self.storage: Any = None
        self.tls: ServingContext  # the TLS context new connections get; client CAs reloadable
        self.authenticator: AuthenticatorChain
        self.authorizer: AuthorizerChain
        # The chain entry whose authorizer is being built (context.authorizer_config).
        self.authorizer_config: AuthorizerConfiguration | None = None
        self.admission = Admission()  # every store is built with it; its plugins installed later
        self.unconfigured: list[tuple[str, str | None]] = []  # components left out: (name, why)
        self.api_groups: dict[str, APIGroup] = {}
        self.group_handlers: dict[str, Handler] = {}
        self.stores: dict[tuple[str, str], Store] = {}  # (group, plural) → the resource's registry
        self.cachers: list[Cacher] = []
        self.cachers_by_resource: dict[str, Cacher] = {}  # "configmaps", "deployments.apps"
        self.cachers_by_key: dict[tuple[str, str], Cacher] = {}  # (group, plural) → its cache
        self.informers = InformerFactory(self.cachers_by_key)  # shared, over the watch caches
        self.health_checks: list[HealthCheck] = []
        self.post_start_hooks: dict[str, Hook] = {}
        self.pre_shutdown_hooks: dict[str, Hook] = {}
        self.post_start_done: set[str] = set()
        self.non_resource: dict[str, Handler] = {}
        self.documents = APIDocuments()  # discovery and OpenAPI, built on request after each change
        self.routes: list[tuple[str, ASGIApp]] = []  # plugins' (prefix, app), from kernel_routes
        self.subresources: dict[tuple[str, str], dict[str, Any]] = {}  # from kernel_subresources
        self.handler: Handler
        self.url = ""  # https://host:port once listening
        self.secure_port = 0  # the bound port once listening (--secure-port may be 0)
        self.background: trio.Nursery  # for controllers started by post-start hooks
        # Built components by kind ("authenticators") and name, for ServerContext.component.
        self.components: dict[str, dict[str, Any]] = {}
        # Auditing (kernel.audit): every configured backend, and the policy; both or neither.
        self.audit_backends: list[AuditBackend] = []
        self.audit_sink: AuditUnion | None = None
        self.audit_policy: PolicyRuleEvaluator | None = None
        self.audit_metrics: AuditMetrics | None = None
        self.context = ServerContext(self)  # all that factories and hooks get of the server

    # -- the ASGI application ------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self.handler(Request(scope, receive, send))

    async def api_handler(self, request: Request) -> None:
        """Non-resource endpoints first (discovery and OpenAPI among them), then the API group
        owning the path, then the plugins' routes (kernel_routes), else 404."""
        path = request.path if request.path == "/" else request.path.rstrip("/")
        handler = self.non_resource.get(path) or self.documents.handler(path)
        if handler is not None:
            if request.method not in ("GET", "HEAD"):
                await request.respond_error(status.method_not_allowed())
                return
            await handler(request)
            return
        handler = self.group_handlers.get(_group_prefix(path))
        if handler is not None:
            await handler(request)
            return
        route = route_for(self.routes, path) if self.routes else None
        if route is not None:
            await forward(request, *route)
            return
        await request.respond_error(status.path_not_found())

    def shutdown(self) -> None:
        """Begin a graceful shutdown, as SIGTERM does."""
        self.signals.shutdown_initiated.set()


def _group_prefix(path: str) -> str:
    parts = path.split("/", 5)
    if len(parts) >= 3 and parts[1] == "api":
        return "/".join(parts[:3])
    if len(parts) >= 4 and parts[1] == "apis":
        return "/".join(parts[:4])
    return ""


class ListenError(Exception):
    """The listener could not be opened (port in use, address not on this host)."""


def _build(plugins: PluginManager, hook: str, names: list[str], server: APIServer) -> list[tuple[str, Any]]:
    """Build the named components of ``hook`` in the order of ``names``; the unconfigured ones
    (marked ``configured_by`` flags that are unset, or whose factory returned None) are noted
    in ``server.unconfigured`` for the startup log."""
    provided = plugins.components(hook)
    built = []
    for name in names:
        factory = provided[name][1]
        reason = unconfigured_reason(factory, server.options)
        component = None if reason else factory(server.context)
        if component is None:
            server.unconfigured.append((name, reason))
        else:
            built.append((name, component))
    server.components[hook.removeprefix("kernel_")] = dict(built)
    return built


def authenticator_order(plugins: PluginManager) -> list[str]:
    """Authenticators in plugin order (built-ins, then --plugins order); anonymous is run last."""
    return [name for name in plugins.components("kernel_authenticators") if name != "anonymous"]


def _build_subresources(plugins: PluginManager, server: APIServer) -> Subresources:
    """Call every selected plugin's subresource factories (skipping unconfigured ones)."""
    built: Subresources = {}
    for key, (plugin, factory) in plugins.components("kernel_subresources").items():
        try:
            group, plural, name = parse_key(key)
        except SubresourceError as error:
            raise PluginError(str(error)) from None
        if unconfigured_reason(factory, server.options):
            continue
        custom = factory(server.context)
        if custom is None:
            continue
        if not isinstance(custom, CustomSubresource):
            raise PluginError(f"kernel_subresources: plugin {plugin}: {key} must be a "
                              f"CustomSubresource, not {type(custom).__name__}")
        built.setdefault((group, plural), {})[name] = custom
    return built


def _install_api_groups(server: APIServer) -> None:
    """Storage, then each group's resources behind a generic REST handler (or its own handler)."""
    plugins, options = server.plugins, server.options
    factories = plugins.components("kernel_api_groups")
    server.components["storage_backends"], server.components["api_groups"] = {}, {}
    if not factories:
        return
    server.storage = plugins.components("kernel_storage_backends")[options.storage_backend][1](
        server.context)
    server.components["storage_backends"][options.storage_backend] = server.storage
    server.subresources = _build_subresources(plugins, server)
    for name, (_, factory) in factories.items():
        group: APIGroup = factory(server.context)
        server.components["api_groups"][name] = group
        try:
            install_group(server, group)  # its caches start in run(), with every other one
        except SubresourceError as error:
            raise PluginError(str(error)) from None
    missing = unattached(server.subresources, server.api_groups)
    if missing:
        raise PluginError("kernel_subresources: no selected plugin serves the resource of "
                          + ", ".join(missing))
    server.metrics.add_callback_gauge(
        "apiserver_storage_objects", "Number of stored objects at the time of last check split "
        "by kind (read from the watch cache at scrape time).", "resource",
        lambda: [(resource, cacher.object_count)
                 for resource, cacher in server.cachers_by_resource.items()])


def create_server_chain(options: Options, plugins: PluginManager) -> APIServer:
    server = APIServer(options, plugins)
    server.tls = ServingContext(options.serving.cert_file, options.serving.key_file,
                                options.client_ca_files)
    _install_api_groups(server)
    anonymous = plugins.components("kernel_authenticators")["anonymous"][1](server.context)
    server.authenticator = AuthenticatorChain(
        _build(plugins, "kernel_authenticators", authenticator_order(plugins), server), anonymous)
    if anonymous is not None:
        server.components["authenticators"]["anonymous"] = anonymous
    server.authorizer = AuthorizerChain(build_authorizers(plugins, server), MASTERS)
    if options.authorization_config:  # reloaded when the file changes, as kube does
        server.post_start_hooks[RELOAD_HOOK] = reload_hook(server)
    server.admission.install(_build(plugins, "kernel_admission_plugins", admission_order(
        plugins.components("kernel_admission_plugins"), options.enable_admission_plugins,
        options.disable_admission_plugins), server))

    context = server.context
    for _, checks in plugins.call_each("kernel_health_checks", context=context):
        server.health_checks.extend(checks or ())
    for _, hooks in plugins.call_each("kernel_post_start_hooks", context=context):
        server.post_start_hooks.update(hooks or {})
    for _, hooks in plugins.call_each("kernel_pre_shutdown_hooks", context=context):
        server.pre_shutdown_hooks.update(hooks or {})
    server.routes = collect_routes(plugins, context)
    _build_audit(plugins, server)

    server.handler = build_handler_chain(_api_aggregator(plugins, server), server)
    log.info("plugins: %s", ", ".join(f"{p.name} ({p.distribution} {p.version})" for p in plugins.plugins))
    log.info("authentication chain: %s", ", ".join(server.authenticator.names))
    log.info("authorization chain: %s", ", ".join(["privileged group system:masters",
                                                      *server.authorizer.names]))
    log.info("admission chain: %s", ", ".join(server.admission.names) or "none")
    if server.routes:
        log.info("plugin routes: %s", ", ".join(prefix for prefix, _ in server.routes))
    if server.unconfigured:
        log.info("not configured: %s", describe_unconfigured(server.unconfigured))
    if server.api_groups:
        log.info("storage backend: %s; API groups: %s", options.storage_backend,
                 ", ".join(g.group_version for g in server.api_groups.values()))
    return server


def _build_audit(plugins: PluginManager, server: APIServer) -> None:
    """The audit policy (one plugin at most) and backends; auditing is on only with both."""
    policies = [(name, policy) for name, policy in plugins.call_each(
        "kernel_audit_policy", context=server.context) if policy is not None]
    if len(policies) > 1:
        raise PluginError("kernel_audit_policy: more than one plugin provides the audit policy: "
                          + ", ".join(name for name, _ in policies))
    backends = _build(plugins, "kernel_audit_backends",
                      list(plugins.components("kernel_audit_backends")), server)
    if policies and backends:
        server.audit_policy = policies[0][1]
        server.audit_backends = [backend for _, backend in backends]
        metrics = AuditMetrics.of(server.metrics.registry)
        server.audit_metrics = metrics
        server.audit_sink = AuditUnion(server.audit_backends, metrics.events.inc)
        log.info("audit backends: %s", ", ".join(name for name, _ in backends))


async def _shutdown_audit(backends: Sequence[AuditBackend]) -> None:
    """Flush every audit backend, together, within SHUTDOWN_TIMEOUT (kube: after the drain)."""
    with trio.move_on_after(AUDIT_SHUTDOWN_TIMEOUT) as scope:
        async with trio.open_nursery() as nursery:
            for backend in backends:
                nursery.start_soon(backend.shutdown)
    if scope.cancelled_caught:
        log.warning("audit backends did not flush within %ss", AUDIT_SHUTDOWN_TIMEOUT)


def _api_aggregator(plugins: PluginManager, server: APIServer) -> Handler:
    """kube's chain: an aggregator plugin in front of the kernel's own API handler, if selected."""
    fronts = [(name, handler) for name, handler in plugins.call_each(
        "kernel_api_aggregator", context=server.context, delegate=server.api_handler) if handler]
    if len(fronts) > 1:
        raise PluginError("kernel_api_aggregator: more than one plugin provides the aggregator: "
                          + ", ".join(name for name, _ in fronts))
    return fronts[0][1] if fronts else server.api_handler


def _post_start_check(server: APIServer, name: str) -> HealthCheck:
    async def check() -> None:
        if name not in server.post_start_done:
            raise CheckFailed("not finished")
    return HealthCheck(f"poststarthook/{name}", check)


def prepare_run(server: APIServer) -> APIServer:
    """Install /healthz, /livez, /readyz (with every named check), /version, discovery, OpenAPI."""

    async def shutdown_check() -> None:
        if server.signals.shutdown_initiated.is_set():
            raise CheckFailed("process is shutting down")

    checks = [HealthCheck("ping", ping), HealthCheck("log", server.log_check),
              *server.health_checks,
              *(_post_start_check(server, name) for name in server.post_start_hooks)]
    endpoints = [
        HealthEndpoint("healthz", [c for c in checks if c.healthz]),
        HealthEndpoint("livez", [c for c in checks if c.livez]),
        HealthEndpoint("readyz", [*(c for c in checks if c.readyz),
                                  HealthCheck("shutdown", shutdown_check, livez=False, healthz=False)],
                       on_first_healthy=server.signals.has_been_ready.set),
    ]
    for endpoint in endpoints:
        server.non_resource.update(endpoint.routes())

    info = version_info()

    async def version(request: Request) -> None:
        await request.respond_json(info)

    server.non_resource["/version"] = version

    async def metrics(request: Request) -> None:
        body, content_type = server.metrics.exposition(request.headers.get("accept"))
        await request.respond(200, body, content_type.encode())

    server.non_resource["/metrics"] = metrics
    if server.api_groups:
        refresh_documents(server)
    return server


def listen_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _host_for_clients(bind_address: str) -> str:
    host = "127.0.0.1" if bind_address in ("0.0.0.0", "::") else bind_address
    return f"[{host}]" if ":" in host else host


async def _watch_signals(server: APIServer) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as received:
        async for signum in received:
            if server.signals.shutdown_initiated.is_set():
                log.warning("received %s again: exiting immediately", signal.Signals(signum).name)
                os._exit(1)
            log.info("received %s: shutting down gracefully", signal.Signals(signum).name)
            server.shutdown()


async def _run_post_start_hook(server: APIServer, name: str, hook: Hook) -> None:
    await hook(server.context)
    server.post_start_done.add(name)
    log.info("post-start hook %s finished", name)


async def _cancel_on_shutdown(signals: LifecycleSignals, scope: trio.CancelScope) -> None:
    await signals.shutdown_initiated.wait()
    scope.cancel()


async def _run_pre_shutdown_hooks(server: APIServer) -> None:
    for name, hook in server.pre_shutdown_hooks.items():
        log.info("running pre-shutdown hook %s", name)
        await hook(server.context)


async def run(server: APIServer, *, handle_signals: bool = True,
              task_status: trio.TaskStatus[APIServer] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve until shutdown; then: delay and pre-shutdown hooks → stop accepting → drain → return."""
    options, signals = server.options, server.signals
    try:
        # --workers: every worker process accepts on its own socket of the one port.
        listeners = await open_tls_listeners(options.secure_port, server.tls, host=options.bind_address,
                                             reuse_port=getattr(options, "workers", 1) > 1)
    except OSError as error:  # EADDRINUSE, EADDRNOTAVAIL: the operator's to fix, not a crash
        reason = (error.strerror or str(error)).lower()
        raise ListenError(f"failed to listen on "
                          f"{listen_address(options.bind_address, options.secure_port)}: {reason}") from error
    port = listeners[0].transport_listener.socket.getsockname()[1]
    server.secure_port = port
    server.url = f"https://{_host_for_clients(options.bind_address)}:{port}"

    async with trio.open_nursery() as background:
        # Long-lived tasks that outlive the HTTP drain: watch caches, controllers, signals.
        server.background = background
        if handle_signals:
            background.start_soon(_watch_signals, server)
        background.start_soon(server.log_check.flush_periodically)
        for backend in server.audit_backends:  # before the first request can reach them
            background.start_soon(backend.run)
        # The caches load before serving; with the backend down that waits, so a signal in the
        # meantime must end the startup instead of being left for after it.
        with trio.CancelScope() as startup:
            background.start_soon(_cancel_on_shutdown, signals, startup)
            for cacher in server.cachers:
                await background.start(cacher.run)
            await background.start(server.informers.run)
        if startup.cancelled_caught:
            log.info("shutdown requested before the server started serving")
            for listener in listeners:
                await listener.aclose()
        else:
            await _serve_until_shutdown(server, listeners, port, task_status)
        await _shutdown_audit(server.audit_backends)
        background.cancel_scope.cancel()
    if server.storage is not None and hasattr(server.storage, "close"):
        await server.storage.close()
    log.info("server stopped")


async def _serve_until_shutdown(server: APIServer, listeners: Sequence[Any], port: int,
                                task_status: trio.TaskStatus[APIServer]) -> None:
    """Serve, run the post-start hooks, then on shutdown: delay → stop accepting → drain."""
    options, signals, background = server.options, server.signals, server.background

    async def stop_listening() -> None:
        if options.shutdown_send_retry_after:
            await signals.in_flight_requests_drained.wait()
        else:
            await signals.not_accepting_new_requests.wait()

    async with trio.open_nursery() as serving:
        config = hypercorn_config(http2_max_streams=options.http2_max_streams_per_connection,
                                  goaway_chance=options.goaway_chance)
        await serving.start(lambda task_status: serve(
            server, listeners, stop_listening=stop_listening, drain_timeout=options.request_timeout,
            on_stopped_listening=signals.http_server_stopped_listening.set, config=config,
            task_status=task_status))
        log.info("Serving securely on %s:%d", options.bind_address, port)
        if options.write_kubeconfig:
            kubeconfig.write(options.write_kubeconfig, kubeconfig.render(
                server.url, trust_anchor_pem(options.serving), options.loopback_token))
            log.info("wrote admin kubeconfig to %s", options.write_kubeconfig)
        for name, hook in server.post_start_hooks.items():
            background.start_soon(_run_post_start_hook, server, name, hook)
        task_status.started(server)

        await signals.shutdown_initiated.wait()
        # As in kube: pre-shutdown hooks run alongside the delay, while requests are still
        # served, and the server stops accepting requests only once both are over.
        async with trio.open_nursery() as shutdown:
            shutdown.start_soon(_run_pre_shutdown_hooks, server)
            await trio.sleep(options.shutdown_delay_duration)
            signals.after_shutdown_delay_duration.set()
        signals.not_accepting_new_requests.set()
        with trio.move_on_after(options.request_timeout):
            await server.in_flight.wait()
        signals.in_flight_requests_drained.set()
