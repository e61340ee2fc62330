"""Encoded objects kept long are copied into allocations of their own size."""

from __future__ import annotations

import tracemalloc

import orjson

from kapi.json_bytes import ListItems, compact, list_body


def traced_size(make: object) -> int:
    """Bytes still allocated by what ``make()`` returned (100 of them)."""
    assert callable(make)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [make() for _ in range(100)]
        size = tracemalloc.get_traced_memory()[0] - before
        assert len(kept) == 100
        return size
    finally:
        tracemalloc.stop()


def test_compact_keeps_the_bytes_in_their_own_size() -> None:
    obj = {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"p": "x" * 1100}}
    encoded = orjson.dumps(obj)
    assert compact(encoded) == encoded
    payload = 100 * len(encoded)
    assert traced_size(lambda: compact(orjson.dumps(obj))) < 1.5 * payload
    # What compact is for: orjson's own result keeps its working buffer.
    assert traced_size(lambda: orjson.dumps(obj)) > 3 * payload


def test_list_body_is_the_head_with_its_items() -> None:
    head = orjson.dumps({"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {"a": 1}})
    for count in (0, 1, 2, 5):
        items = [orjson.dumps({"metadata": {"name": f"c{i}"}}) for i in range(count)]
        assert orjson.loads(list_body(head, items)) == {
            "kind": "ConfigMapList",
            "apiVersion": "v1",
            "metadata": {"a": 1},
            "items": [{"metadata": {"name": f"c{i}"}} for i in range(count)],
        }


def test_list_items_go_without_their_type() -> None:
    as_item = ListItems("ConfigMap", "v1")
    for obj in (
        {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "a"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
        {"metadata": {"name": "a"}, "kind": "ConfigMap", "apiVersion": "v1"},  # decoded
    ):
        assert as_item(orjson.dumps(obj)) == b'{"metadata":{"name":"a"}}'
    # A name or value that merely contains the words is left alone.
    data = orjson.dumps({"metadata": {"name": '"kind":"ConfigMap"'}})
    assert orjson.loads(as_item(data)) == orjson.loads(data)
