"""horizontal-pod-autoscaler-controller: replicas follow resource usage (kube's
``pkg/controller/podautoscaler/horizontal.go``).

Every 15 s (kube's ``--horizontal-pod-autoscaler-sync-period``) each
HorizontalPodAutoscaler (autoscaling/v2) reads its target's ``scale`` subresource, the
pods its selector picks and their PodMetrics from ``metrics.k8s.io`` (kapi's metrics
server, or any registered through an APIService), asks ``replica_calculator`` for each
Resource metric, takes the largest recommendation, and bounds it: without
``spec.behavior`` by kube's defaults (the highest recommendation of the last 5 minutes
on the way down; at most ``max(2 * current, 4)`` on the way up), with it by its
stabilization windows and policies. A change is written to the target's ``scale`` and
announced by a ``SuccessfulRescale`` event; the status carries currentMetrics and kube's
AbleToScale, ScalingActive and ScalingLimited conditions. Pods, Object and External
metrics need a custom or external metrics API, which kapi does not serve: they leave
ScalingActive False.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import ClassVar

from kapi import errors, quantity
from kapi.kube.informer import split_key
from kapi.kube.resources import PODS, Resource
from services.controllers import objects, replica_calculator
from services.controllers.framework import Context, Obj, QueueController
from services.controllers.replica_calculator import MetricError

log = logging.getLogger(__name__)

HPAS = Resource("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler")
POD_METRICS = Resource("metrics.k8s.io", "v1beta1", "pods", "PodMetrics")
SYNC_PERIOD = 15.0
DOWNSCALE_STABILIZATION = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4
# autoscaling/v2's defaults for a behavior that is given (SetDefaults_HPAScalingRules).
DEFAULT_SCALE_UP: Obj = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
DEFAULT_SCALE_DOWN: Obj = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def _condition(type_: str, status: bool, reason: str, message: str) -> Obj:
    return {
        "type": type_,
        "status": "True" if status else "False",
        "lastTransitionTime": objects.rfc3339(),
        "reason": reason,
        "message": message,
    }


@dataclass
class _History:
    """What one autoscaler remembers between syncs: recommendations and scale events."""

    recommendations: list[tuple[float, int]] = field(default_factory=list)
    scale_ups: list[tuple[float, int]] = field(default_factory=list)
    scale_downs: list[tuple[float, int]] = field(default_factory=list)


@dataclass
class _Outcome:
    conditions: list[Obj] = field(default_factory=list)
    metrics: list[Obj] = field(default_factory=list)

    def set(self, type_: str, status: bool, reason: str, message: str) -> None:
        self.conditions = [c for c in self.conditions if c["type"] != type_]
        self.conditions.append(_condition(type_, status, reason, message))


class MetricsSource:
    """Pods and their usage, read through the gateway (kube's metrics client)."""

    def __init__(self, ctx: Context) -> None:
        self.client = ctx.client

    async def pods(self, namespace: str, selector: str) -> list[Obj]:
        listed = await self.client.list(PODS, namespace, labelSelector=selector)
        return list(listed.get("items") or [])

    async def usage(self, namespace: str, selector: str, resource: str) -> dict[str, Fraction]:
        """Each pod's usage of ``resource`` in thousandths, summed over containers."""
        try:
            listed = await self.client.list(POD_METRICS, namespace, labelSelector=selector)
        except errors.StatusError as err:
            raise MetricError(
                f"unable to get metrics for resource {resource}: unable to fetch metrics from "
                f"resource metrics API: {err.message}"
            ) from err
        found: dict[str, Fraction] = {}
        for item in listed.get("items") or []:
            total = Fraction(0)
            for container in item.get("containers") or []:
                value = quantity.parse((container.get("usage") or {}).get(resource))
                if value is None:
                    break
                total += value * 1000
            else:
                if item.get("containers"):
                    found[objects.name(item)] = total
        return found


def _metric_name(resource: str, target_type: str) -> str:
    if target_type == "Utilization":
        return f"{resource} resource utilization (percentage of request)"
    return f"{resource} resource"


def _rules(behavior: Obj | None, direction: str) -> Obj:
    default = DEFAULT_SCALE_UP if direction == "scaleUp" else DEFAULT_SCALE_DOWN
    given = (behavior or {}).get(direction) or {}
    return {**default, **{k: v for k, v in given.items() if v is not None}}


def _changed_within(events: list[tuple[float, int]], period: float, now: float) -> int:
    return sum(change for at, change in events if at > now - period)


def scale_up_limit(current: int, history: _History, rules: Obj, now: float) -> int:
    """kube's calculateScaleUpLimitWithScalingRules."""
    if rules.get("selectPolicy") == "Disabled":
        return current
    limits = []
    for policy in rules.get("policies") or []:
        period = float(policy.get("periodSeconds") or 0)
        start = (
            current
            - _changed_within(history.scale_ups, period, now)
            + _changed_within(history.scale_downs, period, now)
        )
        value = int(policy.get("value") or 0)
        if policy.get("type") == "Pods":
            limits.append(start + value)
        else:
            limits.append(math.ceil(start * (1 + value / 100)))
    if not limits:
        return current
    return min(limits) if rules.get("selectPolicy") == "Min" else max(limits)


def scale_down_limit(current: int, history: _History, rules: Obj, now: float) -> int:
    """kube's calculateScaleDownLimitWithBehaviors."""
    if rules.get("selectPolicy") == "Disabled":
        return current
    limits = []
    for policy in rules.get("policies") or []:
        period = float(policy.get("periodSeconds") or 0)
        start = (
            current
            - _changed_within(history.scale_ups, period, now)
            + _changed_within(history.scale_downs, period, now)
        )
        value = int(policy.get("value") or 0)
        if policy.get("type") == "Pods":
            limits.append(start - value)
        else:
            limits.append(int(start * (1 - value / 100)))
    if not limits:
        return current
    return max(limits) if rules.get("selectPolicy") == "Min" else min(limits)


def _stabilize(
    behavior: Obj | None,
    current: int,
    proposed: int,
    history: _History,
    outcome: _Outcome,
    now: float,
) -> int:
    """Recent recommendations applied: without behavior the highest of the downscale
    window (kube's stabilizeRecommendation), with it the scale-up window's lowest and
    the scale-down window's highest bound ``current`` (…WithBehaviors)."""
    if behavior is None:
        up_window, down_window = 0.0, DOWNSCALE_STABILIZATION
    else:
        up_window = float(_rules(behavior, "scaleUp").get("stabilizationWindowSeconds") or 0)
        window = _rules(behavior, "scaleDown").get("stabilizationWindowSeconds")
        down_window = DOWNSCALE_STABILIZATION if window is None else float(window)
    up, down = proposed, proposed
    for at, replicas in history.recommendations:
        if at > now - up_window:
            up = min(up, replicas)
        if at > now - down_window:
            down = max(down, replicas)
    keep = max(up_window, down_window)
    history.recommendations = [(at, r) for at, r in history.recommendations if at > now - keep]
    history.recommendations.append((now, proposed))
    stabilized = down if behavior is None else min(max(current, up), down)
    if stabilized > proposed:
        outcome.set(
            "AbleToScale",
            True,
            "ScaleDownStabilized",
            "recent recommendations were higher than current one, applying the highest "
            "recent recommendation",
        )
    elif stabilized < proposed:
        outcome.set(
            "AbleToScale",
            True,
            "ScaleUpStabilized",
            "recent recommendations were lower than current one, applying the lowest "
            "recent recommendation",
        )
    else:
        outcome.set(
            "AbleToScale", True, "ReadyForNewScale", "recommended size matches current size"
        )
    return stabilized


TOO_MANY = ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
TOO_FEW = ("TooFewReplicas", "the desired replica count is less than the minimum replica count")
UP_LIMIT = (
    "ScaleUpLimit",
    "the desired replica count is increasing faster than the maximum scale rate",
)
DOWN_LIMIT = (
    "ScaleDownLimit",
    "the desired replica count is decreasing faster than the maximum scale rate",
)
WITHIN = ("DesiredWithinRange", "the desired count is within the acceptable range")


def _bounded(
    hpa: Obj, current: int, desired: int, history: _History, now: float
) -> tuple[int, tuple[str, str]]:
    """``desired`` within the spec's replicas and the scaling rate (kube's
    convertDesiredReplicasWithRules, and …WithBehaviorRate when a behavior is given)."""
    spec = objects.spec(hpa)
    minimum = int(spec.get("minReplicas") or 1)
    maximum = int(spec.get("maxReplicas") or minimum)
    behavior = spec.get("behavior")
    if behavior is None:
        up_limit = max(int(SCALE_UP_LIMIT_FACTOR * current), SCALE_UP_LIMIT_MINIMUM)
        highest, why = (up_limit, UP_LIMIT) if maximum > up_limit else (maximum, TOO_MANY)
        if desired < minimum:
            return minimum, TOO_FEW
        if desired > highest:
            return highest, why
        return desired, WITHIN
    if desired > current:
        up_limit = max(scale_up_limit(current, history, _rules(behavior, "scaleUp"), now), current)
        highest, why = (up_limit, UP_LIMIT) if maximum > up_limit else (maximum, TOO_MANY)
        if desired > highest:
            return highest, why
    elif desired < current:
        down = min(scale_down_limit(current, history, _rules(behavior, "scaleDown"), now), current)
        lowest, why = (down, DOWN_LIMIT) if minimum < down else (minimum, TOO_FEW)
        if desired < lowest:
            return lowest, why
    return desired, WITHIN


def normalize(
    hpa: Obj,
    current: int,
    proposed: int,
    history: _History,
    outcome: _Outcome,
    now: float,
) -> int:
    """``proposed`` stabilized over recent recommendations, then bounded; the
    AbleToScale and ScalingLimited conditions say what did it."""
    behavior = objects.spec(hpa).get("behavior")
    stabilized = _stabilize(behavior, current, proposed, history, outcome, now)
    desired, (reason, message) = _bounded(hpa, current, stabilized, history, now)
    outcome.set("ScalingLimited", reason != WITHIN[0], reason, message)
    return desired


class HorizontalController(QueueController):
    name: ClassVar[str] = "horizontal-pod-autoscaler-controller"
    aliases: ClassVar[tuple[str, ...]] = ("horizontalpodautoscaling",)
    service_account: ClassVar[str] = "horizontal-pod-autoscaler"

    def __init__(self, ctx: Context, clock: Callable[[], float] = time.time) -> None:
        super().__init__(ctx)
        self.hpas = self.watch(
            ctx.informers.informer(HPAS), self.enqueue_handler(resync=SYNC_PERIOD)
        )
        self.metrics = MetricsSource(ctx)
        self.recorder = ctx.recorder("horizontal-pod-autoscaler", self.client)
        self.clock = clock
        self.history: dict[str, _History] = {}
        self._resources: dict[str, list[Obj]] = {}  # group/version -> its resource list

    async def _resource_of(self, api_version: str, kind: str) -> Resource:
        """The REST resource of ``kind`` in ``api_version`` (a RESTMapper's lookup)."""
        group, _, version = api_version.rpartition("/")
        listing = self._resources.get(api_version)
        if listing is None:
            path = f"/apis/{api_version}" if group else f"/api/{version}"
            listing = list((await self.client.request("GET", path)).get("resources") or [])
            self._resources[api_version] = listing
        for item in listing:
            if item.get("kind") == kind and "/" not in str(item.get("name")):
                return Resource(group, version, str(item["name"]), kind)
        self._resources.pop(api_version, None)
        raise errors.bad_request(f'no matches for kind "{kind}" in group "{group}"')

    async def sync(self, key: str) -> None:
        hpa = self.hpas.store.get(key)
        if hpa is None:
            self.history.pop(key, None)
            return
        if objects.deleting(hpa):
            return
        await self.reconcile(key, hpa)

    async def reconcile(self, key: str, hpa: Obj) -> None:
        spec = objects.spec(hpa)
        ref = spec.get("scaleTargetRef") or {}
        namespace = objects.namespace(hpa)
        outcome = _Outcome(conditions=list(objects.status(hpa).get("conditions") or []))
        status = objects.status(hpa)
        try:
            target = await self._resource_of(str(ref.get("apiVersion") or ""), str(ref.get("kind")))
            scale = await self.client.get(target, namespace, str(ref.get("name")), "scale")
        except errors.StatusError as err:
            message = (
                f"the HPA controller was unable to get the target's current scale: {err.message}"
            )
            self.recorder.warning(hpa, "FailedGetScale", err.message)
            outcome.set("AbleToScale", False, "FailedGetScale", message)
            await self._write_status(
                hpa,
                int(status.get("currentReplicas") or 0),
                int(status.get("desiredReplicas") or 0),
                outcome,
                rescaled=False,
            )
            return
        outcome.set(
            "AbleToScale",
            True,
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
        )
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        minimum = int(spec.get("minReplicas") or 1)
        maximum = int(spec.get("maxReplicas") or minimum)
        outcome.metrics = list(status.get("currentMetrics") or [])
        reason = ""
        now = self.clock()
        history = self.history.setdefault(key, _History())
        if current == 0 and minimum != 0:
            desired = 0
            outcome.set(
                "ScalingActive",
                False,
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
            )
        elif current > maximum:
            desired, reason = maximum, "Current number of replicas above Spec.MaxReplicas"
        elif current < minimum:
            desired, reason = minimum, "Current number of replicas below Spec.MinReplicas"
        else:
            selector = str((scale.get("status") or {}).get("selector") or "")
            proposed, metric = await self._for_metrics(hpa, current, selector, outcome)
            if proposed is None:
                await self._write_status(
                    hpa, current, int(status.get("desiredReplicas") or 0), outcome, rescaled=False
                )
                return
            if proposed > current:
                reason = f"{metric} above target"
            elif proposed < current:
                reason = "All metrics below target"
            desired = normalize(hpa, current, proposed, history, outcome, now)
        rescaled = desired != current
        if rescaled:
            scale.setdefault("spec", {})["replicas"] = desired
            try:
                await self.client.update(target, scale, subresource="scale")
            except errors.StatusError as err:
                self.recorder.warning(
                    hpa,
                    "FailedRescale",
                    f"New size: {desired}; reason: {reason}; error: {err.message}",
                )
                outcome.set(
                    "AbleToScale",
                    False,
                    "FailedUpdateScale",
                    f"the HPA controller was unable to update the target scale: {err.message}",
                )
                await self._write_status(
                    hpa, current, int(status.get("desiredReplicas") or 0), outcome, rescaled=False
                )
                raise
            outcome.set(
                "AbleToScale",
                True,
                "SucceededRescale",
                f"the HPA controller was able to update the target scale to {desired}",
            )
            self.recorder.normal(hpa, "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
            events = history.scale_ups if desired > current else history.scale_downs
            events.append((now, abs(desired - current)))
            horizon = now - 1800  # kube keeps events of the longest policy period
            history.scale_ups = [e for e in history.scale_ups if e[0] > horizon]
            history.scale_downs = [e for e in history.scale_downs if e[0] > horizon]
            log.info("%s: rescaled %s to %d (%s)", key, ref.get("name"), desired, reason)
        await self._write_status(hpa, current, desired, outcome, rescaled=rescaled)

    async def _for_metrics(
        self, hpa: Obj, current: int, selector: str, outcome: _Outcome
    ) -> tuple[int | None, str]:
        """The largest recommendation of the spec's metrics, and that metric's name."""
        if not selector:
            self.recorder.warning(hpa, "SelectorRequired", "selector is required")
            outcome.set(
                "ScalingActive",
                False,
                "InvalidSelector",
                "the HPA target's scale is missing a selector",
            )
            return None, ""
        namespace = objects.namespace(hpa)
        best: int | None = None
        best_name = ""
        statuses: list[Obj] = []
        failures: list[tuple[str, str]] = []
        specs = objects.spec(hpa).get("metrics") or []
        for metric in specs:
            try:
                replicas, name, status = await self._one_metric(
                    metric, namespace, selector, current
                )
            except MetricError as err:
                failures.append(_failure(metric, str(err)))
                statuses.append({"type": metric.get("type") or ""})
                continue
            statuses.append(status)
            if best is None or replicas > best:
                best, best_name = replicas, name
        # kube: every metric invalid, or some invalid where the valid ones would scale
        # down (the invalid ones might have said otherwise), is an error.
        if failures and (best is None or best < current):
            reason, message = failures[0]
            invalid = f"invalid metrics ({len(failures)} invalid out of {len(specs)})"
            self.recorder.warning(
                hpa, "FailedComputeMetricsReplicas", f"{invalid}, first error is: {message}"
            )
            outcome.set(
                "ScalingActive",
                False,
                reason,
                f"the HPA was unable to compute the replica count: {message}",
            )
            outcome.metrics = statuses
            return None, ""
        if best is None:
            return current, ""
        outcome.metrics = [s for s in statuses if len(s) > 1]
        outcome.set(
            "ScalingActive",
            True,
            "ValidMetricFound",
            f"the HPA was able to successfully calculate a replica count from {best_name}",
        )
        return best, best_name

    async def _one_metric(
        self, metric: Obj, namespace: str, selector: str, current: int
    ) -> tuple[int, str, Obj]:
        if metric.get("type") != "Resource":
            kind = str(metric.get("type") or "")
            raise MetricError(
                f"unable to get {kind.lower()} metric: no custom or external metrics API is served"
            )
        source = metric.get("resource") or {}
        resource = str(source.get("name") or "")
        target = source.get("target") or {}
        target_type = str(target.get("type") or "")
        pods = await self.metrics.pods(namespace, selector)
        usage = await self.metrics.usage(namespace, selector, resource)
        try:
            if target_type == "Utilization":
                found = replica_calculator.replicas_for(
                    current,
                    pods,
                    usage,
                    resource,
                    target_utilization=int(target.get("averageUtilization") or 0),
                )
            else:
                average = quantity.parse(target.get("averageValue"))
                if average is None or average <= 0:
                    raise MetricError(f"invalid target for resource {resource}")
                found = replica_calculator.replicas_for(
                    current, pods, usage, resource, target_average=average * 1000
                )
        except MetricError as err:
            raise MetricError(f"failed to get {resource} utilization: {err}") from err
        current_value: Obj = {"averageValue": quantity.milli_text(found.average / 1000)}
        if found.utilization is not None:
            current_value["averageUtilization"] = found.utilization
        status = {"type": "Resource", "resource": {"name": resource, "current": current_value}}
        return found.replicas, _metric_name(resource, target_type), status

    async def _write_status(
        self, hpa: Obj, current: int, desired: int, outcome: _Outcome, *, rescaled: bool
    ) -> None:
        old = objects.status(hpa)
        conditions = []
        for new in outcome.conditions:
            before = next(
                (c for c in old.get("conditions") or [] if c.get("type") == new["type"]), None
            )
            if before is not None and before.get("status") == new["status"]:
                new = {**new, "lastTransitionTime": before.get("lastTransitionTime")}
            conditions.append(new)
        status: Obj = {
            **old,
            "currentReplicas": current,
            "desiredReplicas": desired,
            "currentMetrics": outcome.metrics or None,
            "conditions": conditions,
        }
        if rescaled:
            status["lastScaleTime"] = objects.rfc3339()
        status = {k: v for k, v in status.items() if v is not None}
        if status == old:
            return
        namespace, name = split_key(objects.namespace(hpa) + "/" + objects.name(hpa))
        updated = {**hpa, "status": status}
        try:
            await self.client.update(HPAS, updated, subresource="status")
        except errors.StatusError as err:
            if err.code not in (404, 409):
                raise
            log.info("%s/%s: status not written: %s", namespace, name, err.message)


def _failure(metric: Obj, message: str) -> tuple[str, str]:
    """kube's ScalingActive reason for a metric of this type that failed."""
    reasons = {
        "Resource": "FailedGetResourceMetric",
        "ContainerResource": "FailedGetContainerResourceMetric",
        "Pods": "FailedGetPodsMetric",
        "Object": "FailedGetObjectMetric",
        "External": "FailedGetExternalMetric",
    }
    return reasons.get(str(metric.get("type")), "InvalidMetricSourceType"), message
