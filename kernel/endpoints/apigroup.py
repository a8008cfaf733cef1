"""APIGroup: what an API group plugin hands the kernel to serve one group-version."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from kernel.registry.resource import ResourceSpec
from kernel.endpoints.request import Handler


class APIGroup(msgspec.Struct, frozen=True):
    """One group-version, served under ``/api/<version>`` (core group) or ``/apis/<group>/<version>``.

    ``resources`` are served by the kernel's generic REST machinery (and appear in discovery
    and OpenAPI). A group that needs custom serving gives a ``handler`` instead, which gets every
    request under the prefix after authentication and authorization.

    ``storage`` is kube's REST storage map for resources the generic registry must not back:
    by plural, an object with the resource's ``spec`` and the Store methods its verbs need, e.g.
    a create-only virtual resource (TokenReview, SelfSubjectReview) has
    ``async create(namespace, obj, user, *, dry_run, options) -> object`` (``options``: the
    request's metav1 CreateOptions object, as the generic registry's ``create`` takes it). The generic handlers still
    decode, validate fields and encode its requests; nothing is stored or watched for it.
    """

    group: str
    version: str
    resources: Sequence[ResourceSpec] = ()
    handler: Handler | None = None
    storage: Mapping[str, Any] = msgspec.field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"/api/{self.version}" if self.group == "" else f"/apis/{self.group}/{self.version}"

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version
