"""Generic validation, worded as k8s.io/apimachinery words it (kubectl prints it verbatim).

The expected messages are written out here, not built from the module's constants, so a
change in wording fails. Facts: ``util/validation/validation.go`` (RegexError's "'a',  or
'b', " spacing, IsQualifiedName, IsConfigMapKey) and ``api/validation/objectmeta.go``.
"""

from __future__ import annotations

from typing import Any

import pytest

from kapi.errors import FieldError
from services.registry import validation

LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    "regex used for validation is "
    r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
TOO_MANY_SLASHES_MSG = (
    "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
    "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with "
    "an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
    "'[-._a-zA-Z0-9]+')"
)


def too_long(n: int) -> str:
    return f"must be no more than {n} characters"


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("my-name", []),
        ("123-abc", []),
        ("a", []),
        ("a" * 63, []),
        ("a" * 64, [too_long(63)]),
        ("-a" + "b" * 63, [too_long(63), LABEL_MSG]),
        ("My-Name", [LABEL_MSG]),
        ("my.name", [LABEL_MSG]),
        ("name-", [LABEL_MSG]),
        ("", [LABEL_MSG]),
        ("abc\n", [LABEL_MSG]),  # Go's $ is the end of the text; Python's $ is not
        ("é" * 32, [too_long(63), LABEL_MSG]),  # Go counts bytes: 64 of them
    ],
)
def test_dns1123_label(value: str, expected: list[str]) -> None:
    assert validation.dns1123_label(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("example.com", []),
        ("a.b-c.d", []),
        ("a" * 253, []),
        ("a" * 254, [too_long(253)]),
        ("Example.com", [SUBDOMAIN_MSG]),
        ("example..com", [SUBDOMAIN_MSG]),
        (".example", [SUBDOMAIN_MSG]),
        ("under_score", [SUBDOMAIN_MSG]),
        ("ok.name\n", [SUBDOMAIN_MSG]),
    ],
)
def test_dns1123_subdomain(value: str, expected: list[str]) -> None:
    assert validation.dns1123_subdomain(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("my-name", []),
        ("abc-123", []),
        ("a" * 63, []),
        ("a" * 64, [too_long(63)]),
        ("123-abc", [DNS1035_MSG]),  # a valid RFC 1123 label, but no leading letter
        ("my.name", [DNS1035_MSG]),
        ("My-name", [DNS1035_MSG]),
    ],
)
def test_dns1035_label(value: str, expected: list[str]) -> None:
    assert validation.dns1035_label(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("MyName", []),
        ("my.name", []),
        ("123-abc", []),
        ("example.com/MyName", []),
        ("kubernetes.io/metadata.name", []),
        ("a" * 63, []),
        ("a" * 64, ["name part " + too_long(63)]),
        ("-name", [NAME_PART_MSG]),
        ("bad key", [NAME_PART_MSG]),
        ("/name", ["prefix part must be non-empty"]),
        ("Example.com/name", ["prefix part " + SUBDOMAIN_MSG]),
        # an empty name part is both empty and not matching, as IsQualifiedName says twice
        ("example.com/", ["name part must be non-empty", NAME_PART_MSG]),
        ("", ["name part must be non-empty", NAME_PART_MSG]),
        ("a/b/c", [TOO_MANY_SLASHES_MSG]),
    ],
)
def test_qualified_name(value: str, expected: list[str]) -> None:
    assert validation.qualified_name(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", []),
        ("MyValue", []),
        ("my_value", []),
        ("12345", []),
        ("a" * 63, []),
        ("a" * 64, [too_long(63)]),
        ("-value", [LABEL_VALUE_MSG]),
        ("value_", [LABEL_VALUE_MSG]),
        ("has space", [LABEL_VALUE_MSG]),
        ("v\n", [LABEL_VALUE_MSG]),
    ],
)
def test_label_value(value: str, expected: list[str]) -> None:
    assert validation.label_value(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("key.name", []),
        ("KEY_NAME", []),
        ("key-name", []),
        (".dotfile", []),
        ("a" * 253, []),
        ("a" * 254, [too_long(253)]),
        ("bad key", [CONFIG_KEY_MSG]),
        ("a/b", [CONFIG_KEY_MSG]),
        # a key is a file name in a volume too (kube's hasChDirPrefix)
        (".", ["must not be '.'"]),
        ("..", ["must not be '..'"]),
        ("..data", ["must not start with '..'"]),
    ],
)
def test_config_map_key(value: str, expected: list[str]) -> None:
    assert validation.config_map_key(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ok", []),
        (".", ["may not be '.'"]),
        ("..", ["may not be '..'"]),
        ("a/b", ["may not contain '/'"]),
        ("a%b", ["may not contain '%'"]),
    ],
)
def test_path_segment_name(value: str, expected: list[str]) -> None:
    assert validation.path_segment_name(value) == expected


# --- ObjectMeta ---------------------------------------------------------------------------


def messages(problems: list[FieldError]) -> list[str]:
    return [str(p) for p in problems]


def meta_errors(meta: dict[str, Any], *, namespaced: bool = True) -> list[str]:
    return messages(
        validation.validate_object_meta(
            meta, namespaced=namespaced, name_validator=validation.dns1123_subdomain
        )
    )


@pytest.mark.parametrize(
    ("meta", "namespaced", "expected"),
    [
        ({"name": "ok", "namespace": "ns"}, True, []),
        ({"name": "ok"}, False, []),
        (
            {"namespace": "ns"},
            True,
            ["metadata.name: Required value: name or generateName is required"],
        ),
        (
            {"name": "", "namespace": "ns"},
            True,
            ["metadata.name: Required value: name or generateName is required"],
        ),
        ({"generateName": "web-", "namespace": "ns"}, True, []),
        (
            {"generateName": "Web-", "namespace": "ns"},
            True,
            [f'metadata.generateName: Invalid value: "Web-": {SUBDOMAIN_MSG}'],
        ),
        (
            {"name": "My_Name", "namespace": "ns"},
            True,
            [f'metadata.name: Invalid value: "My_Name": {SUBDOMAIN_MSG}'],
        ),
        ({"name": "ok"}, True, ["metadata.namespace: Required value"]),
        (
            {"name": "ok", "namespace": "Bad.NS"},
            True,
            [f'metadata.namespace: Invalid value: "Bad.NS": {LABEL_MSG}'],
        ),
        (
            {"name": "ok", "namespace": "ns"},
            False,
            ["metadata.namespace: Forbidden: not allowed on this type"],
        ),
        (
            {"name": "ok", "namespace": "ns", "labels": {"app": "web", "bad key": "x"}},
            True,
            [f'metadata.labels: Invalid value: "bad key": {NAME_PART_MSG}'],
        ),
        (
            {"name": "ok", "namespace": "ns", "labels": {"app": "-web-"}},
            True,
            [f'metadata.labels: Invalid value: "-web-": {LABEL_VALUE_MSG}'],
        ),
        (
            # annotation keys are qualified names, compared in lower case
            {"name": "ok", "namespace": "ns", "annotations": {"Example.com/Key": "v"}},
            True,
            [],
        ),
        (
            {"name": "ok", "namespace": "ns", "annotations": {"a/b/c": "v"}},
            True,
            [f'metadata.annotations: Invalid value: "a/b/c": {TOO_MANY_SLASHES_MSG}'],
        ),
        (
            {"name": "ok", "namespace": "ns", "annotations": {"big": "x" * (256 * 1024)}},
            True,
            ["metadata.annotations: Too long: may not be more than 262144 bytes"],
        ),
    ],
)
def test_validate_object_meta(meta: dict[str, Any], namespaced: bool, expected: list[str]) -> None:
    assert meta_errors(meta, namespaced=namespaced) == expected


def test_annotations_at_the_size_limit_are_accepted() -> None:
    value = "x" * (256 * 1024 - len("big"))
    assert meta_errors({"name": "ok", "namespace": "ns", "annotations": {"big": value}}) == []


def test_validate_object_meta_uses_the_resource_name_rule() -> None:
    """A name valid as a subdomain is not necessarily a DNS-1035 label (Services)."""
    problems = validation.validate_object_meta(
        {"name": "1web", "namespace": "ns"},
        namespaced=True,
        name_validator=validation.dns1035_label,
    )
    assert messages(problems) == [f'metadata.name: Invalid value: "1web": {DNS1035_MSG}']


def test_validate_object_meta_reports_every_problem_as_a_cause() -> None:
    problems = validation.validate_object_meta(
        {"name": "Bad", "labels": {"-k": "v"}},
        namespaced=True,
        name_validator=validation.dns1123_label,
    )
    assert [(p.type, p.field) for p in problems] == [
        ("FieldValueInvalid", "metadata.name"),
        ("FieldValueRequired", "metadata.namespace"),
        ("FieldValueInvalid", "metadata.labels"),
    ]


def test_validators_do_not_mutate() -> None:
    meta: dict[str, Any] = {"name": "Bad", "labels": {"-k": "v"}, "annotations": {"a": "b"}}
    before = repr(meta)
    validation.validate_object_meta(meta, namespaced=True, name_validator=validation.dns1123_label)
    validation.validate_object_meta_update(meta, {"name": "x"})
    assert repr(meta) == before


OLD = {
    "name": "c",
    "namespace": "ns",
    "uid": "u-1",
    "creationTimestamp": "2025-01-01T00:00:00Z",
    "resourceVersion": "5",
}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, []),
        ({"labels": {"a": "b"}, "resourceVersion": "9"}, []),
        ({"name": "d"}, ['metadata.name: Invalid value: "d": field is immutable']),
        (
            {"namespace": "other"},
            ['metadata.namespace: Invalid value: "other": field is immutable'],
        ),
        ({"uid": "u-2"}, ['metadata.uid: Invalid value: "u-2": field is immutable']),
        (
            {"creationTimestamp": "2030-01-01T00:00:00Z"},
            [
                'metadata.creationTimestamp: Invalid value: "2030-01-01T00:00:00Z": '
                "field is immutable"
            ],
        ),
    ],
)
def test_validate_object_meta_update(change: dict[str, Any], expected: list[str]) -> None:
    assert messages(validation.validate_object_meta_update({**OLD, **change}, OLD)) == expected


def test_owner_references_as_apimachinery_validates_them() -> None:
    path = "metadata.ownerReferences"
    good = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "uid": "1"}
    assert validation.validate_owner_references([good], path) == []
    empty = validation.validate_owner_references([{"apiVersion": "a/b/c"}], path)
    assert [str(e) for e in empty] == [
        'metadata.ownerReferences.apiVersion: Invalid value: "a/b/c": version must not be empty',
        'metadata.ownerReferences.kind: Invalid value: "": must not be empty',
        'metadata.ownerReferences.name: Invalid value: "": must not be empty',
        'metadata.ownerReferences.uid: Invalid value: "": must not be empty',
    ]
    event = {"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "2", "x": 1}
    assert [str(e) for e in validation.validate_owner_references([event], path)] == [
        'metadata.ownerReferences: Invalid value: {"apiVersion":"v1","kind":"Event","name":"e",'
        '"uid":"2"}: /v1, Kind=Event is disallowed from being an owner'
    ]
    two = [good | {"controller": True}, good | {"name": "s", "uid": "3", "controller": True}]
    (error,) = validation.validate_owner_references(two, path)
    assert error.field == path
    assert error.detail == (
        'Only one reference can have Controller set to true. Found "true" in references for '
        "ReplicaSet/r and ReplicaSet/s"
    )
