"""Prometheus metrics with kube-apiserver's names, on prometheus-client's data model.

Each service keeps its own ``Registry`` (several services share a process in tests);
the gateway reads the others' over gRPC (``kapi.metrics_service``) and serves them all,
merged, at ``GET /metrics``.

Why vectors of plain cells instead of prometheus-client's ``Counter`` and ``Histogram``
on the hot path: those take a lock per update, a histogram walks its buckets in Python,
and ``labels()`` costs about 1 µs — 5 to 8 µs for the values one request records, a few
per cent of the ~0.25 ms of gateway CPU a request costs. A cell here is a slot updated
in place (~0.1 µs, a histogram's bucket found by ``bisect``), from the service's event
loop only, so no lock is needed; the vector turns its cells into prometheus-client
metric families when scraped. Callers look a cell up once per label values and keep it.

The text is written here rather than by ``generate_latest``: kube names some counters
without ``_total`` (``authentication_attempts``, ``authenticated_user_requests``),
which prometheus-client's writer would rename, and Go writes a bucket bound of 1 as
``le="1"``, not ``"1.0"``. Families without samples are left out, as client_golang does.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal

from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.samples import Sample

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# kube-apiserver's SLO buckets (apiserver_request_duration_seconds,
# etcd_request_duration_seconds).
REQUEST_DURATION_BUCKETS = (
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3,
    4, 5, 6, 8, 10, 15, 20, 30, 45, 60,
)  # fmt: skip


def exponential_buckets(start: float, factor: float, count: int) -> tuple[float, ...]:
    """client_golang's ``ExponentialBuckets``."""
    return tuple(start * factor**i for i in range(count))


class Cell:
    """One counter or gauge value."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount

    def set(self, value: float) -> None:
        self.value = value


class HistogramCell:
    """One histogram: a count per bucket (not cumulative) and the sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one: +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # The first bound >= value: Prometheus buckets are "less than or equal".
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value


class _Vector:
    kind = ""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)

    def describe(self) -> list[Metric]:
        return [Metric(self.name, self.documentation, self.kind)]

    def _labels(self, values: tuple[str, ...]) -> dict[str, str]:
        return dict(zip(self.labelnames, values, strict=True))


class CounterVec(_Vector):
    """Counters by label values; ``name`` is the exposed name, as given (kube's
    ``apiserver_request_total`` and ``authentication_attempts`` alike)."""

    kind = "counter"

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, documentation, labelnames)
        self._cells: dict[tuple[str, ...], Cell] = {}

    def labels(self, *values: str) -> Cell:
        """The cell of these label values (created at 0); look it up once and keep it."""
        cell = self._cells.get(values)
        if cell is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name}: {len(self.labelnames)} label values expected")
            cell = self._cells[values] = Cell()
        return cell

    def collect(self) -> list[Metric]:
        family = Metric(self.name, self.documentation, self.kind)
        for values, cell in list(self._cells.items()):
            family.samples.append(Sample(self.name, self._labels(values), cell.value))
        return [family]


class GaugeVec(CounterVec):
    kind = "gauge"

    def remove(self, *values: str) -> None:
        self._cells.pop(values, None)


class HistogramVec(_Vector):
    kind = "histogram"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float],
    ) -> None:
        super().__init__(name, documentation, labelnames)
        self.buckets = tuple(float(b) for b in buckets)
        if list(self.buckets) != sorted(self.buckets) or math.inf in self.buckets:
            raise ValueError(f"{name}: buckets must be finite and sorted")
        self._cells: dict[tuple[str, ...], HistogramCell] = {}

    def labels(self, *values: str) -> HistogramCell:
        cell = self._cells.get(values)
        if cell is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name}: {len(self.labelnames)} label values expected")
            cell = self._cells[values] = HistogramCell(self.buckets)
        return cell

    def collect(self) -> list[Metric]:
        family = Metric(self.name, self.documentation, self.kind)
        bounds = [go_float(b) for b in self.buckets] + ["+Inf"]
        for values, cell in list(self._cells.items()):
            labels = self._labels(values)
            total = 0
            for bound, count in zip(bounds, list(cell.counts), strict=True):
                total += count
                family.samples.append(Sample(f"{self.name}_bucket", {**labels, "le": bound}, total))
            family.samples.append(Sample(f"{self.name}_sum", labels, cell.sum))
            family.samples.append(Sample(f"{self.name}_count", labels, total))
        return [family]


class GaugeFunc(_Vector):
    """A gauge family read when scraped: ``read()`` gives (label values, value) pairs."""

    kind = "gauge"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        read: Callable[[], Iterable[tuple[tuple[str, ...], float]]],
    ) -> None:
        super().__init__(name, documentation, labelnames)
        self._read = read

    def collect(self) -> list[Metric]:
        family = Metric(self.name, self.documentation, self.kind)
        for values, value in self._read():
            family.samples.append(Sample(self.name, self._labels(values), float(value)))
        return [family]


class CounterFunc(GaugeFunc):
    """A counter family read when scraped (from counts a domain object keeps itself)."""

    kind = "counter"


class _ServiceLabelled:
    """A runtime collector's families with ``service`` added to every sample: every kapi
    process reports ``process_cpu_seconds_total``, and the gateway serves them all."""

    def __init__(self, collector: Collector, service: str) -> None:
        self._collector = collector
        self._service = service

    def collect(self) -> Iterator[Metric]:
        for family in self._collector.collect():
            labelled = Metric(family.name, family.documentation, family.type, family.unit)
            labelled.samples = [
                s._replace(labels={**s.labels, "service": self._service}) for s in family.samples
            ]
            yield labelled


class Registry:
    """One service's metrics: its vectors, and its process's runtime metrics."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._registry = CollectorRegistry(auto_describe=False)
        for runtime in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self._registry.register(_ServiceLabelled(runtime, service))

    def add(self, collector: Collector) -> None:
        self._registry.register(collector)

    def counter(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> CounterVec:
        vector = CounterVec(name, documentation, labelnames)
        self.add(vector)
        return vector

    def gauge(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> GaugeVec:
        vector = GaugeVec(name, documentation, labelnames)
        self.add(vector)
        return vector

    def histogram(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float],
    ) -> HistogramVec:
        vector = HistogramVec(name, documentation, labelnames, buckets=buckets)
        self.add(vector)
        return vector

    def families(self) -> list[Metric]:
        return list(self._registry.collect())

    def exposition(self) -> bytes:
        return exposition(self.families())


def go_float(value: float) -> str:
    """A number as Go's ``strconv.FormatFloat(v, 'g', -1, 64)`` writes it (client_golang
    writes values and bucket bounds so): the shortest digits, in exponent form when the
    exponent is below -4 or 6 and over: ``1``, ``0.005``, ``100000``, ``1e+06``, ``+Inf``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    if not digits:
        return "-0" if sign else "0"
    exponent += len(digit_tuple) - len(digits)  # value = digits * 10**exponent
    point = len(digits) + exponent  # where the decimal point falls in digits
    minus = "-" if sign else ""
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{minus}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{minus}{digits}{'0' * (point - len(digits))}"
    return f"{minus}{digits[:point]}.{digits[point:]}"


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


def _escape_value(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _sample_line(sample: Sample) -> str:
    labels = ""
    if sample.labels:
        labels = (
            "{"
            + ",".join(f'{k}="{_escape_value(v)}"' for k, v in sorted(sample.labels.items()))
            + "}"
        )
    return f"{sample.name}{labels} {go_float(sample.value)}\n"


def _exposed_name(family: Metric) -> str:
    """The name a family's HELP and TYPE lines carry: a counter's samples' own name
    (prometheus-client's collectors name the family without ``_total``)."""
    if family.type == "counter" and family.samples:
        return family.samples[0].name
    return family.name


def exposition(families: Iterable[Metric]) -> bytes:
    """The Prometheus text format 0.0.4 of ``families`` (those with samples)."""
    out: list[str] = []
    for family in families:
        if not family.samples:
            continue
        name = _exposed_name(family)
        kind = {"unknown": "untyped", "info": "gauge", "stateset": "gauge"}.get(
            family.type, family.type
        )
        out.append(f"# HELP {name} {_escape_help(family.documentation)}\n")
        out.append(f"# TYPE {name} {kind}\n")
        out.extend(_sample_line(sample) for sample in family.samples)
    return "".join(out).encode()


def merge(texts: Iterable[bytes]) -> bytes:
    """Several expositions as one: a family several of them carry (each service's
    ``process_*``, told apart by their ``service`` label) gets one HELP and TYPE and
    every sample, in the order first seen. Expects what ``exposition`` writes."""
    order: list[str] = []
    headers: dict[str, list[str]] = {}
    samples: dict[str, list[str]] = {}
    for text in texts:
        current = ""
        for line in text.decode().splitlines(keepends=True):
            if not line.strip():
                continue
            if line.startswith("# HELP ") or line.startswith("# TYPE "):
                name = line.split(" ", 3)[2].rstrip("\n")
                if name not in headers:
                    order.append(name)
                    headers[name], samples[name] = [], []
                if not any(h.startswith(line[:7]) for h in headers[name]):
                    headers[name].append(line)  # one HELP and one TYPE per family
                current = name
                continue
            if line.startswith("#"):
                continue
            if not current:  # a sample before any header: its own untyped family
                current = line.split("{", 1)[0].split(" ", 1)[0]
                if current not in headers:
                    order.append(current)
                    headers[current], samples[current] = [], []
            samples[current].append(line if line.endswith("\n") else line + "\n")
    return "".join("".join(headers[n]) + "".join(samples[n]) for n in order).encode()
