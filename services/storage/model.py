"""The plain values storage speaks in, shared by the domain and the client wrapper.

No gRPC here: ``grpc/convert.py`` maps these to and from ``storage.proto``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """Which stored resource a call addresses (``common.proto`` ``ResourceRef``).

    ``group`` and ``resource`` name it as it is stored (errors name it so too); where its
    objects live in etcd is storage's business (``keys``).
    """

    group: str
    resource: str
    namespaced: bool


@dataclass(frozen=True, slots=True)
class StoredObject:
    """An object's JSON with ``metadata.resourceVersion`` set, and that revision.

    ``resource_version`` is 0 for a dry-run create (nothing was stored).
    """

    object: bytes
    resource_version: int


@dataclass(frozen=True, slots=True)
class ObjectList:
    """One page of a list: items at ``resource_version``, and where to continue."""

    items: list[bytes]
    resource_version: int
    continue_token: str = ""
    remaining_item_count: int | None = None


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """``ADDED`` / ``MODIFIED`` / ``DELETED`` / ``BOOKMARK`` / ``ERROR`` and its object JSON.

    For ``ERROR`` the object is a ``metav1.Status``; for ``BOOKMARK`` an object carrying
    only ``metadata.resourceVersion`` (and annotations): the caller fills kind/apiVersion.
    """

    type: str
    object: bytes
    resource_version: int


@dataclass(frozen=True, slots=True)
class Preconditions:
    """What must hold of the current object for a write (``storage.Preconditions``):
    its ``metadata.uid`` and/or ``metadata.resourceVersion``; empty: anything."""

    uid: str = ""
    resource_version: str = ""


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    message: str
