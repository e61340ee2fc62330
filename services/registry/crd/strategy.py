"""The custom resource strategy, as apiextensions-apiserver's (``customresource/strategy.go``,
``status_strategy.go``).

- create: ``metadata.generation`` is 1; with a status subresource the status is dropped;
- update: the generation goes up when anything but metadata (and, with a status
  subresource, status) changed; with a status subresource the status is kept;
- ``/status``: only the status changes — everything else, labels and annotations
  included, is the stored object's (its managedFields are the request's);
- defaults: the version's schema (``schema.default``), as decoding does;
- validation: the schema, then the scale subresource's replicas (``scale_problems``, run
  by the model after the schema, in kube's order); metadata by the generic ObjectMeta
  rules (finalizer names need a domain only where kube's own types say so).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import orjson

from kapi import errors
from kapi.errors import FieldError
from services.registry.definition import ScaleFacts
from services.registry.strategy import Obj, Strategy

MAX_INT32 = 2**31 - 1


class CustomResourceStrategy(Strategy):
    tracks_generation = True
    kube_finalizer_names = False
    allow_create_on_update: ClassVar[bool] = False

    def __init__(
        self,
        *,
        status: bool,
        scale: ScaleFacts | None,
        default: Callable[[Obj], None] | None = None,
    ) -> None:
        self.status = status
        self.has_status = status
        self.scale = scale
        self._default = default

    def default(self, obj: Obj) -> None:
        if self._default is not None:
            self._default(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        if self.status:
            obj.pop("status", None)
        obj.setdefault("metadata", {})["generation"] = 1

    def _content(self, obj: Obj) -> dict[str, Any]:
        skipped = ("metadata", "status") if self.status else ("metadata",)
        return {k: v for k, v in obj.items() if k not in skipped}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        if self.status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        meta = new.setdefault("metadata", {})
        generation = old.get("metadata", {}).get("generation") or 1
        changed = self._content(new) != self._content(old)
        meta["generation"] = generation + 1 if changed else generation

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        status = new.get("status")
        has_status = "status" in new
        managed = (new.get("metadata") or {}).get("managedFields")
        new.clear()
        new.update({k: v for k, v in old.items() if k != "status"})
        new["metadata"] = {**old.get("metadata", {})}
        if managed is not None:
            new["metadata"]["managedFields"] = managed
        else:
            new["metadata"].pop("managedFields", None)
        if has_status:
            new["status"] = status


def scale_problems(scale: ScaleFacts | None, obj: Obj) -> list[FieldError]:
    """kube's ValidateScaleSpec and ValidateScaleStatus: the replicas a scale subresource
    reads must be non-negative int32s (reported after the schema's own errors)."""
    if scale is None:
        return []
    return _replicas(obj, scale.spec_replicas) + _replicas(obj, scale.status_replicas)


_GO_TYPES = {
    bool: "bool",
    str: "string",
    float: "float64",
    dict: "map[string]interface {}",
    list: "[]interface {}",
}


def _replicas(obj: Obj, path: tuple[str, ...]) -> list[FieldError]:
    value: Any = obj
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return []
        value = value[key]
    name = "." + ".".join(path)
    if isinstance(value, bool) or not isinstance(value, int):
        shown = value if isinstance(value, str) else orjson.dumps(value).decode()
        go_type = _GO_TYPES.get(type(value), "interface {}")
        detail = f"{name} accessor error: {shown} is of the type {go_type}, expected int64"
        return [errors.invalid_value(name, 0, detail)]
    if value < 0:
        return [errors.invalid_value(name, value, "should be a non-negative integer")]
    if value > MAX_INT32:
        return [errors.invalid_value(name, value, f"should be less than or equal to {MAX_INT32}")]
    return []
