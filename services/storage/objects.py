"""Object JSON on the way in and out of storage.

Stored bytes never hold ``metadata.resourceVersion``: the revision is etcd's, and it is
written into the object only on the way out, so a stored value never lies about it.
"""

from __future__ import annotations

from typing import Any

import orjson

from kapi import errors

JSON = dict[str, Any]


def decode(data: bytes) -> JSON:
    """A JSON object from a request; 400 BadRequest when it is not one."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"storage: object is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise errors.bad_request("storage: object is not a JSON object")
    return obj


def for_storage(obj: JSON) -> bytes:
    """The bytes to store: the object without ``metadata.resourceVersion``."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and "resourceVersion" in metadata:
        obj = {**obj, "metadata": {k: v for k, v in metadata.items() if k != "resourceVersion"}}
    return orjson.dumps(obj)


def with_revision(obj: JSON, revision: int) -> bytes:
    """The object's JSON with ``metadata.resourceVersion`` set to ``revision``."""
    metadata = obj.get("metadata")
    metadata = dict(metadata) if isinstance(metadata, dict) else {}
    metadata["resourceVersion"] = str(revision)
    return orjson.dumps({**obj, "metadata": metadata})


def stored_with_revision(data: bytes, revision: int) -> bytes:
    """Stored bytes as the client sees them: with ``metadata.resourceVersion``."""
    return with_revision(orjson.loads(data), revision)


def bookmark(revision: int, annotations: dict[str, str] | None = None) -> bytes:
    """A BOOKMARK's object: only ``metadata.resourceVersion`` (callers add kind)."""
    metadata: JSON = {"resourceVersion": str(revision)}
    if annotations:
        metadata["annotations"] = annotations
    return orjson.dumps({"metadata": metadata})
