"""How deep a client's JSON may nest (kapi/json_depth.py)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from kapi import json_depth
from kapi.json_depth import MAX_DEPTH, TooDeep


def nested(depth: int, *, opener: str = "{", leaf: Any = "x") -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value} if opener == "{" else [value]
    return value


def test_orjson_writes_254_levels_and_no_more() -> None:
    """The fact the limit rests on: if orjson's encoder changes, MAX_DEPTH must be rethought."""
    assert orjson.dumps(nested(254, opener="["))
    with pytest.raises(orjson.JSONEncodeError, match="Recursion limit reached"):
        orjson.dumps(nested(255, opener="["))


def test_there_is_room_for_the_deepest_wrapping_kapi_does() -> None:
    """managedFields (+5) inside a Table row inside a watch event (+4)."""
    assert MAX_DEPTH + 9 <= 254


@pytest.mark.parametrize("opener", ["{", "["])
def test_at_the_limit_the_encoding_is_orjsons(opener: str) -> None:
    value = nested(MAX_DEPTH, opener=opener)
    assert json_depth.dumps(value) == orjson.dumps(value)
    assert json_depth.dumps({"a": 1}) == b'{"a":1}'
    assert json_depth.dumps([]) == b"[]"
    assert json_depth.dumps("s") == b'"s"'


@pytest.mark.parametrize("opener", ["{", "["])
def test_past_the_limit_go_scanners_words_name_the_bracket(opener: str) -> None:
    with pytest.raises(TooDeep) as info:
        json_depth.dumps({"ok": [1], "deep": [nested(MAX_DEPTH, opener=opener)]})
    assert info.value.opener == opener
    assert str(info.value) == f"invalid character '{opener}' exceeded max depth"


def test_the_first_bracket_over_in_document_order_is_named() -> None:
    value = [nested(MAX_DEPTH, opener="["), nested(MAX_DEPTH, opener="{")]
    with pytest.raises(TooDeep) as info:
        json_depth.dumps(value)
    assert info.value.opener == "["


def test_other_encoding_failures_are_orjsons() -> None:
    with pytest.raises(orjson.JSONEncodeError):
        json_depth.dumps({"a": object()})
