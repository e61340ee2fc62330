"""Structural schemas (services/registry/crd/schema.py): pruning, nulls, defaults and value
validation worded as kube-openapi and apiextensions-apiserver word them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from services.registry.crd import schema

Obj = dict[str, Any]

SPEC: Obj = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 2, "maxLength": 5},
                "count": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
                "ratio": {"type": "number", "exclusiveMinimum": True, "minimum": 0,
                          "multipleOf": 0.5},
                "mode": {"type": "string", "enum": ["a", "b"]},
                "port": {"x-kubernetes-int-or-string": True},
                "when": {"type": "string", "format": "date-time"},
                "ip": {"type": "string", "format": "ipv4"},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2,
                         "x-kubernetes-list-type": "set"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"},
                           "maxProperties": 2, "minProperties": 1},
                "pair": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                "nullable": {"type": "string", "nullable": True},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                         "properties": {"known": {"type": "object", "properties": {
                             "a": {"type": "string"}}}}},
                "items": {"type": "array", "x-kubernetes-list-type": "map",
                          "x-kubernetes-list-map-keys": ["k"],
                          "items": {"type": "object", "properties": {
                              "k": {"type": "string"}, "v": {"type": "string", "default": "x"}}}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                             "x-kubernetes-preserve-unknown-fields": True},
            },
            "required": ["name"],
        }
    },
}  # fmt: skip
ROOT = schema.compile_schema(SPEC)


def obj(**spec: Any) -> Obj:
    return {"apiVersion": "x.io/v1", "kind": "X", "metadata": {"name": "o"}, "spec": spec}


PRUNED = [
    ("a field the schema lacks", {"name": "ab", "bogus": 1}, ["spec.bogus"], {"name": "ab"}),
    ("nested and in lists", {"name": "ab", "items": [{"k": "1", "z": 2}]}, ["spec.items[0].z"],
     {"name": "ab", "items": [{"k": "1"}]}),
    ("preserved below x-kubernetes-preserve-unknown-fields",
     {"name": "ab", "free": {"any": 1, "known": {"a": "1", "b": 2}}}, ["spec.free.known.b"],
     {"name": "ab", "free": {"any": 1, "known": {"a": "1"}}}),
    ("an embedded resource keeps its type and metadata",
     {"name": "ab", "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "x": 1}}, [],
     {"name": "ab", "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "x": 1}}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "spec", "paths", "left"), PRUNED, ids=[c[0] for c in PRUNED])
def test_prune(case: str, spec: Obj, paths: list[str], left: Obj) -> None:
    value = obj(**spec)
    value["status"] = {"gone": True}
    assert schema.prune(value, ROOT) == [*paths, "status"]
    assert value["spec"] == left
    assert set(value) == {"apiVersion", "kind", "metadata", "spec"}  # the root's meta stays


def test_nulls_and_defaults() -> None:
    value = obj(name="ab", mode=None, nullable=None, items=[{"k": "1"}])
    schema.drop_nulls(value, ROOT)
    assert "mode" not in value["spec"] and value["spec"]["nullable"] is None
    schema.default(value, ROOT)
    assert value["spec"]["count"] == 3
    assert value["spec"]["items"] == [{"k": "1", "v": "x"}]
    again = copy.deepcopy(value)
    schema.default(again, ROOT)
    assert again == value


def test_defaults_are_pruned_once_compiled() -> None:
    root = schema.compile_schema(
        {"type": "object", "properties": {"spec": {"type": "object", "default": {"a": 1, "b": 2},
                                                   "properties": {"a": {"type": "integer"}}}}}
    )  # fmt: skip
    value: Obj = {}
    schema.default(value, root)
    assert value == {"spec": {"a": 1}}


VALIDATION = [
    ("type", {"name": "ab", "count": "x"},
     ['spec.count: Invalid value: "string": spec.count in body must be of type integer: '
      '"string"']),
    ("a float that is an integer is one", {"name": "ab", "count": 2.0}, []),
    ("required", {"count": 2}, ["spec.name: Required value"]),
    ("too short", {"name": "a"},
     ['spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long']),
    ("too long", {"name": "abcdef"}, ["spec.name: Too long: may not be more than 5 bytes"]),
    ("maximum", {"name": "ab", "count": 11},
     ["spec.count: Invalid value: 11: spec.count in body should be less than or equal to 10"]),
    ("minimum", {"name": "ab", "count": 0},
     ["spec.count: Invalid value: 0: spec.count in body should be greater than or equal to 1"]),
    ("exclusive minimum", {"name": "ab", "ratio": 0},
     ["spec.ratio: Invalid value: 0: spec.ratio in body should be greater than 0"]),
    ("multiple of", {"name": "ab", "ratio": 0.7},
     ["spec.ratio: Invalid value: 0.7: spec.ratio in body should be a multiple of 0.5"]),
    ("enum", {"name": "ab", "mode": "c"},
     ['spec.mode: Unsupported value: "c": supported values: "a", "b"']),
    ("int or string", {"name": "ab", "port": True},
     ['spec.port: Invalid value: "boolean": spec.port in body must be of type '
      'integer,string: "boolean"']),
    ("format", {"name": "ab", "when": "yesterday"},
     ['spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: '
      '"yesterday"']),
    ("a valid format", {"name": "ab", "when": "2024-01-02T03:04:05Z", "ip": "10.0.0.1"}, []),
    ("max items", {"name": "ab", "tags": ["a", "b", "c"]},
     ["spec.tags: Too many: 3: must have at most 2 items"]),
    # kube-openapi's TooManyProperties gives the maximum as the value and no maximum
    ("max properties", {"name": "ab", "labels": {"a": "1", "b": "2", "c": "3"}},
     ["spec.labels: Too many: 2: has too many items"]),
    # kube-openapi's TooFewItems carries the size, TooFewProperties the minimum
    ("min items", {"name": "ab", "pair": ["a"]},
     ["spec.pair: Invalid value: 1: spec.pair in body should have at least 2 items"]),
    ("min properties", {"name": "ab", "labels": {}},
     ["spec.labels: Invalid value: 1: spec.labels in body should have at least 1 properties"]),
    ("a set's duplicates", {"name": "ab", "tags": ["a", "a"]},
     ['spec.tags[1]: Duplicate value: "a"']),
    ("a map list's duplicate keys", {"name": "ab", "items": [{"k": "1"}, {"k": "1", "v": "y"}]},
     ['spec.items[1]: Duplicate value: {"k":"1"}']),
    ("map values", {"name": "ab", "labels": {"a": 1}},
     ['spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type '
      'string: "integer"']),
    ("null where not nullable", {"name": None},
     ['spec.name: Invalid value: "null": spec.name in body must be of type string: "null"']),
    ("an embedded resource needs its type", {"name": "ab", "template": {"metadata": {}}},
     ["spec.template.apiVersion: Required value", "spec.template.kind: Required value"]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "spec", "messages"), VALIDATION, ids=[c[0] for c in VALIDATION])
def test_validate(case: str, spec: Obj, messages: list[str]) -> None:
    assert [str(e) for e in schema.validate(obj(**spec), ROOT)] == messages


def test_validation_does_not_look_at_the_root_meta() -> None:
    value = obj(name="ab")
    value["metadata"] = {"name": 1}  # ObjectMeta is validated apart
    assert schema.validate(value, ROOT) == []
