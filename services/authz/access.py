"""authz's domain facade: authentication, authorization, token issuing, and the revisions
that tell callers when a decision they cached may be stale.

Knows nothing of gRPC: ``grpc/servicer.py`` converts and calls these.

Two revisions are kept. ``policy`` is the etcd revision of the last change to an RBAC
object this replica holds (0 with AlwaysAllow): a decision made at an older one may be
stale. ``identity`` moves when a ServiceAccount is deleted or replaced: a token
authenticated before may no longer be good. The gateway caches decisions and users,
each with the revision it was made at, and follows ``changes()`` to drop older ones, so
a change takes effect everywhere as soon as the watch events have arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from kapi import errors
from kapi.user import UserInfo
from services.authz import authentication, authorization
from services.authz.authentication.service_accounts import Bound, Issued, TokenIssuer
from services.authz.authentication.signing_keys import VerifyingKey

Obj = dict[str, Any]


@dataclass(frozen=True)
class Revisions:
    policy: int = 0
    identity: int = 0


class RevisionFeed:
    """The current revisions and a wake-up for whoever follows them."""

    def __init__(self, policy: Callable[[], int]) -> None:
        self._policy = policy
        self.identity = 0
        self._changed = asyncio.Event()

    @property
    def current(self) -> Revisions:
        return Revisions(self._policy(), self.identity)

    def changed(self) -> None:
        """Something moved: wake the followers (they read ``current``)."""
        self._changed.set()

    def identity_changed(self, revision: int) -> None:
        self.identity = max(self.identity + 1, revision)
        self.changed()

    async def follow(self) -> AsyncIterator[Revisions]:
        """The current revisions, then again after each change (changes in a burst
        arrive as one)."""
        last: Revisions | None = None
        while True:
            now = self.current
            if now != last:
                last = now
                yield now
            self._changed.clear()
            if self.current != last:
                continue
            await self._changed.wait()


def service_account_watcher(feed: RevisionFeed) -> Callable[[str, Obj | None, Obj | None], None]:
    """An informer handler moving the identity revision when a ServiceAccount goes away,
    is marked for deletion or comes back with another uid (its tokens stop working)."""

    def changed(kind: str, new: Obj | None, old: Obj | None) -> None:
        if kind == "ADDED":
            return
        if kind == "MODIFIED" and new is not None and old is not None:
            new_meta, old_meta = new.get("metadata") or {}, old.get("metadata") or {}
            if new_meta.get("uid") == old_meta.get("uid") and bool(
                new_meta.get("deletionTimestamp")
            ) == bool(old_meta.get("deletionTimestamp")):
                return
        revision = 0
        for obj in (new, old):
            if obj is not None:
                with contextlib.suppress(TypeError, ValueError):
                    stamp = (obj.get("metadata") or {}).get("resourceVersion") or 0
                    revision = max(revision, int(stamp))
        feed.identity_changed(revision)

    return changed


class AccessControl:
    def __init__(
        self,
        *,
        authenticator: authentication.RequestAuthenticator,
        authorizer: authorization.Authorizer,
        issuer: TokenIssuer | None,
        verifying_keys: Sequence[VerifyingKey],
        api_audiences: Sequence[str],
        revisions: RevisionFeed,
    ) -> None:
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.issuer = issuer
        self.verifying_keys = tuple(verifying_keys)
        self.api_audiences = tuple(api_audiences)
        self.revisions = revisions

    async def authenticate(
        self, credentials: authentication.Credentials, *, anonymous: bool
    ) -> authentication.Outcome:
        """The request's user (anonymous for a request nobody recognised, when asked);
        for a TokenReview (``anonymous`` False) None is "not authenticated"."""
        if anonymous:
            return await self.authenticator.authenticate(credentials)
        outcome = await self.authenticator.union.authenticate(credentials)
        if isinstance(outcome, authentication.Authenticated):
            return authentication.Authenticated(
                authentication.with_authenticated_group(outcome.user), outcome.audiences
            )
        return outcome

    def authorize(self, attributes: authorization.Attributes) -> authorization.Outcome:
        return self.authorizer.authorize(attributes)

    def rules_for(self, user: UserInfo, namespace: str) -> authorization.Rules:
        return self.authorizer.rules_for(user, namespace)

    def issue_token(
        self,
        *,
        namespace: str,
        name: str,
        uid: str,
        audiences: Sequence[str],
        expiration_seconds: int,
        bound: Bound,
    ) -> tuple[Issued, tuple[str, ...]]:
        """A signed token and the audiences it was issued for (the API server's when
        none are asked)."""
        if self.issuer is None:
            raise errors.service_unavailable(
                "service account token issuing is not configured "
                "(--service-account-signing-key-file)"
            )
        audiences = tuple(audiences) or self.api_audiences
        issued = self.issuer.issue(
            namespace=namespace,
            name=name,
            uid=uid,
            audiences=audiences,
            expiration_seconds=expiration_seconds,
            bound=bound,
        )
        return issued, audiences

    def oidc(self) -> tuple[str, bytes, tuple[str, ...]]:
        """(issuer, JWKS document, signing algorithms) as kube's discovery serves them."""
        issuer = self.issuer.issuer if self.issuer is not None else ""
        keys = orjson.dumps({"keys": [key.jwk() for key in self.verifying_keys]})
        algorithms = tuple(sorted({key.algorithm for key in self.verifying_keys}))
        return issuer, keys, algorithms
