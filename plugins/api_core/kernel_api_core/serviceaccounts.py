"""serviceaccounts (v1 ServiceAccount): the Name and Age columns kubectl shows."""

from __future__ import annotations

from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import ResourceSpec
from kernel_api_core._generic import SpecStatusStrategy
from kernel_api_core.types import CORE_V1

KIND = "ServiceAccount"
DESCRIPTION = ("ServiceAccount binds together: * a name, understood by users, and perhaps by peripheral "
               "systems, for an identity * a principal that can be authenticated and authorized * a set "
               "of secrets")

serviceaccount_spec = ResourceSpec(
    group="", version="v1", kind=KIND, plural="serviceaccounts", singular="serviceaccount", namespaced=True,
    **CORE_V1.spec_fields(KIND),
    short_names=("sa",),
    strategy=SpecStatusStrategy(has_status=False),
    table_columns=(NAME_COLUMN, AGE_COLUMN),
    description=DESCRIPTION,
)
