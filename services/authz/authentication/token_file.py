"""Static bearer tokens: kube-apiserver's ``--token-auth-file``.

A CSV file, one token a line: ``token,user,uid[,"group1,group2"]``. kube reads it once
at start; kapi re-reads it when it changes (checked at most once a second), so a token
added to the file works without a restart. Tokens are compared in constant time.

Audience-agnostic as kube wraps such authenticators: a request for other audiences than
the API server's is not theirs to judge.
"""

from __future__ import annotations

import csv
import hmac
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from kapi.user import UserInfo
from services.authz.authentication import Authenticated, Credentials, Outcome

log = logging.getLogger(__name__)

RECHECK_SECONDS = 1.0


class TokenFile:
    def __init__(self, path: Path, *, api_audiences: Sequence[str] = ()) -> None:
        self.path = path
        self.api_audiences = tuple(api_audiences)
        self._mtime = -1.0
        self._checked = 0.0
        # Keyed by the token's UTF-8 bytes: hmac.compare_digest refuses a str with
        # non-ASCII characters.
        self._tokens: dict[bytes, UserInfo] = {}
        self._reload()

    def _reload(self) -> None:
        now = time.monotonic()
        if now - self._checked < RECHECK_SECONDS and self._mtime >= 0:
            return
        self._checked = now
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._tokens, self._mtime = {}, 0.0
            return
        if mtime == self._mtime:
            return
        tokens: dict[bytes, UserInfo] = {}
        with self.path.open(newline="") as fh:
            for line_no, row in enumerate(csv.reader(fh), start=1):
                if not row or row[0].startswith("#"):
                    continue
                if len(row) < 3:
                    log.warning("%s:%d: need token,user,uid", self.path, line_no)
                    continue
                groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
                tokens[_utf8(row[0])] = UserInfo(row[1], row[2], groups)
        self._tokens, self._mtime = tokens, mtime

    async def authenticate(self, credentials: Credentials) -> Outcome:
        if not credentials.bearer_token:
            return None
        audiences = self.api_audiences
        if credentials.audiences:
            audiences = tuple(a for a in self.api_audiences if a in credentials.audiences)
            if not audiences:
                return None
        self._reload()
        presented = _utf8(credentials.bearer_token)
        for token, user in self._tokens.items():
            if hmac.compare_digest(token, presented):
                return Authenticated(user, audiences)
        return None


def _utf8(text: str) -> bytes:
    """Bytes to compare; a lone surrogate (never in a token read from a file or off the
    wire) gets bytes no valid token has, rather than an error."""
    return text.encode("utf-8", "surrogatepass")
