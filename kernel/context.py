"""ServerContext: the one object a plugin's factories and hooks receive, and all they may touch.

The :class:`~kernel.server.genericapiserver.APIServer` builds one context and passes it to every component factory
and to ``kernel_health_checks``, ``kernel_post_start_hooks`` and ``kernel_pre_shutdown_hooks``
(and to the post-start and pre-shutdown callables). Everything on the server that is not offered
here is private to the kernel and may change; ``tests/test_plugin_contract.py`` walks every
plugin's source and fails on any other attribute of the context.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Protocol

import trio

from kernel.server.apigroups import add_api_group, remove_api_group
from kernel.server.loopback import LoopbackClient

if TYPE_CHECKING:
    from kernel.registry.store import Store
    from kernel.endpoints.apigroup import APIGroup
    from kernel.authentication import AuthenticatorChain, UserInfo
    from kernel.authorization import Attributes, AuthorizerChain, Decision, Rules
    from kernel.server.lifecycle import LifecycleSignals, NamedEvent
    from kernel.server.metrics import Metrics
    from kernel.server.informers import Informer
    from kernel.server.options import Options
    from kernel.server.authorizationconfig import AuthorizerConfiguration
    from kernel.endpoints.request import Request

log = logging.getLogger("kernel")

# The component hooks, without their ``kernel_`` prefix: ``component("authenticators", "x509")``.
ComponentKind = Literal["storage_backends", "api_groups", "authenticators", "authorizers",
                        "admission_plugins", "audit_backends"]
COMPONENT_KINDS: tuple[str, ...] = ComponentKind.__args__  # type: ignore[attr-defined]


class ReadOnlyOptions:
    """The parsed and completed options, read-only: ``context.options.secure_port``.

    Completion (``kernel_complete_options``) is the place to change options; once the server is
    built they are what every component was built from, so setting one raises.
    """

    __slots__ = ("_options",)

    def __init__(self, options: Options) -> None:
        object.__setattr__(self, "_options", options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._options, name)

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"options are read-only once the server is built (setting {name!r})")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"options are read-only once the server is built (deleting {name!r})")

    def __dir__(self) -> list[str]:
        return sorted(vars(self._options))

    def __repr__(self) -> str:
        return f"ReadOnly{self._options!r}"


class Signal:
    """One lifecycle event, for waiting only (the kernel alone fires them)."""

    __slots__ = ("_event",)

    def __init__(self, event: NamedEvent) -> None:
        self._event = event

    @property
    def name(self) -> str:
        """kube's name of the event (``ShutdownInitiated``)."""
        return self._event.name

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()


class Signals:
    """The lifecycle events (k8s.io/apiserver lifecycle_signals.go), in the order they fire on a
    graceful shutdown; ``has_been_ready`` fires the first time /readyz passes."""

    __slots__ = ("shutdown_initiated", "after_shutdown_delay_duration", "not_accepting_new_requests",
                 "http_server_stopped_listening", "in_flight_requests_drained", "has_been_ready")

    def __init__(self, signals: LifecycleSignals) -> None:
        for name in self.__slots__:
            object.__setattr__(self, name, Signal(getattr(signals, name)))

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("lifecycle signals are read-only")

    def __iter__(self) -> Iterator[Signal]:
        return (getattr(self, name) for name in self.__slots__)


SIGNAL_NAMES = frozenset(Signals.__slots__)


class ClientCAs(Protocol):
    """What a plugin may do with the serving TLS context: replace a client CA bundle."""

    def update_client_ca(self, source: str, pem: str) -> None: ...


class _Plugins(Protocol):
    def components(self, hook: str) -> dict[str, tuple[str, Any]]: ...


class _Server(Protocol):
    """What the context reads of :class:`kernel.server.genericapiserver.APIServer` (a Protocol: the
    server imports this module, and the plugin manager's hooks are typed with it)."""

    options: Options
    plugins: _Plugins
    signals: LifecycleSignals
    metrics: Metrics
    stores: dict[tuple[str, str], Store]
    components: dict[str, dict[str, Any]]
    authenticator: AuthenticatorChain
    authorizer: AuthorizerChain
    authorizer_config: AuthorizerConfiguration | None
    tls: ClientCAs

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None: ...


class ServerContext:
    """What the kernel offers a plugin's factories and hooks; nothing else of the server is public.

    Every member is listed in :data:`API` (the plugin-contract test checks plugins against it).
    """

    def __init__(self, server: _Server) -> None:
        self._server = server
        self._options = ReadOnlyOptions(server.options)
        self._signals = Signals(server.signals)

    @property
    def options(self) -> ReadOnlyOptions:
        """The parsed and completed options (read-only): ``context.options.secure_port``."""
        return self._options

    def store(self, group: str, resource: str) -> Store:
        """The registry (generic Store) serving ``resource`` of ``group`` ("" is core); KeyError if
        no selected plugin serves it or its group is not built yet."""
        try:
            return self._server.stores[(group, resource)]
        except KeyError:
            raise KeyError(f"no registry for resource {resource!r} of group {group!r}") from None

    def resources(self) -> list[tuple[str, str]]:
        """Every ``(group, resource)`` with a registry, for controllers that act on all of them
        (the namespace controller empties a namespace of every namespaced kind)."""
        return list(self._server.stores)

    def spawn(self, name: str, async_fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run ``async_fn(*args)`` in the server's background nursery (valid once serving, as in
        post-start hooks); it is cancelled at shutdown. A failure is logged with ``name`` and
        stops the server, as a failing post-start hook does."""
        nursery: trio.Nursery | None = getattr(self._server, "background", None)  # set by run()
        if nursery is None:
            raise RuntimeError(f"spawn({name!r}): the server is not serving yet; "
                               "start background tasks from a post-start hook")
        nursery.start_soon(_named_task, name, async_fn, args, name=name)

    @property
    def signals(self) -> Signals:
        """The lifecycle events, for waiting: ``await context.signals.shutdown_initiated.wait()``."""
        return self._signals

    def logger(self, name: str) -> logging.Logger:
        """A logger for a plugin's component (klog verbosity: ``logger.log(kernel.logs.level(2), ...)``)."""
        return logging.getLogger(name)

    @property
    def metrics(self) -> Metrics:
        """This server's metrics registry: register collectors on ``metrics.registry``."""
        return self._server.metrics

    async def authenticate(self, request: Request) -> UserInfo | None:
        """Run the authenticator chain on ``request`` (TokenReview); None when no authenticator
        recognised a credential, ``AuthenticationError`` when one rejected it."""
        return await self._server.authenticator.authenticate(request)

    async def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        """Run the authorizer chain (SubjectAccessReview): the decision and its reason."""
        return await self._server.authorizer.authorize(attributes)

    async def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        """The rules the authorizer chain grants ``user`` in ``namespace`` (SelfSubjectRulesReview)."""
        return await self._server.authorizer.rules_for(user, namespace)

    def component(self, kind: ComponentKind, name: str) -> Any:
        """The component ``name`` this plugin provided through ``kernel_<kind>``, as built, or None
        when it was left out (unconfigured, or not selected by ``--authorization-mode`` and the
        like). KeyError for a name no selected plugin provides; RuntimeError before that kind of
        component is built (storage and API groups are built first, then authenticators,
        authorizers and admission plugins)."""
        if kind not in COMPONENT_KINDS:
            raise ValueError(f"component kind must be one of {', '.join(COMPONENT_KINDS)}, not {kind!r}")
        if kind not in self._server.components:
            raise RuntimeError(f"component({kind!r}, {name!r}): {kind} are not built yet")
        if name not in self._server.plugins.components(f"kernel_{kind}"):
            raise KeyError(f"no selected plugin provides {kind} component {name!r}")
        return self._server.components[kind].get(name)

    @property
    def authorizer_config(self) -> AuthorizerConfiguration | None:
        """The chain entry a ``kernel_authorizers`` factory is building, during that call only
        (:class:`kernel.server.authorizationconfig.AuthorizerConfiguration`: ``type``, ``name``,
        ``webhook``): one per entry of --authorization-config, so one factory builds several
        authorizers of its mode (Webhook); from --authorization-mode, ``webhook`` is None and the
        mode reads its own flags. None outside an authorizer factory call."""
        return self._server.authorizer_config

    @property
    def tls(self) -> ClientCAs:
        """The serving TLS context, to replace a reloaded client CA bundle
        (:meth:`kernel.server.tls.ServingContext.update_client_ca`)."""
        return self._server.tls

    @property
    def secure_port(self) -> int:
        """The port HTTPS is served on: ``--secure-port``, or the one picked for 0 (known once
        serving, as in post-start hooks; until then the option's value)."""
        return getattr(self._server, "secure_port", None) or self._server.options.secure_port

    async def install_api_group(self, *groups: APIGroup) -> None:
        """Serve ``groups`` (:class:`kernel.endpoints.apigroup.APIGroup` objects) from now on,
        each replacing a served group-version of the same group and version (its stored objects
        and watch caches are kept): discovery and OpenAPI change at once (marked stale, rebuilt
        on their next request), so pass every group-version of a change together. Valid once serving (post-start hooks,
        controllers); groups known at startup come from ``kernel_api_groups``."""
        await add_api_group(self._server, *groups)

    async def remove_api_group(self, group: str, *versions: str) -> bool:
        """Stop serving ``versions`` of ``group`` installed by ``install_api_group`` (or at
        startup): their URLs answer 404, they leave discovery and OpenAPI, and their watches
        end. Stored objects stay. False when none of them was served."""
        return await remove_api_group(self._server, group, *versions)

    def informer(self, group: str, resource: str, object_name: str | None = None) -> Informer:
        """The shared in-process informer of ``resource`` (:mod:`kernel.server.informers`); with
        ``object_name``, one that holds only the objects of that name."""
        return self._server.informers.informer(group, resource, object_name)

    def loopback_client(self, user_agent: str | None = None) -> LoopbackClient:
        """A client of this server without a socket (:mod:`kernel.server.loopback`): its requests go
        through every filter as ``system:apiserver`` (group ``system:masters``), then admission
        and validation, as kube's loopback client does; for controllers inside plugins."""
        return LoopbackClient(self._server, self._server.options.loopback_token, user_agent)


async def _named_task(name: str, async_fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
    try:
        await async_fn(*args)
    except Exception:
        log.exception("background task %s failed", name)
        raise


# The public members of the context (what plugins may touch), and of the members that are objects
# with their own restricted surface.
API: frozenset[str] = frozenset(
    name for name in vars(ServerContext) if not name.startswith("_"))
NESTED_API: dict[str, frozenset[str]] = {
    "tls": frozenset({"update_client_ca"}),
    "signals": SIGNAL_NAMES,
}
