"""The gateway's share of fieldValidation: finding duplicate JSON keys (the registry decides
what they mean), and who gets /openapi/v2 as JSON."""

from __future__ import annotations

import orjson
import pytest

from services.gateway import negotiation


def dups(body: bytes) -> list[str]:
    return negotiation.duplicate_fields(body, orjson.dumps(orjson.loads(body)))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"a":1,"b":{"c":2}}', []),
        (b'{"a": 1, "b": {"c": 2}}', []),  # not compact: scanned, nothing found
        (b'{"metadata":{"name":"a","name":"b"}}', ["metadata.name"]),
        (b'{"a":1,"a":2,"a":3}', ["a"]),
        (
            b'{"spec":{"paused":true,"paused":false,"template":{"spec":{"containers":'
            b'[{"name":"n","image":"i","image":"j"}]}}}}',
            ["spec.paused", "spec.template.spec.containers[0].image"],
        ),
        (b'{"data":{"k":"v","k":"w"}}', ["data.k"]),
        (b'{"x":"<\\u003e","x":"&"}', ["x"]),  # Go-escaped strings take the slow path
    ],
)
def test_duplicate_fields_named_as_kube_names_them(body: bytes, expected: list[str]) -> None:
    assert dups(body) == expected


def test_compact_body_without_duplicates_is_not_reparsed(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("scanned a body that serialises back to itself")

    monkeypatch.setattr(negotiation.json, "loads", fail)
    body = b'{"apiVersion":"v1","kind":"ConfigMap","data":{"a":"b"}}'
    assert negotiation.duplicate_fields(body, body) == []


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (None, True),
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("application/yaml", False),
        ("application/vnd.kubernetes.protobuf", False),
    ],
)
def test_is_json(content_type: str | None, expected: bool) -> None:
    assert negotiation.is_json(content_type) is expected


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, True),
        ("application/json", True),
        ("*/*", True),
        ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", False),
        (
            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf,"
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
            False,
        ),
        ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json", True),
    ],
)
def test_who_gets_json(accept: str | None, expected: bool) -> None:
    assert negotiation.accepts_json(accept) is expected
