"""The horizontal pod autoscaler's arithmetic: replica_calculator's cases (kube's
replica_calculator_test.go: scale up, unready pods, scale down, tolerance, missing
metrics) and the normalization of a recommendation (horizontal.go: stabilization, the
default scale-up limit, min/max, behaviors' policies) with their conditions."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from services.controllers import horizontal
from services.controllers.replica_calculator import MetricError, replicas_for

Obj = dict[str, Any]


def pod(name: str, *, ready: bool = True, phase: str = "Running", cpu: str = "1") -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]},
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def usage(**milli: int) -> dict[str, Fraction]:
    return {name: Fraction(value) for name, value in milli.items()}


def test_scale_up() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    found = replicas_for(3, pods, usage(a=300, b=500, c=700), "cpu", target_utilization=30)
    assert (found.replicas, found.utilization, found.average) == (5, 50, 500)


def test_scale_up_with_an_unready_pod_counts_it_as_idle() -> None:
    pods = [pod("a", ready=False), pod("b"), pod("c")]
    found = replicas_for(3, pods, usage(a=300, b=500, c=700), "cpu", target_utilization=30)
    assert (found.replicas, found.utilization) == (4, 60)


def test_scale_down() -> None:
    pods = [pod(n) for n in "abcde"]
    metrics = usage(a=100, b=300, c=500, d=250, e=250)
    found = replicas_for(5, pods, metrics, "cpu", target_utilization=50)
    assert (found.replicas, found.utilization) == (3, 28)


def test_within_tolerance_nothing_changes() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    metrics = usage(a=1010, b=1030, c=1020)
    assert replicas_for(3, pods, metrics, "cpu", target_utilization=100).replicas == 3


def test_a_missing_metric_counts_as_its_whole_request_on_a_scale_down() -> None:
    pods = [pod(n) for n in "abcd"]
    found = replicas_for(4, pods, usage(a=100, b=100, c=100), "cpu", target_utilization=50)
    assert (found.replicas, found.utilization) == (3, 10)  # 1300/4000 = 32% of 50%


def test_a_missing_metric_that_would_reverse_the_direction_keeps_the_replicas() -> None:
    # Ready pods at 60% of a 50% target; the missing one, assumed idle, brings it to 40%.
    pods = [pod("a"), pod("b"), pod("c")]
    assert replicas_for(3, pods, usage(a=600, b=600), "cpu", target_utilization=50).replicas == 3


def test_average_value_targets_thousandths_per_pod() -> None:
    pods = [pod("a"), pod("b")]
    found = replicas_for(2, pods, usage(a=400, b=400), "cpu", target_average=Fraction(200))
    assert (found.replicas, found.utilization) == (4, None)


def test_kube_s_errors() -> None:
    with pytest.raises(MetricError, match="no metrics returned from resource metrics API"):
        replicas_for(1, [pod("a")], {}, "cpu", target_utilization=50)
    with pytest.raises(MetricError, match="missing request for cpu in container c of Pod a"):
        no_request = pod("a")
        no_request["spec"]["containers"][0]["resources"] = {}
        replicas_for(1, [no_request], usage(a=1), "cpu", target_utilization=50)
    with pytest.raises(MetricError, match=r"did not receive metrics for targeted pods"):
        replicas_for(1, [pod("a", phase="Pending")], usage(a=1), "cpu", target_utilization=50)


def hpa(minimum: int = 1, maximum: int = 10, behavior: Obj | None = None) -> Obj:
    spec: Obj = {"minReplicas": minimum, "maxReplicas": maximum}
    if behavior is not None:
        spec["behavior"] = behavior
    return {"metadata": {"name": "h", "namespace": "ns"}, "spec": spec}


def normalized(
    autoscaler: Obj, current: int, proposed: int, history: horizontal._History | None = None
) -> tuple[int, dict[str, tuple[str, str]]]:
    outcome = horizontal._Outcome()
    desired = horizontal.normalize(
        autoscaler, current, proposed, history or horizontal._History(), outcome, now=1000.0
    )
    return desired, {c["type"]: (c["status"], c["reason"]) for c in outcome.conditions}


def test_default_scale_up_is_at_most_twice_or_four() -> None:
    desired, conditions = normalized(hpa(), 2, 10)
    assert desired == 4
    assert conditions["ScalingLimited"] == ("True", "ScaleUpLimit")
    desired, conditions = normalized(hpa(maximum=3), 2, 10)
    assert (desired, conditions["ScalingLimited"]) == (3, ("True", "TooManyReplicas"))
    desired, conditions = normalized(hpa(minimum=2), 3, 1)
    assert (desired, conditions["ScalingLimited"]) == (2, ("True", "TooFewReplicas"))
    desired, conditions = normalized(hpa(), 3, 5)
    assert desired == 5
    assert conditions == {
        "AbleToScale": ("True", "ReadyForNewScale"),
        "ScalingLimited": ("False", "DesiredWithinRange"),
    }


def test_default_downscale_keeps_the_highest_recommendation_of_five_minutes() -> None:
    history = horizontal._History(recommendations=[(1000.0 - 100, 5), (1000.0 - 400, 9)])
    desired, conditions = normalized(hpa(), 5, 2, history)
    assert desired == 5  # the one 100 s ago; the one 400 s ago is out of the window
    assert conditions["AbleToScale"] == ("True", "ScaleDownStabilized")
    assert [r for _, r in history.recommendations] == [5, 2]


def test_behaviors_policies_bound_the_rate() -> None:
    behavior = {
        "scaleDown": {
            "stabilizationWindowSeconds": 0,
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
        }
    }
    desired, conditions = normalized(hpa(behavior=behavior), 5, 2)
    assert (desired, conditions["ScalingLimited"]) == (4, ("True", "ScaleDownLimit"))
    # One replica already went within the period: none may go now.
    history = horizontal._History(scale_downs=[(1000.0 - 30, 1)])
    desired, _ = normalized(hpa(behavior=behavior), 4, 2, history)
    assert desired == 4
    # Scale up by the defaults given a behavior: max(4 pods, 100%) per 15 s.
    desired, conditions = normalized(hpa(maximum=50, behavior=behavior), 10, 40)
    assert (desired, conditions["ScalingLimited"]) == (20, ("True", "ScaleUpLimit"))


def test_scale_up_stabilization_takes_the_lowest_recent_recommendation() -> None:
    behavior = {"scaleUp": {"stabilizationWindowSeconds": 60}}
    history = horizontal._History(recommendations=[(1000.0 - 30, 3)])
    desired, conditions = normalized(hpa(behavior=behavior), 2, 6, history)
    assert desired == 3
    assert conditions["AbleToScale"] == ("True", "ScaleUpStabilized")
