"""Kubernetes 1.32 component schemas, converted from the definitions kubernetes-validate ships.

Why: kubectl's ``create -f``/``apply -f``/``explain`` and client-side strategic merge read
the component schemas of ``/openapi/v3/<gv>``. We do not hand-write them: the
``kubernetes-validate`` package carries every 1.32 definition, only JSON-schema-ified
(``$defs``, ``#/$defs/<name>`` refs, ``["string", "null"]`` types, single-value enums on
``apiVersion``/``kind``). This module turns them back into what kube-apiserver publishes:

- ``$ref`` points at ``#/components/schemas/<name>``; a ref with siblings (a description,
  a patch strategy) is wrapped as ``allOf: [{$ref}]`` plus the siblings, as kube does,
  because OpenAPI 3.0 ignores the siblings of a bare ``$ref``;
- nullable types become the plain type; the artificial enums on ``apiVersion``/``kind``
  are dropped (kube's documents have none);
- descriptions, properties, required, items, additionalProperties, format and every
  ``x-kubernetes-*`` extension are kept, so ``kubectl explain`` and strategic merge work;
- the scalar wrappers whose definitions lost their text in the JSON-schema form
  (Quantity, IntOrString) get kube's published v3 form back.

The converted schemas are cached and shared between documents: treat them as read-only.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from services.registry import schema_enums

DEFINITIONS_PACKAGE = "kubernetes_validate"
DEFINITIONS_FILE = ("kubernetes-json-schema", "v1.32.0-local", "_definitions.json")
SOURCE_REF_PREFIX = "#/$defs/"
REF_PREFIX = "#/components/schemas/"

Schema = dict[str, Any]

# Kube's published v3 form of the apimachinery scalars (api/openapi-spec/v3): the
# JSON-schema definitions carry only a bare oneOf, without description or format.
_SCALARS: dict[str, Schema] = {
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        "description": (
            "Quantity is a fixed-point representation of a number. It provides convenient "
            "marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() "
            "accessors.\n\nThe serialization format is:\n\n``` <quantity>        ::= "
            '<signedNumber><suffix>\n\n\t(Note that <suffix> may be empty, from the "" case '
            "in <decimalSI>.)\n\n<digit>           ::= 0 | 1 | ... | 9 <digits>          ::= "
            "<digit> | <digit><digits> <number>          ::= <digits> | <digits>.<digits> | "
            '<digits>. | .<digits> <sign>            ::= "+" | "-" <signedNumber>    ::= '
            "<number> | <sign><number> <suffix>          ::= <binarySI> | <decimalExponent> | "
            "<decimalSI> <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei\n\n\t(International "
            "System of units; See: http://physics.nist.gov/cuu/Units/binary.html)\n\n"
            '<decimalSI>       ::= m | "" | k | M | G | T | P | E\n\n\t(Note that 1024 = 1Ki '
            'but 1000 = 1k; I didn\'t choose the capitalization.)\n\n<decimalExponent> ::= "e" '
            '<signedNumber> | "E" <signedNumber> ```\n\nNo matter which of the three exponent '
            "forms is used, no quantity may represent a number greater than 2^63-1 in "
            "magnitude, nor may it have more than 3 decimal places. Numbers larger or more "
            "precise will be capped or rounded up. (E.g.: 0.1m will rounded up to 1m.) This may "
            "be extended in the future if we require larger or smaller quantities.\n\nWhen a "
            "Quantity is parsed from a string, it will remember the type of suffix it had, and "
            "will use the same type again when it is serialized.\n\nBefore serializing, "
            'Quantity will be put in "canonical form". This means that Exponent/suffix will be '
            "adjusted up or down (with a corresponding increase or decrease in Mantissa) such "
            "that:\n\n- No precision is lost - No fractional digits will be emitted - The "
            "exponent (or suffix) is as large as possible.\n\nThe sign will be omitted unless "
            'the number is negative.\n\nExamples:\n\n- 1.5 will be serialized as "1500m" - '
            '1.5Gi will be serialized as "1536Mi"\n\nNote that the quantity will NEVER be '
            "internally represented by a floating point number. That is the whole point of "
            "this exercise.\n\nNon-canonical values will still parse as long as they are well "
            "formed, but will be re-emitted in their canonical form. (So always use canonical "
            "form, or don't diff.)\n\nThis format is intended to make it difficult to use these "
            "numbers without writing some sort of special handling code in the hopes that that "
            "will cause implementors to also use a fixed point implementation."
        ),
        "oneOf": [{"type": "string"}, {"type": "number"}],
    },
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "description": (
            "IntOrString is a type that can hold an int32 or a string.  When used in JSON or "
            "YAML marshalling and unmarshalling, it produces or consumes the inner type.  This "
            "allows you to have, for example, a JSON field that can accept a name or number."
        ),
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
    },
}

# Swagger 2.0 (``/openapi/v2``) has no oneOf: kube publishes these scalars as strings.
_SCALARS_V2: dict[str, Schema] = {
    name: {
        key: value
        for key, value in {
            **schema,
            "type": "string",
        }.items()
        if key != "oneOf"
    }
    for name, schema in _SCALARS.items()
}
REF_PREFIX_V2 = "#/definitions/"

# Properties whose JSON-schema form carries an artificial single-value (or all-groups) enum.
_TYPE_META_PROPERTIES = frozenset({"apiVersion", "kind"})
# Keys holding one sub-schema / a list of sub-schemas.
_SCHEMA_KEYS = frozenset({"items", "additionalProperties", "not"})
_SCHEMA_LIST_KEYS = frozenset({"oneOf", "anyOf", "allOf"})


def _ref_name(ref: str) -> str:
    if not ref.startswith(SOURCE_REF_PREFIX):
        raise ValueError(f"unexpected $ref {ref!r} in the Kubernetes definitions")
    return ref[len(SOURCE_REF_PREFIX) :]


def _openapi_type(value: Any) -> Any:
    """``["string", "null"]`` → ``"string"``; OpenAPI 3.0 has no type lists or null type."""
    if not isinstance(value, list):
        return value
    types = [t for t in value if t != "null"]
    if len(types) == 1:
        return types[0]
    raise ValueError(f"cannot express type {value!r} in OpenAPI 3.0")


def convert(node: Any, *, property_name: str | None = None) -> Any:
    """One JSON-schema node (recursively) as an OpenAPI 3.0 schema node. Pure."""
    if isinstance(node, list):
        return [convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if key == "$ref":
            continue
        if key == "type":
            out[key] = _openapi_type(value)
        elif key == "enum" and property_name in _TYPE_META_PROPERTIES:
            continue
        elif key == "properties":
            out[key] = {name: convert(sub, property_name=name) for name, sub in value.items()}
        elif key in _SCHEMA_KEYS:
            out[key] = convert(value) if isinstance(value, dict) else value
        elif key in _SCHEMA_LIST_KEYS:
            out[key] = [convert(sub) for sub in value]
        else:  # description, format, required, enum, default, x-kubernetes-*: plain data
            out[key] = value
    ref = node.get("$ref")
    if ref is None:
        return out
    target = {"$ref": REF_PREFIX + _ref_name(ref)}
    return {"allOf": [target], **out} if out else target


def convert_v2(node: Any, *, property_name: str | None = None) -> Any:
    """One JSON-schema node (recursively) as a Swagger 2.0 schema node, as kube's
    ``/openapi/v2`` has it: ``#/definitions/<name>`` refs that keep their siblings
    (description, patch strategy) beside them. Pure."""
    if isinstance(node, list):
        return [convert_v2(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = REF_PREFIX_V2 + _ref_name(value)
        elif key == "type":
            out[key] = _openapi_type(value)
        elif key == "enum" and property_name in _TYPE_META_PROPERTIES:
            continue
        elif key == "properties":
            out[key] = {name: convert_v2(sub, property_name=name) for name, sub in value.items()}
        elif key in _SCHEMA_KEYS:
            out[key] = convert_v2(value) if isinstance(value, dict) else value
        elif key in _SCHEMA_LIST_KEYS:
            out[key] = [convert_v2(sub) for sub in value]
        else:
            out[key] = value
    return out


def with_enums(name: str, schema: Schema) -> Schema:
    """``schema`` (a converted definition) with kube's ``enum`` lists and "Possible enum
    values" paragraphs on the properties ``schema_enums`` knows. A new dict when any."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return schema
    changed: dict[str, Schema] = {}
    for prop, sub in properties.items():
        enum = schema_enums.lookup(name, prop)
        if enum is None:
            continue
        sub = dict(sub)
        values = sorted(enum.values)
        if sub.get("type") == "array" and isinstance(sub.get("items"), dict):
            sub["items"] = {**sub["items"], "enum": values}
        else:
            sub["enum"] = values
        paragraph = enum.paragraph()
        if paragraph:
            text = sub.get("description", "")
            sub["description"] = f"{text}\n\n{paragraph}" if text else paragraph
        changed[prop] = sub
    if not changed:
        return schema
    return {**schema, "properties": {**properties, **changed}}


def refs_in(node: Any) -> set[str]:
    """The component names an OpenAPI node references (``#/components/schemas/<name>``)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            ref = current.get("$ref")
            if isinstance(ref, str) and ref.startswith(REF_PREFIX):
                found.add(ref[len(REF_PREFIX) :])
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return found


class Definitions:
    """The 1.32 definitions: raw JSON-schema form in, OpenAPI v3 component schemas out.

    Conversion is lazy and memoised per definition; safe to call from several threads.
    """

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = raw
        self._converted: dict[str, Schema] = {}
        self._refs: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()
        self._by_gvk: dict[tuple[str, str, str], str] | None = None

    def __contains__(self, name: object) -> bool:
        return name in self._raw

    def raw(self) -> Mapping[str, Any]:
        """The definitions as shipped (JSON-schema form). Read-only."""
        return self._raw

    def schema(self, name: str) -> Schema:
        """The OpenAPI v3 component schema ``name`` (KeyError if unknown). Read-only."""
        cached = self._converted.get(name)
        if cached is not None:
            return cached
        if name not in self._raw:
            raise KeyError(f"no Kubernetes 1.32 OpenAPI definition named {name!r}")
        converted = _SCALARS.get(name) or with_enums(name, convert(self._raw[name]))
        with self._lock:
            self._converted.setdefault(name, converted)
            self._refs.setdefault(name, frozenset(refs_in(converted)))
            return self._converted[name]

    def schema_v2(self, name: str) -> Schema:
        """The Swagger 2.0 definition ``name`` (``/openapi/v2``), not memoised."""
        if name not in self._raw:
            raise KeyError(f"no Kubernetes 1.32 OpenAPI definition named {name!r}")
        return _SCALARS_V2.get(name) or with_enums(name, convert_v2(self._raw[name]))

    def closure(self, roots: Iterable[str]) -> dict[str, Schema]:
        """``roots`` and every schema they reach through ``$ref``, by name."""
        out: dict[str, Schema] = {}
        pending = list(roots)
        while pending:
            name = pending.pop()
            if name in out:
                continue
            out[name] = self.schema(name)
            pending.extend(self._refs[name] - out.keys())
        return out

    def by_gvk(self, group: str, version: str, kind: str) -> str | None:
        """The definition carrying ``x-kubernetes-group-version-kind`` {group, version, kind}."""
        if self._by_gvk is None:
            index: dict[tuple[str, str, str], str] = {}
            for name, raw in self._raw.items():
                for gvk in raw.get("x-kubernetes-group-version-kind", ()):
                    index.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
            self._by_gvk = index
        return self._by_gvk.get((group, version, kind))

    def field_description(self, name: str, field: str) -> str:
        """A property's description: what kube's ``SwaggerDoc()[field]`` returns."""
        prop = self._raw[name].get("properties", {}).get(field)
        if prop is None:
            raise KeyError(f"{name} has no field {field!r}")
        description: str = prop.get("description", "")
        return description


def definitions_path() -> Path:
    """Where kubernetes-validate keeps the 1.32 definitions.

    Found through the package's import spec without importing it: importing
    kubernetes_validate pulls in jsonschema (~80 ms) for nothing we use.
    """
    spec = importlib.util.find_spec(DEFINITIONS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {DEFINITIONS_PACKAGE} package is not installed")
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*DEFINITIONS_FILE)


def load() -> Definitions:
    """Read the definitions kubernetes-validate ships (a fresh instance; ~10 ms)."""
    document = orjson.loads(definitions_path().read_bytes())
    return Definitions(document["$defs"])


@functools.cache
def builtin() -> Definitions:
    """The shipped definitions, loaded once per process and shared."""
    return load()


class Overlay(Definitions):
    """The built-in definitions with more components laid over them (a custom resource's
    object and list schemas, already in OpenAPI v3 and Swagger 2.0 form). The extra
    components may refer to built-in ones (ObjectMeta, ListMeta)."""

    def __init__(self, base: Definitions, v3: Mapping[str, Schema], v2: Mapping[str, Schema]):
        super().__init__(base.raw())
        self._base = base
        self.extra = dict(v3)
        self.extra_v2 = dict(v2)
        self._extra_refs = {name: frozenset(refs_in(schema)) for name, schema in v3.items()}
        self._extra_gvk: dict[tuple[str, str, str], str] = {}
        for name, schema in v3.items():
            for gvk in schema.get("x-kubernetes-group-version-kind", ()):
                self._extra_gvk.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)

    def __contains__(self, name: object) -> bool:
        return name in self.extra or name in self._base

    def schema(self, name: str) -> Schema:
        found = self.extra.get(name)
        return found if found is not None else self._base.schema(name)

    def schema_v2(self, name: str) -> Schema:
        found = self.extra_v2.get(name)
        return found if found is not None else self._base.schema_v2(name)

    def closure(self, roots: Iterable[str]) -> dict[str, Schema]:
        roots = list(roots)
        out: dict[str, Schema] = {}
        base_roots: set[str] = set()
        for name in roots:
            if name in self.extra:
                out[name] = self.extra[name]
                base_roots |= self._extra_refs[name] - self.extra.keys()
            else:
                base_roots.add(name)
        out.update(self._base.closure(base_roots))
        return out

    def by_gvk(self, group: str, version: str, kind: str) -> str | None:
        return self._extra_gvk.get((group, version, kind)) or self._base.by_gvk(
            group, version, kind
        )

    def field_description(self, name: str, field: str) -> str:
        return self._base.field_description(name, field)
