"""APIGroup: what an API group plugin hands the kernel to serve one group-version."""

from __future__ import annotations

from dataclasses import dataclass

from kernel.request import Handler


@dataclass(frozen=True)
class APIGroup:
    """One group-version, served under ``/api/<version>`` (core group) or ``/apis/<group>/<version>``.

    ``handler`` gets every request under that prefix after authentication and authorization.
    """

    group: str
    version: str
    handler: Handler

    @property
    def prefix(self) -> str:
        return f"/api/{self.version}" if self.group == "" else f"/apis/{self.group}/{self.version}"

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version
