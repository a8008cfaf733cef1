"""The kernel's own labelled metric series (component-base's CounterVec, GaugeVec, HistogramVec),
kept as plain floats and handed to prometheus_client only when ``/metrics`` is scraped.

Why not prometheus_client's Counter/Gauge/Histogram here: importing any part of
prometheus_client runs its package ``__init__``, which imports its exposition module and with it
urllib.request, http.server, wsgiref, socketserver, gzip, html and most of ``email`` (~1.5 MB of
code an idle server never runs). The kernel records on every request, so those classes would be
imported at startup; these series are not, and prometheus_client (its families, registry and
text/OpenMetrics encoders) is imported by the first scrape. Each ``family()`` yields the samples
prometheus_client's own classes yield for the same observations (names, label order, float
values, bucket order, ``_count`` before ``_sum``, no ``_created``), so ``/metrics`` is unchanged.

Updated from the server's trio thread only (requests, storage calls), so no locks.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client.core import Metric

INF = float("inf")


class Value:
    """One series of a counter or gauge."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount


class Buckets:
    """One series of a histogram: per-bucket counts (not cumulative) and the sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0.0] * len(bounds)
        self.sum = 0.0

    def observe(self, amount: float) -> None:
        self.sum += amount
        self.counts[bisect_left(self.bounds, amount)] += 1.0  # the first bound >= amount


class _Vec:
    kind = ""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, tuple(labelnames)
        self.series: dict[tuple[str, ...], Value | Buckets] = {}  # in creation order, as exported

    def labels(self, *values: str) -> Value:
        found = self.series.get(values)
        if found is None:
            found = self.series[values] = self._new()
        return found  # type: ignore[return-value]

    def _new(self) -> Value | Buckets:
        return Value()

    #: The prometheus_client.core family the series are exported as (a counter's or a gauge's).
    family_type = ""

    def family(self) -> Metric:
        from prometheus_client import core
        family = getattr(core, self.family_type)(self.name, self.documentation,
                                                 labels=self.labelnames)
        for values, series in self.series.items():
            family.add_metric(values, series.value)  # type: ignore[union-attr]
        return family


class CounterVec(_Vec):
    """A labelled counter: ``name`` without ``_total``, as prometheus_client's Counter takes it."""

    family_type = "CounterMetricFamily"


class GaugeVec(_Vec):
    family_type = "GaugeMetricFamily"


class HistogramVec(_Vec):
    def __init__(self, name: str, documentation: str, labelnames: Sequence[str],
                 buckets: Sequence[float]) -> None:
        super().__init__(name, documentation, labelnames)
        bounds = [float(bound) for bound in buckets]
        if bounds[-1] != INF:
            bounds.append(INF)
        self.bounds = tuple(bounds)

    def labels(self, *values: str) -> Buckets:  # type: ignore[override]
        return super().labels(*values)  # type: ignore[return-value]

    def _new(self) -> Buckets:
        return Buckets(self.bounds)

    def family(self) -> Metric:
        from prometheus_client.core import HistogramMetricFamily
        from prometheus_client.utils import floatToGoString
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        les = [floatToGoString(bound) for bound in self.bounds]
        for values, series in self.series.items():
            cumulative, acc = [], 0.0
            for le, count in zip(les, series.counts):  # type: ignore[union-attr]
                acc += count
                cumulative.append((le, acc))
            family.add_metric(values, cumulative, series.sum)  # type: ignore[union-attr]
        return family
