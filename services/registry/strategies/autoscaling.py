"""HorizontalPodAutoscalers, served as autoscaling/v2 (preferred, stored) and v1.

Defaults and validation follow ``pkg/apis/autoscaling/v2/defaults.go``,
``pkg/apis/autoscaling/v1/defaults.go`` and ``pkg/apis/autoscaling/validation``. The
strategy sees the object in the version it was sent in (its ``apiVersion``); converting
between the two is the registry's conversion step, not the strategy's. kube 1.32 keeps
no ``metadata.generation`` for HPAs (that came later, behind the HPAGeneration gate).
"""

from __future__ import annotations

from typing import Any

from kapi import errors
from kapi.errors import FieldError
from services.registry.strategies import common
from services.registry.strategies.common import StatusStrategy
from services.registry.strategy import Obj

DEFAULT_CPU_UTILIZATION = 80
_METRIC_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")
_TARGET_TYPES = ("AverageValue", "Utilization", "Value")


def _scale_up_rules(given: Any) -> Obj:
    """GenerateHPAScaleUpRules: the missing parts of a scale-up behaviour."""
    rules: Obj = dict(given) if isinstance(given, dict) else {}
    if not rules.get("policies"):
        rules["policies"] = [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ]
    rules.setdefault("selectPolicy", "Max")
    rules.setdefault("stabilizationWindowSeconds", 0)
    return rules


def _scale_down_rules(given: Any) -> Obj:
    """GenerateHPAScaleDownRules."""
    rules: Obj = dict(given) if isinstance(given, dict) else {}
    if not rules.get("policies"):
        rules["policies"] = [{"type": "Percent", "value": 100, "periodSeconds": 15}]
    rules.setdefault("selectPolicy", "Max")
    rules.setdefault("stabilizationWindowSeconds", 300)
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
            behavior["scaleUp"] = _scale_up_rules(behavior.get("scaleUp"))
            behavior["scaleDown"] = _scale_down_rules(behavior.get("scaleDown"))

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
    out: list[FieldError] = []
    window = rules.get("stabilizationWindowSeconds")
    if isinstance(window, int) and not 0 <= window <= 3600:
        out.append(
            errors.invalid_value(
                f"{path}.stabilizationWindowSeconds",
                window,
                "must be less than or equal to 3600",
            )
        )
    out += common.one_of(
        rules.get("selectPolicy"), f"{path}.selectPolicy", ("Disabled", "Max", "Min")
    )
    for i, policy in enumerate(common.dicts(rules.get("policies"))):
        ppath = f"{path}.policies[{i}]"
        out += common.one_of(policy.get("type"), f"{ppath}.type", ("Percent", "Pods"))
        out += common.validate_positive(policy.get("value"), f"{ppath}.value")
        period = policy.get("periodSeconds")
        if isinstance(period, int) and not 0 < period <= 1800:
            out.append(
                errors.invalid_value(
                    f"{ppath}.periodSeconds", period, "must be less than or equal to 1800"
                )
            )
    return out
