"""The custom resource strategy, as apiextensions-apiserver's (``customresource/strategy.go``,
``status_strategy.go``).

- create: ``metadata.generation`` is 1; with a status subresource the status is dropped;
- update: the generation goes up when anything but metadata (and, with a status
  subresource, status) changed; with a status subresource the status is kept;
- ``/status``: only the status changes — everything else, labels and annotations
  included, is the stored object's (its managedFields are the request's);
- defaults: the version's schema (``schema.default``), as decoding does;
- validation: the schema (the definition's model) and the scale subresource's
  replicas; metadata by the generic ObjectMeta rules (finalizer names need a domain
  only where kube's own types say so).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

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

    def validate(self, obj: Obj) -> list[FieldError]:
        return self._scale_spec(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self._scale_spec(new)

    def validate_subresource_update(self, subresource: str, new: Obj, old: Obj) -> list[FieldError]:
        if subresource == "status":
            return self._scale_status(new)
        return self._scale_spec(new)

    # --- kube's ValidateScaleSpec / ValidateScaleStatus -------------------------------

    def _scale_spec(self, obj: Obj) -> list[FieldError]:
        if self.scale is None:
            return []
        return _replicas(obj, self.scale.spec_replicas)

    def _scale_status(self, obj: Obj) -> list[FieldError]:
        if self.scale is None:
            return []
        return _replicas(obj, self.scale.status_replicas)


def _replicas(obj: Obj, path: tuple[str, ...]) -> list[FieldError]:
    value: Any = obj
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return []
        value = value[key]
    name = "." + ".".join(path)
    if isinstance(value, bool) or not isinstance(value, int):
        return [
            errors.invalid_value(
                name,
                value,
                f".{'.'.join(path)} accessor error: {value!r} is of the type "
                f"{type(value).__name__}, expected int64",
            )
        ]
    if value < 0:
        return [errors.invalid_value(name, value, "should be a non-negative integer")]
    if value > MAX_INT32:
        return [errors.invalid_value(name, value, f"should be less than or equal to {MAX_INT32}")]
    return []
