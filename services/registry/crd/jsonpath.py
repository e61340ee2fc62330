"""The JSONPath of CRD printer columns, as client-go's ``util/jsonpath`` evaluates it.

A column's ``jsonPath`` (``.spec.replicas``, ``.status.conditions[?(@.type=="Ready")]
.status``, ``.spec.containers[*].image``, ``.metadata.labels['app\\.kubernetes\\.io/
name']``) is parsed once and run on each object with missing keys allowed: a path that
finds nothing gives no result. Supported: dotted fields, quoted fields in brackets,
indexes (negative from the end), slices, ``*``, recursive descent ``..``, unions
``[a,b]`` and filters ``[?(@.x == "v")]`` with ==, !=, <, <=, >, >= or bare existence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Step = Callable[[Any], Iterator[Any]]


class JSONPathError(ValueError):
    """A path client-go's parser refuses."""


@dataclass(frozen=True)
class JSONPath:
    source: str
    steps: tuple[Step, ...]

    def find(self, obj: Any) -> list[Any]:
        """Every value the path reaches in ``obj``, in order."""
        values: list[Any] = [obj]
        for step in self.steps:
            values = [found for value in values for found in step(value)]
            if not values:
                return []
        return values


_NAME = re.compile(r"[A-Za-z0-9_\-/$]+")
_FILTER = re.compile(
    r"^\s*@((?:\.[A-Za-z0-9_\-/]+|\[['\"][^'\"]*['\"]\])*)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*$"
)


def parse(text: str) -> JSONPath:
    """A column's path (with or without client-go's ``{...}`` braces)."""
    source = text.strip()
    if source.startswith("{") and source.endswith("}"):
        source = source[1:-1].strip()
    if not source.startswith((".", "[")):
        raise JSONPathError(f"unrecognized column definition {text!r}")
    steps: list[Step] = []
    i = 0
    while i < len(source):
        if source.startswith("..", i):
            i += 2
            steps.append(_descend)
            if i < len(source) and source[i] != "[":
                match = _NAME.match(source, i)
                if match is None:
                    raise JSONPathError(f"invalid path {text!r}")
                steps.append(_field(match.group()))
                i = match.end()
            continue
        char = source[i]
        if char == ".":
            i += 1
            if i >= len(source):
                break
            if source[i] == "*":
                steps.append(_wildcard)
                i += 1
                continue
            match = _NAME.match(source, i)
            if match is None:
                raise JSONPathError(f"invalid path {text!r}")
            steps.append(_field(match.group()))
            i = match.end()
        elif char == "[":
            end = _closing(source, i)
            steps.append(_bracket(source[i + 1 : end], text))
            i = end + 1
        else:
            raise JSONPathError(f"invalid path {text!r}")
    return JSONPath(source, tuple(steps))


def _closing(source: str, start: int) -> int:
    depth, quote = 0, ""
    for i in range(start, len(source)):
        char = source[i]
        if quote:
            if char == "\\":
                continue
            if char == quote and source[i - 1] != "\\":
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return i
    raise JSONPathError(f"unclosed bracket in {source!r}")


def _field(name: str) -> Step:
    def step(value: Any) -> Iterator[Any]:
        if isinstance(value, dict) and name in value:
            yield value[name]

    return step


def _wildcard(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        yield from value.values()
    elif isinstance(value, list):
        yield from value


def _descend(value: Any) -> Iterator[Any]:
    yield value
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    )
    for child in children:
        yield from _descend(child)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1].replace("\\.", ".").replace("\\'", "'").replace('\\"', '"')
    return text


def _bracket(inner: str, whole: str) -> Step:
    inner = inner.strip()
    if inner == "*":
        return _wildcard
    if inner.startswith("?(") and inner.endswith(")"):
        return _filter(inner[2:-1], whole)
    if "," in inner and not inner.startswith(("'", '"')):
        parts = [_bracket(p, whole) for p in inner.split(",")]

        def union(value: Any) -> Iterator[Any]:
            for part in parts:
                yield from part(value)

        return union
    if inner[:1] in "'\"":
        return _field(_unquote(inner))
    if ":" in inner:
        bounds = [int(b) if b.strip() else None for b in inner.split(":")[:2]]

        def sliced(value: Any) -> Iterator[Any]:
            if isinstance(value, list):
                yield from value[bounds[0] : bounds[1]]

        return sliced
    try:
        index = int(inner)
    except ValueError:
        return _field(inner)

    def indexed(value: Any) -> Iterator[Any]:
        if isinstance(value, list) and -len(value) <= index < len(value):
            yield value[index]

    return indexed


def _literal(text: str) -> Any:
    text = text.strip()
    if text[:1] in "'\"":
        return _unquote(text)
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _filter(expression: str, whole: str) -> Step:
    match = _FILTER.match(expression)
    if match is None:
        raise JSONPathError(f"unsupported filter in {whole!r}")
    path = parse(match.group(1)) if match.group(1) else JSONPath("", ())
    operator, literal = match.group(2), match.group(3)
    wanted = _literal(literal) if literal is not None else None

    def test(item: Any) -> bool:
        found = path.find(item)
        if operator is None:
            return bool(found)
        if not found:
            return False
        left = found[0]
        try:
            if operator == "==":
                return bool(left == wanted)
            if operator == "!=":
                return bool(left != wanted)
            if operator == "<":
                return bool(left < wanted)
            if operator == "<=":
                return bool(left <= wanted)
            if operator == ">":
                return bool(left > wanted)
            return bool(left >= wanted)
        except TypeError:
            return False

    def step(value: Any) -> Iterator[Any]:
        items = (
            value if isinstance(value, list) else value.values() if isinstance(value, dict) else ()
        )
        for item in items:
            if test(item):
                yield item

    return step
