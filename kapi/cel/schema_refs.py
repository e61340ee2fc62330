"""A kind's schema with its ``$ref``s replaced by what they name — kube's
``k8s.io/apiserver/pkg/cel/openapi/resolver`` (refs.go ``PopulateRefs``), which the
policy type checker uses to see a built-in or custom kind through OpenAPI v3.

A ``$ref`` (bare, or wrapped in ``allOf`` to keep its description, as OpenAPI v3
documents write them) is replaced by the schema it names, recursively through
properties, additionalProperties and items. A reference back to a schema being resolved
(``JSONSchemaProps`` inside itself) becomes an empty ``{"type": "object"}``, as kube's
placeholder. Built-in int-or-string fields say so by ``format: int-or-string`` where
custom resources use the extension; both mean int-or-string to CEL (kube's adaptor
``isXIntOrString``), so the format is turned into the extension here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Schema = dict[str, Any]
SchemaOf = Callable[[str], "Schema | None"]
INT_OR_STRING = "x-kubernetes-int-or-string"


class SchemaNotFound(LookupError):
    """A ``$ref`` names no schema of the document (kube's ErrSchemaNotFound)."""


def ref_of(schema: Schema) -> str | None:
    """The reference a schema is (refs.go refOf): ``$ref``, or one inside ``allOf``."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref:
        return ref
    for item in schema.get("allOf") or []:
        if isinstance(item, dict):
            found = ref_of(item)
            if found:
                return found
    return None


def populate(schema_of: SchemaOf, root: str) -> Schema:
    """The schema ``root`` names with every reference replaced."""
    found = schema_of(root)
    if found is None:
        raise SchemaNotFound(root)
    return _populate(schema_of, {root}, found)


def _populate(schema_of: SchemaOf, visiting: set[str], schema: Schema) -> Schema:
    ref = ref_of(schema)
    result = schema
    if ref is not None:
        if ref in visiting:
            return {"type": "object"}
        resolved = schema_of(ref)
        if resolved is None:
            raise SchemaNotFound(ref)
        visiting = visiting | {ref}
        result = resolved
    out = dict(result)
    if out.get("format") == "int-or-string":
        out[INT_OR_STRING] = True
    props = result.get("properties")
    if isinstance(props, dict):
        out["properties"] = {
            name: _populate(schema_of, visiting, prop) if isinstance(prop, dict) else prop
            for name, prop in props.items()
        }
    extra = result.get("additionalProperties")
    if isinstance(extra, dict):
        out["additionalProperties"] = _populate(schema_of, visiting, extra)
    items = result.get("items")
    if isinstance(items, dict):
        out["items"] = _populate(schema_of, visiting, items)
    return out


def components(document: dict[str, Any]) -> SchemaOf:
    """A lookup of ``#/components/schemas/NAME`` references in an OpenAPI v3 document."""
    schemas = (document.get("components") or {}).get("schemas") or {}
    prefix = "#/components/schemas/"

    def schema_of(ref: str) -> Schema | None:
        if not ref.startswith(prefix):
            return None
        found = schemas.get(ref[len(prefix) :])
        return found if isinstance(found, dict) else None

    return schema_of


def find_kind(document: dict[str, Any], group: str, version: str, kind: str) -> str | None:
    """The reference of the component carrying ``x-kubernetes-group-version-kind``
    {group, version, kind} in an OpenAPI v3 document."""
    schemas = (document.get("components") or {}).get("schemas") or {}
    for name, schema in schemas.items():
        for gvk in (schema or {}).get("x-kubernetes-group-version-kind") or []:
            if (gvk.get("group", ""), gvk.get("version"), gvk.get("kind")) == (
                group,
                version,
                kind,
            ):
                return f"#/components/schemas/{name}"
    return None
