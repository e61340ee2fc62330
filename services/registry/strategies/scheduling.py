"""scheduling.k8s.io/v1 PriorityClasses (``pkg/apis/scheduling/validation``)."""

from __future__ import annotations

from kapi import errors
from kapi.errors import FieldError
from services.registry import validation
from services.registry.definition import Definition, grouped
from services.registry.strategies import common
from services.registry.strategy import Obj, Strategy

HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_PRIORITY_CLASSES = {
    "system-node-critical": 2_000_001_000,
    "system-cluster-critical": 2_000_000_000,
}


class PriorityClassStrategy(Strategy):
    def default(self, obj: Obj) -> None:
        if not obj.get("preemptionPolicy"):
            obj["preemptionPolicy"] = "PreemptLowerPriority"

    def validate(self, obj: Obj) -> list[FieldError]:
        out: list[FieldError] = []
        name = (obj.get("metadata") or {}).get("name")
        value = obj.get("value")
        if isinstance(name, str) and name in SYSTEM_PRIORITY_CLASSES:
            if value != SYSTEM_PRIORITY_CLASSES[name]:
                out.append(
                    errors.forbidden_field(
                        "value",
                        f"value of system priority class {name} must be "
                        f"{SYSTEM_PRIORITY_CLASSES[name]}",
                    )
                )
        elif isinstance(name, str) and name.startswith("system-"):
            out.append(
                errors.invalid_value(
                    "metadata.name", name, "priority class names with 'system-' prefix are reserved"
                )
            )
        elif isinstance(value, int) and value > HIGHEST_USER_DEFINABLE_PRIORITY:
            out.append(
                errors.forbidden_field(
                    "value",
                    f"maximum allowed value of a user defined priority is "
                    f"{HIGHEST_USER_DEFINABLE_PRIORITY}",
                )
            )
        out += common.one_of(
            obj.get("preemptionPolicy"), "preemptionPolicy", ("Never", "PreemptLowerPriority")
        )
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        out = self.validate(new)
        if new.get("value") != old.get("value"):
            out.append(errors.forbidden_field("value", "may not be changed in an update."))
        out += common.immutable(
            new.get("preemptionPolicy"), old.get("preemptionPolicy"), "preemptionPolicy"
        )
        return out

    def validate_name(self, name: str) -> list[str]:
        return validation.dns1123_subdomain(name)


DEFINITIONS: tuple[Definition, ...] = (
    grouped(
        "scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", PriorityClassStrategy(),
        schema_group="scheduling", namespaced=False, short_names=("pc",),
    ),
)  # fmt: skip
