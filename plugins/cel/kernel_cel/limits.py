"""kube's CEL cost limits (k8s.io/apiserver/pkg/apis/cel/config.go, apiextensions validation),
and the actual sizes of values the runtime limit uses."""

from __future__ import annotations

from typing import Any

PER_CALL_LIMIT = 1_000_000  # celconfig.PerCallLimit: any one evaluation
RUNTIME_CEL_COST_BUDGET = 10_000_000  # celconfig.RuntimeCELCostBudget: all rules of one CRD object
STATIC_ESTIMATED_COST_LIMIT = 10_000_000  # one CRD rule's estimate (times its cardinality)
STATIC_ESTIMATED_CRD_COST_LIMIT = 100_000_000  # all rules of one CRD schema
MAX_REQUEST_SIZE_BYTES = 3 * 1024 * 1024
COST_EXCEEDED = "operation cancelled: actual cost limit exceeded"


def actual_size(value: Any, steps: list[str] | tuple[str, ...]) -> int | None:
    """The largest size of the values at ``steps`` below ``value`` (``@items``: every list item,
    ``@values``/``@keys``: every map value/key); None when nothing there has a size."""
    if not steps:
        return len(value) if isinstance(value, (str, bytes, list, dict)) else None
    step, rest = steps[0], steps[1:]
    # a comprehension over a dyn value is a "@keys" path whether the value is a list or a map
    if step in ("@items", "@keys", "@values") and isinstance(value, list):
        children = value
    elif step in ("@items", "@keys") and isinstance(value, dict):
        children = list(value)
    elif step == "@values" and isinstance(value, dict):
        children = list(value.values())
    elif step == "@indices":
        return None
    else:
        children = [value[step]] if isinstance(value, dict) and step in value else []
    sizes = [s for s in (actual_size(c, rest) for c in children) if s is not None]
    return max(sizes, default=0 if children == [] else None)
