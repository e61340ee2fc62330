"""A custom resource's validation order (services/registry/crd/model.py): the schema, then
the CEL rules unless a schema error leaves the object without the shape its rules were
written for (kube's customresource/strategy.go ``hasBlockingErr``)."""

from __future__ import annotations

from typing import Any

import pytest

from services.registry.crd.model import CustomResourceModel
from services.registry.crd.rules import compile_rules

Obj = dict[str, Any]

RAW: Obj = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "x-kubernetes-validations": [{"rule": "self.low <= self.high"}],
            "properties": {
                "low": {"type": "integer"},
                "high": {"type": "integer", "multipleOf": 2},
                "name": {"type": "string", "maxLength": 3},
                "mode": {"type": "string", "enum": ["a"]},
                "tags": {"type": "array", "maxItems": 1, "items": {"type": "string"}},
            },
            "required": ["low"],
        }
    },
}
NOT_CHECKED = (
    "<nil>: Invalid value: null: some validation rules were not checked because the object "
    "was invalid; correct the existing errors to complete validation"
)


def model() -> CustomResourceModel:
    rules, problems = compile_rules(RAW, "schema")
    assert problems == []
    return CustomResourceModel(
        group="x.io", version="v1", kind="X", list_kind="XList", plural="xs", raw_schema=RAW,
        preserve_unknown_fields=False, rules=rules, scale=None,
    )  # fmt: skip


CASES = [
    ("valid", {"low": 1, "high": 2}, []),
    ("a rule fails", {"low": 4, "high": 2},
     ['spec: Invalid value: "object": failed rule: self.low <= self.high']),
    ("a value error does not block the rules", {"low": 4, "high": 3},
     ["spec.high: Invalid value: 3: spec.high in body should be a multiple of 2",
      'spec: Invalid value: "object": failed rule: self.low <= self.high']),
    ("required blocks", {"high": 2}, ["spec.low: Required value", NOT_CHECKED]),
    ("a type blocks", {"low": "x", "high": 2},
     ['spec.low: Invalid value: "string": spec.low in body must be of type integer: "string"',
      NOT_CHECKED]),
    ("too long blocks", {"low": 4, "high": 2, "name": "abcd"},
     ["spec.name: Too long: may not be more than 3 bytes", NOT_CHECKED]),
    ("an enum blocks", {"low": 4, "high": 2, "mode": "b"},
     ['spec.mode: Unsupported value: "b": supported values: "a"', NOT_CHECKED]),
    ("too many blocks", {"low": 4, "high": 2, "tags": ["a", "b"]},
     ["spec.tags: Too many: 2: must have at most 1 item", NOT_CHECKED]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "spec", "messages"), CASES, ids=[c[0] for c in CASES])
def test_validate(case: str, spec: Obj, messages: list[str]) -> None:
    obj = {"apiVersion": "x.io/v1", "kind": "X", "metadata": {"name": "o"}, "spec": spec}
    assert [str(e) for e in model().validate(obj)] == messages
