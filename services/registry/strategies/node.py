"""node.k8s.io/v1 RuntimeClasses (``pkg/apis/node/validation``)."""

from __future__ import annotations

from kapi import errors
from kapi.errors import FieldError
from services.registry import validation
from services.registry.definition import Definition, grouped
from services.registry.strategies import common
from services.registry.strategy import Obj, Strategy


class RuntimeClassStrategy(Strategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        handler = obj.get("handler")
        if not handler:
            return [errors.required("handler")]
        out: list[FieldError] = []
        if isinstance(handler, str):
            out.extend(
                errors.invalid_value("handler", handler, m)
                for m in validation.dns1123_label(handler)
            )
        overhead = obj.get("overhead")
        if isinstance(overhead, dict):
            out += common.validate_resource_list(overhead.get("podFixed"), "overhead.podFixed")
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self.validate(new) + common.immutable(
            new.get("handler"), old.get("handler"), "handler"
        )


DEFINITIONS: tuple[Definition, ...] = (
    grouped(
        "node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", RuntimeClassStrategy(),
        schema_group="node", namespaced=False,
    ),
)  # fmt: skip
