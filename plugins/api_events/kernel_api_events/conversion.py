"""core/v1 Event ↔ events.k8s.io/v1 Event (kube's pkg/apis/events/v1 conversion).

kube keeps one Event in storage, in the core v1 shape; events.k8s.io/v1 renames some fields and
marks the legacy ones deprecated. Fields present on one side are carried to the other, absent
ones stay absent, so a round trip gives back the same object.
"""

from __future__ import annotations

import copy
from typing import Any

Object = dict[str, Any]

#: events.k8s.io/v1 field -> core v1 field, where the names differ
RENAMED = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
#: the same name in both
SHARED = ("metadata", "related", "reason", "type", "action", "reportingInstance", "eventTime", "series")


def _carry(source: Object, names: dict[str, str]) -> Object:
    return {to: copy.deepcopy(source[frm]) for frm, to in names.items() if frm in source}


def to_core(event: Object) -> Object:
    """An events.k8s.io/v1 Event as the core v1 Event kube stores."""
    names = {**{k: k for k in SHARED}, **RENAMED}
    return {"apiVersion": "v1", "kind": "Event", **_carry(event, names)}


def from_core(event: Object) -> Object:
    """A stored core v1 Event as events.k8s.io/v1 shows it."""
    names = {**{k: k for k in SHARED}, **{core: new for new, core in RENAMED.items()}}
    return {"apiVersion": "events.k8s.io/v1", "kind": "Event", **_carry(event, names)}
