"""The bounds a write keeps, so that no request makes the registry spend unbounded memory
or stack.

A body reaches the registry at most 3 MiB large (the gateway's limit, kube-apiserver's
``--max-request-body-bytes``), but what a write does with it is not bounded by that alone:
a JSON patch ``copy`` doubles what it copies, a patch adds its values to an object that
may already be large, and every Python walk of an object recurses once per level. In
Python an object also weighs up to ~32 times its JSON (a ``{"":{}}`` is 8 bytes of JSON
and 256 of dicts), so a write is cut off as soon as its result cannot be stored anyway.

- **JSON patch operations**: at most ``MAX_JSON_PATCH_OPERATIONS`` (10,000), else 413
  RequestEntityTooLarge ``The allowed maximum operations in a JSON patch is 10000, got
  N`` (kube-apiserver's ``maxJSONPatchOperations``, ``handlers/patch.go``).
- **JSON patch copies**: the values ``copy`` operations add, counted in JSON bytes, at
  most ``MAX_JSON_PATCH_COPY_BYTES``, else the 422 kube answers for any JSON patch that
  fails to apply. kube-apiserver gives evanphx/json-patch an ``AccumulatedCopySizeLimit``
  of ``JSONPatchMaxCopyBytes``, 3 MiB: twice etcd's 1.5 MiB request limit, because an
  object arrives as JSON and is stored as Protobuf, about half as large
  (``k8s.io/apiserver/pkg/server/config.go``). kapi stores JSON, so the same reasoning
  gives etcd's limit itself: 1.5 MiB.
- **Nesting**: a patch, an applied configuration, and the object a patch produces nest
  at most ``MAX_DEPTH`` objects and arrays. Go's JSON decoder, which kube uses, stops at
  10,000 (``invalid character '{' exceeded max depth``); here every walk of an object
  recurses per level and orjson writes at most 254 levels, so the bound is lower and kept
  with Go's words: 400 for the body (``error decoding patch: ...``), 422 for the result,
  the field ``patch`` as kube names a patched object its decoder refuses.
- **Object size**: the object a patch produces (and an applied configuration, all of
  which ends up in it), in JSON, at most ``MAX_OBJECT_BYTES`` (1.5 MiB, what etcd accepts
  in one request by default, ``--max-request-bytes``), else 413 ``Request entity too
  large: limit is 1572864``, before the rest of the write (managed fields, admission,
  validation) spends memory on an object storage would refuse. kube-apiserver has no
  such check of its own: etcd refuses the write at the end. Storage holds to the same
  limit (``services.storage.storage_errors.MAX_VALUE_BYTES``); raise both with etcd's.

With these, the worst patch a 3 MiB body can express (3 MiB of ``{"":{}}`` against the
heaviest object storage holds) grows the registry by ~155 MiB at most, as
``tests/unit/registry/test_registry_limits.py`` measures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kapi import errors, json_depth
from kapi.errors import FieldError

MAX_JSON_PATCH_OPERATIONS = 10_000
MAX_OBJECT_BYTES = 1536 * 1024
MAX_JSON_PATCH_COPY_BYTES = MAX_OBJECT_BYTES
MAX_DEPTH = json_depth.MAX_DEPTH  # the gateway's bound for bodies: one bound for both


def exceeded_depth(value: Any, limit: int = MAX_DEPTH) -> str:
    """``'{'`` or ``'['`` for the object or array nested past ``limit`` in ``value``
    (``limit + 1`` deep), ``""`` when ``value`` nests at most ``limit``. Iterative, with
    one iterator per level: it walks values too deep for a recursive walk, in memory
    proportional to the depth."""
    if not isinstance(value, dict | list):
        return ""
    if limit < 1:
        return "{" if isinstance(value, dict) else "["
    stack: list[Iterator[Any]] = [_children(value)]
    while stack:
        for child in stack[-1]:
            if isinstance(child, dict | list):
                if len(stack) >= limit:
                    return "{" if isinstance(child, dict) else "["
                stack.append(_children(child))
                break
        else:
            stack.pop()
    return ""


def _children(value: dict[str, Any] | list[Any]) -> Iterator[Any]:
    return iter(value.values()) if isinstance(value, dict) else iter(value)


def _too_deep(char: str) -> str:
    """Go's ``encoding/json`` scanner error, at our depth."""
    return f"invalid character '{char}' exceeded max depth"


def check_patch_depth(patch: Any, *, prefix: str = "error decoding patch: ") -> None:
    """400 BadRequest for a decoded patch (or applied configuration) nested too deep."""
    char = exceeded_depth(patch)
    if char:
        raise errors.bad_request(prefix + _too_deep(char))


def check_patched(obj: Any) -> None:
    """The object a patch produced: 422 when it nests too deep (as kube's decoder refuses a
    patched object: the field ``patch``, its value left out), 413 when larger than
    ``MAX_OBJECT_BYTES``. One walk for both (every patch pays it: ~15 µs a KB).

    The object carries its managed fields, which mirror its fields a few levels deeper
    (``json_depth.MANAGED_FIELDS_DEPTH``): an object at ``MAX_DEPTH`` must stay
    patchable, and anything within this bound is still written back by every layer."""
    char, too_large = _scan(obj, MAX_DEPTH + json_depth.MANAGED_FIELDS_DEPTH, MAX_OBJECT_BYTES)
    if char:
        problem = FieldError("FieldValueInvalid", "patch", None, _too_deep(char), omit_value=True)
        raise errors.invalid("", "", "", [problem])
    if too_large:
        raise errors.request_entity_too_large(f"limit is {MAX_OBJECT_BYTES}")


def _scan(value: Any, depth_limit: int, size_limit: int) -> tuple[str, bool]:
    """(``exceeded_depth``, ``json_size_exceeds``) of ``value`` in one walk, stopping at
    the first bound passed. Inlined: it runs on every patched object."""
    size = _size(value)
    if size > size_limit:
        return "", True
    if not isinstance(value, dict | list):
        return "", False
    if depth_limit < 1:
        return ("{" if isinstance(value, dict) else "["), False
    stack: list[Iterator[Any]] = [_children(value)]
    while stack:
        for child in stack[-1]:
            if type(child) is str:
                size += len(child) + 2
            elif isinstance(child, dict):
                size += (1 + 2 * len(child) if child else 2) + sum(len(k) + 2 for k in child)
                if size > size_limit:
                    return "", True
                if len(stack) >= depth_limit:
                    return "{", False
                stack.append(iter(child.values()))
                break
            elif isinstance(child, list):
                size += 1 + len(child) if child else 2
                if size > size_limit:
                    return "", True
                if len(stack) >= depth_limit:
                    return "[", False
                stack.append(iter(child))
                break
            else:
                size += _size(child)
            if size > size_limit:
                return "", True
        else:
            stack.pop()
    return "", False


def _size(value: Any) -> int:
    """A lower bound of what ``value`` itself adds to compact JSON (a map's keys included,
    its values not): see ``json_size_exceeds``."""
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, dict):
        return (1 + 2 * len(value) if value else 2) + sum(len(key) + 2 for key in value)
    if isinstance(value, list):
        return 1 + len(value) if value else 2
    if value is None or value is True:
        return 4
    return 5 if value is False else 1


def check_size(obj: Any) -> None:
    """413 RequestEntityTooLarge for an object whose JSON is larger than storage holds."""
    if json_size_exceeds(obj, MAX_OBJECT_BYTES):
        raise errors.request_entity_too_large(f"limit is {MAX_OBJECT_BYTES}")


def json_size_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` in compact JSON is surely longer than ``limit`` bytes.

    Counted without writing it (writing a large value touched ~7 times its size of
    memory here), from a lower bound of each part: a string by its characters (UTF-8
    and escapes only add), a number as one digit. So ``False`` may still be too large
    for storage, which checks the exact bytes; ``True`` never is wrong. It stops as
    soon as the count passes ``limit``: a large value is not walked to its end."""
    size = 0
    stack = [value]
    while stack:
        current = stack.pop()
        size += _size(current)
        if size > limit:
            return True
        if isinstance(current, dict):
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return False
