"""A CRD's own validation (services/registry/crd/validation.py and the CRD strategy):
structural schemas required, worded as kube's ValidateStructural and
ValidateCustomResourceDefinition word them."""

from __future__ import annotations

from typing import Any

import pytest

from services.registry.crd import validation
from services.registry.strategies.apiextensions import CustomResourceDefinitionStrategy

Obj = dict[str, Any]
P = "spec.versions[0].schema.openAPIV3Schema"

SCHEMAS = [
    ("structural", {"type": "object", "properties": {"spec": {"type": "object"}}}, []),
    ("a field without a type", {"type": "object", "properties": {"spec": {}}},
     [f"{P}.properties[spec].type: Required value: must not be empty for specified object "
      "fields"]),
    ("a root that is not an object", {"type": "string"},
     [f'{P}.type: Invalid value: "string": must be object at the root']),
    ("no type at the root", {"properties": {"a": {"type": "string"}}},
     [f"{P}.type: Required value: must not be empty at the root"]),
    ("items without a type", {"type": "object", "properties": {
        "a": {"type": "array", "items": {}}}},
     [f"{P}.properties[a].items.type: Required value: must not be empty for specified array "
      "items"]),
    ("an array without items", {"type": "object", "properties": {"a": {"type": "array"}}},
     [f"{P}.properties[a].items: Required value: must be specified"]),
    ("additionalProperties at the root", {"type": "object", "additionalProperties":
                                           {"type": "string"}},
     [f"{P}.additionalProperties: Forbidden: must not be used at the root"]),
    ("a type in a value validation", {"type": "object", "properties": {"a": {
        "type": "string", "anyOf": [{"type": "string"}]}}},
     [f"{P}.properties[a].anyOf[0].type: Forbidden: must be empty to be structural"]),
    ("int-or-string's anyOf is allowed", {"type": "object", "properties": {"a": {
        "x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}}},
     []),
    ("metadata beyond name and generateName", {"type": "object", "properties": {"metadata": {
        "type": "object", "properties": {"labels": {"type": "object"}}}}},
     [f"{P}.properties[metadata]: Forbidden: must not specify anything other than name and "
      "generateName, but metadata is implicitly specified"]),
    ("uniqueItems", {"type": "object", "properties": {"a": {"type": "array", "uniqueItems": True,
                                                          "items": {"type": "string"}}}},
     [f"{P}.properties[a].uniqueItems: Forbidden: uniqueItems cannot be set to true since the "
      "runtime complexity becomes quadratic"]),
    ("a map list without keys", {"type": "object", "properties": {"a": {
        "type": "array", "x-kubernetes-list-type": "map", "items": {"type": "object"}}}},
     [f"{P}.properties[a].x-kubernetes-list-map-keys: Required value: must not be empty if "
      "x-kubernetes-list-type is map"]),
    ("Go's inline flags are a valid pattern", {"type": "object", "properties": {"a": {
        "type": "string", "pattern": "^(?i)(abort|warn)?$"}}}, []),
    ("a default the schema refuses", {"type": "object", "properties": {"a": {
        "type": "integer", "default": "x"}}},
     [f'{P}.properties[a].default: Invalid value: "string": a in body must be of type '
      'integer: "string"']),
]  # fmt: skip


@pytest.mark.parametrize(("case", "raw", "messages"), SCHEMAS, ids=[c[0] for c in SCHEMAS])
def test_version_schema(case: str, raw: Obj, messages: list[str]) -> None:
    assert [str(e) for e in validation.version_schema_problems(raw, P)] == messages


def test_an_invalid_pattern() -> None:
    """kube's words, then the regular expression engine's (Go's there, Python's here)."""
    raw = {"type": "object", "properties": {"a": {"type": "string", "pattern": "("}}}
    (problem,) = validation.version_schema_problems(raw, P)
    assert str(problem).startswith(
        f'{P}.properties[a].pattern: Invalid value: "(": must be a valid regular expression, '
        "but isn't: "
    )


def test_a_missing_schema() -> None:
    assert [str(e) for e in validation.version_schema_problems(None, P)] == [
        f"{P}: Required value: schemas are required"
    ]


def crd(**spec: Any) -> Obj:
    base: Obj = {
        "group": "stable.example.com",
        "scope": "Namespaced",
        "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab",
                  "listKind": "CronTabList"},
        "versions": [{"name": "v1", "served": True, "storage": True,
                      "schema": {"openAPIV3Schema": {"type": "object"}}}],
        "conversion": {"strategy": "None"},
    }  # fmt: skip
    return {"metadata": {"name": "crontabs.stable.example.com"}, "spec": {**base, **spec}}


STRATEGY = CustomResourceDefinitionStrategy()
CRDS = [
    ("valid", crd(), []),
    ("preserveUnknownFields", crd(preserveUnknownFields=True),
     ["spec.preserveUnknownFields: Invalid value: true: cannot set to true, set "
      "x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead"]),
    ("a webhook without its configuration", crd(conversion={"strategy": "Webhook"}),
     ["spec.conversion.webhook: Required value: must be present when strategy is Webhook"]),
    ("a webhook over http", crd(conversion={"strategy": "Webhook", "webhook": {
        "conversionReviewVersions": ["v1"], "clientConfig": {"url": "http://x/convert"}}}),
     ['spec.conversion.webhook.clientConfig.url: Invalid value: "http://x/convert": '
      "'https' is the only allowed URL scheme"]),
    ("a printer column of an unknown type", crd(versions=[{
        "name": "v1", "served": True, "storage": True,
        "schema": {"openAPIV3Schema": {"type": "object"}},
        "additionalPrinterColumns": [{"name": "X", "type": "float", "jsonPath": ".x"}]}]),
     ['spec.versions[0].additionalPrinterColumns[0].type: Unsupported value: "float": '
      'supported values: "boolean", "date", "integer", "number", "string"']),
]  # fmt: skip


@pytest.mark.parametrize(("case", "obj", "messages"), CRDS, ids=[c[0] for c in CRDS])
def test_crd(case: str, obj: Obj, messages: list[str]) -> None:
    assert [str(e) for e in STRATEGY.validate(obj)] == messages
