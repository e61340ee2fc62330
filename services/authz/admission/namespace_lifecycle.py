"""NamespaceLifecycle: no content in missing or terminating namespaces; system ones stay.

Messages as kube-apiserver's plugin words them: a create in a missing namespace is
404 ``namespaces "x" not found``; a terminating one is 403; deleting ``default``,
``kube-system`` or ``kube-public`` is 403 ``this namespace may not be deleted``.
"""

from __future__ import annotations

from typing import Any, Protocol

from kapi import errors
from services.authz.admission import Attributes

IMMORTAL = frozenset({"default", "kube-system", "kube-public"})


class NamespaceLookup(Protocol):
    async def get(self, name: str) -> dict[str, Any] | None:
        """The namespace object, or None if it does not exist."""


class NamespaceLifecycle:
    operations = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})

    def __init__(self, namespaces: NamespaceLookup) -> None:
        self.namespaces = namespaces

    async def admit(self, attributes: Attributes) -> None:
        if attributes.group == "" and attributes.resource == "namespaces":
            if attributes.operation == "DELETE" and attributes.name in IMMORTAL:
                raise errors.forbidden(
                    "namespaces", "", attributes.name, "this namespace may not be deleted"
                )
            return
        if not attributes.namespace or attributes.operation != "CREATE":
            return
        namespace = await self.namespaces.get(attributes.namespace)
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
