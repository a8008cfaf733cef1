"""The autoscaling API group: horizontalpodautoscalers at autoscaling/v2 (stored) and
autoscaling/v1 (converted by ``conversion``, served from the same store)."""

from __future__ import annotations

from kernel_api_autoscaling.hpa import hpa_v1_spec, hpa_v2_spec

__all__ = ["hpa_v1_spec", "hpa_v2_spec"]
