"""YAML a client sent, read as kube-apiserver reads it, within go-yaml's limits.

kube-apiserver turns a YAML body into JSON with sigs.k8s.io/yaml over go-yaml v2
(``YAMLToJSON`` for a create or an update, ``yaml.Unmarshal`` for server-side apply) and
decodes that JSON. ``load`` does the same for kapi: the first document's value and its JSON.
Every YAML parse of client input goes through here.

Why not ``yaml.safe_load``: PyYAML builds an alias as a reference to the anchored object,
so nine levels of nine aliases (a 483-byte "billion laughs" body, CVE-2019-11253 in kube)
load in microseconds and explode only when something encodes them (1.2 GiB at the gateway,
465 MiB in the registry). ``&a [*a]`` builds a cycle. Its composer recurses per level of
nesting (RecursionError past ~300), and its constructors make datetimes, sets, bytes and
non-string keys, which JSON cannot say.

How: libyaml's event stream (PyYAML's ``CParser``, or PyYAML's own parser when libyaml is
absent; both keep their nesting on a heap stack) drives one loop that builds the value on an
explicit stack, as go-yaml v2 decodes into ``interface{}``:

* plain scalars resolve by go-yaml v2's YAML 1.1 table (``yes``, ``y`` and ``on`` are true,
  ``0x1F`` and ``010`` are ints, ``1:30`` stays a string, timestamps stay their text);
  explicit tags are honoured or refused as go-yaml does; ``!!binary`` becomes its text;
* ``<<`` merges as go-yaml v2 merges (in document order; a sequence's earlier maps win);
* keys become strings as sigs.k8s.io/yaml makes them: ints and bools in their Go text,
  floats as Go's ``FormatFloat(f, 'g', -1, 32)``; null and uint64 keys are refused;
* numbers become what Go's JSON encoder writes (an integral float is an int), NaN and ±Inf
  are refused as it refuses them.

Limits (each a ``YAMLError``, which callers answer with 400):

* go-yaml's alias budget (``decoder.unmarshal``): each node go-yaml would decode is counted,
  and counted as aliased when reached through an alias; past 100 aliased of over 1,000,
  more than 99% aliased (sliding to 10% between 400,000 and 4,000,000 decoded) is
  "document contains excessive aliasing". A node's count is known when it ends, so an alias
  costs O(1) here, not a walk of what it repeats;
* a byte budget go-yaml lacks: text reached through aliases may add at most
  ``MAX_ALIASED_BYTES`` (one anchored 1 MiB string aliased a thousand times is 1 GiB of JSON
  within the node budget);
* "anchor 'a' value contains itself" for an alias inside its own anchor;
* nesting deeper than ``json_depth.MAX_DEPTH`` (go-yaml stops at 10,000; kapi at what its
  encoder writes back), in the text and again, through aliases, when encoding.

Messages are go-yaml's and sigs.k8s.io/yaml's (``yaml: line 3: mapping values are not
allowed in this context``), a client's values in them cut at 64 characters; callers add
kube's prefixes. A failure go-yaml would find only
when decoding (aliasing, a bad merge, a bad key) is reported only if the rest of the
document parses, as go-yaml parses a whole document before decoding it.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from dataclasses import dataclass
from typing import Any

import orjson
import yaml
from yaml import events

from kapi import json_depth

_libyaml: Any
try:
    from yaml import _yaml as _libyaml
except ImportError:  # pragma: no cover - libyaml ships in the PyYAML wheels kapi installs
    _libyaml = None

MAX_ALIASED_BYTES = 3 * 1024 * 1024

_TAG = "tag:yaml.org,2002:"
_STR, _BINARY, _MERGE = _TAG + "str", _TAG + "binary", _TAG + "merge"
_BOOL, _INT, _FLOAT = _TAG + "bool", _TAG + "int", _TAG + "float"
_NULL, _TIMESTAMP = _TAG + "null", _TAG + "timestamp"
_RESOLVABLE = frozenset({_STR, _BOOL, _INT, _FLOAT, _NULL, _TIMESTAMP})

_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1


class YAMLError(ValueError):
    """A body go-yaml or sigs.k8s.io/yaml refuses; the message is theirs."""


class _DecodeError(YAMLError):
    """Refused while decoding: reported only if the rest of the document parses."""


@dataclass(frozen=True, slots=True)
class Loaded:
    """One document: its value (plain dicts, lists and scalars, nothing shared) and its
    JSON, as ``orjson.dumps`` writes it."""

    value: Any
    json: bytes


def load(data: bytes) -> Loaded:
    """The first document (kube reads no further); ``None`` when there is none."""
    docs = _load(data, first_only=True)
    return docs[0] if docs else Loaded(None, b"null")


def load_all(data: bytes) -> list[Loaded]:
    """Every document of a stream, an empty one as ``None``."""
    return _load(data, first_only=False)


def _load(data: bytes, *, first_only: bool) -> list[Loaded]:
    if data.lstrip()[:1] == b"{":  # JSON, as kubectl apply sends: no YAML machinery
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        else:
            return [_encoded(value, shared=False, unsupported=None)]
    parser: Any = _libyaml.CParser(data) if _libyaml is not None else yaml.BaseLoader(data)
    try:
        out: list[Loaded] = []
        while True:
            event = parser.get_event()
            if event is None or isinstance(event, events.StreamEndEvent):
                return out
            if isinstance(event, events.DocumentStartEvent):
                out.append(_Document(parser).read())
                if first_only:
                    return out
    except yaml.YAMLError as exc:
        raise YAMLError(_go_message(exc)) from None
    finally:
        parser.dispose()


def _go_message(exc: yaml.YAMLError) -> str:
    """A libyaml error as go-yaml (a port of libyaml) words it: ``yaml: line N: problem``,
    the line left out on the first line, as ``parser.fail`` leaves it out."""
    if isinstance(exc, yaml.reader.ReaderError):
        return f"yaml: {exc.reason}"
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        if exc.problem == "exceeded maximum nesting depth":  # libyaml's own limit (1,000)
            return f"yaml: exceeded max depth of {json_depth.MAX_DEPTH}"
        mark = exc.problem_mark
        line = mark.line if mark is not None else 0
        if line and isinstance(exc, yaml.scanner.ScannerError):
            line += 1  # go-yaml counts a scanner error's line from 1, a parser error's not
        where = f"line {line}: " if line else ""
        return f"yaml: {where}{exc.problem}"
    return f"yaml: {exc}"


# --- the document -----------------------------------------------------------------------


class _Unsupported:
    """A number Go's JSON encoder refuses (NaN, ±Inf); orjson refuses the object too."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


@dataclass(slots=True)
class _Node:
    """A finished node, as an anchor remembers it."""

    value: Any
    count: int  # the unmarshal calls go-yaml makes to decode it
    size: int  # characters of text in it
    kind: str  # "scalar", "map" or "seq"
    go: tuple[str, Any] | None  # a scalar's Go type and value, to make it a key


@dataclass(slots=True)
class _Frame:
    """A mapping or sequence being built."""

    value: Any
    is_map: bool
    anchor: str | None
    count: int = 1
    size: int = 0
    state: int = 0  # a mapping's next node: _KEY, _VALUE or _MERGE
    key: Any = None


_KEY, _VALUE, _MERGE_VALUE = 0, 1, 2
_SKIP = object()  # a key sigs.k8s.io/yaml refuses: the value is dropped, the error deferred


def _allowed_alias_ratio(decoded: int) -> float:
    """go-yaml's ``allowedAliasRatio``: 99% up to 400,000 decodes, 10% from 4,000,000."""
    if decoded <= 400_000:
        return 0.99
    if decoded >= 4_000_000:
        return 0.10
    return 0.99 - 0.89 * ((decoded - 400_000) / 3_600_000)


class _Document:
    """One document's events made into a value, with go-yaml's counts."""

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.anchors: dict[str, _Node | None] = {}  # None: still open
        self.stack: list[_Frame] = []
        self.decoded = 1  # the document node
        self.aliased = 0
        self.aliased_size = 0
        self.deferred: str | None = None  # sigs.k8s.io/yaml's error, found after go-yaml's
        self.bad_key: str | None = None  # the start of that error, waiting for its value
        self.unsupported: _Unsupported | None = None
        self.root: Any = None

    def read(self) -> Loaded:
        try:
            self._build()
        except _DecodeError:
            self._drain()  # a syntax error later in the document is what go-yaml reports
            raise
        if self.deferred is not None:
            raise YAMLError(self.deferred)
        return _encoded(self.root, shared=self.aliased > 0, unsupported=self.unsupported)

    def _drain(self) -> None:
        while True:
            event = self.parser.get_event()
            if event is None or isinstance(event, events.DocumentEndEvent):
                return

    def _build(self) -> None:
        get = self.parser.get_event
        stack = self.stack
        scalar, alias = events.ScalarEvent, events.AliasEvent
        map_start, map_end = events.MappingStartEvent, events.MappingEndEvent
        seq_start, seq_end = events.SequenceStartEvent, events.SequenceEndEvent
        hints = _HINTS
        while True:
            event = get()
            kind = type(event)
            if kind is scalar:
                text: str = event.value
                if (
                    event.tag is None
                    and event.anchor is None
                    and (not event.implicit[0] or (text and text[0] not in hints))
                    and text != "<<"
                ):
                    self._string(text)  # most scalars: a string, no anchor, no tag
                else:
                    self._scalar(event)
            elif kind is map_start or kind is seq_start:
                self._start(event, is_map=kind is map_start)
            elif kind is map_end or kind is seq_end:
                frame = stack.pop()
                node = _Node(
                    frame.value, frame.count, frame.size, "map" if frame.is_map else "seq", None
                )
                if frame.anchor is not None:
                    self.anchors[frame.anchor] = node
                self._deliver(node, aliased=False)
            elif kind is alias:
                self._alias(event.anchor)
            elif kind is events.DocumentEndEvent:
                return

    def _count(self, literal: int, aliased: int = 0) -> None:
        self.decoded += literal + aliased
        self.aliased += aliased
        if (
            self.aliased > 100
            and self.decoded > 1000
            and self.aliased / self.decoded > _allowed_alias_ratio(self.decoded)
        ):
            raise _DecodeError("yaml: document contains excessive aliasing")

    def _string(self, text: str) -> None:
        """A plain string scalar without anchor or tag, delivered in place (the hot path)."""
        self.decoded += 1
        if self.aliased > 100:
            self._count(0)
        if not self.stack:
            self.root = text
            return
        frame = self.stack[-1]
        frame.count += 1
        frame.size += len(text)
        if not frame.is_map:
            frame.value.append(text)
        elif frame.state == _KEY:
            frame.key = text
            frame.state = _VALUE
        elif frame.state == _VALUE:
            self._set(frame, text)
        else:
            raise _DecodeError("yaml: map merge requires map or sequence of maps as the value")

    def _set(self, frame: _Frame, value: Any) -> None:
        if frame.key is not _SKIP:
            frame.value[frame.key] = value
        elif self.deferred is None and self.bad_key is not None:
            self.deferred = f"{self.bad_key}, value: {_go_syntax(value, top=True)}"
        frame.state = _KEY

    def _merging(self) -> bool:
        return bool(self.stack) and self.stack[-1].state == _MERGE_VALUE

    def _start(self, event: Any, *, is_map: bool) -> None:
        if len(self.stack) >= json_depth.MAX_DEPTH:
            line = event.start_mark.line if event.start_mark is not None else 0
            where = f"line {line + 1}: " if line else ""
            raise YAMLError(f"yaml: {where}exceeded max depth of {json_depth.MAX_DEPTH}")
        # go-yaml decodes a merge's sequence item by item, never the sequence itself
        self._count(0 if not is_map and self._merging() else 1)
        if event.anchor is not None:
            self.anchors[event.anchor] = None
        self.stack.append(_Frame({} if is_map else [], is_map, event.anchor))

    def _scalar(self, event: Any) -> None:
        text: str = event.value
        frame = self.stack[-1] if self.stack else None
        is_key = frame is not None and frame.is_map and frame.state == _KEY
        if is_key and text == "<<" and (event.implicit[0] or event.tag == _MERGE):
            assert frame is not None
            frame.state = _MERGE_VALUE  # go-yaml does not decode a merge key
            return
        self._count(1)
        go = _resolve(event.tag, text, plain=event.implicit[0])
        node = _Node(None, 1, len(text), "scalar", go)
        if not is_key or event.anchor is not None:  # an alias may use a key as a value
            node.value = self._json_scalar(go)
        if event.anchor is not None:
            self.anchors[event.anchor] = node
        self._deliver(node, aliased=False)

    def _alias(self, name: str) -> None:
        if name not in self.anchors:
            raise YAMLError(f"yaml: unknown anchor '{name}' referenced")
        node = self.anchors[name]
        if node is None:
            raise _DecodeError(f"yaml: anchor '{name}' value contains itself")
        self._count(1, node.count)
        self.aliased_size += node.size
        if self.aliased_size > MAX_ALIASED_BYTES:
            raise _DecodeError("yaml: document contains excessive aliasing")
        repeated = _Node(node.value, 1 + node.count, node.size, node.kind, node.go)
        self._deliver(repeated, aliased=True)

    def _json_scalar(self, go: tuple[str, Any]) -> Any:
        value = _json_value(*go)
        if isinstance(value, _Unsupported) and self.unsupported is None:
            self.unsupported = value
        return value

    def _deliver(self, node: _Node, *, aliased: bool) -> None:
        if not self.stack:
            self.root = node.value
            return
        frame = self.stack[-1]
        frame.size += node.size
        if not frame.is_map:
            frame.count += node.count
            frame.value.append(node.value)
        elif frame.state == _KEY:
            frame.count += node.count
            frame.key = self._key(node)
            frame.state = _VALUE
        elif frame.state == _VALUE:
            frame.count += node.count
            self._set(frame, node.value)
        else:
            frame.count += node.count - (1 if node.kind == "seq" and not aliased else 0)
            _merge(frame.value, node, aliased=aliased)
            frame.state = _KEY

    def _key(self, node: _Node) -> Any:
        if node.go is None:
            raise _DecodeError(f"yaml: invalid map key: {_go_syntax(node.value)}")
        key, problem = _json_key(*node.go)
        if problem is not None:
            if self.bad_key is None:
                self.bad_key = problem
            return _SKIP
        return key


def _merge(target: dict[str, Any], node: _Node, *, aliased: bool) -> None:
    """``<<: value`` as go-yaml v2's ``decoder.merge`` does it."""
    if node.kind == "map":
        target.update(node.value)
    elif node.kind == "seq" and not aliased and all(isinstance(m, dict) for m in node.value):
        for mapping in reversed(node.value):  # earlier maps take precedence
            target.update(mapping)
    else:
        raise _DecodeError("yaml: map merge requires map or sequence of maps as the value")


def _encoded(value: Any, *, shared: bool, unsupported: _Unsupported | None) -> Loaded:
    try:
        encoded = json_depth.dumps(value)
    except json_depth.TooDeep:
        raise YAMLError(f"yaml: exceeded max depth of {json_depth.MAX_DEPTH}") from None
    except orjson.JSONEncodeError as exc:
        if unsupported is not None:
            raise YAMLError(f"json: unsupported value: {unsupported.text}") from None
        if "surrogates" in str(exc):  # PyYAML's own scanner lets "\ud800" through
            raise YAMLError("yaml: found invalid Unicode character escape code") from None
        raise YAMLError(f"json: {exc}") from None
    # An alias is the anchored object itself: decode the JSON again so nothing is shared.
    return Loaded(orjson.loads(encoded) if shared else value, encoded)


# --- scalars: go-yaml v2's resolve.go -------------------------------------------------------

_HINTS = {c: "D" for c in "0123456789"} | {"+": "S", "-": "S", ".": "."}
_HINTS |= {c: "M" for c in "yYnNtTfFoO~"}
_RESOLVE_MAP: dict[str, tuple[str, Any]] = {}
for _words, _resolved in (
    ("y Y yes Yes YES true True TRUE on On ON", ("bool", True)),
    ("n N no No NO false False FALSE off Off OFF", ("bool", False)),
    ("~ null Null NULL", ("null", None)),
    (".nan .NaN .NAN", ("float", math.nan)),
    (".inf .Inf .INF +.inf +.Inf +.INF", ("float", math.inf)),
    ("-.inf -.Inf -.INF", ("float", -math.inf)),
):
    for _word in _words.split():
        _RESOLVE_MAP[_word] = _resolved
_RESOLVE_MAP[""] = ("null", None)

_GO_TAGS = {"str": _STR, "bool": _BOOL, "null": _NULL, "float": _FLOAT, "timestamp": _TIMESTAMP}
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
# go-yaml's allowedTimestampFormats: RFC 3339 with short fields, "2006-1-2 15:4:5", a date.
_TIMESTAMP_RE = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}"
    r"(?:[Tt]\d{1,2}:\d{1,2}:\d{1,2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})"
    r"| \d{1,2}:\d{1,2}:\d{1,2}(?:\.\d+)?)?"
)
_DIGITS = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}


def _go_int(text: str, *, signed: bool) -> int | None:
    """Go's ``strconv.ParseInt(text, 0, 64)`` (or ``ParseUint``) without its range check:
    the value, or None for a syntax error."""
    body, sign = text, 1
    if body[:1] in ("+", "-"):
        if not signed:
            return None
        sign, body = (-1 if body[0] == "-" else 1), body[1:]
    base = 10
    if len(body) > 1 and body[0] == "0":
        prefix = body[1].lower()
        base, body = {"x": (16, body[2:]), "b": (2, body[2:]), "o": (8, body[2:])}.get(
            prefix, (8, body[1:])
        )
    if not body or any(c not in _DIGITS[base] for c in body):
        return None
    return sign * int(body, base)


def _resolve_number(text: str) -> tuple[str, Any] | None:
    plain = text.replace("_", "")
    number = _go_int(plain, signed=True)
    if number is not None and _INT64_MIN <= number <= _INT64_MAX:
        return "int", number
    unsigned = _go_int(plain, signed=False)
    if unsigned is not None and unsigned <= _UINT64_MAX:
        return "uint64", unsigned
    if _YAML_STYLE_FLOAT.fullmatch(plain):
        value = float(plain)
        if not math.isinf(value):  # Go's ParseFloat fails with ErrRange
            return "float", value
    if unsigned is not None:  # out of range: go-yaml keeps it as a *big.Int
        return "bigint", unsigned
    return None


def _resolve(tag: str | None, text: str, *, plain: bool) -> tuple[str, Any]:
    """go-yaml v2's ``resolve`` and ``decoder.scalar`` into ``interface{}``: (Go type, value).

    Go types: str, bool, null, int, uint64, bigint, float, timestamp (its text)."""
    if tag is None:
        if not plain:
            return "str", text  # quoted: always a string
        tag = ""
    elif tag == _BINARY:
        try:
            data = base64.b64decode(text.replace("\n", "").replace("\r", ""), validate=True)
        except binascii.Error:
            raise _DecodeError("yaml: !!binary value contains invalid base64 data") from None
        return "str", data.decode("utf-8", "replace")
    elif tag not in _RESOLVABLE:
        return "str", text  # any other tag: its text
    resolved: tuple[str, Any] | None = None
    hint = _HINTS.get(text[0]) if text else "N"
    if hint is not None and tag != _STR:
        resolved = _RESOLVE_MAP.get(text)
        if resolved is None and hint == "." and _DOT_FLOAT.fullmatch(text):
            resolved = "float", float(text)
        elif resolved is None and hint in ("D", "S"):
            if tag in ("", _TIMESTAMP) and _TIMESTAMP_RE.fullmatch(text):
                resolved = "timestamp", text
            else:
                resolved = _resolve_number(text)
    if resolved is None:
        resolved = "str", text
    if tag in ("", _STR):
        return resolved if tag == "" else ("str", text)
    found = _GO_TAGS.get(resolved[0], _INT)
    if found == tag:
        return resolved
    if tag == _FLOAT and found == _INT:
        return "float", float(resolved[1])
    shown = _abridged(text)
    raise _DecodeError(f"yaml: cannot decode {_short(found)} `{shown}` as a {_short(tag)}")


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


def _json_value(go_type: str, value: Any) -> Any:
    """A scalar as Go's ``json.Marshal`` writes it and orjson reads that back."""
    if go_type == "float":
        if math.isnan(value):
            return _Unsupported("NaN")
        if math.isinf(value):
            return _Unsupported("+Inf" if value > 0 else "-Inf")
        if value.is_integer() and abs(value) < 1e21:  # Go writes 3.0 as 3
            whole = int(value)
            return whole if _INT64_MIN <= whole <= _UINT64_MAX else value
        return value
    if go_type == "bigint":
        try:
            return float(value)  # what orjson makes of a number past 64 bits
        except OverflowError:
            return _Unsupported(str(value))
    return value


def _json_key(go_type: str, value: Any) -> tuple[str, str | None]:
    """sigs.k8s.io/yaml's key conversion: (the key, or the error it gives)."""
    if go_type in ("str", "timestamp"):
        return value, None
    if go_type == "bool":
        return ("true" if value else "false"), None
    if go_type == "int":
        return str(value), None
    if go_type == "float":
        return _go_float32(value), None
    go_name = {"null": "%!s(<nil>)", "uint64": "uint64", "bigint": "*big.Int"}[go_type]
    shown = "<nil>" if value is None else hex(value) if go_type == "uint64" else str(value)
    return "", f"unsupported map key of type: {go_name}, key: {shown}"


def _go_float32(value: float) -> str:
    """Go's ``strconv.FormatFloat(value, 'g', -1, 32)``, with go-yaml's names for the
    non-finite values."""
    try:
        single = struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:
        single = math.inf if value > 0 else -math.inf
    if math.isnan(single):
        return ".nan"
    if math.isinf(single):
        return ".inf" if single > 0 else "-.inf"
    if single == 0:
        return "-0" if math.copysign(1, single) < 0 else "0"
    for precision in range(1, 10):  # the shortest decimal that reads back as this float32
        text = f"{abs(single):.{precision - 1}e}"
        if struct.unpack("<f", struct.pack("<f", float(text)))[0] == abs(single):
            break
    mantissa, _, exponent = text.partition("e")
    digits, exp = mantissa.replace(".", ""), int(exponent)
    sign = "-" if single < 0 else ""
    if exp < -4 or exp >= 6:  # %e, with Go's two-digit exponent
        tail = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{tail}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    point = exp + 1
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


_SHOWN = 64  # characters of a client's value an error message repeats


def _abridged(text: str) -> str:
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _go_syntax(value: Any, *, top: bool = False) -> str:
    """Go's ``%#v`` of a decoded value, for error messages (abridged: the first 8 items
    of a collection, the first 64 characters of a string)."""
    if isinstance(value, dict):
        inner = ", ".join(f"{_go_syntax(k)}:{_go_syntax(v)}" for k, v in list(value.items())[:8])
        return f"map[interface {{}}]interface {{}}{{{inner}}}"
    if isinstance(value, list):
        return f"[]interface {{}}{{{', '.join(_go_syntax(v) for v in value[:8])}}}"
    if value is None:
        return "<nil>" if top else "interface {}(nil)"
    if isinstance(value, str):
        return orjson.dumps(_abridged(value)).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _Unsupported):
        return value.text
    return str(value)
