"""The built-in types' object model: their Kubernetes 1.32 OpenAPI definitions.

Decoding (Go's decoder and ``fieldValidation``: ``field_validation``), validation against
the schema (``schema_validation``), strategic merge and server-side apply
(``patching``) all read the shipped definition a built-in type names. A custom
resource's model is its CRD's structural schema instead (``services/registry/crd``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from kapi.errors import FieldError
from services.registry import field_validation, patching, schema_validation
from services.registry.patching.managed_fields import FieldManager

Obj = dict[str, Any]

ALL_PATCH_TYPES = patching.PATCH_TYPES


@dataclass(frozen=True)
class BuiltinModel:
    """Objects of the OpenAPI definition ``definition`` (e.g. io.k8s.api.core.v1.Pod)."""

    definition: str
    patch_types: tuple[str, ...] = ALL_PATCH_TYPES

    def decode(
        self, obj: Obj, *, kind: str, version: str, directive: str, duplicates: tuple[str, ...]
    ) -> list[str]:
        return field_validation.decode(
            obj,
            definition=self.definition,
            kind=kind,
            version=version,
            directive=directive,
            duplicates=duplicates,
        )

    def decode_patched(self, obj: Obj, *, kind: str, version: str, directive: str) -> list[str]:
        return field_validation.decode_patched(
            obj, definition=self.definition, kind=kind, version=version, directive=directive
        )

    def validate(self, obj: Obj, old: Obj | None = None) -> list[FieldError]:
        return schema_validation.validate(self.definition, obj)

    def field_manager(
        self, *, api_version: str, kind: str, subresource: str, has_status: bool
    ) -> FieldManager:
        return patching.field_manager(
            self.definition,
            api_version=api_version,
            kind=kind,
            subresource=subresource,
            has_status=has_status,
        )

    def components(self) -> dict[str, Obj]:
        return {}

    def components_v2(self) -> dict[str, Obj]:
        return {}


@functools.cache
def builtin(definition: str) -> BuiltinModel:
    """The model of a built-in definition (one per definition name, shared)."""
    return BuiltinModel(definition)
