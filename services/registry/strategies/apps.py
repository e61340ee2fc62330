"""Strategies of the apps group."""

from __future__ import annotations

from kapi import errors
from kapi.errors import FieldError
from services.registry.strategies.pod_spec import default_pod_spec, validate_pod_spec
from services.registry.strategy import Obj, Strategy


def _matches(selector: object, labels: object) -> bool:
    if not isinstance(selector, dict) or not isinstance(labels, dict):
        return False
    match = selector.get("matchLabels") or {}
    if not isinstance(match, dict) or any(labels.get(k) != v for k, v in match.items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if (op == "In" and labels.get(key) not in values) or (
            op == "NotIn" and labels.get(key) in values
        ):
            return False
        if (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True


class DeploymentStrategy(Strategy):
    has_status = True
    tracks_generation = True

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        spec.setdefault("replicas", 1)
        strategy = spec.setdefault("strategy", {})
        if isinstance(strategy, dict):
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                rolling = strategy.setdefault("rollingUpdate", {})
                rolling.setdefault("maxUnavailable", "25%")
                rolling.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        template = spec.get("template")
        if isinstance(template, dict):
            template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
            pod_spec = template.get("spec")
            if isinstance(pod_spec, dict):
                default_pod_spec(pod_spec)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {}

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [errors.required("spec")]
        out: list[FieldError] = []
        replicas = spec.get("replicas")
        if isinstance(replicas, int) and replicas < 0:
            out.append(
                errors.invalid_value(
                    "spec.replicas", replicas, "must be greater than or equal to 0"
                )
            )
        selector = spec.get("selector")
        template = spec.get("template") or {}
        labels = (
            (template.get("metadata") or {}).get("labels") if isinstance(template, dict) else None
        )
        if not selector:
            out.append(errors.required("spec.selector"))
        elif not (selector.get("matchLabels") or selector.get("matchExpressions")):
            out.append(
                errors.invalid_value(
                    "spec.selector", selector, "empty selector is invalid for deployment"
                )
            )
        elif not _matches(selector, labels or {}):
            out.append(
                errors.invalid_value(
                    "spec.template.metadata.labels",
                    labels or {},
                    "`selector` does not match template `labels`",
                )
            )
        pod_spec = template.get("spec") if isinstance(template, dict) else None
        out.extend(validate_pod_spec(pod_spec, "spec.template.spec"))
        # kube's ValidatePodTemplateSpecForReplicaSet: a Deployment's pods always restart.
        policy = pod_spec.get("restartPolicy", "Always") if isinstance(pod_spec, dict) else "Always"
        if policy != "Always":
            out.append(errors.not_supported("spec.template.spec.restartPolicy", policy, ["Always"]))
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        out = self.validate(new)
        if (new.get("spec") or {}).get("selector") != (old.get("spec") or {}).get("selector"):
            out.append(
                errors.invalid_value(
                    "spec.selector", (new.get("spec") or {}).get("selector"), "field is immutable"
                )
            )
        return out
