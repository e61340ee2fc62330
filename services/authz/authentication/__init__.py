"""Authenticators: each says authenticated, not applicable, or failed.

The contracts are k8s.io/apiserver/pkg/authentication's. An authenticator looks at a
request's credentials and answers ``Authenticated`` (the user, and the audiences the
credential is good for), ``None`` (not its kind of credential: the next one is asked) or
``Failed`` (its kind, but bad: an expired token, a deleted ServiceAccount). A ``Union``
asks each in turn; the first that authenticates wins, and if none does, the failures
are reported together.

``RequestAuthenticator`` is kube-apiserver's whole chain: the union (client
certificates, then bearer tokens), ``system:authenticated`` added to whoever it
authenticated, and — only when no authenticator recognised anything — the anonymous
user. A failure is never anonymous: it is a 401.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kapi.user import ALL_AUTHENTICATED, ALL_UNAUTHENTICATED, ANONYMOUS, UserInfo, anonymous


@dataclass(frozen=True)
class Credentials:
    """What a request presented: a bearer token, the client certificate chain the
    gateway's TLS verified (DER, leaf first), and the audiences the request is for
    (empty: the API server's own)."""

    bearer_token: str = ""
    client_certificates: tuple[bytes, ...] = ()
    audiences: tuple[str, ...] = ()


@dataclass(frozen=True)
class Authenticated:
    user: UserInfo
    # The audiences the credential is valid for among those asked (kube's Response).
    audiences: tuple[str, ...] = ()


@dataclass(frozen=True)
class Failed:
    """The credential is this authenticator's kind but not good; ``reason`` is kept
    from clients of the request (a 401 says only "Unauthorized") but shown by a
    TokenReview's ``status.error``."""

    reason: str


Outcome = Authenticated | Failed | None


class Authenticator(Protocol):
    async def authenticate(self, credentials: Credentials) -> Outcome:
        """``Authenticated``, ``Failed``, or None when the credentials are not this
        authenticator's to judge. Runs per credential the gateway has not cached; may
        read storage (a bound token's pod), never writes."""
        ...


class Union:
    """The first authenticator that authenticates wins; failures are aggregated as
    kube's union (``[a, b]``) when nobody authenticated."""

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        self.authenticators = tuple(authenticators)

    async def authenticate(self, credentials: Credentials) -> Outcome:
        failures: list[str] = []
        for authenticator in self.authenticators:
            outcome = await authenticator.authenticate(credentials)
            if isinstance(outcome, Authenticated):
                return outcome
            if isinstance(outcome, Failed):
                failures.append(outcome.reason)
        if not failures:
            return None
        unique = list(dict.fromkeys(failures))
        return Failed(unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]")


class BearerTokens:
    """kube's bearer token authenticator over the token authenticators' union: a token
    nobody recognised is ``invalid bearer token``, not anonymous."""

    def __init__(self, union: Union) -> None:
        self.union = union

    async def authenticate(self, credentials: Credentials) -> Outcome:
        if not credentials.bearer_token:
            return None
        outcome = await self.union.authenticate(credentials)
        return outcome if outcome is not None else Failed("invalid bearer token")


def with_authenticated_group(user: UserInfo) -> UserInfo:
    """AuthenticatedGroupAdder: everyone authenticated is in ``system:authenticated``
    (not the anonymous user, nor anyone already in either all-users group)."""
    if user.username == ANONYMOUS:
        return user
    if ALL_AUTHENTICATED in user.groups or ALL_UNAUTHENTICATED in user.groups:
        return user
    return user.with_group(ALL_AUTHENTICATED)


class RequestAuthenticator:
    """kube-apiserver's request authentication: ``union`` with the authenticated group,
    then anonymous (when ``anonymous`` is on) for requests nobody recognised."""

    def __init__(self, union: Union, *, anonymous_allowed: bool = True) -> None:
        self.union = union
        self.anonymous_allowed = anonymous_allowed

    async def authenticate(self, credentials: Credentials) -> Outcome:
        outcome = await self.union.authenticate(credentials)
        if isinstance(outcome, Authenticated):
            return Authenticated(with_authenticated_group(outcome.user), outcome.audiences)
        if outcome is None and self.anonymous_allowed:
            return Authenticated(anonymous(), credentials.audiences)
        return outcome
