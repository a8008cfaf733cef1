"""autoscaling's generated types (``generated/v1.json`` and ``v2.json``, written by ``scripts/generate-api``)."""

from __future__ import annotations

from kernel.apimachinery.apitypes import GeneratedTypes

TYPES = {"v1": GeneratedTypes.beside(__file__, "v1"), "v2": GeneratedTypes.beside(__file__, "v2")}
