"""Plugin discovery, selection, ordering and requirement checks.

Plugins are entry points of the ``kernel.plugins`` group; the entry-point name is the plugin name.
Built-ins are the entry points published by the ``kernel`` distribution itself: they are always
loaded. ``--plugins`` selects and orders the others (default: all installed, by name).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from types import FunctionType, MethodType, ModuleType
from typing import Any, TypeVar

import msgspec
import pluggy

from kernel import hookspecs
from kernel.distributions import EntryPoint, entry_points

GROUP = "kernel.plugins"
KERNEL_DIST = "kernel"


F = TypeVar("F", bound=Callable[..., Any])


def configured_by(*flags: str) -> Callable[[F], F]:
    """Mark a component factory whose component exists only when one of ``flags`` is set.

    The kernel does not call it when none is set, and names it as not configured in the startup
    log and in ``kernel plugins`` (which builds nothing, so it learns this only from the mark).
    """
    def mark(factory: F) -> F:
        factory.configured_by = tuple(flag.lstrip("-") for flag in flags)  # type: ignore[attr-defined]
        return factory
    return mark


def unconfigured_reason(factory: Any, options: Any) -> str | None:
    """Why a factory marked with :func:`configured_by` is left out (``needs --x``), else None."""
    flags = getattr(factory, "configured_by", None)
    if flags is None or any(getattr(options, f.replace("-", "_"), None) for f in flags):
        return None
    return "needs " + " or ".join(f"--{flag}" for flag in flags)


def describe_unconfigured(left_out: Sequence[tuple[str, str | None]]) -> str:
    """``oidc (needs --oidc-issuer-url or --authentication-config), x`` for the log and the CLI."""
    return ", ".join(f"{name} ({reason})" if reason else name for name, reason in left_out)


class PluginError(Exception):
    """A plugin selection that cannot be loaded; the message says what to do."""


class PluginInfo(msgspec.Struct, frozen=True):
    name: str
    distribution: str
    version: str
    module: ModuleType

    @property
    def builtin(self) -> bool:
        return self.distribution == KERNEL_DIST


def installed() -> dict[str, EntryPoint]:
    """Installed plugins by name: built-ins first, then the rest by name."""
    eps = entry_points(GROUP)
    found = {ep.name: ep for ep in eps}
    return dict(sorted(found.items(), key=lambda item: (not _is_builtin(item[1]), item[0])))


@functools.cache
def _distribution(ep: EntryPoint) -> tuple[str, str]:
    """(name, version) of the distribution holding ``ep``. Cached: the METADATA file is read
    again on every ``.metadata`` (~60 ms of startup with every plugin installed when asked per
    plugin several times)."""
    if ep.dist is None:
        return "?", "?"
    metadata = ep.dist.metadata
    return metadata.get("Name", "?"), metadata.get("Version", "?")


def _is_builtin(ep: EntryPoint) -> bool:
    return _distribution(ep)[0] == KERNEL_DIST


def _load(ep: EntryPoint) -> PluginInfo:
    module = ep.load()
    name, version = _distribution(ep)
    return PluginInfo(ep.name, name, version, module)


def select(requested: Sequence[str] | None) -> list[PluginInfo]:
    """Load the built-ins plus ``requested`` (all installed when None), in that order."""
    available = installed()
    if requested is None:
        requested = [name for name, ep in available.items() if not _is_builtin(ep)]
    unknown = [name for name in requested if name not in available]
    if unknown:
        raise PluginError(
            f"--plugins: unknown plugin(s) {', '.join(unknown)}; installed: {', '.join(available)}")
    if len(set(requested)) != len(requested):
        raise PluginError(f"--plugins: a plugin is named more than once: {','.join(requested)}")
    names = [n for n, ep in available.items() if _is_builtin(ep)]
    names += [n for n in requested if n not in names]
    return [_load(available[name]) for name in names]


class _HookManager(pluggy.PluginManager):
    """pluggy's manager, looking for a module plugin's hook implementations in the module's own
    namespace. pluggy looks up every name a plugin holds (its imports too) with
    ``inspect.getattr_static``, so that no property is evaluated; a module's ``__dict__`` holds
    no property to evaluate, and reading it is ten times cheaper (about 900 names over the
    plugins at startup)."""

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> pluggy.HookimplOpts | None:
        if type(plugin) is not ModuleType:
            return super().parse_hookimpl_opts(plugin, name)
        function = plugin.__dict__.get(name)
        if not isinstance(function, (FunctionType, MethodType)):
            return None  # pluggy's rule: plain functions and bound methods only
        opts = getattr(function, "kernel_impl", None)  # a bound method's: its function's
        return opts if isinstance(opts, dict) else None  # type: ignore[return-value]


class PluginManager:
    """A pluggy manager over the selected plugins that remembers which plugin gave what."""

    def __init__(self, plugins: Iterable[PluginInfo]) -> None:
        self.plugins = list(plugins)
        self.pm = _HookManager("kernel")
        self.pm.add_hookspecs(hookspecs)
        for info in self.plugins:
            self.pm.register(info.module, name=info.name)
        self.pm.check_pending()

    @property
    def names(self) -> list[str]:
        return [info.name for info in self.plugins]

    def call_each(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call ``hook`` on every plugin that implements it, in selection order.

        Returns ``(plugin name, result)`` pairs, so chains can be ordered and attributed.
        """
        impls = {impl.plugin_name: impl for impl in getattr(self.pm.hook, hook).get_hookimpls()}
        results = []
        for name in self.names:
            impl = impls.get(name)
            if impl is not None:
                args = {arg: kwargs[arg] for arg in impl.argnames}
                results.append((name, impl.function(**args)))
        return results

    def components(self, hook: str) -> dict[str, tuple[str, Any]]:
        """Merge a component hook's ``{name: factory}`` results: ``{name: (plugin, factory)}``."""
        merged: dict[str, tuple[str, Any]] = {}
        for plugin, result in self.call_each(hook):
            for name, factory in (result or {}).items():
                if name in merged:
                    raise PluginError(f"{hook}: {name!r} is provided by both {merged[name][0]} and {plugin}")
                merged[name] = (plugin, factory)
        return merged

    def missing_requirements(self) -> list[str]:
        errors = []
        for plugin, required in self.call_each("kernel_requires"):
            for need in required or ():
                if need not in self.names:
                    errors.append(f"--plugins: plugin {plugin} requires plugin {need}, which is not "
                                  f"selected{'' if need in installed() else ' (not installed)'}")
        return errors


def provider_of_flag(flag: str) -> str | None:
    """Which installed plugin defines ``--flag`` (used to explain an unknown flag)."""
    from kernel.server.options import OptionSet

    for name, ep in installed().items():
        try:
            module = ep.load()
        except Exception:  # a broken plugin must not hide the user's real error
            continue
        add = getattr(module, "kernel_add_options", None)
        if add is None:
            continue
        options = OptionSet()
        add(options=options.for_plugin(name))
        if flag.lstrip("-") in options.flags:
            return name
    return None


def provider_of_component(hook: str, component: str) -> str | None:
    """Which installed plugin provides ``component`` through ``hook`` (selected or not)."""
    for name, ep in installed().items():
        try:
            func = getattr(ep.load(), hook, None)
        except Exception:
            continue
        if func is not None and component in (func() or {}):
            return name
    return None
