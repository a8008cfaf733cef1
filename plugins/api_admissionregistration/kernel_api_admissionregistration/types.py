"""This group's generated types (``generated/v1.json``, written by ``scripts/generate-api``)."""

from __future__ import annotations

from kernel.apimachinery.apitypes import GeneratedTypes

TYPES = GeneratedTypes.beside(__file__, "v1")
