"""``fieldValidation`` (Strict / Warn / Ignore): what a write does with unknown and duplicate
fields, as kube-apiserver's decoding of a typed object.

- **Strict**: unknown or duplicate fields fail the request, 400 BadRequest
  ``ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error:
  unknown field "bogus", duplicate field "data.a"`` (every one, in document order).
- **Warn** (the server's default, kubectl's ``--validate=warn``): each becomes a warning,
  ``unknown field "bogus"``, sent as a ``Warning: 299`` header; the write goes on.
- **Ignore**: said nothing about; duplicates are not even looked for.

In every mode the unknown fields are dropped (a built-in type has no room for them) and
a value Go's decoder refuses (a string for an int32, a bad Quantity) is a 400 BadRequest
whatever the mode. The gateway finds duplicate keys (it parses the body); the registry,
which knows the schemas, decides here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from kapi import errors
from services.registry import schema_validation

STRICT = "Strict"
WARN = "Warn"
IGNORE = "Ignore"
DIRECTIVES = ("", STRICT, WARN, IGNORE)

Obj = dict[str, Any]


def cannot_handle(kind: str, version: str, detail: str) -> errors.StatusError:
    """kube's ``transformDecodeError`` for a body of a known kind."""
    return errors.bad_request(
        f'{kind} in version "{version}" cannot be handled as a {kind}: {detail}'
    )


def decode(
    obj: Obj,
    *,
    definition: str,
    kind: str,
    version: str,
    directive: str = "",
    duplicates: Iterable[str] = (),
) -> list[str]:
    """Decode a request body (already a dict) as its type; return the warnings to send.

    Mutates ``obj`` (unknown fields and null fields dropped). Raises 400 BadRequest for a
    decoding error, or for unknown/duplicate fields under Strict.
    """
    if directive not in DIRECTIVES:
        raise errors.bad_request(
            f"fieldValidation must be one of Ignore, Warn, Strict; got {directive}"
        )
    directive = directive or WARN
    found = schema_validation.decode(
        definition,
        obj,
        duplicates=frozenset(duplicates) if directive != IGNORE else frozenset(),
    )
    if found.error:
        raise cannot_handle(kind, version, found.error)
    if not found.strict or directive == IGNORE:
        return []
    if directive == STRICT:
        raise cannot_handle(kind, version, "strict decoding error: " + ", ".join(found.strict))
    return found.strict


def decode_patched(
    obj: Obj, *, definition: str, kind: str, version: str, directive: str = ""
) -> list[str]:
    """Decode the result of a patch as kube's patchers do; return the warnings to send.

    Unlike a body (``decode``): unknown fields under Strict are a 400 BadRequest without
    the "cannot be handled" preamble (``strict decoding error: unknown field "spec.x"``),
    and what Go's decoder refuses is a 422 Invalid on the field ``patch`` whose value is
    the patched object. Mutates ``obj`` as ``decode`` does.
    """
    if directive not in DIRECTIVES:
        raise errors.bad_request(
            f"fieldValidation must be one of Ignore, Warn, Strict; got {directive}"
        )
    directive = directive or WARN
    patched = orjson.dumps(obj).decode()
    found = schema_validation.decode(definition, obj)
    if found.error:
        raise errors.invalid("", "", "", [errors.invalid_value("patch", patched, found.error)])
    if not found.strict or directive == IGNORE:
        return []
    if directive == STRICT:
        raise errors.bad_request("strict decoding error: " + ", ".join(found.strict))
    return found.strict
