"""How deep a client's JSON may nest: no deeper than every layer of kapi can write back.

Why: orjson decodes 1,024 levels but encodes 254. A body nested 254 deep decoded fine at the
gateway and then failed to encode somewhere behind it: a 500 with a Python exception in it.
And the layers wrap what a client sent before they encode it: the registry's managed
fields mirror an object's fields one level deeper, under ``metadata.managedFields[i].
fieldsV1`` (+5 in all), and a Table row inside a watch event puts the object four levels
down (``{"object": {"rows": [{"object": ...}]}}``). So an object may nest at most
254 - 9 = 245 levels, and ``MAX_DEPTH`` leaves room below that for the next wrapper.
kube-apiserver's decoders stop at 10,000 (Go's ``encoding/json``, go-yaml); kapi's limit is
its encoder's, and a body over it gets the 400 Go's JSON scanner gives at its own limit.

How: ``dumps`` encodes the value inside ``254 - MAX_DEPTH`` one-element lists, so orjson's
own limit refuses anything deeper than ``MAX_DEPTH``, and cuts the brackets off: the check
rides on the encoding the caller needs anyway (~0.7 µs more than orjson alone for a
ConfigMap). Depth counts containers: ``{"a": 1}`` is 1 deep, ``{"a": [1]}`` 2.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson

MAX_DEPTH = 200
# How much deeper than its own fields an object's managed fields nest (see above).
MANAGED_FIELDS_DEPTH = 5

# orjson 3's encoder refuses the 255th level of nesting (a test pins it).
_ORJSON_LEVELS = 254
_PAD = _ORJSON_LEVELS - MAX_DEPTH
_RECURSION = "Recursion limit reached"


class TooDeep(ValueError):
    """A value nested deeper than ``MAX_DEPTH``; ``opener`` is the bracket that went over."""

    def __init__(self, opener: str) -> None:
        super().__init__(f"invalid character '{opener}' exceeded max depth")
        self.opener = opener


class _Padding(threading.local):
    """``_PAD`` nested one-element lists, made once per thread (decodes run on the loop
    and on the decode pool); the innermost holds the value being encoded."""

    def __init__(self) -> None:
        self.inner: list[Any] = [None]
        self.outer: list[Any] = self.inner
        for _ in range(_PAD - 1):
            self.outer = [self.outer]


_padding = _Padding()


def dumps(value: Any) -> bytes:
    """``value`` as compact JSON (what ``orjson.dumps`` writes), or ``TooDeep``.

    Values orjson cannot write for another reason raise ``orjson.JSONEncodeError`` as
    ``orjson.dumps`` does.
    """
    padding = _padding
    padding.inner[0] = value
    try:
        encoded = orjson.dumps(padding.outer)
    except orjson.JSONEncodeError as exc:
        if str(exc) == _RECURSION:
            raise TooDeep(_opener(value)) from None
        raise
    finally:
        padding.inner[0] = None
    return encoded[_PAD:-_PAD]


def _opener(value: Any) -> str:
    """The bracket of the first container, in document order, nested past ``MAX_DEPTH``
    (a walk without recursion: only a refused body pays for it)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > MAX_DEPTH:
            return "{" if isinstance(node, dict) else "["
        stack.extend((child, depth + 1) for child in reversed(list(children)))
    return "["  # unreachable for a value orjson refused for its depth
