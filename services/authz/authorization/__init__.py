"""Authorizers: whether a user may do what a request asks, and which rules a user holds.

The contracts are k8s.io/apiserver/pkg/authorization/authorizer's: an authorizer answers
ALLOW, DENY or NO_OPINION with a reason (and an evaluation error, when it could not
decide all it should have); a ``Union`` asks each in turn and the first that allows or
denies decides; nobody's opinion is no opinion, which the caller treats as forbidden. The
zero value of a ``Decision`` is DENY.

``RulesFor`` (``kubectl auth can-i --list``, SelfSubjectRulesReview) is the
``RuleResolver`` side: each authorizer's rules for a user in a namespace, concatenated.

Modes: ``RBAC`` (services/authz/authorization/rbac) behind kube's privileged-group
authorizer (``system:masters`` may do anything), or ``AlwaysAllow`` for tests.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kapi.user import PRIVILEGED_GROUP, UserInfo
from services.authz.authorization.rules import PolicyRule


class Decision(enum.IntEnum):
    DENY = 0
    ALLOW = 1
    NO_OPINION = 2


@dataclass(frozen=True)
class Attributes:
    """One request as the authorizer sees it (kube's ``authorizer.AttributesRecord``)."""

    user: UserInfo
    verb: str
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    resource_request: bool = True
    path: str = ""


@dataclass(frozen=True)
class Outcome:
    """A decision, why (shown to the user after a refusal, recorded by audit), and what
    kept the authorizer from deciding everything it should have."""

    decision: Decision = Decision.DENY
    reason: str = ""
    error: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision == Decision.ALLOW


@dataclass(frozen=True)
class Rules:
    """What a user may do in a namespace: resource rules, non-resource rules, whether the
    list is known to be incomplete, and why."""

    resource_rules: tuple[PolicyRule, ...] = ()
    non_resource_rules: tuple[PolicyRule, ...] = ()
    incomplete: bool = False
    errors: tuple[str, ...] = field(default=())


class Authorizer(Protocol):
    def authorize(self, attributes: Attributes) -> Outcome:
        """The decision for one request. Runs on every request the gateway has no
        decision for, in memory: it must not block or read storage."""
        ...

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        """The rules ``user`` holds in ``namespace`` ("" for cluster-wide ones only)."""
        ...


class AlwaysAllow:
    """Everything is allowed (``--authorization-mode AlwaysAllow``, for tests)."""

    def authorize(self, attributes: Attributes) -> Outcome:
        return Outcome(Decision.ALLOW)

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        # kube's alwaysAllowAuthorizer.RulesFor: everything, complete.
        return Rules(
            resource_rules=(PolicyRule(("*",), ("*",), ("*",)),),
            non_resource_rules=(PolicyRule(("*",), non_resource_urls=("*",)),),
        )


class PrivilegedGroups:
    """kube's superuser authorizer: members of ``system:masters`` may do anything (with
    no reason given). It resolves no rules: what they hold is read from RBAC."""

    def __init__(self, *groups: str) -> None:
        self.groups = frozenset(groups or (PRIVILEGED_GROUP,))

    def authorize(self, attributes: Attributes) -> Outcome:
        if self.groups.intersection(attributes.user.groups):
            return Outcome(Decision.ALLOW)
        return Outcome(Decision.NO_OPINION)

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        return Rules()


class Union:
    """The first authorizer that allows or denies decides (its reason and error stand);
    with no opinion anywhere, the reasons are joined by newlines and the errors
    aggregated, as kube's union authorizer does."""

    def __init__(self, authorizers: Sequence[Authorizer]) -> None:
        self.authorizers = tuple(authorizers)

    def authorize(self, attributes: Attributes) -> Outcome:
        reasons: list[str] = []
        errors: list[str] = []
        for authorizer in self.authorizers:
            outcome = authorizer.authorize(attributes)
            if outcome.error:
                errors.append(outcome.error)
            if outcome.decision != Decision.NO_OPINION:
                return outcome
            if outcome.reason:
                reasons.append(outcome.reason)
        return Outcome(Decision.NO_OPINION, "\n".join(reasons), aggregate(errors))

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        resource: list[PolicyRule] = []
        non_resource: list[PolicyRule] = []
        incomplete = False
        errors: list[str] = []
        for authorizer in self.authorizers:
            rules = authorizer.rules_for(user, namespace)
            resource += rules.resource_rules
            non_resource += rules.non_resource_rules
            incomplete = incomplete or rules.incomplete
            errors += rules.errors
        return Rules(tuple(resource), tuple(non_resource), incomplete, tuple(errors))


def aggregate(errors: Sequence[str]) -> str:
    """utilerrors.NewAggregate's text: one message alone, several as ``[a, b]``
    (duplicates once)."""
    unique = list(dict.fromkeys(errors))
    if not unique:
        return ""
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"
