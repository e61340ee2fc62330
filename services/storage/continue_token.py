"""List continue tokens in kube-apiserver's format (``storage.EncodeContinue``).

Base64url (unpadded) JSON ``{"v":"meta.k8s.io/v1","rv":<revision>,"start":<key suffix>}``:
the revision every page is read at, and the key after the last one returned, relative
to the list's prefix, so a token cannot range outside the list it came from.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
from dataclasses import dataclass

import orjson

from kapi import errors

API_VERSION = "meta.k8s.io/v1"


@dataclass(frozen=True, slots=True)
class Continue:
    start_key: str  # absolute: the list prefix + the token's suffix
    revision: int  # > 0; -1 means "the latest" (a token reissued after compaction)


def encode(next_key: str, prefix: str, revision: int) -> str:
    """The token for a list under ``prefix`` resuming at ``next_key`` at ``revision``."""
    if not next_key.startswith(prefix) or next_key == prefix:
        raise ValueError(f"continue key {next_key!r} is not under {prefix!r}")
    body = {"v": API_VERSION, "rv": revision, "start": next_key[len(prefix) :]}
    return base64.urlsafe_b64encode(orjson.dumps(body)).rstrip(b"=").decode()


def _invalid(detail: str) -> errors.StatusError:
    return errors.bad_request(f"invalid continue token: continue key is not valid{detail}")


def decode(token: str, prefix: str) -> Continue:
    """The start key and revision of ``token`` for a list under ``prefix``.

    A malformed token is a 400 BadRequest, worded as kube-apiserver words it.
    """
    try:
        if "=" in token:
            raise ValueError("padding is not allowed")
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = orjson.loads(data)
    except (ValueError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise _invalid(f": {exc}") from None
    if not isinstance(body, dict):
        raise _invalid(": not an object")
    if body.get("v") != API_VERSION:
        raise _invalid(f": server does not recognize this encoded version {body.get('v')}")
    revision, start = body.get("rv"), body.get("start")
    if not isinstance(revision, int) or isinstance(revision, bool) or revision == 0:
        raise _invalid(": incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    if not isinstance(start, str) or not start:
        raise _invalid(": encoded start key empty (version meta.k8s.io/v1)")
    # Defend against path traversal: the cleaned key must be the key itself, so the
    # start stays inside the prefix.
    key = start if start.startswith("/") else "/" + start
    if posixpath.normpath(key) != key or key.startswith("//"):
        raise _invalid(f": {start}")
    return Continue(start_key=prefix + key[1:], revision=revision)
