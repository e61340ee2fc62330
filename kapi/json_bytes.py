"""Encoded JSON as bytes: kept at their own size, and joined into lists in one copy.

Bytes kept long must be bytes of their own size.

orjson's ``dumps`` returns bytes that keep its whole working buffer (measured with
orjson 3.13: ~8-16 KiB behind a 1 KiB object; 10,000 such objects held 81 MiB of RSS
for 11 MiB of JSON). Anything that keeps encoded objects — storage's watch cache, the
gateway's held objects — copies them into an allocation of their own size first.
"""

from __future__ import annotations

import orjson


def compact(data: bytes) -> bytes:
    """``data`` in an allocation of its own size."""
    return bytes(memoryview(data))


def list_body(head: bytes, items: list[bytes]) -> bytes:
    """A JSON list object: ``head`` (an encoded object: kind, apiVersion, metadata) with
    ``"items": [...]`` appended, the items' bytes copied once. (``head[:-1] + b',...' +
    b",".join(items) + b"]}"`` copies a 10 MB list three times, and each copy of a fresh
    10 MB allocation faults in its pages: that was half a 10,000-object list's time.)"""
    opening = head[:-1] + b',"items":['
    if not items:
        return opening + b"]}"
    if len(items) == 1:
        return b"".join((opening, items[0], b"]}"))
    return b",".join([opening + items[0], *items[1:-1], items[-1] + b"]}"])


class ListItems:
    """Objects' JSON as the items of a typed list: without ``kind`` and ``apiVersion``.

    kube-apiserver writes list items without their type (kubernetes/kubernetes#3030:
    ``GET /api/v1/pods`` items have no ``kind``), while single objects and watch events
    carry it. Objects almost always begin with the two fields, so each is a prefix test
    and a slice; any other order is decoded and encoded again.
    """

    def __init__(self, kind: str, api_version: str) -> None:
        k, v = orjson.dumps(kind), orjson.dumps(api_version)
        self.prefixes = (
            b'{"kind":' + k + b',"apiVersion":' + v + b",",
            b'{"apiVersion":' + v + b',"kind":' + k + b",",
        )

    def __call__(self, data: bytes) -> bytes:
        for prefix in self.prefixes:
            if data.startswith(prefix):
                return b"{" + data[len(prefix) :]
        obj = orjson.loads(data)
        if isinstance(obj, dict):
            obj.pop("kind", None)
            obj.pop("apiVersion", None)
        return orjson.dumps(obj)
