"""What kube checks of a CRD's versions' schemas before it accepts the CRD (``apiextensions``'
``ValidateCustomResourceDefinition``): a v1 CRD's schemas must be structural, worded as
kube's ``ValidateStructural`` words it (``spec.versions[0].schema.openAPIV3Schema.
properties[spec].type: Required value: must not be empty for specified object fields``),
without the JSON-Schema features kube does not support, with list types that make sense,
defaults the schema accepts, and CEL rules that compile within kube's cost limits.
"""

from __future__ import annotations

import re
from typing import Any

from kapi import errors
from kapi.errors import FieldError
from services.registry.crd import regex, rules, schema

Obj = dict[str, Any]

_UNSUPPORTED = {
    "$ref": "$ref is not supported",
    "id": "id is not supported",
    "additionalItems": "additionalItems is not supported",
    "patternProperties": "patternProperties is not supported",
    "dependencies": "dependencies is not supported",
    "definitions": "definitions is not supported",
}
_ROOT, _ITEM, _FIELD = "root", "item", "field"
_EMPTY_TYPE = {
    _ROOT: "must not be empty at the root",
    _ITEM: "must not be empty for specified array items",
    _FIELD: "must not be empty for specified object fields",
}
_NESTED_FORBIDDEN = (
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("externalDocs", "must be undefined to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "must be undefined to be structural"),
    ("x-kubernetes-validations", "must be empty to be structural"),
)
_NESTED_FALSE = (
    ("nullable", "must be false to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
)
_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]


def _key(path: str, key: str) -> str:
    return f"{path}[{key}]"


def version_schema_problems(raw: Any, path: str) -> list[FieldError]:
    """Everything wrong with one version's ``openAPIV3Schema`` at ``path``."""
    if not isinstance(raw, dict):
        return [errors.required(path, "schemas are required")]
    found: list[FieldError] = []
    _api(raw, path, found)
    structural: list[FieldError] = []
    _structural(raw, _ROOT, path, structural)
    structural.sort(key=str)
    found += structural
    if not found:
        found += _defaults(raw, path)
        compiled, problems = rules.compile_rules(raw, path)
        found += problems
        del compiled
    return found


# --- the JSONSchemaProps kube accepts (validateCustomResourceDefinitionOpenAPISchema) ----


def _api(s: Obj, path: str, out: list[FieldError]) -> None:
    for key, why in _UNSUPPORTED.items():
        if key in s:
            out.append(errors.forbidden_field(f"{path}.{key}", why))
    if s.get("uniqueItems") is True:
        out.append(
            errors.forbidden_field(
                f"{path}.uniqueItems",
                "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            )
        )
    if "additionalProperties" in s and "properties" in s:
        out.append(
            errors.forbidden_field(
                f"{path}.additionalProperties",
                "additionalProperties and properties are mutual exclusive",
            )
        )
    if s.get("additionalProperties") is False:
        out.append(
            errors.forbidden_field(
                f"{path}.additionalProperties", "additionalProperties cannot be set to false"
            )
        )
    list_type = s.get("x-kubernetes-list-type")
    keys = s.get("x-kubernetes-list-map-keys")
    if list_type is not None:
        if list_type not in ("atomic", "set", "map"):
            out.append(
                errors.not_supported(
                    f"{path}.x-kubernetes-list-type", list_type, ["atomic", "set", "map"]
                )
            )
        if s.get("type") != "array":
            out.append(
                errors.invalid_value(
                    f"{path}.type",
                    s.get("type", ""),
                    "must be array if x-kubernetes-list-type is specified",
                )
            )
        if list_type == "map" and not keys:
            out.append(
                errors.required(
                    f"{path}.x-kubernetes-list-map-keys",
                    "must not be empty if x-kubernetes-list-type is map",
                )
            )
    if keys and list_type != "map":
        out.append(
            errors.forbidden_field(
                f"{path}.x-kubernetes-list-map-keys",
                "requires x-kubernetes-list-type: map",
            )
        )
    if list_type == "map" and isinstance(keys, list):
        given = s.get("items")
        items: Obj = given if isinstance(given, dict) else {}
        props = items.get("properties") or {}
        for key in keys:
            if key not in props:
                out.append(
                    errors.invalid_value(
                        f"{path}.x-kubernetes-list-map-keys",
                        keys,
                        "entries must all be names of item properties",
                    )
                )
                break
    map_type = s.get("x-kubernetes-map-type")
    if map_type is not None and map_type not in ("atomic", "granular"):
        out.append(
            errors.not_supported(f"{path}.x-kubernetes-map-type", map_type, ["atomic", "granular"])
        )
    pattern = s.get("pattern")
    if isinstance(pattern, str):
        try:
            regex.compile_go(pattern)
        except re.error as exc:
            out.append(
                errors.invalid_value(
                    f"{path}.pattern",
                    pattern,
                    f"must be a valid regular expression, but isn't: {exc}",
                )
            )
    for name, sub in (s.get("properties") or {}).items():
        if isinstance(sub, dict):
            _api(sub, f"{path}.properties[{name}]", out)
    for key in ("items", "additionalProperties", "not"):
        if isinstance(s.get(key), dict):
            _api(s[key], f"{path}.{key}", out)
    for key in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(s.get(key) or []):
            if isinstance(sub, dict):
                _api(sub, f"{path}.{key}[{i}]", out)


# --- structural invariants (kube's ValidateStructural) -----------------------------------


def _structural(s: Obj, level: str, path: str, out: list[FieldError]) -> None:
    kind = s.get("type", "")
    if kind == "array" and "items" not in s:
        out.append(errors.required(f"{path}.items", "must be specified"))
    if isinstance(s.get("items"), dict):
        _structural(s["items"], _ITEM, f"{path}.items", out)
    given = s.get("properties")
    props: Obj = given if isinstance(given, dict) else {}
    for name, sub in props.items():
        if isinstance(sub, dict):
            _structural(sub, _FIELD, _key(f"{path}.properties", name), out)
    if "additionalProperties" in s:
        if level == _ROOT:
            out.append(
                errors.forbidden_field(
                    f"{path}.additionalProperties", "must not be used at the root"
                )
            )
        if isinstance(s["additionalProperties"], dict):
            _structural(s["additionalProperties"], _FIELD, f"{path}.additionalProperties", out)
    int_or_string = s.get("x-kubernetes-int-or-string") is True
    preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
    embedded = s.get("x-kubernetes-embedded-resource") is True
    if int_or_string and preserve:
        out.append(
            errors.invalid_value(
                f"{path}.x-kubernetes-preserve-unknown-fields",
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    if int_or_string and embedded:
        out.append(
            errors.invalid_value(
                f"{path}.x-kubernetes-embedded-resource",
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    any_of = s.get("anyOf") or []
    all_of = s.get("allOf") or []
    skip_any_of = any_of == _INT_OR_STRING_ANY_OF
    skip_first = (
        bool(all_of)
        and isinstance(all_of[0], dict)
        and (all_of[0].get("anyOf") == _INT_OR_STRING_ANY_OF)
    )
    _value_validation(s, skip_any_of, skip_first, level, path, out)
    if embedded and kind != "object":
        detail = "must be object if x-kubernetes-embedded-resource is true"
        if not kind:
            out.append(errors.required(f"{path}.type", detail))
        else:
            out.append(errors.invalid_value(f"{path}.type", kind, detail))
    elif not kind and not int_or_string and not preserve:
        out.append(errors.required(f"{path}.type", _EMPTY_TYPE[level]))
    if embedded and "additionalProperties" in s:
        out.append(
            errors.forbidden_field(
                f"{path}.additionalProperties",
                "must not be used if x-kubernetes-embedded-resource is set",
            )
        )
    if level == _ROOT and kind and kind != "object":
        out.append(errors.invalid_value(f"{path}.type", kind, "must be object at the root"))
    check_meta = level == _ROOT or embedded
    for meta_field in ("kind", "apiVersion"):
        sub = props.get(meta_field)
        if check_meta and isinstance(sub, dict) and sub.get("type") != "string":
            out.append(
                errors.invalid_value(
                    _key(f"{path}.properties", meta_field) + ".type",
                    sub.get("type", ""),
                    "must be string",
                )
            )
    metadata = props.get("metadata")
    if isinstance(metadata, dict):
        meta_path = _key(f"{path}.properties", "metadata")
        if check_meta and metadata.get("type") != "object":
            out.append(
                errors.invalid_value(
                    f"{meta_path}.type", metadata.get("type", ""), "must be object"
                )
            )
        if level == _ROOT and _restricts_metadata(metadata):
            out.append(
                errors.forbidden_field(
                    meta_path,
                    "must not specify anything other than name and generateName, but metadata is "
                    "implicitly specified",
                )
            )
    if embedded and not preserve and not props:
        out.append(
            errors.required(
                f"{path}.properties",
                "must not be empty if x-kubernetes-embedded-resource is true without "
                "x-kubernetes-preserve-unknown-fields",
            )
        )


def _restricts_metadata(metadata: Obj) -> bool:
    rest = {k: v for k, v in metadata.items() if k not in ("type", "default", "properties")}
    props = metadata.get("properties") or {}
    if set(props) - {"name", "generateName"}:
        return True
    return bool(rest)


def _value_validation(
    s: Obj, skip_any_of: bool, skip_first_all_of: bool, level: str, path: str, out: list[FieldError]
) -> None:
    if not skip_any_of:
        for i, sub in enumerate(s.get("anyOf") or []):
            _nested(sub, False, level, f"{path}.anyOf[{i}]", out)
    for i, sub in enumerate(s.get("allOf") or []):
        _nested(sub, skip_first_all_of and i == 0, level, f"{path}.allOf[{i}]", out)
    for i, sub in enumerate(s.get("oneOf") or []):
        _nested(sub, False, level, f"{path}.oneOf[{i}]", out)
    if isinstance(s.get("not"), dict):
        _nested(s["not"], False, level, f"{path}.not", out)


def _nested(s: Any, skip_any_of: bool, level: str, path: str, out: list[FieldError]) -> None:
    if not isinstance(s, dict):
        return
    _value_validation(s, skip_any_of, False, level, path, out)
    if isinstance(s.get("items"), dict):
        _nested(s["items"], False, level, f"{path}.items", out)
    for name, sub in (s.get("properties") or {}).items():
        _nested(sub, False, _FIELD, _key(f"{path}.properties", name), out)
    for key, why in _NESTED_FORBIDDEN:
        if s.get(key):
            out.append(errors.forbidden_field(f"{path}.{key}", why))
    for key, why in _NESTED_FALSE:
        if s.get(key) is True:
            out.append(errors.forbidden_field(f"{path}.{key}", why))
    if "metadata" in (s.get("properties") or {}):
        out.append(
            errors.forbidden_field(
                _key(f"{path}.properties", "metadata"), "must not be specified in a nested context"
            )
        )


# --- defaults ----------------------------------------------------------------------------


def _defaults(raw: Obj, path: str) -> list[FieldError]:
    """Each default must be valid where it applies, after pruning (kube validates them
    against the schema with the ``default`` paths)."""
    out: list[FieldError] = []
    root = schema.compile_schema(raw)
    _walk_defaults(raw, root, path, "", out)
    return out


def _walk_defaults(
    raw: Obj, node: schema.Node, path: str, value_path: str, out: list[FieldError]
) -> None:
    if "default" in raw:
        for problem in schema.validate_value(node.default, node, value_path):
            out.append(FieldError(problem.type, f"{path}.default", problem.value, problem.detail))
    for name, sub in (raw.get("properties") or {}).items():
        child = node.properties.get(name)
        if isinstance(sub, dict) and child is not None:
            _walk_defaults(
                sub,
                child,
                _key(f"{path}.properties", name),
                f"{value_path}.{name}" if value_path else name,
                out,
            )
    if isinstance(raw.get("items"), dict) and node.items is not None:
        _walk_defaults(raw["items"], node.items, f"{path}.items", f"{value_path}[0]", out)
    if isinstance(raw.get("additionalProperties"), dict) and node.additional is not None:
        _walk_defaults(
            raw["additionalProperties"],
            node.additional,
            f"{path}.additionalProperties",
            f"{value_path}[key]",
            out,
        )
