"""CRD validation rules: cases carried from apiextensions-apiserver
pkg/apiserver/schema/cel/validation_test.go and the CRD validation of
pkg/apis/apiextensions/validation (compile errors, cost limits, rule fields)."""

from __future__ import annotations

from typing import Any

import pytest

from kapi.cel import validation as v

INT = {"type": "integer"}
STR = {"type": "string"}


def obj_schema(rules: list[dict[str, Any]], **props: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "x-kubernetes-validations": rules, "properties": props}
        },
    }


def messages(schema: dict[str, Any], new: Any, old: Any = None, **kw: Any) -> list[str]:
    compiled = v.compile_rules(schema)
    assert [str(e) for e in compiled.errors()] == []
    return [
        str(e)
        for e in v.validate(
            compiled, {"spec": new}, {"spec": old} if old is not None else None, **kw
        )
    ]


CASES = [
    # (rules, properties, new spec, old spec, expected errors)
    (
        [{"rule": "self.minReplicas <= self.replicas"}],
        {"replicas": INT, "minReplicas": INT},
        {"replicas": 1, "minReplicas": 2},
        None,
        ['spec: Invalid value: "object": failed rule: self.minReplicas <= self.replicas'],
    ),
    (
        [{"rule": "self.minReplicas <= self.replicas", "message": "  replicas too low "}],
        {"replicas": INT, "minReplicas": INT},
        {"replicas": 1, "minReplicas": 2},
        None,
        ['spec: Invalid value: "object": replicas too low'],
    ),
    (
        [{"rule": "self.minReplicas <= self.replicas"}],
        {"replicas": INT, "minReplicas": INT},
        {"replicas": 3, "minReplicas": 2},
        None,
        [],
    ),
    # a declared field that is absent: no such key
    (
        [{"rule": "self.replicas > 0"}],
        {"replicas": INT},
        {},
        None,
        ['spec: Invalid value: "object": no such key: replicas evaluating rule: self.replicas > 0'],
    ),
    # has() guards
    ([{"rule": "!has(self.replicas) || self.replicas > 0"}], {"replicas": INT}, {}, None, []),
    # reason and fieldPath
    (
        [
            {
                "rule": "self.name != 'x'",
                "reason": "FieldValueForbidden",
                "fieldPath": ".name",
                "message": "no x",
            }
        ],
        {"name": STR},
        {"name": "x"},
        None,
        ["spec.name: Forbidden: no x"],
    ),
    (
        [{"rule": "has(self.name)", "reason": "FieldValueRequired", "message": "name is required"}],
        {"name": STR},
        {},
        None,
        ["spec: Required value: name is required"],
    ),
    (
        [{"rule": "false", "reason": "FieldValueDuplicate"}],
        {},
        {},
        None,
        ['spec: Duplicate value: "object"'],
    ),
    # messageExpression, and its fallbacks
    (
        [
            {
                "rule": "self.replicas < 5",
                "messageExpression": "'replicas is ' + string(self.replicas)",
            }
        ],
        {"replicas": INT},
        {"replicas": 7},
        None,
        ['spec: Invalid value: "object": replicas is 7'],
    ),
    (
        [{"rule": "self.replicas < 5", "message": "static", "messageExpression": "'   '"}],
        {"replicas": INT},
        {"replicas": 7},
        None,
        ['spec: Invalid value: "object": static'],
    ),
    (
        [{"rule": "self.replicas < 5", "messageExpression": "self.missing"}],
        {"replicas": INT, "missing": STR},
        {"replicas": 7},
        None,
        ['spec: Invalid value: "object": failed rule: self.replicas < 5'],
    ),
    # transition rules: evaluated only when an old value exists
    (
        [{"rule": "self.replicas == oldSelf.replicas", "message": "immutable"}],
        {"replicas": INT},
        {"replicas": 1},
        None,
        [],
    ),
    (
        [{"rule": "self.replicas == oldSelf.replicas", "message": "immutable"}],
        {"replicas": INT},
        {"replicas": 1},
        {"replicas": 2},
        ['spec: Invalid value: "object": immutable'],
    ),
    # optionalOldSelf: evaluated on create too, oldSelf is an optional
    (
        [
            {
                "rule": "!oldSelf.hasValue() || self.replicas >= oldSelf.value().replicas",
                "optionalOldSelf": True,
                "message": "no scale down",
            }
        ],
        {"replicas": INT},
        {"replicas": 1},
        None,
        [],
    ),
    (
        [{"rule": "oldSelf.hasValue()", "optionalOldSelf": True, "message": "needs old"}],
        {"replicas": INT},
        {"replicas": 1},
        None,
        ['spec: Invalid value: "object": needs old'],
    ),
    (
        [
            {
                "rule": "!oldSelf.hasValue() || self.replicas >= oldSelf.value().replicas",
                "optionalOldSelf": True,
                "message": "no scale down",
            }
        ],
        {"replicas": INT},
        {"replicas": 1},
        {"replicas": 3},
        ['spec: Invalid value: "object": no scale down'],
    ),
    # schema-typed values: number as double, date-time as timestamp, duration, int-or-string
    ([{"rule": "self.ratio > 0.5"}], {"ratio": {"type": "number"}}, {"ratio": 1}, None, []),
    (
        [{"rule": "self.at < timestamp('2030-01-01T00:00:00Z')"}],
        {"at": {"type": "string", "format": "date-time"}},
        {"at": "2024-05-01T10:00:00Z"},
        None,
        [],
    ),
    (
        [{"rule": "self.d > duration('1m')"}],
        {"d": {"type": "string", "format": "duration"}},
        {"d": "1h30m"},
        None,
        [],
    ),
    (
        [{"rule": "type(self.port) == string ? self.port.matches('^[a-z]+$') : self.port > 0"}],
        {"port": {"x-kubernetes-int-or-string": True}},
        {"port": "http"},
        None,
        [],
    ),
    # escaped property names
    (
        [{"rule": "self.x__dash__y == 1 && self.__namespace__ == 'n'"}],
        {"x-y": INT, "namespace": STR},
        {"x-y": 1, "namespace": "n"},
        None,
        [],
    ),
    # kube's libraries inside rules
    (
        [{"rule": "quantity(self.mem).isLessThan(quantity('1Gi'))", "message": "too much memory"}],
        {"mem": STR},
        {"mem": "2Gi"},
        None,
        ['spec: Invalid value: "object": too much memory'],
    ),
    (
        [{"rule": "self.hosts.all(h, isURL(h) && url(h).getScheme() == 'https')"}],
        {"hosts": {"type": "array", "maxItems": 10, "items": {"type": "string", "maxLength": 100}}},
        {"hosts": ["https://a", "https://b"]},
        None,
        [],
    ),
]


@pytest.mark.parametrize(("rules", "props", "new", "old", "expected"), CASES)
def test_rules(rules: Any, props: Any, new: Any, old: Any, expected: list[str]) -> None:
    assert messages(obj_schema(rules, **props), new, old) == expected


def test_root_rule_path_is_nil_and_metadata_name_visible() -> None:
    schema = {
        "type": "object",
        "x-kubernetes-validations": [{"rule": "self.metadata.name.startsWith('a')"}],
    }
    compiled = v.compile_rules(schema)
    assert compiled.errors() == []
    errs = v.validate(compiled, {"metadata": {"name": "bob"}})
    assert [str(e) for e in errs] == [
        "<nil>: Invalid value: \"object\": failed rule: self.metadata.name.startsWith('a')"
    ]


def test_rules_on_list_items_and_map_values() -> None:
    schema = obj_schema(
        [],
        items={
            "type": "array",
            "items": {
                "type": "object",
                "x-kubernetes-validations": [{"rule": "self.n > 0"}],
                "properties": {"n": INT},
            },
        },
        labels={
            "type": "object",
            "additionalProperties": {
                "type": "string",
                "x-kubernetes-validations": [{"rule": "self != 'bad'"}],
            },
        },
    )
    errs = messages(schema, {"items": [{"n": 1}, {"n": 0}], "labels": {"a": "ok", "b": "bad"}})
    assert errs == [
        'spec.items[1]: Invalid value: "object": failed rule: self.n > 0',
        "spec.labels[b]: Invalid value: \"string\": failed rule: self != 'bad'",
    ]


def test_transition_rule_on_map_list_items_correlates_by_key() -> None:
    item = {
        "type": "object",
        "x-kubernetes-validations": [{"rule": "self.v == oldSelf.v", "message": "v is immutable"}],
        "properties": {"k": STR, "v": INT},
        "required": ["k"],
    }
    schema = obj_schema(
        [],
        items={
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["k"],
            "items": item,
        },
    )
    old = {"items": [{"k": "a", "v": 1}, {"k": "b", "v": 2}]}
    new = {"items": [{"k": "b", "v": 2}, {"k": "a", "v": 5}, {"k": "c", "v": 9}]}
    assert messages(schema, new, old) == ['spec.items[1]: Invalid value: "object": v is immutable']


def test_ratcheting_turns_errors_on_unchanged_values_into_warnings() -> None:
    compiled = v.compile_rules(obj_schema([{"rule": "self.n > 5"}], n=INT))
    errs, warnings = v.validate_with_warnings(compiled, {"spec": {"n": 1}}, {"spec": {"n": 1}})
    assert errs == []
    assert warnings == ['spec: Invalid value: "object": failed rule: self.n > 5']


# --- CRD-time errors ------------------------------------------------------------------

BASE = "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0]"
NIL_RULE = 'Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:"", OptionalOldSelf:(*bool)(nil)}'

CRD_ERRORS = [
    (
        [{"rule": "self.foo == 1"}],
        {"bar": INT},
        [
            f'{BASE}.rule: Invalid value: apiextensions.ValidationRule{{Rule:"self.foo == 1", Message:"", '
            f"MessageExpression:\"\", {NIL_RULE}: compilation failed: ERROR: <input>:1:5: undefined field 'foo'\n"
            " | self.foo == 1\n | ....^"
        ],
    ),
    (
        [{"rule": "self.bar"}],
        {"bar": INT},
        [
            f'{BASE}.rule: Invalid value: apiextensions.ValidationRule{{Rule:"self.bar", Message:"", '
            f'MessageExpression:"", {NIL_RULE}: cel expression must evaluate to a bool'
        ],
    ),
    ([{"rule": " "}], {}, [f"{BASE}.rule: Required value: rule is not specified"]),
    (
        [{"rule": "true", "message": "a\nb"}],
        {},
        [f'{BASE}.message: Invalid value: "a\\nb": message must not contain line breaks'],
    ),
    (
        [{"rule": "true\n&& true"}],
        {},
        [f"{BASE}.message: Required value: message must be specified if rule contains line breaks"],
    ),
    (
        [{"rule": "true", "reason": "Nope"}],
        {},
        [
            f'{BASE}.reason: Unsupported value: "Nope": supported values: "FieldValueDuplicate", '
            '"FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"'
        ],
    ),
    (
        [{"rule": "true", "fieldPath": ".nothere"}],
        {"bar": INT},
        [f'{BASE}.fieldPath: Invalid value: ".nothere": fieldPath must be a valid path'],
    ),
    (
        [{"rule": "true", "optionalOldSelf": True}],
        {},
        [
            f"{BASE}.optionalOldSelf: Invalid value: true: may not be set if oldSelf is not used in rule"
        ],
    ),
    (
        [{"rule": "true", "messageExpression": "1"}],
        {},
        [
            f'{BASE}.messageExpression: Invalid value: apiextensions.ValidationRule{{Rule:"true", Message:"", '
            f'MessageExpression:"1", {NIL_RULE}: messageExpression must evaluate to a string'
        ],
    ),
]


@pytest.mark.parametrize(("rules", "props", "expected"), CRD_ERRORS)
def test_crd_errors(rules: Any, props: Any, expected: list[str]) -> None:
    assert [str(e) for e in v.compile_rules(obj_schema(rules, **props)).errors()] == expected


def test_oldself_on_uncorrelatable_list_items_is_refused() -> None:
    schema = obj_schema(
        [],
        items={
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"n": INT},
                "x-kubernetes-validations": [{"rule": "self.n == oldSelf.n"}],
            },
        },
    )
    errs = [str(e) for e in v.compile_rules(schema).errors()]
    assert errs == [
        "spec.validation.openAPIV3Schema.properties[spec].properties[items].items.x-kubernetes-validations[0].rule: "
        'Invalid value: "self.n == oldSelf.n": oldSelf cannot be used on the uncorrelatable portion of the schema '
        "within spec.validation.openAPIV3Schema.properties[spec].properties[items]"
    ]


# --- cost -----------------------------------------------------------------------------

UNBOUNDED_LIST = {"type": "array", "items": STR}
BOUNDED_LIST = {"type": "array", "items": {"type": "string", "maxLength": 10}, "maxItems": 10}


def test_quadratic_rule_over_unbounded_list_exceeds_the_static_limit() -> None:
    schema = obj_schema([{"rule": "self.l.all(x, self.l.all(y, x == y))"}], l=UNBOUNDED_LIST)
    errs = [str(e) for e in v.compile_rules(schema).errors()]
    assert errs[0] == (
        f"{BASE}.rule: Forbidden: estimated rule cost exceeds budget by factor of more than 100x "
        "(try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, "
        "maps, and strings are declared)"
    )
    assert errs[-1].startswith(
        "spec.validation.openAPIV3Schema: Forbidden: x-kubernetes-validations estimated rule cost "
        "total for entire OpenAPIv3 schema exceeds budget by factor of"
    )


def test_bounds_bring_the_same_rule_under_the_limit() -> None:
    schema = obj_schema([{"rule": "self.l.all(x, self.l.all(y, x == y))"}], l=BOUNDED_LIST)
    assert v.compile_rules(schema).errors() == []


def test_cost_error_factor_formats() -> None:
    assert "factor of 1.200000x" in v.cost_error_message("estimated rule cost", 12, 10)
    assert "factor of 2.5x" in v.cost_error_message("estimated rule cost", 25, 10)
    assert "factor of more than 100x" in v.cost_error_message("estimated rule cost", 1001, 10)


def test_runtime_cost_over_per_call_limit_stops_validation() -> None:
    rule = {"rule": "self.l.all(x, self.l.all(y, x == y))"}
    compiled = v.compile_rules(obj_schema([rule, {"rule": "false"}], l=UNBOUNDED_LIST))
    big = {"spec": {"l": ["a"] * 1200}}
    errs = [str(e) for e in v.validate(compiled, big)]
    assert errs == [
        "spec: Invalid value: \"object\": 'operation cancelled: actual cost limit exceeded': no further "
        "validation rules will be run due to call cost exceeds limit for rule: "
        "self.l.all(x, self.l.all(y, x == y))"
    ]
    small = {"spec": {"l": ["a"] * 3}}
    assert [str(e) for e in v.validate(compiled, small)] == [
        'spec: Invalid value: "object": failed rule: false'
    ]


def test_runtime_budget_runs_out() -> None:
    rule = {"rule": "self.l.all(x, x.size() < 100)"}
    compiled = v.compile_rules(obj_schema([rule, rule, rule], l=UNBOUNDED_LIST))
    errs = [str(e) for e in v.validate(compiled, {"spec": {"l": ["a"] * 100}}, budget=500)]
    assert errs == [f'spec: Invalid value: "object": {v.OUT_OF_BUDGET}']
