"""Admission plugins in Python: the interface a pip-installed package implements to
mutate or validate writes inside kapi's authz service — no webhook, server or TLS.

A package declares its plugins in the ``kapi.admission`` entry-point group::

    [project.entry-points."kapi.admission"]
    team-policy = "my_package:TeamPolicy"

authz loads every entry point at start, in name order; each names a class (called with
no arguments) or an object. A plugin has a ``mutate`` method, a ``validate`` method or
both, and optionally ``operations`` (default: CREATE, UPDATE, DELETE, CONNECT)::

    class TeamPolicy:
        operations = frozenset({"CREATE", "UPDATE"})

        async def mutate(self, request: Request) -> None:
            # change request.object in place
            ...

        async def validate(self, request: Request) -> None:
            if bad:
                raise Denied("why")
            request.warn("a Warning header")

They run as kube's built-in plugins do: ``mutate`` in the mutating phase after kapi's
own mutating plugins and before mutating webhooks; ``validate`` in the validating phase
after kapi's own validating plugins (PodSecurity) and before ValidatingAdmissionPolicies,
validating webhooks and ResourceQuota. ``validate`` sees a copy of the object: changing
it changes nothing. A dry run (``request.dry_run``) is admitted like any request: a
plugin with side effects outside the object skips them. ``Denied`` refuses the request
(403 Forbidden ``<resource> "<name>" is forbidden: <message>``, or the code and reason
given); any other exception is a bug: 500 InternalError naming the request's audit ID.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from kapi.user import UserInfo

__all__ = ["ENTRY_POINT_GROUP", "Denied", "Mutating", "Request", "UserInfo", "Validating"]

ENTRY_POINT_GROUP = "kapi.admission"


@dataclass
class Request:
    """One write as admission sees it (kube's admission.Attributes)."""

    operation: str  # CREATE, UPDATE, DELETE, CONNECT
    group: str
    version: str
    kind: str
    resource: str
    subresource: str
    namespace: str
    name: str
    user: UserInfo
    object: dict[str, Any] | None  # the new object (None on DELETE)
    old_object: dict[str, Any] | None  # the stored object (UPDATE, DELETE)
    dry_run: bool = False
    options: Mapping[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        """A ``Warning`` header for the client (kubectl prints ``Warning: message``)."""
        if message not in self.warnings:
            self.warnings.append(message)


class Denied(Exception):
    """Refuses the request: by default 403 Forbidden with kube's admission wording."""

    def __init__(self, message: str, *, code: int = 403, reason: str = "Forbidden") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason


@runtime_checkable
class Mutating(Protocol):
    async def mutate(self, request: Request) -> None:
        """Change ``request.object`` in place, or raise ``Denied``."""


@runtime_checkable
class Validating(Protocol):
    async def validate(self, request: Request) -> None:
        """Raise ``Denied`` to refuse; ``request.object`` is a copy."""
