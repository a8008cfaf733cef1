"""``kernel serve | plugins | bundle | version``."""

from __future__ import annotations

import faulthandler
import gc
import logging
import sys
from collections.abc import Callable, Sequence

import trio

from kernel import __version__, app, logs
from kernel.server import authorizationconfig
from kernel.server import options as opts
from kernel.server import workers
from kernel.admission import admission_order
from kernel.plugins import PluginError, describe_unconfigured, unconfigured_reason
from kernel.server.genericapiserver import ListenError, authenticator_order, create_server_chain, prepare_run, run
from kernel.version import version_info

USAGE = """usage: kernel <command> [flags]

commands:
  serve     run the API server (kernel serve --help lists the flags, grouped by plugin)
  plugins   list installed plugins, what each provides, and the chains the flags give
  bundle    build a single-file edge artifact (kernel.pyz) of the kernel and plugins
  version   print the version
"""

COMPONENT_HOOKS = [
    ("authenticators", "kernel_authenticators"),
    ("authorizer modes", "kernel_authorizers"),
    ("admission plugins", "kernel_admission_plugins"),
    ("storage backends", "kernel_storage_backends"),
    ("API groups", "kernel_api_groups"),
    ("subresources", "kernel_subresources"),
    ("audit backends", "kernel_audit_backends"),
]


log = logging.getLogger("kernel")


def _fail(errors: Sequence[str]) -> int:
    if len(errors) == 1:
        print(f"Error: {errors[0]}", file=sys.stderr)
        return 1
    print("Error: invalid options:", file=sys.stderr)
    for error in errors:
        print(f"  {error}", file=sys.stderr)
    return 1


def _load(argv: Sequence[str]) -> tuple[app.ServerRunOptions, opts.Options, list[str]]:
    run_options = app.build_options(argv)
    options, errors = app.parse(run_options, argv)
    return run_options, options, errors


#: CPython collects its youngest generation each time 700 more container objects live than at the
#: last collection. A loaded server always holds its in-flight requests' objects, and each of
#: those collections walks them again: 270-320 ms of CPU in a `bench/api.py --quick` run (about
#: 12k requests; 4% of a GET). At 10,000 most of a request's objects are freed before any
#: collection sees them: 34 ms in the same run. Cycles wait a little longer to be collected.
GC_THRESHOLD = (10_000, 10, 10)

#: Once the server has stopped, the process must end: a library thread stuck in the interpreter's
#: teardown (gRPC's have been) would keep it, and a --workers supervisor waiting for it, alive.
EXIT_TIMEOUT = 10.0


def serve(argv: Sequence[str]) -> int:
    gc.set_threshold(*GC_THRESHOLD)  # the server's process only: not for in-process test servers
    channel = workers.worker_channel()  # set when the --workers supervisor started this process
    logs.setup()  # text at -v=0 until the flags say otherwise
    try:
        run_options, options, errors = _load(argv)
        if options.help:
            opts.build_parser(run_options.option_set).print_help()
            return 0
        errors += app.validate(run_options, options)
        if errors:
            return _fail(errors)
        logs.setup(options.v, options.logging_format)
        options = app.complete(run_options, options)
    except app.OptionsError as error:
        return _fail(error.errors)
    except PluginError as error:  # two selected plugins provide the same mode or backend
        return _fail([str(error)])
    if channel is not None:  # a --workers process: the supervisor completed the options
        spec = workers.read_spec(channel)
        workers.apply_spec(options, spec)
        workers.label_logs(spec.index)
    else:
        for warning in app.warnings(run_options, options):
            log.warning("%s", warning)
    try:
        if channel is None and options.workers > 1:
            return workers.serve(argv, options)
        server = prepare_run(create_server_chain(options, run_options.plugins))
    except PluginError as error:  # a plugin's route prefix collides, two plugins' names clash
        return _fail([str(error)])
    except ListenError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    try:
        if channel is None:
            trio.run(run, server)
        else:
            trio.run(workers.run_worker, server, spec, channel)
    except KeyboardInterrupt:  # a signal that arrived before the handler was installed
        return 1
    except ListenError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    # Beyond EXIT_TIMEOUT, every thread's stack goes to stderr (the log) and the process exits 1.
    faulthandler.dump_traceback_later(EXIT_TIMEOUT, exit=True)
    return 0


def plugins(argv: Sequence[str]) -> int:
    try:
        run_options, options, errors = _load(argv)
    except app.OptionsError as error:
        return _fail(error.errors)
    except PluginError as error:
        return _fail([str(error)])
    if errors:
        return _fail(errors)
    manager = run_options.plugins
    flags = run_options.option_set.by_plugin()
    for info in manager.plugins:
        kind = "built-in" if info.builtin else "plugin"
        print(f"{info.name}  ({kind}; {info.distribution} {info.version})")
        provides = [f"    flags: {', '.join('--' + f.name for f in flags.get(info.name, []))}"]
        for label, hook in COMPONENT_HOOKS:
            names = [name for name, (owner, _) in manager.components(hook).items() if owner == info.name]
            if names:
                provides.append(f"    {label}: {', '.join(names)}")
        requires = [r for plugin, rs in manager.call_each("kernel_requires") if plugin == info.name
                    for r in rs or ()]
        if requires:
            provides.append(f"    requires: {', '.join(requires)}")
        print("\n".join(line for line in provides if not line.endswith(": ")))
    # What create_server_chain would build, told apart by the factories' configured_by marks
    # alone: nothing is built here (no certificates, no connections).
    unconfigured: list[tuple[str, str | None]] = []

    def configured(hook: str, names: list[str]) -> list[str]:
        provided = manager.components(hook)
        kept = []
        for name in names:  # an unknown name is kernel serve's validation error, not ours
            reason = unconfigured_reason(provided[name][1], options) if name in provided else None
            if reason:
                unconfigured.append((name, reason))
            else:
                kept.append(name)
        return kept

    authenticators = configured("kernel_authenticators", authenticator_order(manager))
    if options.anonymous_auth:
        authenticators.append("anonymous")
    try:
        modes = _authorization_chain(options, configured)
    except authorizationconfig.ConfigError as error:
        return _fail([f"--authorization-config: {e}" for e in error.errors])
    admission = configured("kernel_admission_plugins", admission_order(
        manager.components("kernel_admission_plugins"), options.enable_admission_plugins,
        options.disable_admission_plugins))
    print("\nchains for these options:")
    print(f"  authentication: {', '.join(authenticators)}")
    default = " (default; no --authorization-mode)" if options.authorization_mode_defaulted else ""
    print(f"  authorization: privileged group system:masters, {', '.join(modes)}{default}")
    print(f"  admission: {', '.join(admission) or 'none'}")
    print(f"  storage backend: {options.storage_backend}")
    audit = configured("kernel_audit_backends", list(manager.components("kernel_audit_backends")))
    if audit:  # the policy is a file the plugin reads: kernel serve reports a bad one
        print(f"  audit backends: {', '.join(audit)} (events only with an audit policy)")
    if unconfigured:
        print(f"  not configured: {describe_unconfigured(unconfigured)}")
    for warning in app.warnings(run_options, options):
        print(f"\nwarning: {warning}")
    return 0


def _authorization_chain(options: opts.Options,
                         configured: Callable[[str, list[str]], list[str]]) -> list[str]:
    """The chain's entries as the startup log names them (``Webhook/team-a``); without
    --authorization-config, the modes less the unconfigured ones."""
    if not options.authorization_config:
        return configured("kernel_authorizers", options.authorization_mode)
    return [entry.label for entry in authorizationconfig.load(options.authorization_config).authorizers]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command, rest = (args[0], args[1:]) if args else ("", [])
    if command == "serve":
        return serve(rest)
    if command == "plugins":
        return plugins(rest)
    if command == "bundle":
        from kernel import bundle  # shiv and pip are needed only here

        return bundle.main(rest)
    if command == "version":
        info = version_info()
        print(f"kernel {__version__} (serves Kubernetes API {info['gitVersion']})")
        return 0
    print(USAGE, file=sys.stderr if command not in ("-h", "--help", "help") else sys.stdout)
    return 0 if command in ("-h", "--help", "help") else 2


if __name__ == "__main__":
    sys.exit(main())
