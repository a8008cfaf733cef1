"""``kernel bundle``: one file that runs the kernel and chosen plugins on a machine with only Python.

The bundle is a shiv zipapp: the kernel's and the plugins' distributions and all their
dependencies (compiled ones included) in one ``.pyz``. On first run shiv extracts its
site-packages to a cache directory (``~/.shiv``, or ``$SHIV_ROOT``) since ``.so`` files cannot be
imported from a zip; later runs reuse it. Building needs the package index for dependencies;
running needs no network. The target's ``python3`` must be the builder's minor version, as the
compiled wheels are built for it.

Each distribution is installed from where this environment got it: the local source tree it was
installed from (editable or not, per its ``direct_url.json``), otherwise ``name==version`` from the
package index. pip builds a local project in place (its ``build/`` and ``*.egg-info``), so the
trees are copied first, without VCS, virtualenv and build directories: two bundles of one
checkout at once do not collide, and the checkout is left as it was.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

from kernel.plugins import GROUP as ENTRY_POINT_GROUP

KERNEL_DISTRIBUTION = "kernel"
# Not part of a source tree's build (the kernel's own tree is the repository, .venv included).
_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "venv", ".tox", "build", "dist", "*.egg-info",
                                     "__pycache__", ".pytest_cache", "*.pyz")


class BundleError(Exception):
    pass


def _plugin_distributions() -> dict[str, metadata.Distribution]:
    """Installed plugin name → the distribution that provides it."""
    found: dict[str, metadata.Distribution] = {}
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.dist is not None:
            found.setdefault(entry_point.name, entry_point.dist)
    return found


def source_tree(distribution: metadata.Distribution) -> str | None:
    """The local directory this distribution was installed from, if any."""
    direct_url = distribution.read_text("direct_url.json")
    if direct_url:
        info = json.loads(direct_url)
        url = urlparse(info.get("url", ""))
        if url.scheme == "file" and "dir_info" in info and Path(unquote(url.path)).is_dir():
            return unquote(url.path)
    return None


def requirement(distribution: metadata.Distribution) -> str:
    """What pip installs this distribution from: its local source tree, else name==version."""
    return source_tree(distribution) or f"{distribution.metadata['Name']}=={distribution.version}"


def _local_dependencies(distribution: metadata.Distribution) -> list[metadata.Distribution]:
    """The installed dependencies that came from local source trees (another plugin, e.g.
    authz_rbac's api_rbac): the package index does not have them, so pip is given their trees."""
    found = []
    for line in distribution.requires or ():
        if "extra ==" in line:
            continue
        name = re.match(r"[A-Za-z0-9._-]+", line)
        try:
            dependency = metadata.distribution(name.group(0)) if name else None
        except metadata.PackageNotFoundError:
            continue
        if dependency is not None and source_tree(dependency):
            found.append(dependency)
    return found


def requirements(plugins: Sequence[str] | None) -> list[str]:
    """The kernel's and the named plugins' distributions (every installed plugin for ``None``)."""
    installed = _plugin_distributions()
    names = list(installed) if plugins is None else list(plugins)
    unknown = [name for name in names if name not in installed]
    if unknown:
        raise BundleError(f"unknown plugins {', '.join(unknown)}; installed: "
                          f"{', '.join(sorted(installed))}")
    distributions = {KERNEL_DISTRIBUTION: metadata.distribution(KERNEL_DISTRIBUTION)}
    pending = [installed[name] for name in names]
    while pending:
        distribution = pending.pop()
        if distribution.metadata["Name"] not in distributions:
            distributions[distribution.metadata["Name"]] = distribution
            pending.extend(_local_dependencies(distribution))
    return [requirement(distribution) for distribution in distributions.values()]


def build(output: Path, plugins: Sequence[str] | None, python: str = "/usr/bin/env python3",
          quiet: bool = True) -> None:
    if importlib.util.find_spec("shiv") is None:
        raise BundleError("kernel bundle needs shiv: pip install 'kernel[bundle]' (or shiv)")
    wanted = requirements(plugins)
    pip_args = ["--disable-pip-version-check"] + (["--quiet"] if quiet else [])
    if importlib.util.find_spec("setuptools") is not None:
        # the local trees build with this environment's setuptools: no build environments to make
        pip_args.append("--no-build-isolation")
    with tempfile.TemporaryDirectory(prefix="kernel-bundle-") as sources:
        copies = [str(copy_source_tree(Path(item), Path(sources) / str(i))) if Path(item).is_dir()
                  else item for i, item in enumerate(wanted)]
        command = [sys.executable, "-m", "shiv", "--output-file", str(output),
                   "--entry-point", "kernel.command:main", "--python", python, "--compressed",
                   "--reproducible", *pip_args, *copies]
        result = subprocess.run(command, capture_output=quiet, text=True)
    if result.returncode != 0:
        raise BundleError(f"building the bundle failed:\n{result.stdout or ''}{result.stderr or ''}")


def copy_source_tree(tree: Path, parent: Path) -> Path:
    """A copy of the source tree ``tree`` under ``parent`` (keeping its name), for pip to build:
    pip builds a local project in place (``build/``, ``*.egg-info``), so two builds of one tree
    at once would share those, and the tree would be written to."""
    copy = parent / tree.name
    shutil.copytree(tree, copy, ignore=_NOT_SOURCE, symlinks=True)
    return copy


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kernel bundle",
        description="Build a single-file edge artifact (a zipapp) of the kernel and plugins; "
                    "run it with `python3 kernel.pyz serve ...`.")
    parser.add_argument("-o", "--output", default="kernel.pyz", help="file to write (default kernel.pyz)")
    parser.add_argument("--plugins", default=None,
                        help="comma-separated plugins to include (default: every installed plugin)")
    parser.add_argument("--python", default="/usr/bin/env python3",
                        help="interpreter line of the bundle (default /usr/bin/env python3)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show pip's output")
    return parser


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    plugins = None if args.plugins is None else [p for p in args.plugins.split(",") if p]
    output = Path(args.output)
    try:
        build(output, plugins, args.python, quiet=not args.verbose)
    except BundleError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {output} ({output.stat().st_size / (1 << 20):.1f} MiB)")
    return 0
