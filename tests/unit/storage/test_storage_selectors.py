"""kapi.selectors: label and field selectors parse, validate and match as apimachinery's."""

from __future__ import annotations

from typing import Any

import pytest

from kapi import errors
from kapi.selectors import parse_field_selector, parse_label_selector

_QNAME_HINT = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_VALUE_HINT = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.mark.parametrize(
    ("selector", "canonical"),
    [
        ("", ""),
        ("a=b", "a=b"),
        ("a==b", "a==b"),
        ("a!=b", "a!=b"),
        ("a", "a"),
        ("!a", "!a"),
        ("  a = b , c ", "a=b,c"),
        ("z=1,a=2", "a=2,z=1"),  # sorted by key, as labels.Parse
        ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
        ("a in (in,notin)", "a in (in,notin)"),  # keywords are values inside parentheses
        ("a=", "a="),
        ("example.com/app=web", "example.com/app=web"),
        ("a>5", "a>5"),
        ("a<10", "a<10"),
        ("a.b-c_d=E.f-G_h", "a.b-c_d=E.f-G_h"),
    ],
)
def test_parse_label_selector(selector: str, canonical: str) -> None:
    assert str(parse_label_selector(selector)) == canonical


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("a=b,", "found '', expected: identifier after ','"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("(", "found '(', expected: !, identifier, or 'end of string'"),
        ("a b", "unable to parse requirement: found 'b', expected: '=', '!=', '==', 'in', notin'"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("a=(", "unable to parse requirement: found '(', expected: identifier"),
        ("-a=b", f'unable to parse requirement: <nil>: Invalid value: "-a": {_QNAME_HINT}'),
        (
            "a/b/c",
            'unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified '
            "name must consist of alphanumeric characters, '-', '_' or '.', and must start and "
            "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
            "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an "
            "optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        ),
        (
            "/a",
            'unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be '
            "non-empty",
        ),
        (
            "a" * 64,
            f'unable to parse requirement: <nil>: Invalid value: "{"a" * 64}": name part '
            "must be no more than 63 characters",
        ),
        ("a=-b", f'unable to parse requirement: values[0][a]: Invalid value: "-b": {_VALUE_HINT}'),
        (
            "a>b",
            "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' "
            "operators, the value must be an integer",
        ),
    ],
)
def test_parse_label_selector_errors(selector: str, message: str) -> None:
    with pytest.raises(errors.StatusError) as err:
        parse_label_selector(selector)
    assert (err.value.code, err.value.reason, err.value.message) == (400, "BadRequest", message)


LABELS = {"app": "web", "tier": "front", "n": "5"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("missing!=x", True),  # absent keys satisfy != and notin
        ("app in (db,web)", True),
        ("app in (db)", False),
        ("app notin (db)", True),
        ("missing notin (x)", True),
        ("app notin (web)", False),
        ("tier", True),
        ("missing", False),
        ("!missing", True),
        ("!tier", False),
        ("app=web,tier=front", True),
        ("app=web,tier=back", False),
        ("n>4", True),
        ("n>5", False),
        ("n<6", True),
        ("app>1", False),  # not an integer: no match
        ("missing<1", False),
        ("missing=", False),  # "=" with an empty value needs the key
    ],
)
def test_label_selector_matches(selector: str, matches: bool) -> None:
    parsed = parse_label_selector(selector)
    assert parsed.matches({"metadata": {"labels": LABELS}}) is matches
    assert parsed.matches_labels(LABELS) is matches


def test_label_selector_on_object_without_labels() -> None:
    assert parse_label_selector("!a").matches({"metadata": {}})
    assert not parse_label_selector("a").matches({})


@pytest.mark.parametrize(
    ("selector", "canonical"),
    [
        ("", ""),
        ("metadata.name=a", "metadata.name=a"),
        ("metadata.name==a", "metadata.name=a"),
        ("b!=x,a=y", "a=y,b!=x"),  # sorted, as fields.ParseSelector
        ("a=x\\,y", "a=x\\,y"),
        ("a=x\\=y\\\\", "a=x\\=y\\\\"),
        ("a=", "a="),
        (",a=b,", "a=b"),
    ],
)
def test_parse_field_selector(selector: str, canonical: str) -> None:
    assert str(parse_field_selector(selector)) == canonical


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("foo", "invalid selector: 'foo'; can't understand 'foo'"),
        ("a=b,foo", "invalid selector: 'a=b,foo'; can't understand 'foo'"),
        ("a=b=c", "invalid field selector: unescaped character in value: 61"),
        ("a=b\\x", "invalid field selector: invalid escape sequence: \\x"),
        ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
    ],
)
def test_parse_field_selector_errors(selector: str, message: str) -> None:
    with pytest.raises(errors.StatusError) as err:
        parse_field_selector(selector)
    assert (err.value.code, err.value.message) == (400, message)


POD: dict[str, Any] = {
    "metadata": {"name": "p", "namespace": "ns"},
    "spec": {"nodeName": "n1", "hostNetwork": True, "priority": 5},
    "status": {"phase": "Running"},
}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("metadata.name=p", True),
        ("metadata.name=q", False),
        ("metadata.namespace==ns", True),
        ("metadata.namespace!=ns", False),
        ("spec.nodeName=n1,status.phase=Running", True),
        ("spec.nodeName=n1,status.phase!=Running", False),
        ("spec.nodeName=", False),
        ("spec.missing=", True),  # an absent field reads as ""
        ("spec.missing!=x", True),
        ("spec.hostNetwork=true", True),  # values compare as strings
        ("spec.priority=5", True),
        ("spec=x", False),  # an object is no string
    ],
)
def test_field_selector_matches(selector: str, matches: bool) -> None:
    assert parse_field_selector(selector).matches(POD) is matches


def test_field_selector_requires_exact_match() -> None:
    parsed = parse_field_selector("metadata.name=p,spec.nodeName!=x")
    assert parsed.requires_exact_match("metadata.name") == "p"
    assert parsed.requires_exact_match("spec.nodeName") is None
