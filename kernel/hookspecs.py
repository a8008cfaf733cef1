"""The contract between the kernel and its plugins: every hook, documented.

A plugin is a module (or object) with functions marked ``@kernel.hookimpl`` and named like the
specs below, published in the ``kernel.plugins`` entry-point group; the entry-point name is the
plugin's name on the command line (``--plugins=authn_x509,storage_etcd3``). The kernel's own
built-ins (``kernel/builtin/``) are registered the same way.

A plugin may implement any subset of the hooks. pluggy calls implementations in LIFO order, so the
kernel never relies on call order to build a chain: the *component* hooks return components by
name, and the kernel orders each chain by the option that names it:

==========================  ========================================================
chain                       ordered by
==========================  ========================================================
authenticators              ``--plugins`` order (loopback first, anonymous last)
authorizers                 ``--authorization-mode`` or ``--authorization-config``
admission plugins           ``--enable-admission-plugins``
storage backend             ``--storage-backend`` (exactly one)
audit backends              every configured one gets every event (no order)
==========================  ========================================================

Component hooks return ``{name: factory}``; a factory is called once with the server's
:class:`ServerContext` (``context.options`` holds the completed options; storage and the
resources' registries exist before authenticators, authorizers and admission are built) and may
return ``None`` when the component is not configured (an OIDC authenticator without
``--oidc-issuer-url``, say). Returning factories instead of instances lets ``kernel plugins``
list what each plugin provides without building anything.

The context (:class:`kernel.context.ServerContext`) is the one object factories, the
``context`` hooks and the post-start and pre-shutdown callables receive, and all of the server a
plugin may touch (``tests/test_plugin_contract.py`` fails on anything else):

- ``options`` — the parsed and completed options, read-only (setting one raises);
- ``store(group, resource)`` — the resource's registry (the generic ``Store``), to serve or
  control resources; ``resources()`` — every ``(group, resource)`` with a registry;
- ``spawn(name, async_fn, *args)`` — a background task in the server's nursery, once serving
  (from a post-start hook); cancelled at shutdown; a failure is logged with the name and stops
  the server;
- ``signals`` — the lifecycle events by kube's names (``shutdown_initiated``,
  ``after_shutdown_delay_duration``, ``not_accepting_new_requests``,
  ``http_server_stopped_listening``, ``in_flight_requests_drained``, ``has_been_ready``), each
  with ``wait()`` and ``is_set()`` only;
- ``logger(name)`` — a ``logging.Logger``; ``metrics`` — this server's ``kernel.server.metrics.Metrics``
  (register collectors on ``metrics.registry``);
- ``authenticate(request)``, ``authorize(attributes)`` — the authenticator and authorizer
  chains as callables (TokenReview, SubjectAccessReview); ``rules_for(user, namespace)`` — the
  rules the authorizer chain grants a user (SelfSubjectRulesReview; a mode that implements
  ``kernel.authorization.RuleResolver`` contributes, any other makes the answer incomplete);
- ``component(kind, name)`` — the plugin's own component, as built, by the kind of its hook
  (``"authenticators"`` for ``kernel_authenticators``) and its name; ``None`` when left out;
- ``authorizer_config`` — during a ``kernel_authorizers`` factory call, the chain entry being
  built (:class:`kernel.server.authorizationconfig.AuthorizerConfiguration`: ``type``, ``name``,
  ``webhook``); the factory is called once per entry, so one mode builds several authorizers;
- ``tls.update_client_ca(path, pem)`` — serve new handshakes with a reloaded client CA bundle;
- ``informer(group, resource)`` — the shared in-process informer of a resource;
- ``install_api_group(*groups)``, ``remove_api_group(group, *versions)`` — serve
  :class:`kernel.endpoints.apigroup.APIGroup` objects from now on, or stop serving versions of a
  group, while serving (CustomResourceDefinitions): discovery and OpenAPI change at once (marked
  stale, rebuilt on their next request);
- ``secure_port`` — the port HTTPS is served on (the one picked for ``--secure-port=0``), once serving;
- ``loopback_client(user_agent=None)`` — a client of this server without a socket
  (:mod:`kernel.server.loopback`): ``get``/``list``/``create``/``update``/``patch``/``delete``/``watch``
  of an API path, through every filter as ``system:apiserver`` (``system:masters``), then
  admission and validation; errors raise ``StatusError``. Controllers write through it, not
  through ``store``, so admission always applies.

A factory that is unconfigured unless some flag is set says so with
``@kernel.plugins.configured_by("oidc-issuer-url", "authentication-config")``: the kernel then
calls it only when one of those flags has a value, and the startup log and ``kernel plugins``
(which must not build components: that may read files or connect) both name it as
``not configured: oidc (needs --oidc-issuer-url or --authentication-config)``. A factory that
returns ``None`` without the mark is named in the startup log only.

Hooks are called in the order of kube-apiserver's startup sequence: ``kernel_requires`` and
``kernel_add_options`` (build options) → ``kernel_validate_options`` → ``kernel_complete_options``
→ component factories (``kernel_subresources`` with the API groups), ``kernel_health_checks``, ``kernel_post_start_hooks``,
``kernel_pre_shutdown_hooks``, ``kernel_routes``, ``kernel_api_aggregator`` (create_server_chain) → post-start hooks run once the server
listens → pre-shutdown hooks run when shutdown starts, before the server stops accepting requests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from kernel.server.healthz import HealthCheck
    from kernel.server.options import Options, OptionSet
    from kernel.context import ServerContext

hookspec = pluggy.HookspecMarker("kernel")

Factory = Callable[["ServerContext"], Any]
Hook = Callable[["ServerContext"], Awaitable[None]]


@hookspec
def kernel_requires() -> Sequence[str]:
    """Other plugins this plugin needs, by name.

    A missing requirement fails validation with a message naming both plugins.
    """


@hookspec
def kernel_add_options(options: OptionSet) -> None:
    """Add this plugin's command-line flags with ``options.add(...)``.

    Flags are grouped under the plugin's name in ``kernel serve --help``. A flag of an installed
    but unselected plugin is refused with a message naming that plugin.
    """


@hookspec
def kernel_validate_options(options: Options) -> Sequence[str]:
    """Return error messages for invalid flag values, each starting with the flag (``--x: ...``).

    All errors from the kernel and every plugin are reported together, then the process exits 1.
    """


@hookspec
def kernel_complete_options(options: Options) -> None:
    """Fill in defaults that depend on other options (after validation, before the server chain).

    Completion may do I/O such as reading files named by flags. Client CA bundles that TLS
    handshakes must verify against are appended to ``options.client_ca_files``; a plugin that
    reloads one while serving passes its new content to ``context.tls.update_client_ca(path, pem)``
    (:class:`kernel.server.tls.ServingContext`), and new connections verify against it.
    """


@hookspec
def kernel_storage_backends() -> Mapping[str, Factory]:
    """Storage backends by ``--storage-backend`` name: ``{"etcd3": factory}``.

    The factory returns the backend's ``kernel.storage.interface.Storage``.
    """


@hookspec
def kernel_api_groups() -> Mapping[str, Factory]:
    """API group-versions this plugin serves, by ``group/version`` (``v1`` for the core group).

    The factory returns an :class:`kernel.endpoints.apigroup.APIGroup`: resources the kernel serves with
    its generic REST machinery, or a handler of its own.
    """


@hookspec
def kernel_subresources() -> Mapping[str, Factory]:
    """POST subresources this plugin adds to a resource another plugin serves, by
    ``<resource>/<subresource>`` (core group: ``serviceaccounts/token``) or
    ``<resource>.<group>/<subresource>`` (``deployments.apps/rollback``).

    The factory returns a :class:`kernel.registry.subresources.CustomSubresource` (kube's
    NamedCreater REST: its request kind, schemas and handler) or ``None`` when unconfigured; the
    kernel attaches it to every served version of the resource, so discovery, OpenAPI,
    authorization (verb ``create`` on ``<resource>/<subresource>``) and admission see it as one
    of the resource's own. Factories run while the API groups are built: ``context.options`` is
    complete, registries of other resources may not exist yet (the handler gets them through
    ``call.stores``). A subresource the resource already has, or of a resource no selected plugin
    serves, fails startup.
    """


@hookspec
def kernel_authenticators() -> Mapping[str, Factory]:
    """Request authenticators by name; the factory returns an ``Authenticator`` or ``None``.

    The first authenticator that recognises a credential decides; one that recognises but rejects
    it ends the request with 401 (no fall-through to anonymous).
    """


@hookspec
def kernel_authorizers() -> Mapping[str, Factory]:
    """Authorizers by ``--authorization-mode`` name (``RBAC``, ``Node``, ...).

    ``authorize(attributes)`` returns ``(decision, reason)`` or raises
    ``kernel.authorization.AuthorizationError`` when the mode could not decide; the chain then
    goes on as the error's decision says, and a request no mode allows is a 500, as in kube.

    The chain is ``--authorization-config``'s entries (kube's AuthorizationConfiguration) or, without
    it, one entry per ``--authorization-mode``; each entry's factory (by its ``type``) is called
    once for it, with the entry in ``context.authorizer_config`` (several ``Webhook`` entries: several
    calls). An entry of the file is built even when the factory is marked ``configured_by``. When
    the file changes while serving, the factory of a repeatable mode (Webhook) is called again for
    each of its entries (a replaced authorizer with an ``async aclose()`` is closed); other modes
    keep the authorizer built at startup.
    """


@hookspec
def kernel_admission_plugins() -> Mapping[str, Factory]:
    """Admission plugins by ``--enable-admission-plugins`` name.

    A plugin implements :class:`kernel.admission.MutatingAdmission` (``handles(operation)``,
    ``async admit(attributes)``), :class:`kernel.admission.ValidatingAdmission` (``handles``,
    ``async validate(attributes)``), or both; subclassing the protocol states it explicitly, and
    a component with neither is refused when the server is built. ``attributes`` is a
    :class:`kernel.admission.Attributes`, shaped like kube's ``admission.Attributes``: ``user``,
    ``operation`` (CREATE, UPDATE, DELETE, CONNECT), ``object`` and ``old_object``, ``options``
    (the CreateOptions, UpdateOptions — also for a PATCH — or DeleteOptions object), ``dry_run``,
    ``kind`` (group/version/kind), ``resource`` (group/version/resource), ``subresource``,
    ``namespace`` and ``name``.

    Every mutating plugin runs, in chain order, before any validating one. ``admit`` may change
    ``attributes.object`` in place (the registry validates the object again afterwards);
    ``validate`` gets its own copy of the objects, so a change it makes is discarded. Either
    refuses by raising a ``StatusError``: ``attributes.forbidden(reason)`` is kube's 403
    ``<resource> "<name>" is forbidden: <reason>``. Plugins marked with
    ``kernel.admission.default_enabled`` are on unless ``--disable-admission-plugins`` names them.
    """


@hookspec
def kernel_audit_backends() -> Mapping[str, Factory]:
    """Audit backends by name (``log``, ``webhook``); the factory returns a
    :class:`kernel.audit.Backend` or ``None`` when not configured (no ``--audit-log-path``).

    Every configured backend receives every event. Its ``run()`` starts in the server's nursery
    before serving; its ``shutdown()`` is awaited after the in-flight requests drained, bounded
    by ``kernel.audit.SHUTDOWN_TIMEOUT``. See :mod:`kernel.audit`.
    """


@hookspec
def kernel_audit_policy(context: ServerContext) -> Any:
    """The audit policy: a :class:`kernel.audit.PolicyRuleEvaluator`, or None (no policy).

    One selected plugin at most may return one. Without a policy, or without a configured audit
    backend, requests are not audited and the audit filter is left out of the chain.
    """


@hookspec
def kernel_health_checks(context: ServerContext) -> Sequence[HealthCheck]:
    """Named health checks added to ``/healthz``, ``/livez`` and/or ``/readyz``."""


@hookspec
def kernel_post_start_hooks(context: ServerContext) -> Mapping[str, Hook]:
    """Async callables ``hook(context)`` run once the server listens, by name.

    Each one is the ``poststarthook/<name>`` health check, failing until it returns. They run in
    the server's nursery; a hook that raises stops the server. With ``--workers`` every worker
    process runs every hook concurrently on one storage: writes must tolerate AlreadyExists (409)
    and Conflict.
    """


@hookspec
def kernel_pre_shutdown_hooks(context: ServerContext) -> Mapping[str, Hook]:
    """Async callables ``hook(context)`` run at ShutdownInitiated, by name, alongside
    --shutdown-delay-duration.

    Requests are still served while they run (a hook may call the API); the server stops
    accepting requests only after the delay passed and every hook returned.
    """


@hookspec
def kernel_routes(context: ServerContext) -> Mapping[str, Any] | Sequence[tuple[str, Any]]:
    """Non-resource HTTP routes, ``{prefix: app}`` (or ``[(prefix, app), ...]``): each app is a
    Quart-Trio app, a Quart blueprint or any ASGI app, mounted under its prefix (``/debug``).

    The app's routes are relative to the prefix (the ASGI ``root_path`` is set to it). Requests
    reach it behind every filter: authentication, authorization as a non-resource URL (the
    request's path, its lower-cased method as the verb), the request log and metrics. A prefix that
    is, or is under or above, ``/api``, ``/apis``, ``/healthz``, ``/livez``, ``/readyz``,
    ``/version``, ``/metrics``, ``/openapi`` or another plugin's prefix fails startup.
    """


@hookspec
def kernel_api_aggregator(context: ServerContext, delegate: Any) -> Any:
    """The front of the server chain (kube's aggregator): ``async handler(request)``, or None.

    It gets every request after the filters (authentication, impersonation, authorization), serves
    what it owns (discovery it merges, group-versions it proxies to another API server) and
    passes everything else to ``delegate``, the kernel's own API handler. One selected plugin at
    most may return a handler.
    """
