"""Authenticators: each says authenticated, not applicable, or fails the request.

As in k8s.io/apiserver: a union tries each authenticator in turn; the first that
recognises the credentials decides. Credentials nobody recognises are 401.
"""

from __future__ import annotations

import csv
import hmac
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kapi import errors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Credentials:
    bearer_token: str = ""
    cert_common_name: str = ""
    cert_organizations: tuple[str, ...] = ()


class Authenticator(Protocol):
    def authenticate(self, credentials: Credentials) -> User | None:
        """The user, or None when these credentials are not this authenticator's to judge."""


def _with_authenticated(groups: tuple[str, ...]) -> tuple[str, ...]:
    return groups if "system:authenticated" in groups else (*groups, "system:authenticated")


class TokenFile:
    """kube-apiserver's ``--token-auth-file``: CSV of token,user,uid[,"group1,group2"]."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = -1.0
        # Keyed by the token's UTF-8 bytes: hmac.compare_digest refuses a str with
        # non-ASCII characters (a TypeError, which was a 500 for `Bearer éé`).
        self._tokens: dict[bytes, User] = {}
        self._reload()

    def _reload(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._tokens = {}
            return
        if mtime == self._mtime:
            return
        tokens: dict[bytes, User] = {}
        with self.path.open(newline="") as fh:
            for line_no, row in enumerate(csv.reader(fh), start=1):
                if not row or row[0].startswith("#"):
                    continue
                if len(row) < 3:
                    log.warning("%s:%d: need token,user,uid", self.path, line_no)
                    continue
                groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
                tokens[_utf8(row[0])] = User(name=row[1], uid=row[2], groups=groups)
        self._tokens, self._mtime = tokens, mtime

    def authenticate(self, credentials: Credentials) -> User | None:
        if not credentials.bearer_token:
            return None
        self._reload()
        presented = _utf8(credentials.bearer_token)
        for token, user in self._tokens.items():
            if hmac.compare_digest(token, presented):
                return User(user.name, user.uid, _with_authenticated(user.groups))
        return None


def _utf8(text: str) -> bytes:
    """Bytes to compare; a lone surrogate (never in a token read from a file or off the
    wire) gets bytes no valid token has, rather than an error."""
    return text.encode("utf-8", "surrogatepass")


class ClientCertificate:
    """A client certificate the gateway verified: CN is the user, O the groups."""

    def authenticate(self, credentials: Credentials) -> User | None:
        if not credentials.cert_common_name:
            return None
        return User(
            name=credentials.cert_common_name,
            groups=_with_authenticated(credentials.cert_organizations),
        )


class Union:
    def __init__(self, *authenticators: Authenticator) -> None:
        self.authenticators = authenticators

    def authenticate(self, credentials: Credentials) -> User:
        """The user, or 401 Unauthorized (also for a request without credentials)."""
        for authenticator in self.authenticators:
            user = authenticator.authenticate(credentials)
            if user is not None:
                return user
        raise errors.unauthorized()
