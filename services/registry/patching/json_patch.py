"""JSON patch (RFC 6902) as kube-apiserver applies it: evanphx/json-patch v4 under the limits
kube sets.

- At most 10,000 operations (``limits.MAX_JSON_PATCH_OPERATIONS``), else 413.
- The values ``copy`` adds count against a budget of JSON bytes
  (``limits.MAX_JSON_PATCH_COPY_BYTES``, the library's ``AccumulatedCopySizeLimit``); past
  it the patch fails. Without the budget 25 copies of a map into itself make it 2^25
  times larger.
- An operation that does not apply (a missing path, a failed ``test``, an unknown ``op``)
  fails the patch with kube's generic 422, which does not pass the detail on.

What v4 does and RFC 6902 leaves open: a missing ``value`` is ``null``, and a ``test`` of
``null`` passes on a missing key; array indices are Go integers (``-1`` is the last item,
as ``SupportNegativeIndices``); ``-`` appends on ``add`` only; the whole document (path
``""``) can be tested but not replaced.

The document is patched in place and values from the patch are inserted as they are: the
caller gives a private copy of the object and a freshly decoded patch, so no value is
copied twice (a 3 MiB patch decodes to up to ~96 MiB of Python objects).
"""

from __future__ import annotations

from typing import Any

import orjson

from kapi import errors
from services.registry import limits
from services.registry.patching.goformat import json_kind
from services.registry.patching.typed import json_equal

Obj = dict[str, Any]

__all__ = ["PatchFailed", "apply", "json_copy", "rejected"]


def json_copy(value: Any) -> Any:
    """A deep copy of a JSON value, through orjson: no ``copy.deepcopy`` memo (a dict of
    every copied object, as large as the copy again), and at C speed."""
    return orjson.loads(orjson.dumps(value))


class PatchFailed(Exception):
    """An operation that does not apply (evanphx/json-patch's error; its text is not sent)."""


def rejected() -> errors.StatusError:
    """kube's ``NewGenericServerResponse(422, ...)`` for a patch that fails to apply: the
    detail is not passed on (no causes)."""
    return errors.StatusError(
        code=422,
        reason="Invalid",
        message="the server rejected our request due to an error in our request",
        details={},
    )


def apply(doc: Obj, operations: Any) -> Obj:
    """``doc`` (a private copy: it is changed) after ``operations`` (a decoded JSON patch).

    400 when ``operations`` is not an array of objects (as kube's ``DecodePatch``), 413
    past 10,000 operations, 422 when an operation fails or the copies pass their budget.
    """
    if not isinstance(operations, list):
        raise errors.bad_request(
            f"json: cannot unmarshal {json_kind(operations)} into Go value of type jsonpatch.Patch"
        )
    for operation in operations:
        if not isinstance(operation, dict):
            raise errors.bad_request(
                f"json: cannot unmarshal {json_kind(operation)} into Go value of type "
                "jsonpatch.Operation"
            )
    if len(operations) > limits.MAX_JSON_PATCH_OPERATIONS:
        raise errors.request_entity_too_large(
            "The allowed maximum operations in a JSON patch is "
            f"{limits.MAX_JSON_PATCH_OPERATIONS}, got {len(operations)}"
        )
    patcher = _Patcher(doc)
    try:
        for operation in operations:
            patcher.apply(operation)
    except PatchFailed:
        raise rejected() from None
    return patcher.doc


def _path(operation: Obj, member: str) -> list[str]:
    """A JSON pointer's reference tokens; the root (``""``) has none and is refused."""
    pointer = operation.get(member)
    if not isinstance(pointer, str):
        raise PatchFailed(f"operation missing {member} field")
    if not pointer.startswith("/"):
        raise PatchFailed(f"{member} does not point into the document: {pointer!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _index(token: str, size: int, *, insert: bool = False) -> int:
    """An array index as v4 reads it: a Go integer, negative from the end; up to ``size``
    itself when inserting."""
    body = token[1:] if token[:1] in ("+", "-") else token
    if not body.isascii() or not body.isdigit():
        raise PatchFailed(f"invalid array index {token!r}")
    position = int(token)
    if position < 0:
        if position < -size:
            raise PatchFailed(f"array index {token} out of range")
        position += size
    if position > size or (position == size and not insert):
        raise PatchFailed(f"array index {token} out of range")
    return position


class _Patcher:
    def __init__(self, doc: Obj) -> None:
        self.doc = doc
        self.copied = 0

    def apply(self, operation: Obj) -> None:
        kind = operation.get("op")
        value = operation.get("value")
        if kind == "add":
            self._add(_path(operation, "path"), value)
        elif kind == "remove":
            self._remove(_path(operation, "path"))
        elif kind == "replace":
            path = _path(operation, "path")
            self._get(path)  # must exist
            self._set(path, value)
        elif kind == "move":
            source = _path(operation, "from")
            target = _path(operation, "path")
            self._add(target, self._remove(source))
        elif kind == "copy":
            source = _path(operation, "from")
            target = _path(operation, "path")
            self._add(target, self._copy(self._get(source)))
        elif kind == "test":
            if operation.get("path") == "":  # the whole document, as v4 allows for test
                if not json_equal(self.doc, value):
                    raise PatchFailed("testing value failed")
            else:
                self._test(_path(operation, "path"), value)
        else:
            raise PatchFailed(f"Unexpected kind: {kind}")

    def _test(self, path: list[str], value: Any) -> None:
        """v4's test: a missing map key equals ``null``."""
        container = self._parent(path)
        if isinstance(container, dict) and path[-1] not in container:
            if value is not None:
                raise PatchFailed("testing value failed")
            return
        if not json_equal(self._child(container, path[-1]), value):
            raise PatchFailed("testing value failed")

    def _copy(self, value: Any) -> Any:
        """A copy of ``value``, counted against the copy budget before it is made."""
        try:
            data = orjson.dumps(value)
        except TypeError:  # nested deeper than orjson writes: far past any budget
            raise PatchFailed("copy too deep") from None
        self.copied += len(data)
        if self.copied > limits.MAX_JSON_PATCH_COPY_BYTES:
            raise PatchFailed(
                "Unable to complete the copy, the accumulated size increase of copy is "
                f"{self.copied}, exceeding the limit {limits.MAX_JSON_PATCH_COPY_BYTES}"
            )
        return orjson.loads(data) if isinstance(value, dict | list) else value

    def _parent(self, path: list[str]) -> Any:
        container: Any = self.doc
        for token in path[:-1]:
            container = self._child(container, token)
        return container

    @staticmethod
    def _child(container: Any, token: str) -> Any:
        if isinstance(container, dict):
            if token not in container:
                raise PatchFailed(f"missing key {token!r}")
            return container[token]
        if isinstance(container, list):
            return container[_index(token, len(container))]
        raise PatchFailed(f"cannot go into a {json_kind(container)}")

    def _get(self, path: list[str]) -> Any:
        return self._child(self._parent(path), path[-1])

    def _add(self, path: list[str], value: Any) -> None:
        container = self._parent(path)
        token = path[-1]
        if isinstance(container, dict):
            container[token] = value
        elif isinstance(container, list):
            if token == "-":
                container.append(value)
            else:
                container.insert(_index(token, len(container), insert=True), value)
        else:
            raise PatchFailed(f"cannot add into a {json_kind(container)}")

    def _set(self, path: list[str], value: Any) -> None:
        container = self._parent(path)
        if isinstance(container, dict):
            container[path[-1]] = value
        else:
            container[_index(path[-1], len(container))] = value

    def _remove(self, path: list[str]) -> Any:
        container = self._parent(path)
        token = path[-1]
        if isinstance(container, dict):
            if token not in container:
                raise PatchFailed(f"missing key {token!r}")
            return container.pop(token)
        if isinstance(container, list):
            return container.pop(_index(token, len(container)))
        raise PatchFailed(f"cannot remove from a {json_kind(container)}")
