"""The id of the request being served, as kube-apiserver's audit ID.

kube-apiserver gives every request an audit ID — the client's ``Audit-ID`` header, or
a new UUID — and echoes it in the ``Audit-Id`` response header
(apiserver/pkg/endpoints/filters/audit_init.go). The gateway does the same, and passes
the id to the services behind it in gRPC metadata, so that whichever service meets a
failure logs it under the id the client was given; a 500's message names the id
instead of the failure's details.

The id lives in a context variable, so each request's task (and the tasks it starts)
sees its own. A batch call to a peer carries one id per item (see ``kapi.batching``),
joined by commas in one metadata value, in item order.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from contextvars import ContextVar, Token

HEADER = "audit-id"  # the HTTP header (kube: Audit-ID) and the gRPC metadata key
MAX_LENGTH = 64
# Unlike kube, a client's id is taken only when it is short and plain: it goes into
# every peer call's metadata and every log line of the request. Commas separate the
# ids of a batch.
_VALID = re.compile(rf"[A-Za-z0-9._:\-]{{1,{MAX_LENGTH}}}")

_ids: ContextVar[tuple[str, ...]] = ContextVar("kapi_audit_ids", default=())


def new() -> str:
    return str(uuid.uuid4())


def accept(header: str | None) -> str:
    """The client's ``Audit-ID`` when it is a plain short token, else a new id."""
    return header if header and _VALID.fullmatch(header) else new()


def bind(ids: Sequence[str]) -> Token[tuple[str, ...]]:
    """Make ``ids`` (one per request served together) this context's."""
    return _ids.set(tuple(ids))


def current() -> str:
    """The id of the one request this context serves ("" if none, or a whole batch)."""
    ids = _ids.get()
    return ids[0] if len(ids) == 1 else ""


def all_bound() -> tuple[str, ...]:
    return _ids.get()


def metadata() -> tuple[tuple[str, str], ...]:
    """gRPC metadata carrying this context's ids to a peer (none when there are none)."""
    ids = _ids.get()
    return ((HEADER, ",".join(ids)),) if any(ids) else ()


def from_metadata(metadata: Iterable[tuple[str, str | bytes]] | None) -> tuple[str, ...]:
    """The ids a peer sent; a malformed one becomes "" (its place in a batch is kept)."""
    for key, value in metadata or ():
        if key == HEADER and isinstance(value, str):
            return tuple(i if _VALID.fullmatch(i) else "" for i in value.split(","))
    return ()
