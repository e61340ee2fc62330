"""Version conversion (services/registry/conversion.py): autoscaling/v1 <-> v2
HorizontalPodAutoscalers as kube converts them (pkg/apis/autoscaling/v1/conversion.go),
and events.k8s.io/v1 <-> core v1 Events.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from services.registry import conversion

V1 = "autoscaling/v1"
V2 = "autoscaling/v2"
HPA = "HorizontalPodAutoscaler"


def to_v1(obj: dict[str, Any]) -> dict[str, Any]:
    return conversion.convert(obj, kind=HPA, from_api_version=V2, to_api_version=V1)


def to_v2(obj: dict[str, Any]) -> dict[str, Any]:
    return conversion.convert(obj, kind=HPA, from_api_version=V1, to_api_version=V2)


def meta(**annotations: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": "web", "namespace": "default"}
    if annotations:
        out["annotations"] = annotations
    return out


REF = {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"}
CPU_70 = {
    "type": "Resource",
    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
}
MEMORY = {
    "type": "Resource",
    "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}},
}
PODS = {
    "type": "Pods",
    "pods": {
        "metric": {"name": "packets-per-second"},
        "target": {"type": "AverageValue", "averageValue": "1k"},
    },
}
OBJECT = {
    "type": "Object",
    "object": {
        "metric": {"name": "requests-per-second"},
        "describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "x"},
        "target": {"type": "Value", "value": "10k"},
    },
}
EXTERNAL = {
    "type": "External",
    "external": {
        "metric": {"name": "queue", "selector": {"matchLabels": {"q": "a"}}},
        "target": {"type": "AverageValue", "averageValue": "30"},
    },
}
BEHAVIOR = {
    "scaleDown": {
        "stabilizationWindowSeconds": 300,
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    }
}


def v2(metrics: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "kind": HPA,
        "apiVersion": V2,
        "metadata": meta(),
        "spec": {
            "scaleTargetRef": REF,
            "minReplicas": 1,
            "maxReplicas": 10,
            "metrics": metrics,
            **spec,
        },
    }


def test_cpu_only_is_plain_v1() -> None:
    assert to_v1(v2([CPU_70])) == {
        "kind": HPA,
        "apiVersion": V1,
        "metadata": meta(),
        "spec": {
            "scaleTargetRef": REF,
            "minReplicas": 1,
            "maxReplicas": 10,
            "targetCPUUtilizationPercentage": 70,
        },
    }


def test_v1_without_metrics_gets_cpu_80_as_kube_defaults() -> None:
    v1 = {
        "kind": HPA,
        "apiVersion": V1,
        "metadata": meta(),
        "spec": {"scaleTargetRef": REF, "maxReplicas": 3},
    }
    assert to_v2(v1)["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80},
            },
        }
    ]


def test_other_metrics_and_behavior_travel_as_kubes_annotations() -> None:
    v1 = to_v1(v2([MEMORY, CPU_70, PODS, OBJECT, EXTERNAL], behavior=BEHAVIOR))
    annotations = v1["metadata"]["annotations"]
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 70
    assert orjson.loads(annotations[conversion.METRICS_ANNOTATION]) == [
        {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}},
        {"type": "Pods", "pods": {"metricName": "packets-per-second", "targetAverageValue": "1k"}},
        {
            "type": "Object",
            "object": {
                "target": {"kind": "Ingress", "name": "x", "apiVersion": "networking.k8s.io/v1"},
                "metricName": "requests-per-second",
                "targetValue": "10k",
            },
        },
        {
            "type": "External",
            "external": {
                "metricName": "queue",
                "metricSelector": {"matchLabels": {"q": "a"}},
                "targetAverageValue": "30",
            },
        },
    ]
    # kube marshals its internal behavior type: Go field names, nil pointers as null.
    assert annotations[conversion.BEHAVIOR_ANNOTATION] == (
        '{"ScaleUp":null,"ScaleDown":{"StabilizationWindowSeconds":300,"SelectPolicy":"Max",'
        '"Policies":[{"Type":"Percent","Value":100,"PeriodSeconds":15}]}}'
    )


@pytest.mark.parametrize(
    "metrics",
    [
        [CPU_70],
        [CPU_70, MEMORY],
        [MEMORY, PODS, OBJECT, EXTERNAL, CPU_70],
        [MEMORY],
    ],
)
def test_v2_to_v1_and_back_is_lossless(metrics: list[dict[str, Any]]) -> None:
    original = v2(copy.deepcopy(metrics), behavior=BEHAVIOR)
    original["status"] = {
        "observedGeneration": 2,
        "currentReplicas": 3,
        "desiredReplicas": 4,
        "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageValue": "1"}}}
        ],
        "conditions": [
            {
                "type": "AbleToScale",
                "status": "True",
                "lastTransitionTime": "2025-01-01T00:00:00Z",
                "reason": "ReadyForNewScale",
                "message": "ok",
            }
        ],
    }
    before = copy.deepcopy(original)
    back = to_v2(to_v1(original))
    assert original == before, "conversion must not mutate"
    # kube puts the CPU target (v1's own field) after the annotation's metrics.
    expected_metrics = [m for m in metrics if m is not CPU_70] + (
        [CPU_70] if CPU_70 in metrics else []
    )
    assert back["spec"]["metrics"] == expected_metrics
    assert back["spec"]["behavior"] == BEHAVIOR
    assert back["status"]["conditions"] == original["status"]["conditions"]
    assert back["status"]["currentReplicas"] == 3
    assert back["status"]["currentMetrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageValue": "1"}}}
    ]
    assert "annotations" not in back["metadata"]


def test_v1_round_trip_through_storage_keeps_what_v1_said() -> None:
    v1 = {
        "kind": HPA,
        "apiVersion": V1,
        "metadata": meta(team="a"),
        "spec": {
            "scaleTargetRef": REF,
            "minReplicas": 2,
            "maxReplicas": 5,
            "targetCPUUtilizationPercentage": 50,
        },
    }
    assert to_v1(to_v2(v1)) == v1


def test_v1_round_trip_annotations_are_replaced_not_kept() -> None:
    stale = meta(**{conversion.METRICS_ANNOTATION: "[]", conversion.CONDITIONS_ANNOTATION: "x"})
    v1 = {
        "kind": HPA,
        "apiVersion": V1,
        "metadata": stale,
        "spec": {"scaleTargetRef": REF, "maxReplicas": 5, "targetCPUUtilizationPercentage": 50},
    }
    stored = to_v2(v1)
    assert "annotations" not in stored["metadata"]
    assert stored["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 50},
            },
        }
    ]


def test_unreadable_annotations_are_ignored_as_kube_does() -> None:
    v1 = {
        "kind": HPA,
        "apiVersion": V1,
        "metadata": meta(**{conversion.METRICS_ANNOTATION: "{not json"}),
        "spec": {"scaleTargetRef": REF, "maxReplicas": 5},
    }
    assert to_v2(v1)["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 80


def test_current_cpu_in_v1_status() -> None:
    stored = v2([CPU_70])
    stored["status"] = {
        "currentReplicas": 1,
        "desiredReplicas": 1,
        "currentMetrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "current": {"averageUtilization": 42}},
            }
        ],
    }
    v1 = to_v1(stored)
    assert v1["status"] == {
        "currentReplicas": 1,
        "desiredReplicas": 1,
        "currentCPUUtilizationPercentage": 42,
    }
    assert orjson.loads(v1["metadata"]["annotations"][conversion.CURRENT_METRICS_ANNOTATION]) == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "currentAverageUtilization": 42,
                "currentAverageValue": "0",
            },
        }
    ]


def test_json_helper_leaves_same_version_bytes_alone() -> None:
    data = b'{"kind":"HorizontalPodAutoscaler","apiVersion":"autoscaling/v2"}'
    assert conversion.convert_json(data, kind=HPA, from_api_version=V2, to_api_version=V2) is data


def test_events_k8s_io_events_are_core_events_renamed() -> None:
    event = {
        "kind": "Event",
        "apiVersion": "events.k8s.io/v1",
        "metadata": {"name": "e", "namespace": "default"},
        "eventTime": "2025-01-01T00:00:00.000000Z",
        "reportingController": "kubelet",
        "reportingInstance": "node-1",
        "action": "Pulling",
        "reason": "Pulling",
        "regarding": {"kind": "Pod", "name": "p"},
        "note": "Pulling image",
        "type": "Normal",
        "deprecatedCount": 2,
    }
    core = conversion.convert(
        event, kind="Event", from_api_version="events.k8s.io/v1", to_api_version="v1"
    )
    assert core["apiVersion"] == "v1"
    assert core["involvedObject"] == {"kind": "Pod", "name": "p"}
    assert core["message"] == "Pulling image"
    assert core["reportingComponent"] == "kubelet"
    assert core["count"] == 2
    back = conversion.convert(
        core, kind="Event", from_api_version="v1", to_api_version="events.k8s.io/v1"
    )
    assert back == event


def test_versions_without_a_converter_differ_in_api_version_only() -> None:
    obj = {"kind": "Widget", "apiVersion": "example.com/v1beta1", "spec": {"a": 1}}
    out = conversion.convert(
        obj, kind="Widget", from_api_version="example.com/v1beta1", to_api_version="example.com/v1"
    )
    assert out == {"kind": "Widget", "apiVersion": "example.com/v1", "spec": {"a": 1}}
