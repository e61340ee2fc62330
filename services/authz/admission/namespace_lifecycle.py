"""NamespaceLifecycle: no content in missing or terminating namespaces; system ones stay.

Messages as kube-apiserver's plugin words them: a create in a missing namespace is
404 ``namespaces "x" not found``; a terminating one is 403; deleting ``default``,
``kube-system`` or ``kube-public`` is 403 ``this namespace may not be deleted``.

Namespaces are looked up in a cache that may lag storage by a moment. As in kube, a
namespace this plugin has let be deleted in the last ``FORCE_LIVE_LOOKUP_TTL`` seconds is
read live instead, so a create right after ``kubectl delete ns x`` returns sees it gone
(or terminating), not the cache's stale "Active".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from kapi import errors
from services.authz.admission import Attributes

IMMORTAL = frozenset({"default", "kube-system", "kube-public"})
FORCE_LIVE_LOOKUP_TTL = 30.0  # seconds (kube's forceLiveLookupTTL)
FORCE_LIVE_LOOKUP_ENTRIES = 1000  # names remembered at most; the oldest go first


class NamespaceLookup(Protocol):
    async def get(self, name: str, *, live: bool = False) -> dict[str, Any] | None:
        """The namespace object, or None if it does not exist.

        May answer from a cache; ``live``: read storage (a quorum read) whatever the
        cache holds. A storage failure raises its ``StatusError``.
        """


class NamespaceLifecycle:
    operations = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})

    def __init__(
        self, namespaces: NamespaceLookup, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.namespaces = namespaces
        self._clock = clock
        self._deleted_at: dict[str, float] = {}  # insertion (= time) order

    def active(self) -> bool:
        return True

    async def admit(self, attributes: Attributes) -> None:
        if attributes.group == "" and attributes.resource == "namespaces":
            if attributes.operation == "DELETE":
                if attributes.name in IMMORTAL:
                    raise errors.forbidden(
                        "namespaces", "", attributes.name, "this namespace may not be deleted"
                    )
                self._deleting(attributes.name)
            return
        if not attributes.namespace or attributes.operation != "CREATE":
            return
        namespace = await self.namespaces.get(
            attributes.namespace, live=self._recently_deleted(attributes.namespace)
        )
        if namespace is None:
            raise errors.not_found("namespaces", "", attributes.namespace)
        if (namespace.get("status") or {}).get("phase") == "Terminating" or (
            namespace.get("metadata") or {}
        ).get("deletionTimestamp"):
            err = errors.forbidden(
                attributes.resource,
                attributes.group,
                attributes.name,
                f"unable to create new content in namespace {attributes.namespace} "
                "because it is being terminated",
            )
            # kube adds this cause; clients (client-go's event sink, controllers) test for it.
            err.details = {
                **(err.details or {}),
                "causes": [
                    {
                        "reason": "NamespaceTerminating",
                        "message": f"namespace {attributes.namespace} is being terminated",
                        "field": "metadata.namespace",
                    }
                ],
            }
            raise err

    def _deleting(self, name: str) -> None:
        now = self._clock()
        self._deleted_at.pop(name, None)
        self._deleted_at[name] = now
        for old in list(self._deleted_at):
            expired = now - self._deleted_at[old] >= FORCE_LIVE_LOOKUP_TTL
            if not expired and len(self._deleted_at) <= FORCE_LIVE_LOOKUP_ENTRIES:
                break
            del self._deleted_at[old]

    def _recently_deleted(self, name: str) -> bool:
        at = self._deleted_at.get(name)
        return at is not None and self._clock() - at < FORCE_LIVE_LOOKUP_TTL
