"""Kubernetes label and field selectors: parsing, validation and matching.

A port of ``k8s.io/apimachinery/pkg/labels`` (the set-based label selector grammar and
its lexer) and ``k8s.io/apimachinery/pkg/fields`` (``a=b,c!=d`` with backslash escapes),
so the same strings select the same objects and bad ones fail with the same messages.
A bad selector raises ``errors.bad_request``; the parsed selectors are immutable and
match plain object dicts. Pure functions, no I/O.

Field selectors here are generic: any dotted path into the object (``metadata.name``,
``spec.nodeName``, ``status.phase``), values compared as strings, a missing field
reading as ``""`` (as ``fields.Set.Get`` does).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kapi import errors, names

__all__ = [
    "FieldSelector",
    "FieldTerm",
    "LabelSelector",
    "Operator",
    "Requirement",
    "from_label_selector",
    "parse_field_selector",
    "parse_label_selector",
]


class Operator(enum.StrEnum):
    """``selection.Operator``."""

    DOES_NOT_EXIST = "!"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    IN = "in"
    NOT_EQUALS = "!="
    NOT_IN = "notin"
    EXISTS = "exists"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


# --- validation (k8s.io/apimachinery/pkg/util/validation) ---------------------------

_INT64_RE = re.compile(r"[+-]?[0-9]+")
_is_qualified_name = names.qualified_name
_is_valid_label_value = names.label_value


def _parse_int64(value: str) -> int | None:
    if not _INT64_RE.fullmatch(value):
        return None
    number = int(value)
    return number if -(2**63) <= number < 2**63 else None


class _ParseError(Exception):
    """Internal: a message in apimachinery's words, turned into BadRequest at the API."""


def _aggregate(messages: Sequence[str]) -> str:
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# --- label selectors -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``key op values`` term; values are sorted and unique (a ``sets.String``)."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    @classmethod
    def new(cls, key: str, operator: Operator, values: Collection[str] = ()) -> Requirement:
        """``labels.NewRequirement``: validated, or ``errors.bad_request``."""
        try:
            return cls._new(key, operator, values)
        except _ParseError as exc:
            raise errors.bad_request(str(exc)) from None

    @classmethod
    def _new(cls, key: str, operator: Operator, values: Collection[str]) -> Requirement:
        vals = tuple(sorted(set(values)))
        problems: list[str] = []
        if key_errs := _is_qualified_name(key):
            problems.append(str(errors.invalid_value("key", key, "; ".join(key_errs))))
        if operator in (Operator.IN, Operator.NOT_IN) and not vals:
            problems.append(
                str(
                    errors.invalid_value(
                        "values", [], "for 'in', 'notin' operators, values set can't be empty"
                    )
                )
            )
        elif operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS) and (
            len(vals) != 1
        ):
            problems.append(
                str(
                    errors.invalid_value(
                        "values", list(vals), "exact-match compatibility requires one single value"
                    )
                )
            )
        elif operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and vals:
            problems.append(
                str(
                    errors.invalid_value(
                        "values",
                        list(vals),
                        "values set must be empty for exists and does not exist",
                    )
                )
            )
        elif operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
            if len(vals) != 1:
                problems.append(
                    str(
                        errors.invalid_value(
                            "values",
                            list(vals),
                            "for 'Gt', 'Lt' operators, exactly one value is required",
                        )
                    )
                )
            for i, v in enumerate(vals):
                if _parse_int64(v) is None:
                    problems.append(
                        str(
                            errors.invalid_value(
                                f"values[{i}]",
                                v,
                                "for 'Gt', 'Lt' operators, the value must be an integer",
                            )
                        )
                    )
        for i, v in enumerate(vals):
            if value_errs := _is_valid_label_value(v):
                problems.append(
                    str(errors.invalid_value(f"values[{i}][{key}]", v, "; ".join(value_errs)))
                )
        if problems:
            raise _ParseError(_aggregate(problems))
        return cls(key, operator, vals)

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        present = self.key in labels
        if op in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
            return present and labels[self.key] in self.values
        if op in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return not present or labels[self.key] not in self.values
        if op is Operator.EXISTS:
            return present
        if op is Operator.DOES_NOT_EXIST:
            return not present
        # GREATER_THAN / LESS_THAN: integers on both sides, else no match.
        if not present or len(self.values) != 1:
            return False
        have, want = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
        if have is None or want is None:
            return False
        return have > want if op is Operator.GREATER_THAN else have < want

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        values = ",".join(self.values)
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op.value} ({values})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{symbol}{values}"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """All requirements must match (AND); the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches_labels(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether the object's ``metadata.labels`` satisfy every requirement."""
        if not self.requirements:
            return True
        metadata = obj.get("metadata")
        labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
        return self.matches_labels(labels if isinstance(labels, Mapping) else {})

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


class _Tok(enum.Enum):
    ERROR = enum.auto()
    END = enum.auto()
    CLOSED_PAR = enum.auto()
    COMMA = enum.auto()
    DOES_NOT_EXIST = enum.auto()
    DOUBLE_EQUALS = enum.auto()
    EQUALS = enum.auto()
    GREATER_THAN = enum.auto()
    IDENTIFIER = enum.auto()
    IN = enum.auto()
    LESS_THAN = enum.auto()
    NOT_EQUALS = enum.auto()
    NOT_IN = enum.auto()
    OPEN_PAR = enum.auto()


_STRING_TO_TOKEN = {
    ")": _Tok.CLOSED_PAR,
    ",": _Tok.COMMA,
    "!": _Tok.DOES_NOT_EXIST,
    "==": _Tok.DOUBLE_EQUALS,
    "=": _Tok.EQUALS,
    ">": _Tok.GREATER_THAN,
    "in": _Tok.IN,
    "<": _Tok.LESS_THAN,
    "!=": _Tok.NOT_EQUALS,
    "notin": _Tok.NOT_IN,
    "(": _Tok.OPEN_PAR,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")


def _lex(text: str) -> list[tuple[_Tok, str]]:
    """The token stream of ``labels.Lexer``, ending with END."""
    out: list[tuple[_Tok, str]] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            out.append((_Tok.END, ""))
            return out
        if text[pos] in _SPECIAL:
            # Longest operator made of special symbols: "!=", "==", "=", "!", ...
            buffer, last = "", None
            while pos < n and text[pos] in _SPECIAL:
                buffer += text[pos]
                token = _STRING_TO_TOKEN.get(buffer)
                if token is not None:
                    last = (token, buffer)
                elif last is not None:
                    break
                pos += 1
            if last is None:
                out.append((_Tok.ERROR, f"error expected: keyword found '{buffer}'"))
            else:
                out.append(last)  # the symbol that broke the operator is read again next
            continue
        start = pos
        while pos < n and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            pos += 1
        word = text[start:pos]
        out.append((_STRING_TO_TOKEN.get(word, _Tok.IDENTIFIER), word))


class _LabelParser:
    """``labels.Parser``: recursive descent over the scanned tokens."""

    def __init__(self, text: str) -> None:
        self._items = _lex(text)
        self._pos = 0

    @staticmethod
    def _in_values(token: _Tok) -> _Tok:
        # "in" and "notin" are plain identifiers where a value is expected.
        return _Tok.IDENTIFIER if token in (_Tok.IN, _Tok.NOT_IN) else token

    def _lookahead(self, values: bool = True) -> tuple[_Tok, str]:
        token, literal = self._items[self._pos]
        return (self._in_values(token) if values else token), literal

    def _consume(self, values: bool = True) -> tuple[_Tok, str]:
        token, literal = self._lookahead(values)
        self._pos += 1
        return token, literal

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            token, literal = self._lookahead()
            if token in (_Tok.IDENTIFIER, _Tok.DOES_NOT_EXIST):
                try:
                    requirements.append(self._requirement())
                except _ParseError as exc:
                    raise _ParseError(f"unable to parse requirement: {exc}") from None
                token, literal = self._consume()
                if token is _Tok.END:
                    return requirements
                if token is _Tok.COMMA:
                    token2, literal2 = self._lookahead()
                    if token2 not in (_Tok.IDENTIFIER, _Tok.DOES_NOT_EXIST):
                        raise _ParseError(f"found '{literal2}', expected: identifier after ','")
                    continue
                raise _ParseError(f"found '{literal}', expected: ',' or 'end of string'")
            if token is _Tok.END:
                return requirements
            raise _ParseError(f"found '{literal}', expected: !, identifier, or 'end of string'")

    def _requirement(self) -> Requirement:
        key, operator = self._key_and_inferred_operator()
        if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
            return Requirement._new(key, operator, ())
        operator = self._operator()
        if operator in (Operator.IN, Operator.NOT_IN):
            values = self._values()
        else:
            values = self._exact_value()
        return Requirement._new(key, operator, values)

    def _key_and_inferred_operator(self) -> tuple[str, Operator | None]:
        operator: Operator | None = None
        token, literal = self._consume()
        if token is _Tok.DOES_NOT_EXIST:
            operator = Operator.DOES_NOT_EXIST
            token, literal = self._consume()
        if token is not _Tok.IDENTIFIER:
            raise _ParseError(f"found '{literal}', expected: identifier")
        if key_errs := _is_qualified_name(literal):
            raise _ParseError(str(errors.invalid_value("<nil>", literal, "; ".join(key_errs))))
        if self._lookahead()[0] in (_Tok.END, _Tok.COMMA) and operator is None:
            operator = Operator.EXISTS
        return literal, operator

    def _operator(self) -> Operator:
        token, literal = self._consume(values=False)
        operators = {
            _Tok.IN: Operator.IN,
            _Tok.EQUALS: Operator.EQUALS,
            _Tok.DOUBLE_EQUALS: Operator.DOUBLE_EQUALS,
            _Tok.GREATER_THAN: Operator.GREATER_THAN,
            _Tok.LESS_THAN: Operator.LESS_THAN,
            _Tok.NOT_IN: Operator.NOT_IN,
            _Tok.NOT_EQUALS: Operator.NOT_EQUALS,
        }
        if token not in operators:
            raise _ParseError(f"found '{literal}', expected: '=', '!=', '==', 'in', notin'")
        return operators[token]

    def _values(self) -> set[str]:
        token, literal = self._consume()
        if token is not _Tok.OPEN_PAR:
            raise _ParseError(f"found '{literal}' expected: '('")
        token, literal = self._lookahead()
        if token in (_Tok.IDENTIFIER, _Tok.COMMA):
            values = self._identifiers()
            if self._consume()[0] is not _Tok.CLOSED_PAR:
                raise _ParseError(f"found '{literal}', expected: ')'")
            return values
        if token is _Tok.CLOSED_PAR:
            self._consume()
            return {""}
        raise _ParseError(f"found '{literal}', expected: ',', ')' or identifier")

    def _identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            token, literal = self._consume()
            if token is _Tok.IDENTIFIER:
                values.add(literal)
                token2, literal2 = self._lookahead()
                if token2 is _Tok.COMMA:
                    continue
                if token2 is _Tok.CLOSED_PAR:
                    return values
                raise _ParseError(f"found '{literal2}', expected: ',' or ')'")
            if token is _Tok.COMMA:  # "(," ",," ",)" each stand for an empty value
                if not values:
                    values.add("")
                token2, _ = self._lookahead()
                if token2 is _Tok.CLOSED_PAR:
                    values.add("")
                    return values
                if token2 is _Tok.COMMA:
                    self._consume()
                    values.add("")
                continue
            raise _ParseError(f"found '{literal}', expected: ',', or identifier")

    def _exact_value(self) -> set[str]:
        token, _ = self._lookahead()
        if token in (_Tok.END, _Tok.COMMA):
            return {""}
        token, literal = self._consume()
        if token is _Tok.IDENTIFIER:
            return {literal}
        raise _ParseError(f"found '{literal}', expected: identifier")


_SELECTOR_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def from_label_selector(selector: Mapping[str, Any] | None) -> LabelSelector | None:
    """``metav1.LabelSelectorAsSelector``: a ``LabelSelector`` object (``matchLabels``,
    ``matchExpressions``) as a selector; None (kube's ``labels.Nothing``) for None, the
    empty selector (everything) for ``{}``. A bad one raises ``errors.bad_request``."""
    if selector is None:
        return None
    requirements: list[Requirement] = []
    for key, value in sorted((selector.get("matchLabels") or {}).items()):
        requirements.append(Requirement.new(str(key), Operator.EQUALS, [str(value)]))
    for expr in selector.get("matchExpressions") or []:
        if not isinstance(expr, Mapping):
            continue
        op = _SELECTOR_OPERATORS.get(str(expr.get("operator")))
        if op is None:
            raise errors.bad_request(
                f"{go_quote(str(expr.get('operator')))} is not a valid label selector operator"
            )
        values = [str(v) for v in expr.get("values") or []]
        requirements.append(Requirement.new(str(expr.get("key") or ""), op, values))
    return LabelSelector(tuple(requirements))


def go_quote(text: str) -> str:
    """Go's ``%q`` for plain text."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_label_selector(text: str) -> LabelSelector:
    """``labels.Parse``: ``a=b,c!=d,e in (f,g),!h,i`` → a selector, or ``errors.bad_request``."""
    try:
        requirements = _LabelParser(text).parse()
    except _ParseError as exc:
        raise errors.bad_request(str(exc)) from None
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


# --- field selectors -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldTerm:
    """``path=value`` (``equal``) or ``path!=value`` (not ``equal``)."""

    path: str
    value: str
    equal: bool = True

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return (field_value(obj, self.path) == self.value) is self.equal

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
        return f"{self.path}{'=' if self.equal else '!='}{escaped}"


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """All terms must match (AND); the empty selector matches everything."""

    terms: tuple[FieldTerm, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(t.matches(obj) for t in self.terms)

    def requires_exact_match(self, path: str) -> str | None:
        """The value ``path`` must equal for a match, if the selector pins one."""
        for term in self.terms:
            if term.path == path and term.equal:
                return term.value
        return None

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


# Between the registry and storage only: ``path|default`` reads ``default`` where the
# stored JSON omits the field (Go omits a zero int that kube's selectable field prints
# as "0"). Users cannot send it: the registry accepts only the labels a type declares.
ABSENT_AS = "|"


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string form of a dotted path's value: ``""`` when absent (or the default of a
    ``path|default`` path), ``true``/``false`` for booleans."""
    path, _, absent = path.partition(ABSENT_AS)
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return absent
        value = value[part]
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return ""


def _split_terms(text: str) -> list[str]:
    terms, start, in_slash = [], 0, False
    for i, ch in enumerate(text):
        if in_slash:
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def _unescape(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    in_slash = False
    for ch in value:
        if in_slash:
            if ch not in "\\,=":
                raise _ParseError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch in ",=":
            # Go prints the rune with %v: its code point.
            raise _ParseError(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if in_slash:
        raise _ParseError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(text: str) -> FieldSelector:
    """``fields.ParseSelector``: ``a=b,c==d,e!=f`` → a selector, or ``errors.bad_request``."""
    if not text:
        return FieldSelector()
    terms: list[FieldTerm] = []
    try:
        for part in sorted(_split_terms(text)):
            if not part:
                continue
            split = _split_term(part)
            if split is None:
                raise _ParseError(f"invalid selector: '{text}'; can't understand '{part}'")
            lhs, op, rhs = split
            terms.append(FieldTerm(lhs, _unescape(rhs), op != "!="))
    except _ParseError as exc:
        raise errors.bad_request(str(exc)) from None
    return FieldSelector(tuple(terms))
