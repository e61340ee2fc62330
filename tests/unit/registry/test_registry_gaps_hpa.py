"""HorizontalPodAutoscaler defaults as kube 1.32 applies them (strategies/autoscaling.py):
SetDefaults_HorizontalPodAutoscaler and ..Behavior of pkg/apis/autoscaling/v2, the
scaling-rule validation of pkg/apis/autoscaling/validation, and the v1 view's implicit
80% CPU target (conversion.py) agreeing with the v2 default.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from builtin_definitions import strategy_for
from test_registry_service import World, loads, make_namespace

from kapi import errors
from services.registry import conversion, pipeline
from services.registry.service import ReadOptions, Registry, Target
from services.registry.strategies import autoscaling, builtin_table

Obj = dict[str, Any]
V2 = next(
    t
    for t in builtin_table().types
    if (t.group, t.version, t.resource) == ("autoscaling", "v2", "horizontalpodautoscalers")
)
STRATEGY = strategy_for("autoscaling", "horizontalpodautoscalers")

SCALE_UP = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
SCALE_DOWN = {  # no stabilizationWindowSeconds: the controller's flag (5m) applies
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}
CPU_80 = {
    "type": "Resource",
    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
}


def hpa(**spec: Any) -> Obj:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 5,
            **spec,
        },
    }


def created(obj: Obj) -> Obj:
    out = pipeline.prepare_create(V2, STRATEGY, copy.deepcopy(obj), "ns")
    pipeline.validate_create(V2, STRATEGY, out)
    return out


# (case, behavior sent, behavior stored); None: sent without behavior
BEHAVIOR: list[tuple[str, Obj | None, Obj | None]] = [
    ("no behavior stays none", None, None),
    ("empty behavior gets both directions", {}, {"scaleUp": SCALE_UP, "scaleDown": SCALE_DOWN}),
    (
        "a scale-down window is kept, the rest defaulted",
        {"scaleDown": {"stabilizationWindowSeconds": 60}},
        {"scaleUp": SCALE_UP, "scaleDown": {**SCALE_DOWN, "stabilizationWindowSeconds": 60}},
    ),
    (
        "given policies replace the defaults, selectPolicy still defaulted",
        {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}},
        {
            "scaleUp": {
                "stabilizationWindowSeconds": 0,
                "selectPolicy": "Max",
                "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
            },
            "scaleDown": SCALE_DOWN,
        },
    ),
    (
        "selectPolicy Disabled is kept",
        {"scaleDown": {"selectPolicy": "Disabled"}},
        {"scaleUp": SCALE_UP, "scaleDown": {**SCALE_DOWN, "selectPolicy": "Disabled"}},
    ),
]


@pytest.mark.parametrize(
    ("sent", "stored"), [c[1:] for c in BEHAVIOR], ids=[c[0] for c in BEHAVIOR]
)
def test_behavior_defaults(sent: Obj | None, stored: Obj | None) -> None:
    obj = hpa() if sent is None else hpa(behavior=sent)
    spec = created(obj)["spec"]
    assert spec.get("behavior") == stored
    assert spec["minReplicas"] == 1
    assert spec["metrics"] == [CPU_80]


# (case, behavior, kube's causes)
INVALID: list[tuple[str, Obj, list[str]]] = [
    (
        "an explicitly empty policy list is kept, and refused",
        {"scaleUp": {"policies": []}},
        ["spec.behavior.scaleUp.policies: Required value: must specify at least one Policy"],
    ),
    (
        "negative window",
        {"scaleDown": {"stabilizationWindowSeconds": -1}},
        [
            "spec.behavior.scaleDown.stabilizationWindowSeconds: Invalid value: -1: must be "
            "greater than or equal to zero"
        ],
    ),
    (
        "window over an hour",
        {"scaleDown": {"stabilizationWindowSeconds": 3601}},
        [
            "spec.behavior.scaleDown.stabilizationWindowSeconds: Invalid value: 3601: must be "
            "less than or equal to 3600"
        ],
    ),
    (
        "policy values",
        {"scaleUp": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 1801}]}},
        [
            "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
            "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 1801: must be less "
            "than or equal to 1800",
        ],
    ),
    (
        "policy type and period",
        {"scaleUp": {"policies": [{"type": "Nodes", "value": 1, "periodSeconds": 0}]}},
        [
            'spec.behavior.scaleUp.policies[0].type: Unsupported value: "Nodes": supported '
            'values: "Percent", "Pods"',
            "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 0: must be greater "
            "than zero",
        ],
    ),
]


@pytest.mark.parametrize(
    ("behavior", "expected"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_behavior_validation(behavior: Obj, expected: list[str]) -> None:
    with pytest.raises(errors.StatusError) as info:
        created(hpa(behavior=behavior))
    assert [f"{c['field']}: {c['message']}" for c in (info.value.details or {})["causes"]] == (
        expected
    )


def test_v1_implicit_cpu_target_is_the_v2_default() -> None:
    assert autoscaling.DEFAULT_CPU_UTILIZATION == conversion.DEFAULT_CPU_UTILIZATION == 80
    v1 = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5},
    }
    stored = conversion.convert(
        v1, kind="HorizontalPodAutoscaler", from_api_version="autoscaling/v1",
        to_api_version="autoscaling/v2",
    )  # fmt: skip
    assert stored["spec"]["metrics"] == [CPU_80]
    # The same object written as v2 without metrics is defaulted to the same metric.
    assert created(hpa())["spec"]["metrics"] == stored["spec"]["metrics"]


# --- through the registry -------------------------------------------------------------------


@pytest.fixture
def registry() -> Registry:
    return World().registry


def target(version: str, name: str = "") -> Target:
    return Target("autoscaling", version, "horizontalpodautoscalers", namespace="ns", name=name)


async def test_registry_v1_and_v2_views_agree_on_the_defaults(registry: Registry) -> None:
    await make_namespace(registry)
    behavior = {"scaleDown": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}
    await registry.create(target("v2"), orjson.dumps(hpa(behavior=behavior)))
    v2 = loads(await registry.get(target("v2", "web"), ReadOptions()))
    assert v2["spec"]["behavior"] == {
        "scaleUp": SCALE_UP,
        "scaleDown": {"selectPolicy": "Max", "policies": behavior["scaleDown"]["policies"]},
    }
    v1 = loads(await registry.get(target("v1", "web"), ReadOptions()))
    assert v1["spec"]["minReplicas"] == 1
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 80
    # kube's internal behavior, marshalled with Go field names: no scale-down window.
    annotation = orjson.loads(v1["metadata"]["annotations"][conversion.BEHAVIOR_ANNOTATION])
    assert annotation["ScaleDown"]["StabilizationWindowSeconds"] is None
    assert annotation["ScaleUp"]["StabilizationWindowSeconds"] == 0
