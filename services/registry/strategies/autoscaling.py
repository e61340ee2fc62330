"""HorizontalPodAutoscalers, served as autoscaling/v2 (preferred, stored) and v1.

Defaults and validation follow ``pkg/apis/autoscaling/v2/defaults.go``,
``pkg/apis/autoscaling/v1/defaults.go`` and ``pkg/apis/autoscaling/validation``. The
registry converts a v1 body to the stored v2 form (``conversion``: v1's implicit 80% CPU
target becomes a metric there) before the strategy sees it, so through the registry the
strategy defaults and validates v2 objects; it still reads ``apiVersion`` for a v1 object
handed to it directly. kube 1.32 keeps no ``metadata.generation`` for HPAs (that came
later, behind the HPAGeneration gate).
"""

from __future__ import annotations

import copy
from typing import Any

from kapi import errors
from kapi.errors import FieldError
from services.registry import conversion, types
from services.registry.definition import Definition, grouped
from services.registry.strategies import common
from services.registry.strategies.common import StatusStrategy
from services.registry.strategy import Obj

# v1's implicit target, which the conversion to the stored v2 form writes as a metric.
DEFAULT_CPU_UTILIZATION = conversion.DEFAULT_CPU_UTILIZATION
_METRIC_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")
_TARGET_TYPES = ("AverageValue", "Utilization", "Value")
MAX_STABILIZATION_WINDOW_SECONDS = 3600
MAX_PERIOD_SECONDS = 1800

# defaultHPAScaleUpRules / defaultHPAScaleDownRules (pkg/apis/autoscaling/v2/defaults.go).
# Scale-down has no default stabilization window: the controller's
# --horizontal-pod-autoscaler-downscale-stabilization (5m) applies, so it stays unset.
_SCALE_UP_DEFAULTS: Obj = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
_SCALE_DOWN_DEFAULTS: Obj = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def _scaling_rules(given: Any, defaults: Obj) -> Obj:
    """GenerateHPAScale{Up,Down}Rules: the defaults, with every field the rules set kept
    (copyHPAScalingRules: a field counts as set when present, even an empty list)."""
    rules = copy.deepcopy(defaults)
    if isinstance(given, dict):
        rules.update({k: v for k, v in given.items() if v is not None})
    return rules


class HorizontalPodAutoscalerStrategy(StatusStrategy):
    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        spec.setdefault("minReplicas", 1)
        if obj.get("apiVersion") == "autoscaling/v1":
            # What a v1 object reads back as: the CPU target the internal version defaults.
            spec.setdefault("targetCPUUtilizationPercentage", DEFAULT_CPU_UTILIZATION)
            return
        if not spec.get("metrics"):
            spec["metrics"] = [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": DEFAULT_CPU_UTILIZATION,
                        },
                    },
                }
            ]
        behavior = spec.get("behavior")
        if isinstance(behavior, dict):
            behavior["scaleUp"] = _scaling_rules(behavior.get("scaleUp"), _SCALE_UP_DEFAULTS)
            behavior["scaleDown"] = _scaling_rules(behavior.get("scaleDown"), _SCALE_DOWN_DEFAULTS)

    def initial_status(self, obj: Obj) -> Obj:
        if obj.get("apiVersion") == "autoscaling/v1":
            return {"currentReplicas": 0, "desiredReplicas": 0}
        return {"desiredReplicas": 0}

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [errors.required("spec")]
        out = _validate_target_ref(spec.get("scaleTargetRef"), "spec.scaleTargetRef")
        minimum, maximum = spec.get("minReplicas"), spec.get("maxReplicas")
        if isinstance(minimum, int) and minimum < 1:
            out.append(
                errors.invalid_value(
                    "spec.minReplicas", minimum, "must be greater than or equal to 1"
                )
            )
        if not isinstance(maximum, int) or maximum < 1:
            out.append(errors.invalid_value("spec.maxReplicas", maximum, "must be greater than 0"))
        elif isinstance(minimum, int) and maximum < minimum:
            out.append(
                errors.invalid_value(
                    "spec.maxReplicas", maximum, "must be greater than or equal to `minReplicas`"
                )
            )
        if obj.get("apiVersion") == "autoscaling/v1":
            target = spec.get("targetCPUUtilizationPercentage")
            if isinstance(target, int) and target < 1:
                out.append(
                    errors.invalid_value(
                        "spec.targetCPUUtilizationPercentage",
                        target,
                        "must be greater than or equal to 1",
                    )
                )
            return out
        for i, metric in enumerate(common.dicts(spec.get("metrics"))):
            out += _validate_metric(metric, f"spec.metrics[{i}]")
        behavior = spec.get("behavior")
        if isinstance(behavior, dict):
            for direction in ("scaleUp", "scaleDown"):
                rules = behavior.get(direction)
                if isinstance(rules, dict):
                    out += _validate_rules(rules, f"spec.behavior.{direction}")
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self.validate(new)


def _validate_target_ref(ref: Any, path: str) -> list[FieldError]:
    """ValidateCrossVersionObjectReference."""
    if not isinstance(ref, dict):
        return [errors.required(f"{path}.kind"), errors.required(f"{path}.name")]
    out: list[FieldError] = []
    for key in ("kind", "name"):
        value = ref.get(key)
        if not value:
            out.append(errors.required(f"{path}.{key}"))
        elif isinstance(value, str) and ("/" in value or "%" in value):
            out.append(errors.invalid_value(f"{path}.{key}", value, "may not contain '/'"))
    return out


def _validate_metric(metric: Obj, path: str) -> list[FieldError]:
    kind = metric.get("type")
    if not kind:
        return [errors.required(f"{path}.type", "must specify a metric source type")]
    if kind not in _METRIC_TYPES:
        return [errors.not_supported(f"{path}.type", kind, _METRIC_TYPES)]
    key = kind[0].lower() + kind[1:]
    source = metric.get(key)
    if not isinstance(source, dict):
        return [
            errors.required(
                f"{path}.{key}", "must populate information for the given metric source"
            )
        ]
    out: list[FieldError] = []
    if kind in ("Resource", "ContainerResource") and not source.get("name"):
        out.append(errors.required(f"{path}.{key}.name", "must specify a resource name"))
    if kind == "ContainerResource" and not source.get("container"):
        out.append(errors.required(f"{path}.{key}.container", "must specify a container"))
    target = source.get("target")
    if not isinstance(target, dict):
        out.append(errors.required(f"{path}.{key}.target", "must specify a metric target"))
        return out
    target_type = target.get("type")
    if not target_type:
        out.append(
            errors.required(f"{path}.{key}.target.type", "must specify a metric target type")
        )
    else:
        out += common.one_of(target_type, f"{path}.{key}.target.type", _TARGET_TYPES)
    utilization = target.get("averageUtilization")
    if isinstance(utilization, int) and utilization < 1:
        out.append(
            errors.invalid_value(
                f"{path}.{key}.target.averageUtilization",
                utilization,
                "must be greater than 0",
            )
        )
    return out


def _validate_rules(rules: Obj, path: str) -> list[FieldError]:
    """validateScalingRules."""
    out: list[FieldError] = []
    window = rules.get("stabilizationWindowSeconds")
    if isinstance(window, int) and window < 0:
        out.append(
            errors.invalid_value(
                f"{path}.stabilizationWindowSeconds",
                window,
                "must be greater than or equal to zero",
            )
        )
    if isinstance(window, int) and window > MAX_STABILIZATION_WINDOW_SECONDS:
        out.append(
            errors.invalid_value(
                f"{path}.stabilizationWindowSeconds",
                window,
                f"must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}",
            )
        )
    out += common.one_of(
        rules.get("selectPolicy"), f"{path}.selectPolicy", ("Disabled", "Max", "Min")
    )
    policies = common.dicts(rules.get("policies"))
    if not policies:
        out.append(errors.required(f"{path}.policies", "must specify at least one Policy"))
    for i, policy in enumerate(policies):
        ppath = f"{path}.policies[{i}]"
        kind = policy.get("type", "")
        if kind not in ("Percent", "Pods"):
            out.append(errors.not_supported(f"{ppath}.type", kind, ("Percent", "Pods")))
        value = policy.get("value", 0)
        if isinstance(value, int) and value <= 0:
            out.append(errors.invalid_value(f"{ppath}.value", value, "must be greater than zero"))
        period = policy.get("periodSeconds", 0)
        if isinstance(period, int) and period <= 0:
            out.append(
                errors.invalid_value(f"{ppath}.periodSeconds", period, "must be greater than zero")
            )
        if isinstance(period, int) and period > MAX_PERIOD_SECONDS:
            out.append(
                errors.invalid_value(
                    f"{ppath}.periodSeconds",
                    period,
                    f"must be less than or equal to {MAX_PERIOD_SECONDS}",
                )
            )
    return out


def _hpa(version: str, **kw: Any) -> Definition:
    return grouped(
        "autoscaling", version, "horizontalpodautoscalers", "HorizontalPodAutoscaler",
        HorizontalPodAutoscalerStrategy(), schema_group="autoscaling", short_names=("hpa",),
        categories=types.ALL, subresources=types.STATUS, **kw,
    )  # fmt: skip


# v2 preferred and stored, v1 converted.
DEFINITIONS: tuple[Definition, ...] = (_hpa("v2"), _hpa("v1", storage_version="autoscaling/v2"))
