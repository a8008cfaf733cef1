"""/version: kube's version.Info. kubectl picks its own version from gitVersion's minor."""

from __future__ import annotations

import platform
import sys

from kernel import __version__

KUBE_VERSION = "v1.32.4"


def version_info() -> dict[str, str]:
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {
        "major": "1",
        "minor": "32",
        "gitVersion": f"{KUBE_VERSION}+kernel.{__version__}",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": f"python{sys.version.split()[0]}",
        "compiler": sys.implementation.name,
        "platform": f"{sys.platform}/{machine}",
    }
