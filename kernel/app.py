"""The option steps of the startup sequence: build → parse → validate → complete.

Mirrors cmd/kube-apiserver/app: every step is a plain function; errors are collected and reported
together by the CLI, which exits 1 without a traceback.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import uuid
from collections.abc import Sequence
from pathlib import Path

import msgspec

from kernel import plugins
from kernel.server import authorizationconfig, certs
from kernel.server import options as opts
from kernel.server.advertise import default_advertise_address
from kernel.server.options import Options, OptionSet

log = logging.getLogger("kernel")


class OptionsError(Exception):
    """Invalid options; ``errors`` holds one message per problem, each naming its flag."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = list(errors)


class ServerRunOptions(msgspec.Struct):
    option_set: OptionSet
    plugins: plugins.PluginManager


def selected_plugin_names(argv: Sequence[str]) -> list[str] | None:
    """Read ``--plugins`` ahead of the full parse: it decides which flags exist.

    None (flag absent) selects every installed plugin; ``--plugins=`` only the built-ins.
    """
    pre = OptionSet()
    opts.add_server_run_options(pre)
    result = opts.parse(pre, argv)
    return result.options.plugins if "plugins" in result.options.explicit else None


def build_options(argv: Sequence[str]) -> ServerRunOptions:
    """Load the selected plugins and gather the kernel's and their flags."""
    try:
        selected = plugins.select(selected_plugin_names(argv))
    except plugins.PluginError as error:
        raise OptionsError([str(error)]) from None
    manager = plugins.PluginManager(selected)
    option_set = OptionSet()
    opts.add_server_run_options(option_set)
    for info in manager.plugins:
        add = getattr(info.module, "kernel_add_options", None)
        if add is not None:
            add(options=option_set.for_plugin(info.name))
    return ServerRunOptions(option_set, manager)


#: The modes a secure server chains when --authorization-mode is not given, in this order, as far
#: as the selected plugins provide them (kube-apiserver's usual Node,RBAC).
SECURE_MODES = ("Node", "RBAC")
#: The bind address of a server left on AlwaysAllow by default: this machine only.
LOOPBACK_BIND_ADDRESS = "127.0.0.1"


def default_authorization_mode(manager: plugins.PluginManager) -> list[str]:
    """Node,RBAC as far as selected plugins provide them when RBAC is there; else AlwaysAllow
    (a trimmed build without RBAC), which :func:`warnings` says loudly."""
    provided = manager.components("kernel_authorizers")
    if "RBAC" not in provided:
        return ["AlwaysAllow"]
    return [mode for mode in SECURE_MODES if mode in provided]


#: The backend --storage-backend defaults to when a selected plugin provides it (storage_sqlite).
DURABLE_STORAGE_BACKEND = "sqlite"


def apply_secure_defaults(manager: plugins.PluginManager, options: Options) -> None:
    """Defaults that depend on the selected plugins, for ``kernel serve`` and ``kernel plugins``
    alike: durable storage when a plugin provides it, the authorization modes and, when those
    allow everything, a loopback bind address."""
    if ("storage-backend" not in options.explicit
            and DURABLE_STORAGE_BACKEND in manager.components("kernel_storage_backends")):
        options.storage_backend = DURABLE_STORAGE_BACKEND
    if "data-dir" not in options.explicit and "cert-dir" in options.explicit:
        # The server's files stay together: <dir>/certs given, <dir>/data it is.
        options.data_dir = str(Path(options.cert_dir).parent / "data")
    # --authorization-config names the chain itself: nothing to default then.
    options.authorization_mode_defaulted = ("authorization-mode" not in options.explicit
                                            and not options.authorization_config)
    if not options.authorization_mode_defaulted:
        return
    options.authorization_mode = default_authorization_mode(manager)
    if options.authorization_mode == ["AlwaysAllow"] and "bind-address" not in options.explicit:
        options.bind_address = LOOPBACK_BIND_ADDRESS


def parse(run_options: ServerRunOptions, argv: Sequence[str]) -> tuple[Options, list[str]]:
    result = opts.parse(run_options.option_set, argv)
    apply_secure_defaults(run_options.plugins, result.options)
    errors = list(result.errors)
    for flag in opts.unknown_flag_names(result.unknown):
        provider = plugins.provider_of_flag(flag)
        if provider is None:
            errors.append(f"{flag}: unknown flag")
        else:
            errors.append(f"{flag}: flag of plugin {provider}, which is not selected "
                          f"(add it to --plugins)")
    errors += [f"unexpected argument {arg!r}" for arg in result.unknown if not arg.startswith("-")]
    return result.options, errors


def _validate_component(manager: plugins.PluginManager, hook: str, flag: str,
                        wanted: Sequence[str]) -> list[str]:
    provided = manager.components(hook)
    errors = []
    for name in wanted:
        if name in provided:
            continue
        owner = plugins.provider_of_component(hook, name)
        if owner is not None:
            errors.append(f"--{flag}: {name} is provided by plugin {owner}, which is not selected")
        else:
            errors.append(f"--{flag}: unknown {name!r}; available: {', '.join(provided) or 'none'}")
    return errors


def _validate_authorization(manager: plugins.PluginManager, options: Options) -> list[str]:
    """The modes of --authorization-mode, or the --authorization-config file (kube's checks, the
    types being the modes the selected plugins provide)."""
    if not options.authorization_config:
        return _validate_component(manager, "kernel_authorizers", "authorization-mode",
                                   options.authorization_mode)
    try:
        config = authorizationconfig.load(options.authorization_config)
    except authorizationconfig.ConfigError as error:
        return [f"--authorization-config: {e}" for e in error.errors]
    provided = manager.components("kernel_authorizers")
    errors = authorizationconfig.validate(config, provided)
    errors += [f"type {entry.type} is provided by plugin {owner}, which is not selected"
               for entry in config.authorizers if entry.type not in provided
               and (owner := plugins.provider_of_component("kernel_authorizers", entry.type))]
    return [f"--authorization-config: {e}" for e in errors]


def validate(run_options: ServerRunOptions, options: Options) -> list[str]:
    """Every problem at once: the kernel's checks, plugin requirements, each plugin's checks."""
    manager = run_options.plugins
    errors = opts.validate_server_run_options(options)
    errors += manager.missing_requirements()
    errors += _validate_authorization(manager, options)
    errors += _validate_component(manager, "kernel_admission_plugins", "enable-admission-plugins",
                                  options.enable_admission_plugins)
    errors += _validate_component(manager, "kernel_admission_plugins", "disable-admission-plugins",
                                  options.disable_admission_plugins)
    if manager.components("kernel_api_groups"):
        errors += _validate_component(manager, "kernel_storage_backends", "storage-backend",
                                      [options.storage_backend])
    for _, plugin_errors in manager.call_each("kernel_validate_options", options=options):
        errors += list(plugin_errors or ())
    return errors


def _allows_everything(modes: Sequence[str]) -> bool:
    """AlwaysAllow decides every request no earlier AlwaysDeny does (other modes may abstain)."""
    if "AlwaysAllow" not in modes:
        return False
    return "AlwaysDeny" not in modes or modes.index("AlwaysDeny") > modes.index("AlwaysAllow")


def _api_group_plugins() -> list[str]:
    """Installed plugins (selected or not) that serve an API group, to suggest them."""
    found = []
    for name, ep in plugins.installed().items():
        try:
            if getattr(ep.load(), "kernel_api_groups", None) is not None:
                found.append(name)
        except Exception:  # a broken plugin must not hide the warning
            continue
    return found


def warnings(run_options: ServerRunOptions, options: Options) -> list[str]:
    """Valid but probably unintended setups, one line each: the server still starts."""
    found = []
    if options.authorization_mode_defaulted and options.authorization_mode == ["AlwaysAllow"]:
        found.append(
            f"INSECURE DEFAULT: no selected plugin provides the RBAC authorization mode, so "
            f"--authorization-mode defaults to AlwaysAllow: every request (anonymous ones too, "
            f"with --anonymous-auth=true) may read and change everything. So that only this machine can reach it, "
            f"--bind-address defaults to {LOOPBACK_BIND_ADDRESS} (it is {options.bind_address}). To fix it, "
            f"install and select plugins/authz_rbac (the default becomes Node,RBAC), or pass "
            f"--authorization-mode")
    if (options.anonymous_auth and _allows_everything(authorizationconfig.modes(options))
            and not ipaddress.ip_address(options.bind_address).is_loopback):
        found.append(
            f"INSECURE: anonymous requests are allowed everything (--anonymous-auth=true with "
            f"--authorization-mode={','.join(options.authorization_mode)}) on {options.bind_address}, "
            f"a non-loopback address: anyone who can reach port {options.secure_port} can read and "
            f"change everything; use --bind-address=127.0.0.1, --anonymous-auth=false or another "
            f"--authorization-mode")
    if not run_options.plugins.components("kernel_api_groups"):
        suggest = ", ".join(_api_group_plugins()) or "none is installed"
        if "plugins" in options.explicit:
            found.append(
                f"--plugins={','.join(options.plugins)} selects no plugin that serves an API group, so "
                f"only /healthz, /livez, /readyz and /version answer; --plugins replaces the default "
                f"list (all installed plugins): add an API group plugin ({suggest}) and a storage plugin")
        else:
            found.append("no installed plugin serves an API group, so only /healthz, /livez, /readyz "
                         "and /version answer; install one, e.g. plugins/api_core and "
                         "plugins/storage_memory")
    return found


def complete(run_options: ServerRunOptions, options: Options) -> Options:
    """Defaults that depend on other options: serving certificate, loopback credentials, plugins'."""
    try:
        if options.tls_cert_file:
            options.serving = certs.from_files(options.tls_cert_file, options.tls_private_key_file)
        else:
            options.serving = certs.ensure_self_signed(options.cert_dir, options.bind_address)
    except OSError as error:
        flag = "--tls-cert-file" if options.tls_cert_file else "--cert-dir"
        raise OptionsError([f"{flag}: {error}"]) from None
    if not options.advertise_address:
        options.advertise_address = default_advertise_address(options.bind_address)
    options.loopback_token = secrets.token_urlsafe(32)
    options.loopback_uid = str(uuid.uuid4())
    run_options.plugins.call_each("kernel_complete_options", options=options)
    return options
