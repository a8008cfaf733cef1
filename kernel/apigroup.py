"""APIGroup: what an API group plugin hands the kernel to serve one group-version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kernel.apimachinery.resource import ResourceSpec
from kernel.request import Handler


@dataclass(frozen=True)
class APIGroup:
    """One group-version, served under ``/api/<version>`` (core group) or ``/apis/<group>/<version>``.

    ``resources`` are served by the kernel's generic REST machinery (and appear in discovery
    and OpenAPI). A group that needs custom serving gives a ``handler`` instead, which gets every
    request under the prefix after authentication and authorization.
    """

    group: str
    version: str
    resources: Sequence[ResourceSpec] = ()
    handler: Handler | None = None

    @property
    def prefix(self) -> str:
        return f"/api/{self.version}" if self.group == "" else f"/apis/{self.group}/{self.version}"

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version
