"""An audit event as one JSON line, byte for byte as kube-apiserver writes it.

kube encodes the Event with Go's encoding/json (plugin/pkg/audit/log/backend.go, the
json format): fields in the struct's order (the recorder builds the dict so), maps
with sorted keys, no spaces, and ``<``, ``>``, ``&``, U+2028 and U+2029 escaped as
``\\u003c``, ``\\u003e``, ``\\u0026``, ``\\u2028``, ``\\u2029`` (Go's HTML-safe
default); the embedded request and response objects (runtime.Unknown) compacted and
escaped the same way. One line per event, ``\\n``-terminated.

This runs on the log backend's thread, not on the event loop: the request and response
objects are only parsed here, and only when they must be (``omitManagedFields``, or a
body that may not be compact JSON).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

_GO_ESCAPES = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


class UnencodableEvent(ValueError):
    """An event kube's encoder would refuse too (kube logs it and drops the event)."""


@dataclass(frozen=True)
class Payload:
    """A request or response object to embed, resolved on the backend's thread.

    ``value``: the decoded object (a request body), with ``encoded`` its compact JSON;
    else ``raw``: JSON bytes (or what makes them), ``compact`` when they are known to
    be orjson's compact output (embedded as they are, unless managed fields go).
    """

    value: Any = None
    encoded: bytes = b""
    raw: bytes | Callable[[], bytes] | None = None
    compact: bool = False
    omit_managed_fields: bool = False

    @classmethod
    def of_value(cls, value: Any, encoded: bytes, omit: bool) -> Payload:
        return cls(value=value, encoded=encoded, omit_managed_fields=omit)

    @classmethod
    def of_json(
        cls, raw: bytes | Callable[[], bytes], *, compact: bool, omit: bool = False
    ) -> Payload:
        return cls(raw=raw, compact=compact, omit_managed_fields=omit)

    def resolve(self) -> Any:
        """What goes into the event: a Fragment of compact JSON, or a value to encode."""
        if self.raw is None:
            if self.omit_managed_fields:
                return without_managed_fields(self.value)
            return orjson.Fragment(self.encoded)
        raw = self.raw() if callable(self.raw) else self.raw
        if self.compact and not self.omit_managed_fields and b"\n" not in raw:
            return orjson.Fragment(raw)
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise UnencodableEvent(f"the object is not JSON: {exc}") from None
        return without_managed_fields(value) if self.omit_managed_fields else value


def encode(event: dict[str, Any]) -> bytes:
    """The event's line (``\\n``-terminated); UnencodableEvent if an object is not JSON."""
    for key in ("requestObject", "responseObject"):
        payload = event.get(key)
        if isinstance(payload, Payload):
            event[key] = payload.resolve()
    try:
        line = orjson.dumps(event)
    except orjson.JSONEncodeError as exc:
        raise UnencodableEvent(str(exc)) from None
    return go_escape(line) + b"\n"


def go_escape(line: bytes) -> bytes:
    """Go encoding/json's HTML-safe escapes, on JSON text (the bytes occur only in
    strings)."""
    for raw, escaped in _GO_ESCAPES:
        if raw in line:
            line = line.replace(raw, escaped)
    return line


def without_managed_fields(obj: Any) -> Any:
    """copyWithoutManagedFields (audit/request.go): the object, a list's items and a
    Table's row objects without ``metadata.managedFields``; a copy, never the input."""
    if not isinstance(obj, dict):
        return obj
    out = _strip(obj)
    items = obj.get("items")
    if isinstance(items, list):
        out = {**out, "items": [_strip(item) for item in items]}
    rows = obj.get("rows")
    if obj.get("kind") == "Table" and isinstance(rows, list):
        out = {**out, "rows": [_strip_row(row) for row in rows]}
    return out


def _strip(obj: Any) -> Any:
    if not isinstance(obj, dict):
        return obj
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def _strip_row(row: Any) -> Any:
    if isinstance(row, dict) and isinstance(row.get("object"), dict):
        return {**row, "object": _strip(row["object"])}
    return row
