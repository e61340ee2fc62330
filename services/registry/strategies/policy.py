"""PodDisruptionBudgets (policy/v1), as ``pkg/apis/policy/validation`` checks them."""

from __future__ import annotations

from kapi import errors
from kapi.errors import FieldError
from services.registry import types
from services.registry.definition import Definition, grouped
from services.registry.strategies import common
from services.registry.strategies.common import StatusStrategy, spec_of
from services.registry.strategy import Obj


class PodDisruptionBudgetStrategy(StatusStrategy):
    tracks_generation = True

    def initial_status(self, obj: Obj) -> Obj:
        # PodDisruptionBudgetStatus: these counts are not omitempty.
        return {
            "disruptionsAllowed": 0,
            "currentHealthy": 0,
            "desiredHealthy": 0,
            "expectedPods": 0,
        }

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = spec_of(obj)
        out: list[FieldError] = []
        minimum, maximum = spec.get("minAvailable"), spec.get("maxUnavailable")
        if minimum is not None and maximum is not None:
            out.append(
                errors.invalid_value(
                    "spec", spec, "minAvailable and maxUnavailable cannot be both set"
                )
            )
        for key, value in (("minAvailable", minimum), ("maxUnavailable", maximum)):
            if value is not None:
                out += common.validate_int_or_percent(value, f"spec.{key}")
                out += common.percent_over_100(value, f"spec.{key}")
        out += common.validate_label_selector(spec.get("selector"), "spec.selector")
        out += common.one_of(
            spec.get("unhealthyPodEvictionPolicy"),
            "spec.unhealthyPodEvictionPolicy",
            ("AlwaysAllow", "IfHealthyBudget"),
        )
        return out


DEFINITIONS: tuple[Definition, ...] = (
    grouped(
        "policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget",
        PodDisruptionBudgetStrategy(), schema_group="policy", short_names=("pdb",),
        subresources=types.STATUS,
    ),
)  # fmt: skip
