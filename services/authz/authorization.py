"""Authorizers. The zero value of a decision denies.

``AlwaysAllow`` is the only mode for now; RBAC will implement the same interface.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from services.authz.authentication import User


class Decision(enum.IntEnum):
    DENY = 0
    ALLOW = 1
    NO_OPINION = 2


@dataclass(frozen=True)
class Attributes:
    user: User
    verb: str
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    resource_request: bool = True
    path: str = ""


class Authorizer(Protocol):
    def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        """The decision and, for a denial, the reason shown to the user."""


class AlwaysAllow:
    def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        return Decision.ALLOW, ""


class Chain:
    """The first authorizer with an opinion decides; no opinion at all denies."""

    def __init__(self, *authorizers: Authorizer) -> None:
        self.authorizers = authorizers

    def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        reasons = []
        for authorizer in self.authorizers:
            decision, reason = authorizer.authorize(attributes)
            if decision != Decision.NO_OPINION:
                return decision, reason
            if reason:
                reasons.append(reason)
        return Decision.DENY, "; ".join(reasons)
