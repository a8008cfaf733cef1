"""What the networking kinds share: spec access, status kept from the stored object."""

from __future__ import annotations

import copy

from kernel.registry.resource import Object, Strategy

GROUP, VERSION = "networking.k8s.io", "v1"


def spec_of(obj: Object) -> Object:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


class SpecStrategy(Strategy):
    """Generation counts spec changes; status changes only through /status (when there is one)."""

    track_generation = True
    allow_create_on_update = False
    allow_unconditional_update = True
    has_status = False

    def prepare_for_create(self, obj: Object) -> None:
        if self.has_status:
            obj["status"] = {}

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        if self.has_status:
            if "status" in old:
                obj["status"] = copy.deepcopy(old["status"])
            else:
                obj.pop("status", None)
