"""The strategy most core/v1 kinds share: defaults, a status reset on create and kept on update."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from kernel.registry.resource import Object, StatusStrategy, Strategy
from kernel_api_core import _core

Defaulter = Callable[[Object], None]
Validator = Callable[[Object], list[Any]]


class SpecStatusStrategy(Strategy):
    """``status`` is reset to ``initial_status`` on create (None: left as sent) and carried over on
    updates of the main resource; ``defaults`` runs on every write (kube defaults every body)."""

    allow_create_on_update = False
    allow_unconditional_update = True

    def __init__(self, *, defaults: Defaulter | None = None, validator: Validator | None = None,
                 initial_status: Mapping[str, Any] | None = None, has_status: bool = True,
                 selectors: Callable[[Object], Mapping[str, str]] | None = None,
                 track_generation: bool = False) -> None:
        self.defaults, self.validator = defaults, validator
        self.initial_status, self.has_status = initial_status, has_status
        self.selectors = selectors
        self.track_generation = track_generation

    def prepare_for_create(self, obj: Object) -> None:
        if self.has_status and self.initial_status is not None:
            obj["status"] = copy.deepcopy(dict(self.initial_status))
        if self.defaults:
            self.defaults(obj)

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        if self.has_status:
            _core.carry(obj, old, "status")
        if self.defaults:
            self.defaults(obj)

    def validate(self, obj: Object) -> list[Any]:
        return self.validator(obj) if self.validator else []

    def field_selectors(self, obj: Object) -> Mapping[str, str]:
        return self.selectors(obj) if self.selectors else {}

    def status_strategy(self) -> StatusStrategy:
        """The /status strategy, with the same selectable fields."""
        selectors = self.selectors

        class _Status(StatusStrategy):
            def field_selectors(self, obj: Object) -> Mapping[str, str]:
                return selectors(obj) if selectors else {}

        return _Status()
