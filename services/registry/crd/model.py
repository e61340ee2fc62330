"""A custom resource's object model: its CRD version's structural schema.

How kube's custom resource handler reads a body (``unstructuredSchemaCoercer``): the
metadata is decoded as ObjectMeta, fields the schema does not declare are pruned (their
paths reported by ``fieldValidation``: ``unknown field "spec.unknownField"``), nulls it
does not allow dropped, then the schema's defaults set; the strategy validates against
the schema (``schema.validate``) and its CEL rules (``rules``). Strategic merge patch is
refused (415); server-side apply reads the schema's list and map types.
"""

from __future__ import annotations

from typing import Any

import orjson

from kapi import errors
from kapi.errors import FieldError
from services.registry import field_validation, schema_validation
from services.registry.crd import openapi, schema
from services.registry.crd.rules import Rules
from services.registry.crd.strategy import scale_problems
from services.registry.definition import ScaleFacts
from services.registry.patching import APPLY_PATCH, JSON_PATCH, MERGE_PATCH
from services.registry.patching import schema as ssa_schema
from services.registry.patching.fieldpath import FieldSet, make_path
from services.registry.patching.managed_fields import FieldManager
from services.registry.patching.typed import Typed

Obj = dict[str, Any]

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_OBJECT_META_REF = {"$ref": "#/components/schemas/" + OBJECT_META}
# kube's custom resources take JSON patch, merge patch and apply; not strategic merge.
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)


# Schema errors that leave an object without the shape its CEL rules were written for:
# kube then skips the rules and says so (customresource/strategy.go ``hasBlockingErr``).
_BLOCKING = frozenset(
    {
        "FieldValueNotSupported",
        "FieldValueRequired",
        "FieldValueTooLong",
        "FieldValueTooMany",
        "FieldValueTypeInvalid",
    }
)
_RULES_NOT_CHECKED = FieldError(
    "FieldValueInvalid",
    "<nil>",
    None,
    "some validation rules were not checked because the object was invalid; correct the "
    "existing errors to complete validation",
)


class CustomResourceModel:
    """The objects of one served version of a custom resource."""

    patch_types: tuple[str, ...] = PATCH_TYPES

    def __init__(
        self,
        *,
        group: str,
        version: str,
        kind: str,
        list_kind: str,
        plural: str,
        raw_schema: Obj | None,
        preserve_unknown_fields: bool = False,
        rules: Rules | None = None,
        scale: ScaleFacts | None = None,
    ) -> None:
        self.group = group
        self.version = version
        self.kind = kind
        self.list_kind = list_kind
        self.plural = plural
        self.raw_schema = raw_schema or {}
        self.root = schema.compile_schema(raw_schema)
        self.preserve_unknown_fields = preserve_unknown_fields
        self.rules = rules
        self.scale = scale
        self.definition = openapi.component_name(group, version, kind)
        self.has_defaults = self.root.has_defaults
        self._components: dict[str, Obj] | None = None
        self._components_v2: dict[str, Obj] | None = None
        self._typed: Typed | None = None
        self._ssa_root: Obj | None = None

    # --- decoding ------------------------------------------------------------------

    def _coerce(self, obj: Obj) -> tuple[str, list[str]]:
        """Decode the metadata, prune, drop disallowed nulls, default: (the first
        decoding error, the unknown fields' paths)."""
        unknown: list[str] = []
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            decoded = schema_validation.decode(OBJECT_META, meta)
            if decoded.error:
                return decoded.error, []
            unknown += [
                path.replace('unknown field "', 'unknown field "metadata.', 1)
                for path in decoded.strict
                if path.startswith("unknown field")
            ]
        elif meta is not None:
            return "json: cannot unmarshal into Go value of type v1.ObjectMeta", []
        if not self.preserve_unknown_fields:
            unknown += [
                f'unknown field "{path}"' for path in schema.prune(obj, self.root, root=True)
            ]
            schema.drop_nulls(obj, self.root)
            for _path, embedded in schema.embedded_objects(obj, self.root):
                self._coerce_embedded(embedded)
        schema.default(obj, self.root)
        return "", unknown

    @staticmethod
    def _coerce_embedded(obj: Obj) -> None:
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            schema_validation.decode(OBJECT_META, meta)

    def decode(
        self, obj: Obj, *, kind: str, version: str, directive: str, duplicates: tuple[str, ...]
    ) -> list[str]:
        directive = _directive(directive)
        error, unknown = self._coerce(obj)
        if error:
            raise field_validation.cannot_handle(kind, version, error)
        found = (
            []
            if directive == field_validation.IGNORE
            else [f'duplicate field "{d}"' for d in duplicates]
        )
        found += unknown
        return _strict(found, directive, kind, version)

    def decode_patched(self, obj: Obj, *, kind: str, version: str, directive: str) -> list[str]:
        directive = _directive(directive)
        error, unknown = self._coerce(obj)
        if error:
            patched = orjson.dumps(obj).decode()
            raise errors.invalid("", "", "", [errors.invalid_value("patch", patched, error)])
        if not unknown or directive == field_validation.IGNORE:
            return []
        if directive == field_validation.STRICT:
            raise errors.bad_request("strict decoding error: " + ", ".join(unknown))
        return unknown

    def default(self, obj: Obj) -> None:
        """The schema's defaults, set in place (kube defaults on read too)."""
        if self.has_defaults:
            schema.default(obj, self.root)

    # --- validation ----------------------------------------------------------------

    def validate(self, obj: Obj, old: Obj | None = None) -> list[FieldError]:
        """The schema's value validations, the scale subresource's replicas, the list
        types and embedded resources, then the CEL rules (kube's order)."""
        problems = [] if not self.raw_schema else schema.validate(obj, self.root)
        problems += scale_problems(self.scale, obj)
        if self.rules is not None:
            if any(p.type in _BLOCKING for p in problems):
                problems.append(_RULES_NOT_CHECKED)
            else:
                problems += self.rules.validate(obj, old)
        return problems

    # --- server-side apply ----------------------------------------------------------

    def field_manager(
        self, *, api_version: str, kind: str, subresource: str, has_status: bool
    ) -> FieldManager:
        if self._typed is None:
            self._ssa_root = ssa_root(self.raw_schema, self.preserve_unknown_fields)
            self._typed = Typed(ssa_schema.Types(ssa_schema.builtin_resolver()))
        root = self._ssa_root
        ignored: FieldSet | None = None
        if subresource == "status":
            keep = {"status", "metadata", "apiVersion", "kind"}
            fields = (root or {}).get("properties") or {}
            ignored = FieldSet.of(*(make_path(n) for n in fields if n not in keep))
        elif not subresource and has_status:
            ignored = FieldSet.of(make_path("status"))
        return FieldManager(
            self._typed,
            root,
            api_version=api_version,
            kind=kind,
            subresource=subresource,
            ignored=ignored,
        )

    # --- OpenAPI --------------------------------------------------------------------

    def components(self) -> dict[str, Obj]:
        if self._components is None:
            self._components = openapi.components(self, v2=False)
        return self._components

    def components_v2(self) -> dict[str, Obj]:
        if self._components_v2 is None:
            self._components_v2 = openapi.components(self, v2=True)
        return self._components_v2


def _directive(directive: str) -> str:
    if directive not in field_validation.DIRECTIVES:
        raise errors.bad_request(
            f"fieldValidation must be one of Ignore, Warn, Strict; got {directive}"
        )
    return directive or field_validation.WARN


def _strict(found: list[str], directive: str, kind: str, version: str) -> list[str]:
    if not found or directive == field_validation.IGNORE:
        return []
    if directive == field_validation.STRICT:
        raise field_validation.cannot_handle(
            kind, version, "strict decoding error: " + ", ".join(found)
        )
    return found


def ssa_root(raw: Obj, preserve_unknown_fields: bool) -> Obj | None:
    """The schema server-side apply types objects with (kube's structural-to-SMD view):
    metadata is ObjectMeta, embedded resources take TypeMeta and ObjectMeta, unknown
    fields are allowed where the schema preserves them. None: deduce from the values."""
    if preserve_unknown_fields or not raw:
        return None
    root = _ssa_node(raw)
    props = dict(root.get("properties") or {})
    props["apiVersion"] = {"type": "string"}
    props["kind"] = {"type": "string"}
    props["metadata"] = dict(_OBJECT_META_REF)
    root["properties"] = props
    root["type"] = "object"
    return root


def _ssa_node(node: Obj) -> Obj:
    nested = ("properties", "items", "additionalProperties")
    out = {k: v for k, v in node.items() if k not in nested}
    if node.get("x-kubernetes-int-or-string") is True:
        out["format"] = "int-or-string"
    props = node.get("properties")
    if isinstance(props, dict):
        out["properties"] = {k: _ssa_node(v) for k, v in props.items() if isinstance(v, dict)}
    items = node.get("items")
    if isinstance(items, dict):
        out["items"] = _ssa_node(items)
    additional = node.get("additionalProperties")
    if isinstance(additional, dict):
        out["additionalProperties"] = _ssa_node(additional)
    elif node.get("x-kubernetes-preserve-unknown-fields") is True or additional is True:
        out["additionalProperties"] = {}
        out.setdefault("type", "object")
    if node.get("x-kubernetes-embedded-resource") is True:
        props = dict(out.get("properties") or {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", dict(_OBJECT_META_REF))
        out["properties"] = props
    return out
