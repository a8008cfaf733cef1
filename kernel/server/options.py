"""ServerRunOptions: the flags of the kernel and of every selected plugin, parsed and validated.

Flags follow pflag's conventions (``--flag=value`` or ``--flag value``, booleans as ``--flag`` or
``--flag=false``, Go durations such as ``1m30s``). Values are converted after parsing so that every
bad value is reported at once, each message naming its flag.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import textwrap
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec

KERNEL = "kernel"

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


DURATION_FORM = "a duration such as 30s, 1m30s or 500ms (units h, m, s, ms, us, ns)"


def duration(text: str) -> float:
    """Parse a Go duration (``90s``, ``1m30s``, ``500ms``, ``0``) into seconds."""
    text = text.strip()
    if text in ("0", "-0", "+0"):
        return 0.0
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(body):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if not body or pos != len(body):
        raise ValueError(f"expected {DURATION_FORM}")
    return sign * total


def format_duration(seconds: float) -> str:
    """Format seconds the way Go prints a time.Duration (``1m0s``, ``500ms``, ``0s``)."""
    if seconds == 0:
        return "0s"
    if abs(seconds) < 1:
        return f"{seconds * 1000:g}ms"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    out = f"{secs:g}s"
    if minutes or hours:
        out = f"{minutes}m" + out
    if hours:
        out = f"{hours}h" + out
    return out


# The converters' ValueError messages say what form was expected; `parse` puts them after the
# flag and the value, in pflag's shape, so every bad value is one self-explaining line.

def boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise ValueError("expected true or false")


def string_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def string_array(text: str) -> str:
    """pflag's stringArray: the flag may be given several times and every value is kept, in
    order (``--x=a --x=b`` is ``["a", "b"]``); a value is taken whole, commas included. The
    option's value is the list; this converter checks one occurrence."""
    return text


def _integer(text: str, expected: str, low: int | None = None, high: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"expected {expected}") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"expected {expected}")
    return value


def port(text: str) -> int:
    return _integer(text, "an integer between 0 and 65535", 0, 65535)


def ip_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError("expected an IP address such as 127.0.0.1 or ::1") from None


def non_negative_int(text: str) -> int:
    return _integer(text, "an integer of 0 or more", 0)


def non_negative_duration(text: str) -> float:
    value = duration(text)
    if value < 0:
        raise ValueError(f"expected {DURATION_FORM}, not negative")
    return value


# Plain Python types a plugin may pass as ``type=``: their own messages name no expected form.
_EXPECTED = {int: "expected an integer", float: "expected a number"}


class Flag(msgspec.Struct):
    name: str  # without the leading dashes
    default: Any
    help: str
    convert: Callable[[str], Any]
    plugin: str
    metavar: str = "string"
    short: str = ""  # a one-letter alias (``-v``), as pflag's shorthand

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    @property
    def is_bool(self) -> bool:
        return self.convert is boolean


_METAVARS = {boolean: "", duration: "duration", non_negative_duration: "duration",
             string_list: "strings", string_array: "stringArray", port: "int", non_negative_int: "int", int: "int",
             ip_address: "ip", float: "float"}


class OptionSet:
    """The flags contributed by the kernel and the plugins, in the order they were added."""

    def __init__(self) -> None:
        self.flags: dict[str, Flag] = {}
        self._plugin = KERNEL

    def for_plugin(self, plugin: str) -> OptionSet:
        """A view that attributes the flags added through it to ``plugin``."""
        view = OptionSet.__new__(OptionSet)
        view.flags = self.flags
        view._plugin = plugin
        return view

    def add(self, name: str, *, default: Any, help: str,
            type: Callable[[str], Any] = str, short: str = "") -> None:
        """Add ``--name`` (and ``-short``); ``type`` converts the text given on the command line."""
        name = name.lstrip("-")
        if name in self.flags:
            owner = self.flags[name].plugin
            raise ValueError(f"flag --{name} of plugin {self._plugin} is already defined by {owner}")
        self.flags[name] = Flag(name, default, help, type, self._plugin,
                                _METAVARS.get(type, "string"), short)

    def by_plugin(self) -> dict[str, list[Flag]]:
        groups: dict[str, list[Flag]] = {}
        for flag in self.flags.values():
            groups.setdefault(flag.plugin, []).append(flag)
        return groups


class Options:
    """Parsed option values as attributes (``options.secure_port``), plus completed values.

    ``explicit`` holds the names of flags given on the command line.
    """

    def __init__(self, values: dict[str, Any], explicit: set[str]) -> None:
        self.__dict__.update(values)
        self.explicit = explicit
        self.client_ca_files: list[str] = []
        # Set when --authorization-mode was not given and the plugins decided it (kernel.app).
        self.authorization_mode_defaulted = False

    def __repr__(self) -> str:
        shown = {k: v for k, v in vars(self).items() if "token" not in k}
        return f"Options({shown!r})"


class ParseResult(msgspec.Struct):
    options: Options
    errors: list[str] = msgspec.field(default_factory=list)
    unknown: list[str] = msgspec.field(default_factory=list)


def build_parser(option_set: OptionSet, prog: str = "kernel serve") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, usage=f"{prog} [flags]", add_help=False, allow_abbrev=False,
                                     formatter_class=_HelpFormatter,
                                     description="Run the API server.")
    parser.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    for plugin, flags in option_set.by_plugin().items():
        group = parser.add_argument_group(f"{plugin} flags")
        for flag in flags:
            default = _show_default(flag)
            help_text = flag.help + (f" (default {default})" if default else "")
            if flag.is_bool:
                group.add_argument(f"--{flag.name}", dest=flag.dest, nargs="?", const="true",
                                   default=None, metavar="", help=help_text)
            elif flag.convert is string_array:  # every occurrence is kept
                names = [f"-{flag.short}"] if flag.short else []
                group.add_argument(*names, f"--{flag.name}", dest=flag.dest, default=None,
                                   action="append", nargs="?", const=_MISSING,
                                   metavar=flag.metavar, help=help_text)
            else:
                # nargs="?": a flag without its value is reported with the other errors
                # instead of argparse exiting ("flag needs an argument", as pflag says).
                names = [f"-{flag.short}"] if flag.short else []
                group.add_argument(*names, f"--{flag.name}", dest=flag.dest, default=None,
                                   nargs="?", const=_MISSING, metavar=flag.metavar,
                                   help=help_text)
    return parser


def _show_default(flag: Flag) -> str:
    """The default as pflag prints it; booleans, numbers and durations always, even when zero
    (``--anonymous-auth`` ... ``(default true)``); an empty string or list means unset: nothing."""
    value = flag.default
    if value is None or value in ("", [], {}):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if flag.convert in (duration, non_negative_duration):
        return format_duration(value)
    if isinstance(value, list):
        return "[" + ",".join(value) + "]"  # pflag prints a stringArray's default the same way
    if isinstance(value, dict):
        return "[" + ",".join(f"{k}={v}" for k, v in value.items()) + "]"
    return f'"{value}"' if flag.convert is str else str(value)  # pflag quotes string flags only


_MISSING = "\0missing"  # the value argparse gives a flag written without one


class _HelpFormatter(argparse.HelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=40, width=100)

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if action.metavar == "":  # a boolean: the flag alone, as pflag shows it (not "--x []")
            return ", ".join(action.option_strings)
        return super()._format_action_invocation(action)

    def _split_lines(self, text: str, width: int) -> list[str]:
        # Never break inside a flag name ("--tls-cert-" / "file").
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _format_args(self, action: argparse.Action, default_metavar: str) -> str:
        if action.const is _MISSING:  # the value is required; nargs="?" only collects the error
            return self._metavar_formatter(action, default_metavar)(1)[0]
        return super()._format_args(action, default_metavar)


def parse(option_set: OptionSet, argv: Sequence[str]) -> ParseResult:
    """Parse ``argv`` into :class:`Options`; conversion errors are collected, not raised."""
    parser = build_parser(option_set)
    namespace, unknown = parser.parse_known_args(list(argv))
    values: dict[str, Any] = {"help": namespace.help}
    explicit: set[str] = set()
    errors: list[str] = []
    for flag in option_set.flags.values():
        raw = getattr(namespace, flag.dest)
        if raw is None:
            values[flag.dest] = flag.default
            continue
        explicit.add(flag.name)
        if flag.convert is string_array:
            values[flag.dest] = [item for item in raw if item is not _MISSING]
            if len(values[flag.dest]) != len(raw):
                errors.append(f"flag needs an argument: --{flag.name}")
            continue
        if raw is _MISSING:
            values[flag.dest] = flag.default
            errors.append(f"flag needs an argument: --{flag.name}")  # pflag's words
            continue
        try:
            values[flag.dest] = flag.convert(raw)
        except ValueError as exc:
            values[flag.dest] = flag.default
            errors.append(f'invalid argument "{raw}" for "--{flag.name}" flag: '
                          f'{_EXPECTED.get(flag.convert) or exc}')
    return ParseResult(Options(values, explicit), errors, unknown)


def unknown_flag_names(unknown: Iterable[str]) -> list[str]:
    return [arg.split("=", 1)[0] for arg in unknown if arg.startswith("-")]


def add_server_run_options(options: OptionSet) -> None:
    """The kernel's own flags, with kube-apiserver's names and defaults where it has them."""
    add = options.add
    add("plugins", default=[], type=string_list,
        help="Plugins to load, in order (authenticators run in this order). Default: all installed; "
             "empty: only the built-ins.")
    add("bind-address", default="0.0.0.0", type=ip_address,
        help="The IP address on which to listen for the --secure-port port. Default 0.0.0.0 (all "
             "interfaces), but 127.0.0.1 when --authorization-mode is left to default to AlwaysAllow.")
    add("advertise-address", default="", type=ip_address,
        help="The IP address on which to advertise the apiserver to members of the cluster (the "
             "kubernetes Service's endpoints). Default: --bind-address, or the host's first "
             "non-loopback address when that is unspecified or loopback.")
    add("secure-port", default=6443, type=port,
        help="The port on which to serve HTTPS with authentication and authorization (0 picks a free port).")
    add("cert-dir", default="/var/run/kubernetes",
        help="The directory where the TLS certs are located; ignored if --tls-cert-file and "
             "--tls-private-key-file are provided.")
    add("tls-cert-file", default="",
        help="File containing the default x509 certificate for HTTPS (CA cert, if any, "
             "concatenated after server cert).")
    add("tls-private-key-file", default="", help="File containing the x509 private key matching --tls-cert-file.")
    add("http2-max-streams-per-connection", default=0, type=non_negative_int,
        help="The limit that the server gives to clients for the maximum number of streams in an "
             "HTTP/2 connection. Zero means kube-apiserver's default, 100.")
    add("goaway-chance", default=0.0, type=float,
        help="To prevent HTTP/2 clients from getting stuck on a single apiserver, randomly close a "
             "connection (GOAWAY). The client's other in-flight requests won't be affected, and the "
             "client will reconnect. This sets the fraction of requests that will be sent a GOAWAY. "
             "Min is 0 (off), Max is .02 (1/50 requests); .001 (1/1000) is a recommended starting point.")
    add("shutdown-delay-duration", default=0.0, type=non_negative_duration,
        help="Time to delay the termination. During that time the server keeps serving requests "
             "normally while /readyz returns failure.")
    add("shutdown-send-retry-after", default=False, type=boolean,
        help="If true the HTTP server keeps listening until in-flight requests drained, answering "
             "new requests with 429 and a Retry-After header meanwhile.")
    add("request-timeout", default=60.0, type=non_negative_duration,
        help="The duration a handler must keep a request open before timing it out; also bounds "
             "the drain of in-flight requests at shutdown.")
    add("max-requests-inflight", default=400, type=non_negative_int,
        help="The maximum number of non-mutating requests in flight at a given time (0: no limit).")
    add("max-mutating-requests-inflight", default=200, type=non_negative_int,
        help="The maximum number of mutating requests in flight at a given time (0: no limit).")
    add("api-audiences", default=[], type=string_list,
        help="Identifiers of the API. The service account token authenticator validates that "
             "tokens used against the API are bound to at least one of these audiences; a "
             "TokenReview without spec.audiences is checked for these. Default: the service "
             "account issuers, when a plugin issues service account tokens.")
    add("anonymous-auth", default=True, type=boolean,
        help="Enables anonymous requests: requests not rejected by another authentication method "
             "get username system:anonymous and group system:unauthenticated.")
    add("authorization-mode", default=["AlwaysAllow"], type=string_list,
        help="Ordered list of plug-ins to do authorization on the secure port. Default: Node,RBAC "
             "(Node only when a plugin provides it) when a selected plugin provides RBAC, else "
             "AlwaysAllow, with a warning.")
    add("authorization-config", default="",
        help="File with Authorization Configuration to configure the authorizer chain "
             "(apiserver.config.k8s.io AuthorizationConfiguration, v1 or v1beta1). This flag is "
             "mutually exclusive with the other --authorization-mode and --authorization-webhook-* "
             "flags.")
    add("enable-admission-plugins", default=[], type=string_list,
        help="Admission plugins to enable in addition to the default-enabled ones, in this order.")
    add("disable-admission-plugins", default=[], type=string_list,
        help="Admission plugins to disable, even if enabled by default.")
    add("storage-backend", default="memory",
        help="The storage backend for persistence. Default: sqlite when a selected plugin "
             "provides it (storage_sqlite), else memory.")
    add("event-ttl", default=3600.0, type=non_negative_duration,
        help="Amount of time to retain events (core events and events.k8s.io), by storage "
             "backends that support it (memory, sqlite, etcd3).")
    add("data-dir", default="/var/lib/kernel",
        help="The directory where an embedded storage backend keeps its files (storage_sqlite: "
             "kernel.db). Default: /var/lib/kernel, or a data directory next to --cert-dir "
             "when that is given (--cert-dir=.kernel/certs: .kernel/data).")
    add("write-kubeconfig", default="",
        help="Write an admin kubeconfig (server URL, CA, loopback token) to this path once serving.")
    _add_process_options(add)


def _add_process_options(add: Callable[..., Any]) -> None:
    """The flags about the server's processes and their logs."""
    add("workers", default=1, type=non_negative_int,
        help="The number of server processes sharing --secure-port (SO_REUSEPORT) and the "
             "storage backend, each with its own watch caches; more than 1 needs a shared "
             "storage backend (--storage-backend=etcd3). A worker that dies once serving is "
             "restarted; one that fails to start stops them all.")
    add("v", short="v", default=0, type=non_negative_int,
        help="number for the log level verbosity (klog's: 2 logs one line per request)")
    add("logging-format", default="text",
        help='Sets the log format. Permitted formats: "json", "text".')


def validate_server_run_options(options: Options) -> list[str]:
    errors = []
    if bool(options.tls_cert_file) != bool(options.tls_private_key_file):
        errors.append("--tls-cert-file: --tls-cert-file and --tls-private-key-file must be given together")
    if options.request_timeout <= 0:
        errors.append("--request-timeout: must be greater than 0")
    if options.logging_format not in ("json", "text"):
        errors.append(f'--logging-format: Unsupported value: "{options.logging_format}": '
                      'supported values: "json", "text"')
    errors += validate_workers(options)
    if not 0 <= options.goaway_chance <= 0.02:  # kube's bound and message
        errors.append("--goaway-chance can not be less than 0 or greater than 0.02")
    if options.authorization_config:
        return errors + authorization_config_conflicts(options)
    modes = options.authorization_mode
    if not modes:
        errors.append("--authorization-mode: at least one authorization mode must be passed")
    if len(set(modes)) != len(modes):
        errors.append(f"--authorization-mode: has mode specified more than once: {','.join(modes)}")
    return errors


#: Backends that several processes can share: each worker's watch caches follow the others'
#: writes through the backend's own watch.
SHARED_STORAGE_BACKENDS = ("etcd3",)


def validate_workers(options: Options) -> list[str]:
    if options.workers < 1:
        return ["--workers: must be at least 1"]
    if options.workers > 1 and options.storage_backend not in SHARED_STORAGE_BACKENDS:
        return [f"--workers > 1 needs a shared storage backend (--storage-backend=etcd3): "
                f"--storage-backend={options.storage_backend} cannot be shared by several processes "
                f"(each worker's watch caches must see the writes of every other)"]
    return []


def authorization_config_conflicts(options: Options) -> list[str]:
    """--authorization-config excludes the legacy flags, as in kube."""
    legacy = [flag for flag in sorted(options.explicit)
              if flag == "authorization-mode" or flag.startswith("authorization-webhook-")]
    if not legacy:
        return []
    return ["--authorization-config can not be specified when --authorization-mode or "
            "--authorization-webhook-* flags are defined"]
