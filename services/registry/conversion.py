"""Version conversion: a resource served in several versions is stored in one.

Why: kube-apiserver serves ``autoscaling/v1`` and ``autoscaling/v2`` HorizontalPodAutoscalers
from one stored form (``autoscaling/v2``); a client reads and writes in the version it asks
for, and a v1 client that writes back what it read loses nothing. The fields v1 has no room
for travel in v1 objects as annotations, exactly as kube's conversion functions put them
(``pkg/apis/autoscaling/v1/conversion.go``):

- ``autoscaling.alpha.kubernetes.io/metrics``: the spec's metrics other than a CPU
  utilisation target (which is v1's ``targetCPUUtilizationPercentage``), as v1 MetricSpecs;
- ``autoscaling.alpha.kubernetes.io/current-metrics``: every current metric, as v1
  MetricStatuses (v1's ``currentCPUUtilizationPercentage`` is derived too);
- ``autoscaling.alpha.kubernetes.io/conditions``: the status conditions;
- ``autoscaling.alpha.kubernetes.io/behavior``: the spec's behavior, as kube marshals it
  (its internal type: Go field names, ``{"ScaleUp":{"StabilizationWindowSeconds":...}}``).

Going from v1 to the stored form reads those annotations back and drops them; a v1 object
without metrics gets v1's implicit default (CPU at 80%), as kube does. Pure functions over
plain dicts; they never mutate their input.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson

Obj = dict[str, Any]
Converter = Callable[[Obj], Obj]

METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
ROUND_TRIP_ANNOTATIONS = (
    METRICS_ANNOTATION,
    CURRENT_METRICS_ANNOTATION,
    CONDITIONS_ANNOTATION,
    BEHAVIOR_ANNOTATION,
)
DEFAULT_CPU_UTILIZATION = 80


def _set(out: Obj, key: str, value: Any) -> None:
    """Set ``key`` unless ``value`` is None (Go's ``omitempty`` on a pointer)."""
    if value is not None:
        out[key] = value


def _ref(source: Obj | None) -> Obj:
    """A CrossVersionObjectReference in kube's field order (kind, name, apiVersion)."""
    source = source or {}
    out: Obj = {"kind": source.get("kind", ""), "name": source.get("name", "")}
    _set(out, "apiVersion", source.get("apiVersion") or None)
    return out


# --- metric specs (v2 <-> v1's annotation form) ---------------------------------------


def _is_cpu_utilization(metric: Obj) -> bool:
    resource = metric.get("resource") or {}
    return (
        metric.get("type") == "Resource"
        and bool(metric.get("resource"))
        and resource.get("name") == "cpu"
        and (resource.get("target") or {}).get("averageUtilization") is not None
    )


def _metric_spec_to_v1(metric: Obj) -> Obj:
    kind = metric.get("type", "")
    out: Obj = {"type": kind}
    if metric.get("object") is not None:
        source = metric["object"]
        target = source.get("target") or {}
        ident = source.get("metric") or {}
        obj: Obj = {
            "target": _ref(source.get("describedObject")),
            "metricName": ident.get("name", ""),
            "targetValue": target.get("value") if target.get("value") is not None else "0",
        }
        _set(obj, "selector", ident.get("selector"))
        _set(obj, "averageValue", target.get("averageValue"))
        out["object"] = obj
    if metric.get("pods") is not None:
        source = metric["pods"]
        target = source.get("target") or {}
        ident = source.get("metric") or {}
        pods: Obj = {
            "metricName": ident.get("name", ""),
            "targetAverageValue": target.get("averageValue") or "0",
        }
        _set(pods, "selector", ident.get("selector"))
        out["pods"] = pods
    for key in ("resource", "containerResource"):
        if metric.get(key) is not None:
            source = metric[key]
            target = source.get("target") or {}
            res: Obj = {"name": source.get("name", "")}
            _set(res, "targetAverageUtilization", target.get("averageUtilization"))
            _set(res, "targetAverageValue", target.get("averageValue"))
            if key == "containerResource":
                res["container"] = source.get("container", "")
            out[key] = res
    if metric.get("external") is not None:
        source = metric["external"]
        target = source.get("target") or {}
        ident = source.get("metric") or {}
        ext: Obj = {"metricName": ident.get("name", "")}
        _set(ext, "metricSelector", ident.get("selector"))
        _set(ext, "targetValue", target.get("value"))
        _set(ext, "targetAverageValue", target.get("averageValue"))
        out["external"] = ext
    return out


def _identifier(name: Any, selector: Any) -> Obj:
    out: Obj = {"name": name or ""}
    _set(out, "selector", selector)
    return out


def _metric_spec_from_v1(metric: Obj) -> Obj:
    out: Obj = {"type": metric.get("type", "")}
    if isinstance(metric.get("object"), dict):
        source = metric["object"]
        average = source.get("averageValue")
        target: Obj = {"type": "Value" if average is None else "AverageValue"}
        target["value"] = source.get("targetValue", "0")
        _set(target, "averageValue", average)
        out["object"] = {
            "describedObject": _ref(source.get("target")),
            "target": target,
            "metric": _identifier(source.get("metricName"), source.get("selector")),
        }
    if isinstance(metric.get("pods"), dict):
        source = metric["pods"]
        out["pods"] = {
            "metric": _identifier(source.get("metricName"), source.get("selector")),
            "target": {
                "type": "AverageValue",
                "averageValue": source.get("targetAverageValue", "0"),
            },
        }
    for key in ("resource", "containerResource"):
        if isinstance(metric.get(key), dict):
            source = metric[key]
            utilization = source.get("targetAverageUtilization")
            target = {"type": "AverageValue" if utilization is None else "Utilization"}
            _set(target, "averageUtilization", utilization)
            _set(target, "averageValue", source.get("targetAverageValue"))
            res: Obj = {"name": source.get("name", ""), "target": target}
            if key == "containerResource":
                res["container"] = source.get("container", "")
            out[key] = res
    if isinstance(metric.get("external"), dict):
        source = metric["external"]
        value = source.get("targetValue")
        target = {"type": "AverageValue" if value is None else "Value"}
        _set(target, "value", value)
        _set(target, "averageValue", source.get("targetAverageValue"))
        out["external"] = {
            "metric": _identifier(source.get("metricName"), source.get("metricSelector")),
            "target": target,
        }
    return out


# --- metric statuses -------------------------------------------------------------------


def _metric_status_to_v1(metric: Obj) -> Obj:
    out: Obj = {"type": metric.get("type", "")}
    if metric.get("object") is not None:
        source = metric["object"]
        current = source.get("current") or {}
        ident = source.get("metric") or {}
        obj: Obj = {
            "target": _ref(source.get("describedObject")),
            "metricName": ident.get("name", ""),
            "currentValue": current.get("value") if current.get("value") is not None else "0",
        }
        _set(obj, "selector", ident.get("selector"))
        _set(obj, "averageValue", current.get("averageValue"))
        out["object"] = obj
    if metric.get("pods") is not None:
        source = metric["pods"]
        current = source.get("current") or {}
        ident = source.get("metric") or {}
        pods: Obj = {
            "metricName": ident.get("name", ""),
            "currentAverageValue": current.get("averageValue") or "0",
        }
        _set(pods, "selector", ident.get("selector"))
        out["pods"] = pods
    for key in ("resource", "containerResource"):
        if metric.get(key) is not None:
            source = metric[key]
            current = source.get("current") or {}
            res: Obj = {"name": source.get("name", "")}
            _set(res, "currentAverageUtilization", current.get("averageUtilization"))
            res["currentAverageValue"] = current.get("averageValue") or "0"
            if key == "containerResource":
                res["container"] = source.get("container", "")
            out[key] = res
    if metric.get("external") is not None:
        source = metric["external"]
        current = source.get("current") or {}
        ident = source.get("metric") or {}
        ext: Obj = {"metricName": ident.get("name", "")}
        _set(ext, "metricSelector", ident.get("selector"))
        ext["currentValue"] = current.get("value") if current.get("value") is not None else "0"
        _set(ext, "currentAverageValue", current.get("averageValue"))
        out["external"] = ext
    return out


def _metric_status_from_v1(metric: Obj) -> Obj:
    out: Obj = {"type": metric.get("type", "")}
    if isinstance(metric.get("object"), dict):
        source = metric["object"]
        current: Obj = {"value": source.get("currentValue", "0")}
        _set(current, "averageValue", source.get("averageValue"))
        out["object"] = {
            "metric": _identifier(source.get("metricName"), source.get("selector")),
            "current": current,
            "describedObject": _ref(source.get("target")),
        }
    if isinstance(metric.get("pods"), dict):
        source = metric["pods"]
        out["pods"] = {
            "metric": _identifier(source.get("metricName"), source.get("selector")),
            "current": {"averageValue": source.get("currentAverageValue", "0")},
        }
    for key in ("resource", "containerResource"):
        if isinstance(metric.get(key), dict):
            source = metric[key]
            current = {}
            _set(current, "averageValue", source.get("currentAverageValue", "0"))
            _set(current, "averageUtilization", source.get("currentAverageUtilization"))
            res: Obj = {"name": source.get("name", ""), "current": current}
            if key == "containerResource":
                res["container"] = source.get("container", "")
            out[key] = res
    if isinstance(metric.get("external"), dict):
        source = metric["external"]
        current = {"value": source.get("currentValue", "0")}
        _set(current, "averageValue", source.get("currentAverageValue"))
        out["external"] = {
            "metric": _identifier(source.get("metricName"), source.get("metricSelector")),
            "current": current,
        }
    return out


# --- behavior (kube marshals its internal type: Go field names, nulls kept) -----------


def _rules_to_internal(rules: Obj | None) -> Obj | None:
    if rules is None:
        return None
    policies = rules.get("policies")
    return {
        "StabilizationWindowSeconds": rules.get("stabilizationWindowSeconds"),
        "SelectPolicy": rules.get("selectPolicy"),
        "Policies": None
        if policies is None
        else [
            {
                "Type": p.get("type", ""),
                "Value": p.get("value", 0),
                "PeriodSeconds": p.get("periodSeconds", 0),
            }
            for p in policies
        ],
    }


def _rules_from_internal(rules: Any) -> Obj | None:
    if not isinstance(rules, dict):
        return None
    out: Obj = {}
    _set(out, "stabilizationWindowSeconds", rules.get("StabilizationWindowSeconds"))
    _set(out, "selectPolicy", rules.get("SelectPolicy"))
    policies = rules.get("Policies")
    if isinstance(policies, list):
        out["policies"] = [
            {
                "type": p.get("Type", ""),
                "value": p.get("Value", 0),
                "periodSeconds": p.get("PeriodSeconds", 0),
            }
            for p in policies
            if isinstance(p, dict)
        ]
    return out


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _parsed_list(annotations: dict[str, str], key: str) -> list[Obj] | None:
    """An annotation holding a JSON list of objects; None when absent or unreadable
    (kube ignores an annotation it cannot unmarshal)."""
    text = annotations.get(key)
    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, list):
        return None
    return [item if isinstance(item, dict) else {} for item in value]


# --- HorizontalPodAutoscaler ------------------------------------------------------------


def _without_round_trip(meta: Obj) -> dict[str, str]:
    annotations = meta.get("annotations") or {}
    return {k: v for k, v in annotations.items() if k not in ROUND_TRIP_ANNOTATIONS}


def _set_annotations(meta: Obj, annotations: dict[str, str]) -> None:
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)


def hpa_v2_to_v1(obj: Obj) -> Obj:
    """An autoscaling/v2 HorizontalPodAutoscaler as autoscaling/v1."""
    spec = obj.get("spec") or {}
    status = obj.get("status")
    meta = copy.deepcopy(obj.get("metadata") or {})
    annotations = _without_round_trip(meta)

    v1_spec: Obj = {"scaleTargetRef": _ref(spec.get("scaleTargetRef"))}
    _set(v1_spec, "minReplicas", spec.get("minReplicas"))
    v1_spec["maxReplicas"] = spec.get("maxReplicas", 0)
    metrics = spec.get("metrics") or []
    for metric in metrics:
        if _is_cpu_utilization(metric):
            v1_spec["targetCPUUtilizationPercentage"] = metric["resource"]["target"][
                "averageUtilization"
            ]
            break
    other = [_metric_spec_to_v1(m) for m in metrics if not _is_cpu_utilization(m)]
    if other:
        annotations[METRICS_ANNOTATION] = _json(other)
    if spec.get("behavior") is not None:
        behavior = spec["behavior"]
        annotations[BEHAVIOR_ANNOTATION] = _json(
            {
                "ScaleUp": _rules_to_internal(behavior.get("scaleUp")),
                "ScaleDown": _rules_to_internal(behavior.get("scaleDown")),
            }
        )

    out: Obj = {"kind": obj.get("kind", "HorizontalPodAutoscaler"), "apiVersion": "autoscaling/v1"}
    v1_status: Obj | None = None
    if status is not None:
        current = status.get("currentMetrics") or []
        conditions = status.get("conditions") or []
        v1_status = {}
        _set(v1_status, "observedGeneration", status.get("observedGeneration"))
        _set(v1_status, "lastScaleTime", status.get("lastScaleTime"))
        v1_status["currentReplicas"] = status.get("currentReplicas", 0)
        v1_status["desiredReplicas"] = status.get("desiredReplicas", 0)
        for metric in current:
            resource = metric.get("resource") or {}
            if (
                metric.get("type") == "Resource"
                and resource.get("name") == "cpu"
                and (resource.get("current") or {}).get("averageUtilization") is not None
            ):
                v1_status["currentCPUUtilizationPercentage"] = resource["current"][
                    "averageUtilization"
                ]
        if current:
            annotations[CURRENT_METRICS_ANNOTATION] = _json(
                [_metric_status_to_v1(m) for m in current]
            )
        if conditions:
            annotations[CONDITIONS_ANNOTATION] = _json(conditions)
    _set_annotations(meta, annotations)
    out["metadata"] = meta
    out["spec"] = v1_spec
    _set(out, "status", v1_status)
    return out


def hpa_v1_to_v2(obj: Obj) -> Obj:
    """An autoscaling/v1 HorizontalPodAutoscaler in its stored form, autoscaling/v2."""
    spec = obj.get("spec") or {}
    status = obj.get("status")
    meta = copy.deepcopy(obj.get("metadata") or {})
    raw_annotations = meta.get("annotations") or {}

    metrics: list[Obj] = []
    if spec.get("targetCPUUtilizationPercentage") is not None:
        metrics = [_cpu_metric(spec["targetCPUUtilizationPercentage"])]
    other = _parsed_list(raw_annotations, METRICS_ANNOTATION)
    if other is not None:
        metrics = [_metric_spec_from_v1(m) for m in other] + metrics[:1]
    if not metrics:
        metrics = [_cpu_metric(DEFAULT_CPU_UTILIZATION)]

    v2_spec: Obj = {"scaleTargetRef": _ref(spec.get("scaleTargetRef"))}
    _set(v2_spec, "minReplicas", spec.get("minReplicas"))
    v2_spec["maxReplicas"] = spec.get("maxReplicas", 0)
    v2_spec["metrics"] = metrics
    behavior_text = raw_annotations.get(BEHAVIOR_ANNOTATION)
    if behavior_text is not None:
        try:
            internal = orjson.loads(behavior_text)
        except orjson.JSONDecodeError:
            internal = None
        if isinstance(internal, dict):
            behavior: Obj = {}
            _set(behavior, "scaleUp", _rules_from_internal(internal.get("ScaleUp")))
            _set(behavior, "scaleDown", _rules_from_internal(internal.get("ScaleDown")))
            if behavior:
                v2_spec["behavior"] = behavior

    out: Obj = {"kind": obj.get("kind", "HorizontalPodAutoscaler"), "apiVersion": "autoscaling/v2"}
    _set_annotations(meta, _without_round_trip(meta))
    out["metadata"] = meta
    out["spec"] = v2_spec
    current_metrics = _parsed_list(raw_annotations, CURRENT_METRICS_ANNOTATION)
    conditions = _parsed_list(raw_annotations, CONDITIONS_ANNOTATION)
    if status is not None or current_metrics is not None or conditions is not None:
        status = status or {}
        v2_status: Obj = {}
        _set(v2_status, "observedGeneration", status.get("observedGeneration"))
        _set(v2_status, "lastScaleTime", status.get("lastScaleTime"))
        v2_status["currentReplicas"] = status.get("currentReplicas", 0)
        v2_status["desiredReplicas"] = status.get("desiredReplicas", 0)
        if current_metrics is not None:
            v2_status["currentMetrics"] = [_metric_status_from_v1(m) for m in current_metrics]
        elif status.get("currentCPUUtilizationPercentage") is not None:
            v2_status["currentMetrics"] = [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {
                            "averageUtilization": status["currentCPUUtilizationPercentage"]
                        },
                    },
                }
            ]
        if conditions is not None:
            v2_status["conditions"] = conditions
        out["status"] = v2_status
    return out


def _cpu_metric(utilization: Any) -> Obj:
    return {
        "type": "Resource",
        "resource": {
            "name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": utilization},
        },
    }


# --- events.k8s.io/v1 Event <-> core v1 Event (kube stores both as core Events) ---------

# events.k8s.io/v1 field -> core v1 field, where the names differ (kube's
# Convert_v1_Event_To_core_Event).
_EVENT_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
    "reportingController": "reportingComponent",
}
_EVENT_RENAMES_BACK = {core: events for events, core in _EVENT_RENAMES.items()}


def _renamed(obj: Obj, names: dict[str, str], api_version: str) -> Obj:
    out: Obj = {"kind": obj.get("kind", "Event"), "apiVersion": api_version}
    for key, value in obj.items():
        if key in ("kind", "apiVersion"):
            continue
        out[names.get(key, key)] = copy.deepcopy(value)
    return out


def event_to_core(obj: Obj) -> Obj:
    """An events.k8s.io/v1 Event as the core v1 Event it is stored as."""
    out = _renamed(obj, _EVENT_RENAMES, "v1")
    out.setdefault("involvedObject", {})
    return out


def event_from_core(obj: Obj) -> Obj:
    """A stored core v1 Event as events.k8s.io/v1."""
    return _renamed(obj, _EVENT_RENAMES_BACK, "events.k8s.io/v1")


# --- the table ----------------------------------------------------------------------

_CONVERTERS: dict[tuple[str, str, str], Converter] = {
    ("HorizontalPodAutoscaler", "autoscaling/v1", "autoscaling/v2"): hpa_v1_to_v2,
    ("HorizontalPodAutoscaler", "autoscaling/v2", "autoscaling/v1"): hpa_v2_to_v1,
    ("Event", "events.k8s.io/v1", "v1"): event_to_core,
    ("Event", "v1", "events.k8s.io/v1"): event_from_core,
}


def convert(obj: Obj, *, kind: str, from_api_version: str, to_api_version: str) -> Obj:
    """``obj`` (a ``kind`` in ``from_api_version``) as ``to_api_version``: a new object,
    ``obj`` untouched. Versions without a converter differ only in ``apiVersion``."""
    if from_api_version == to_api_version:
        return obj
    converter = _CONVERTERS.get((kind, from_api_version, to_api_version))
    if converter is not None:
        return converter(obj)
    out = dict(obj)
    out["apiVersion"] = to_api_version
    return out


def convert_json(data: bytes, *, kind: str, from_api_version: str, to_api_version: str) -> bytes:
    """``convert`` on serialised JSON; the bytes unchanged when the versions agree."""
    if from_api_version == to_api_version:
        return data
    converted = convert(
        orjson.loads(data),
        kind=kind,
        from_api_version=from_api_version,
        to_api_version=to_api_version,
    )
    return orjson.dumps(converted)


class BuiltinConverter:
    """The conversions of a built-in kind between its served versions (``convert``)."""

    rewrites_reads = False

    def __init__(self, kind: str) -> None:
        self.kind = kind

    async def convert(self, objects: list[Obj], to_api_version: str) -> list[Obj]:
        return [
            convert(
                obj,
                kind=self.kind,
                from_api_version=str(obj.get("apiVersion") or to_api_version),
                to_api_version=to_api_version,
            )
            for obj in objects
        ]
