"""coordination.k8s.io/v1 Leases (``pkg/apis/coordination/validation``)."""

from __future__ import annotations

from kapi import errors
from kapi.errors import FieldError
from services.registry.definition import Definition, grouped
from services.registry.strategies import common
from services.registry.strategies.common import spec_of
from services.registry.strategy import Obj, Strategy


class LeaseStrategy(Strategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        spec = spec_of(obj)
        out: list[FieldError] = []
        duration = spec.get("leaseDurationSeconds")
        if isinstance(duration, int) and duration <= 0:
            out.append(
                errors.invalid_value(
                    "spec.leaseDurationSeconds", duration, "must be greater than 0"
                )
            )
        out += common.validate_nonnegative(spec.get("leaseTransitions"), "spec.leaseTransitions")
        strategy = spec.get("strategy")
        if strategy is not None:
            out += common.one_of(strategy, "spec.strategy", ("OldestEmulationVersion",))
        return out


DEFINITIONS: tuple[Definition, ...] = (
    grouped(
        "coordination.k8s.io", "v1", "leases", "Lease", LeaseStrategy(),
        schema_group="coordination",
    ),
)  # fmt: skip
