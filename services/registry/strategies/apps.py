"""Strategies of the apps group: deployments, replica sets, stateful sets, daemon sets and
controller revisions, as kube-apiserver 1.32 defaults and validates them
(``pkg/apis/apps/v1/defaults.go``, ``pkg/apis/apps/validation``, ``pkg/registry/apps``)."""

from __future__ import annotations

from kapi import errors
from kapi.errors import FieldError
from services.registry import types
from services.registry.definition import Definition, grouped
from services.registry.field_selection import FieldSelection
from services.registry.strategies import common, scale
from services.registry.strategies.common import StatusStrategy, get_path, spec_of
from services.registry.strategy import Obj, Strategy

# The annotation apps/v1 DaemonSets carry their template generation in.
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


def _matches(selector: object, labels: object) -> bool:
    return common.selector_matches(selector, labels)


def _selector_immutable(new: Obj, old: Obj) -> list[FieldError]:
    """apps/v1: a controller's selector never changes once set."""
    new_selector = spec_of(new).get("selector")
    if new_selector != spec_of(old).get("selector"):
        return [errors.invalid_value("spec.selector", new_selector, common.IMMUTABLE)]
    return []


class _Workload(StatusStrategy):
    """What Deployments, ReplicaSets, StatefulSets and DaemonSets share."""

    tracks_generation = True
    kind_word = "deployment"  # as kube words "empty selector is invalid for <kind>"

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            self.default_spec(spec)
            common.default_pod_template(spec.get("template"))

    def default_spec(self, spec: Obj) -> None:
        """The spec fields kube's SetDefaults_<Kind> fills (the template is done after)."""

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [errors.required("spec")]
        out = common.validate_nonnegative(spec.get("replicas"), "spec.replicas")
        out += common.validate_workload_selector(spec, self.kind_word)
        out += common.validate_pod_template(spec.get("template"), "spec.template")
        out += common.validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
        out += common.validate_nonnegative(
            spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit"
        )
        return out + self.validate_spec(spec)

    def validate_spec(self, spec: Obj) -> list[FieldError]:
        return []

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self.validate(new) + _selector_immutable(new, old)


class DeploymentStrategy(_Workload):
    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """As kube: annotation changes bump the generation too (the deployment controller
        copies annotations to the replica sets)."""
        super().prepare_for_update(new, old)
        meta, old_meta = new["metadata"], old.get("metadata") or {}
        generation = old_meta.get("generation", 1)
        if meta.get("generation") == generation and (meta.get("annotations") or {}) != (
            old_meta.get("annotations") or {}
        ):
            meta["generation"] = generation + 1

    def default_spec(self, spec: Obj) -> None:
        spec.setdefault("replicas", 1)
        strategy = spec.setdefault("strategy", {})
        if isinstance(strategy, dict):
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                rolling = strategy.setdefault("rollingUpdate", {})
                if isinstance(rolling, dict):
                    rolling.setdefault("maxUnavailable", "25%")
                    rolling.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)

    def validate_spec(self, spec: Obj) -> list[FieldError]:
        out: list[FieldError] = []
        strategy = spec.get("strategy")
        if isinstance(strategy, dict):
            kind = strategy.get("type")
            out += common.one_of(kind, "spec.strategy.type", ("Recreate", "RollingUpdate"))
            rolling = strategy.get("rollingUpdate")
            if kind == "Recreate" and rolling is not None:
                out.append(
                    errors.forbidden_field(
                        "spec.strategy.rollingUpdate",
                        "may not be specified when strategy `type` is 'Recreate'",
                    )
                )
            elif isinstance(rolling, dict):
                out += _validate_rolling_update(rolling, "spec.strategy.rollingUpdate")
        deadline = spec.get("progressDeadlineSeconds")
        minimum = spec.get("minReadySeconds") or 0
        if isinstance(deadline, int) and isinstance(minimum, int) and deadline <= minimum:
            out.append(
                errors.invalid_value(
                    "spec.progressDeadlineSeconds",
                    deadline,
                    "must be greater than minReadySeconds",
                )
            )
        return out


def _validate_rolling_update(rolling: Obj, path: str) -> list[FieldError]:
    """ValidateRollingUpdateDeployment."""
    out: list[FieldError] = []
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    for key, value in (("maxUnavailable", unavailable), ("maxSurge", surge)):
        if value is not None:
            out += common.validate_int_or_percent(value, f"{path}.{key}")
    if unavailable in (0, "0%") and surge in (0, "0%"):
        out.append(
            errors.invalid_value(
                f"{path}.maxUnavailable",
                unavailable,
                "may not be 0 when `maxSurge` is 0",
            )
        )
    out += common.percent_over_100(unavailable, f"{path}.maxUnavailable")
    return out


class ReplicaSetStrategy(_Workload):
    def default_spec(self, spec: Obj) -> None:
        spec.setdefault("replicas", 1)

    def initial_status(self, obj: Obj) -> Obj:
        return {"replicas": 0}  # ReplicaSetStatus.replicas is not omitempty


class StatefulSetStrategy(_Workload):
    kind_word = "statefulset"

    def default_spec(self, spec: Obj) -> None:
        spec.setdefault("podManagementPolicy", "OrderedReady")
        update = spec.setdefault("updateStrategy", {})
        if isinstance(update, dict):
            if not update.get("type"):
                update["type"] = "RollingUpdate"
                update.setdefault("rollingUpdate", {})
            rolling = update.get("rollingUpdate")
            if update["type"] == "RollingUpdate" and isinstance(rolling, dict):
                rolling.setdefault("partition", 0)
        retention = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
        if isinstance(retention, dict):
            retention.setdefault("whenDeleted", "Retain")
            retention.setdefault("whenScaled", "Retain")
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        for claim in common.dicts(spec.get("volumeClaimTemplates")):
            _default_claim_template(claim)

    def initial_status(self, obj: Obj) -> Obj:
        return {"replicas": 0, "availableReplicas": 0}

    def validate_spec(self, spec: Obj) -> list[FieldError]:
        out = common.one_of(
            spec.get("podManagementPolicy"),
            "spec.podManagementPolicy",
            ("OrderedReady", "Parallel"),
        )
        update = spec.get("updateStrategy")
        if isinstance(update, dict):
            kind = update.get("type")
            out += common.one_of(kind, "spec.updateStrategy.type", ("OnDelete", "RollingUpdate"))
            rolling = update.get("rollingUpdate")
            if kind == "OnDelete" and rolling is not None:
                out.append(
                    errors.invalid_value(
                        "spec.updateStrategy.rollingUpdate",
                        rolling,
                        "only allowed for updateStrategy 'RollingUpdate'",
                    )
                )
            elif isinstance(rolling, dict):
                out += common.validate_nonnegative(
                    rolling.get("partition"), "spec.updateStrategy.rollingUpdate.partition"
                )
        retention = spec.get("persistentVolumeClaimRetentionPolicy")
        if isinstance(retention, dict):
            for key in ("whenDeleted", "whenScaled"):
                out += common.one_of(
                    retention.get(key),
                    f"spec.persistentVolumeClaimRetentionPolicy.{key}",
                    ("Retain", "Delete"),
                )
        for i, claim in enumerate(common.dicts(spec.get("volumeClaimTemplates"))):
            name = get_path(claim, "metadata", "name")
            if not name:
                out.append(errors.required(f"spec.volumeClaimTemplates[{i}].metadata.name"))
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        """ValidateStatefulSetUpdate: only some spec fields may change."""
        out = self.validate(new)
        mutable = (
            "replicas",
            "ordinals",
            "template",
            "updateStrategy",
            "revisionHistoryLimit",
            "persistentVolumeClaimRetentionPolicy",
            "minReadySeconds",
        )
        new_rest = {k: v for k, v in spec_of(new).items() if k not in mutable}
        old_rest = {k: v for k, v in spec_of(old).items() if k not in mutable}
        if new_rest != old_rest:
            out.append(
                errors.forbidden_field(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                    "'template', 'updateStrategy', 'revisionHistoryLimit', "
                    "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                )
            )
        return out


def _default_claim_template(claim: Obj) -> None:
    """A volumeClaimTemplate as kube stores it: a defaulted PersistentVolumeClaim."""
    claim.setdefault("apiVersion", "v1")
    claim.setdefault("kind", "PersistentVolumeClaim")
    meta = claim.setdefault("metadata", {})
    if isinstance(meta, dict):
        meta.setdefault("creationTimestamp", None)
    spec = claim.get("spec")
    if isinstance(spec, dict):
        spec.setdefault("volumeMode", "Filesystem")
    status = claim.setdefault("status", {})
    if isinstance(status, dict):
        status.setdefault("phase", "Pending")


class DaemonSetStrategy(_Workload):
    kind_word = "daemonset"

    def default_spec(self, spec: Obj) -> None:
        update = spec.setdefault("updateStrategy", {})
        if isinstance(update, dict):
            update.setdefault("type", "RollingUpdate")
            if update["type"] == "RollingUpdate":
                rolling = update.setdefault("rollingUpdate", {})
                if isinstance(rolling, dict):
                    rolling.setdefault("maxUnavailable", 1)
                    rolling.setdefault("maxSurge", 0)
        spec.setdefault("revisionHistoryLimit", 10)

    def initial_status(self, obj: Obj) -> Obj:
        # DaemonSetStatus: these four counts are not omitempty.
        return {
            "currentNumberScheduled": 0,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": 0,
            "numberReady": 0,
        }

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        annotations = obj["metadata"].setdefault("annotations", {})
        if isinstance(annotations, dict):
            annotations[TEMPLATE_GENERATION] = "1"

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """kube bumps the template generation when the pod template changes."""
        super().prepare_for_update(new, old)
        old_annotations = get_path(old, "metadata", "annotations") or {}
        generation = str(old_annotations.get(TEMPLATE_GENERATION) or "1")
        if spec_of(new).get("template") != spec_of(old).get("template") and generation.isdigit():
            generation = str(int(generation) + 1)
        annotations = new["metadata"].setdefault("annotations", {})
        if isinstance(annotations, dict):
            annotations[TEMPLATE_GENERATION] = generation

    def validate_spec(self, spec: Obj) -> list[FieldError]:
        update = spec.get("updateStrategy")
        if not isinstance(update, dict):
            return []
        kind = update.get("type")
        out = common.one_of(kind, "spec.updateStrategy.type", ("OnDelete", "RollingUpdate"))
        rolling = update.get("rollingUpdate")
        if kind == "RollingUpdate" and isinstance(rolling, dict):
            path = "spec.updateStrategy.rollingUpdate"
            unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
            for key, value in (("maxUnavailable", unavailable), ("maxSurge", surge)):
                if value is not None:
                    out += common.validate_int_or_percent(value, f"{path}.{key}")
            if unavailable in (0, "0%") and surge in (0, "0%", None):
                out.append(
                    errors.invalid_value(
                        f"{path}.maxUnavailable",
                        unavailable,
                        "may not be 0 when `maxSurge` is 0",
                    )
                )
        return out


class ControllerRevisionStrategy(Strategy):
    """Revisions are written by controllers: data and revision never change."""

    def validate(self, obj: Obj) -> list[FieldError]:
        return common.validate_nonnegative(obj.get("revision"), "revision")

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        out = self.validate(new)
        out += common.immutable(new.get("data"), old.get("data"), "data")
        return out


DEFINITIONS: tuple[Definition, ...] = (
    grouped(
        "apps", "v1", "controllerrevisions", "ControllerRevision", ControllerRevisionStrategy(),
        schema_group="apps",
    ),
    grouped(
        "apps", "v1", "daemonsets", "DaemonSet", DaemonSetStrategy(),
        schema_group="apps", short_names=("ds",), categories=types.ALL,
        subresources=types.STATUS,
    ),
    grouped(
        "apps", "v1", "deployments", "Deployment", DeploymentStrategy(),
        schema_group="apps", short_names=("deploy",), categories=types.ALL,
        subresources=types.STATUS_SCALE, scale=scale.CONTROLLER,
    ),
    grouped(
        "apps", "v1", "replicasets", "ReplicaSet", ReplicaSetStrategy(),
        schema_group="apps", short_names=("rs",), categories=types.ALL,
        subresources=types.STATUS_SCALE, scale=scale.CONTROLLER,
        selection=FieldSelection(("status.replicas",), zero_ints=frozenset({"status.replicas"})),
    ),
    grouped(
        "apps", "v1", "statefulsets", "StatefulSet", StatefulSetStrategy(),
        schema_group="apps", short_names=("sts",), categories=types.ALL,
        subresources=types.STATUS_SCALE, scale=scale.CONTROLLER,
    ),
)  # fmt: skip
