"""flowcontrol.apiserver.k8s.io/v1: FlowSchemas and PriorityLevelConfigurations
(``pkg/apis/flowcontrol/v1/defaults.go``, ``pkg/apis/flowcontrol/validation``)."""

from __future__ import annotations

from kapi import errors
from kapi.errors import FieldError
from services.registry import types
from services.registry.definition import Definition, grouped
from services.registry.strategies import common
from services.registry.strategies.common import StatusStrategy, get_path, spec_of
from services.registry.strategy import Obj


class FlowSchemaStrategy(StatusStrategy):
    tracks_generation = True

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict) and not spec.get("matchingPrecedence"):
            spec["matchingPrecedence"] = 1000

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = spec_of(obj)
        out: list[FieldError] = []
        precedence = spec.get("matchingPrecedence")
        if isinstance(precedence, int) and not 1 <= precedence <= 10000:
            out.append(
                errors.invalid_value(
                    "spec.matchingPrecedence", precedence, "must be between 1 and 10000, inclusive"
                )
            )
        if not get_path(spec, "priorityLevelConfiguration", "name"):
            out.append(
                errors.required(
                    "spec.priorityLevelConfiguration.name", "must reference a priority level"
                )
            )
        method = get_path(spec, "distinguisherMethod", "type")
        if spec.get("distinguisherMethod") is not None:
            out += common.one_of(method, "spec.distinguisherMethod.type", ("ByNamespace", "ByUser"))
        for i, rule in enumerate(common.dicts(spec.get("rules"))):
            if not rule.get("subjects"):
                out.append(
                    errors.required(
                        f"spec.rules[{i}].subjects", "subjects must contain at least one value"
                    )
                )
        return out


class PriorityLevelConfigurationStrategy(StatusStrategy):
    tracks_generation = True

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        limited = spec.get("limited")
        if spec.get("type") == "Limited" and isinstance(limited, dict):
            limited.setdefault("nominalConcurrencyShares", 30)
            limited.setdefault("lendablePercent", 0)
            response = limited.get("limitResponse")
            queuing = response.get("queuing") if isinstance(response, dict) else None
            if isinstance(queuing, dict):
                queuing.setdefault("queues", 64)
                queuing.setdefault("handSize", 8)
                queuing.setdefault("queueLengthLimit", 50)
        exempt = spec.get("exempt")
        if spec.get("type") == "Exempt" and isinstance(exempt, dict):
            exempt.setdefault("nominalConcurrencyShares", 0)
            exempt.setdefault("lendablePercent", 0)

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = spec_of(obj)
        kind = spec.get("type")
        if not kind:
            return [errors.required("spec.type", "must be 'Exempt' or 'Limited'")]
        out = common.one_of(kind, "spec.type", ("Exempt", "Limited"))
        if kind == "Limited" and not isinstance(spec.get("limited"), dict):
            out.append(errors.required("spec.limited", "must not be empty when type is Limited"))
        if kind == "Limited" and spec.get("exempt") is not None:
            out.append(errors.forbidden_field("spec.exempt", "must be nil if the type is Limited"))
        if kind == "Exempt" and spec.get("limited") is not None:
            out.append(
                errors.forbidden_field("spec.limited", "must be nil if the type is not Limited")
            )
        percent = get_path(spec, "limited", "lendablePercent")
        if isinstance(percent, int) and not 0 <= percent <= 100:
            out.append(
                errors.invalid_value(
                    "spec.limited.lendablePercent", percent, "must be between 0 and 100, inclusive"
                )
            )
        return out


_FLOWCONTROL = "flowcontrol.apiserver.k8s.io"
DEFINITIONS: tuple[Definition, ...] = (
    grouped(
        _FLOWCONTROL, "v1", "flowschemas", "FlowSchema", FlowSchemaStrategy(),
        schema_group="flowcontrol", namespaced=False, subresources=types.STATUS,
    ),
    grouped(
        _FLOWCONTROL, "v1", "prioritylevelconfigurations", "PriorityLevelConfiguration",
        PriorityLevelConfigurationStrategy(), schema_group="flowcontrol", namespaced=False,
        subresources=types.STATUS,
    ),
)  # fmt: skip
