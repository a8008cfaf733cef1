"""events.k8s.io/v1: events, served from the storage of core v1 events and converted."""

from __future__ import annotations

from kernel_api_events.conversion import from_core, to_core
from kernel_api_events.events import event_spec

RESOURCES = [event_spec]

__all__ = ["RESOURCES", "event_spec", "from_core", "to_core"]
