"""kapi/metrics.py: cells, families and the text format, written as client_golang
writes kube-apiserver's and read back by prometheus-client's own parser."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kapi import metrics


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (1.0, "1"),
        (0.005, "0.005"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (100000.0, "100000"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (1e9, "1e+09"),
        (60.0, "60"),
        (1.25, "1.25"),
        (-3.5, "-3.5"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
        (float("nan"), "NaN"),
    ],
)
def test_numbers_are_written_as_go_writes_them(value: float, text: str) -> None:
    """strconv.FormatFloat(v, 'g', -1, 64): bucket bounds are label values, so
    ``le="1"`` and ``le="1e+06"`` must be kube's exactly."""
    assert metrics.go_float(value) == text


def test_histogram_buckets_are_cumulative_and_le_is_inclusive() -> None:
    registry = metrics.Registry("test")
    histogram = registry.histogram("h_seconds", "help", ("verb",), buckets=(0.1, 1, 10))
    cell = histogram.labels("GET")
    for v in (0.05, 0.1, 0.5, 1, 5, 100):
        cell.observe(v)
    text = registry.exposition().decode()
    assert 'h_seconds_bucket{le="0.1",verb="GET"} 2\n' in text
    assert 'h_seconds_bucket{le="1",verb="GET"} 4\n' in text
    assert 'h_seconds_bucket{le="10",verb="GET"} 5\n' in text
    assert 'h_seconds_bucket{le="+Inf",verb="GET"} 6\n' in text
    assert 'h_seconds_count{verb="GET"} 6\n' in text
    assert 'h_seconds_sum{verb="GET"} 106.65\n' in text


def test_counters_keep_the_name_they_are_given() -> None:
    """kube's ``apiserver_request_total`` and ``authentication_attempts`` alike."""
    registry = metrics.Registry("test")
    registry.counter("apiserver_request_total", "requests", ("code",)).labels("201").inc()
    registry.counter("authentication_attempts", "attempts", ("result",)).labels("ok").inc(2)
    registry.counter("never_used_total", "no samples: left out, as client_golang does")
    text = registry.exposition().decode()
    assert "# TYPE apiserver_request_total counter\n" in text
    assert 'apiserver_request_total{code="201"} 1\n' in text
    assert (
        "# HELP authentication_attempts attempts\n# TYPE authentication_attempts counter\n" in text
    )
    assert 'authentication_attempts{result="ok"} 2\n' in text
    assert "never_used" not in text
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    assert parsed["apiserver_request"].type == "counter"
    assert parsed["authentication_attempts"].samples[0].value == 2


def test_label_values_are_escaped() -> None:
    registry = metrics.Registry("test")
    registry.gauge("g", "a\\help\nline", ("v",)).labels('a"b\\c\nd').set(1)
    text = registry.exposition().decode()
    assert "# HELP g a\\\\help\\nline\n" in text
    assert 'g{v="a\\"b\\\\c\\nd"} 1\n' in text
    (family,) = [f for f in text_string_to_metric_families(text) if f.name == "g"]
    assert family.samples[0].labels == {"v": 'a"b\\c\nd'}


def test_wrong_label_count_is_refused() -> None:
    registry = metrics.Registry("test")
    with pytest.raises(ValueError, match="2 label values"):
        registry.counter("c_total", "help", ("a", "b")).labels("x")


def test_merge_gives_a_family_several_services_report_one_header() -> None:
    gateway, storage = metrics.Registry("gateway"), metrics.Registry("storage")
    gateway.counter("apiserver_request_total", "r", ("code",)).labels("200").inc()
    storage.counter("etcd_requests_total", "e", ("operation",)).labels("get").inc(3)
    merged = metrics.merge([gateway.exposition(), storage.exposition()]).decode()
    assert merged.count("# TYPE process_cpu_seconds_total counter\n") == 1
    families = {f.name: f for f in text_string_to_metric_families(merged)}
    cpu = families["process_cpu_seconds"].samples
    assert {s.labels["service"] for s in cpu} == {"gateway", "storage"}
    assert families["etcd_requests"].samples[0].value == 3
    assert families["apiserver_request"].samples[0].labels == {"code": "200"}
    names = [line.split()[2] for line in merged.splitlines() if line.startswith("# TYPE")]
    assert len(names) == len(set(names))


def test_functions_are_read_when_scraped() -> None:
    registry = metrics.Registry("test")
    values = {"a": 1.0}
    registry.add(
        metrics.GaugeFunc("seen", "help", ("k",), lambda: [((k,), v) for k, v in values.items()])
    )
    assert 'seen{k="a"} 1\n' in registry.exposition().decode()
    values["b"] = 2.0
    assert 'seen{k="b"} 2\n' in registry.exposition().decode()
