"""Authentication and authorization at the edge, through the authz service.

Who a request is comes from its credentials — the client certificate its TLS connection
verified (``scope["extensions"]["tls"]``, see services/gateway/connections.py) and a
bearer token, read as kube's bearer-token authenticator reads the ``Authorization``
header — asked of authz (``Authenticate``); a request with neither is the anonymous
user, whom RBAC lets read only what ``system:public-info-viewer`` allows. Bad credentials
are 401 ``Unauthorized``; everything else refused is 403, worded as kube-apiserver's
``responsewriters.Forbidden``.

Users and decisions are cached, each with the authz revision it was made at (kube
caches token authentication 10 s and webhook decisions likewise). The cache follows
authz's revisions (``WatchRevisions``): a change to any RBAC object, or a ServiceAccount
deleted, makes every older entry unusable at once, so a policy change is effective here
as soon as authz has it. While that stream is down nothing is served from the cache.

Each request's authorization decision goes to its audit event
(``authorization.k8s.io/decision`` and ``authorization.k8s.io/reason``) and is left in
its ASGI scope under ``AUTHORIZATION_KEY`` (a ``Verdict``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import random
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson

from kapi import errors
from kapi_proto import authz_pb2, common_pb2
from services.authz.client import AuthzClient, Verdict
from services.gateway import auditing
from services.gateway.request_info import RequestInfo

log = logging.getLogger(__name__)

CACHE_SECONDS = 10.0
CACHE_MAX = 10_000
# The scope key under which a request's authorization Verdict is left for audit.
AUTHORIZATION_KEY = "kapi.authorization"
RECONNECT_INITIAL = 0.1
RECONNECT_MAX = 2.0


@dataclass
class _Entry:
    value: object
    revision: int
    expires: float


class RevisionCache:
    """Entries that expire after ``seconds`` and are unusable once made at a revision
    older than ``floor`` (or while ``live`` is false: nothing tells us of changes)."""

    def __init__(self, seconds: float = CACHE_SECONDS, max_entries: int = CACHE_MAX) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self.floor = 0
        self.live = False
        self._data: dict[object, _Entry] = {}

    def get(self, key: object) -> object | None:
        entry = self._data.get(key)
        if entry is None or not self.live or entry.revision < self.floor:
            return None
        if entry.expires < time.monotonic():
            return None
        return entry.value

    def put(self, key: object, value: object, revision: int) -> None:
        if not self.live or revision < self.floor:
            return
        if len(self._data) >= self.max_entries:
            now = time.monotonic()
            self._data = {
                k: e for k, e in self._data.items() if e.expires >= now and e.revision >= self.floor
            }
            if len(self._data) >= self.max_entries:
                self._data.clear()
        self._data[key] = _Entry(value, revision, time.monotonic() + self.seconds)

    def advance(self, floor: int) -> None:
        """Entries made before ``floor`` are stale from now on."""
        if floor > self.floor:
            self.floor = floor

    def clear(self) -> None:
        self._data.clear()


@dataclass(frozen=True)
class Credentials:
    bearer_token: str = ""
    # The client certificate chain, PEM, leaf first, as the TLS extension carries it.
    certificates: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        return self.bearer_token, self.certificates


def credentials_of(scope: Mapping[str, Any]) -> Credentials:
    """The request's credentials: its verified client certificate chain and bearer
    token (kube's bearertoken.go: ``Bearer <token>``, the scheme in any case; an empty
    token, another scheme or no header is no token)."""
    header = ""
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            header = value.decode("latin-1")
            break
    token = ""
    parts = header.strip().split(" ", 2)
    if len(parts) >= 2 and parts[0].lower() == "bearer":
        token = parts[1]  # "Bearer  x" has an empty token: kube ignores it too
    tls = (scope.get("extensions") or {}).get("tls") or {}
    chain = tuple(tls.get("client_cert_chain") or ())
    return Credentials(token, chain)


def _der(pem: str) -> bytes:
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    return base64.b64decode(body)


class Gatekeeper:
    def __init__(self, authz: AuthzClient) -> None:
        self.authz = authz
        self._users = RevisionCache()
        self._decisions = RevisionCache()
        self._following: asyncio.Task[None] | None = None

    # --- following authz's revisions ---------------------------------------------------

    def start(self) -> None:
        """Follow authz's revisions in the background (until ``close``)."""
        if self._following is None:
            self._following = asyncio.get_running_loop().create_task(
                self._follow(), name="authz revisions"
            )

    async def close(self) -> None:
        task, self._following = self._following, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _follow(self) -> None:
        delay = RECONNECT_INITIAL
        while True:
            try:
                async for revisions in self.authz.watch_revisions():
                    self._decisions.advance(revisions.policy)
                    self._users.advance(revisions.identity)
                    self._decisions.live = self._users.live = True
                    delay = RECONNECT_INITIAL
            except errors.StatusError as err:
                log.debug("authz revisions: %s", err.message)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("following authz's revisions failed")
            # Changes may be missed until the stream is back: serve nothing cached.
            self._decisions.live = self._users.live = False
            self._decisions.clear()
            self._users.clear()
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, RECONNECT_MAX)

    # --- authentication ----------------------------------------------------------------

    async def authenticate(self, scope: Mapping[str, Any]) -> common_pb2.UserInfo:
        """The request's user (the anonymous user without credentials), or 401."""
        if self._following is None:
            self.start()
        credentials = credentials_of(scope)
        cached = self._users.get(credentials.key)
        if isinstance(cached, common_pb2.UserInfo):
            return cached
        reply = await self.authz.authenticate(
            bearer_token=credentials.bearer_token,
            client_certificates=[_der(pem) for pem in credentials.certificates[:1]],
            anonymous=True,
        )
        if not reply.authenticated:
            raise errors.unauthorized()
        self._users.put(credentials.key, reply.user, reply.identity_revision)
        return reply.user

    # --- authorization -----------------------------------------------------------------

    async def authorize(
        self,
        user: common_pb2.UserInfo,
        info: RequestInfo,
        scope: MutableMapping[str, Any] | None = None,
    ) -> Verdict:
        """The decision for ``user`` doing ``info``; raise 403 Forbidden, worded as
        kube-apiserver, unless allowed. The decision and its reason go to the request's
        audit event (kube's WithAuthorization annotations) and are left in ``scope``."""
        recorder = auditing.current()
        try:
            verdict = await self.decide(user, info)
        except errors.StatusError:
            if recorder is not None:
                recorder.authorization_failed()
            raise
        if recorder is not None:
            recorder.authorized(verdict.allowed, verdict.reason)
        if scope is not None:
            scope[AUTHORIZATION_KEY] = verdict
        if not verdict.allowed:
            raise forbidden(user, info, verdict.reason)
        return verdict

    async def check(self, user: common_pb2.UserInfo, info: RequestInfo) -> None:
        """Raise 403 unless ``user`` may do ``info`` (impersonation's checks; no audit
        annotation: kube records only the request's own authorization)."""
        verdict = await self.decide(user, info)
        if not verdict.allowed:
            raise forbidden(user, info, verdict.reason)

    async def decide(self, user: common_pb2.UserInfo, info: RequestInfo) -> Verdict:
        """Ask the authorizer (or the recent decisions) about ``user`` doing ``info``."""
        # Keyed by a digest: the names, path and impersonated groups in a key are the
        # client's to choose (up to a 1 MiB head), and 10,000 such keys must not pin GiBs.
        key = hashlib.blake2b(
            orjson.dumps(
                (
                    user.username,
                    user.uid,
                    list(user.groups),
                    sorted((k, list(v.values)) for k, v in user.extra.items()),
                    info.verb,
                    info.group,
                    info.resource,
                    info.subresource,
                    info.namespace,
                    info.name,
                    info.path if not info.is_resource_request else "",
                )
            ),
            digest_size=32,
        ).digest()
        cached = self._decisions.get(key)
        if isinstance(cached, Verdict):
            return cached
        verdict = await self.authz.authorize(
            authz_pb2.AuthorizeRequest(
                user=user,
                verb=info.verb,
                api_group=info.group,
                api_version=info.version,
                resource=info.resource,
                subresource=info.subresource,
                namespace=info.namespace,
                name=info.name,
                resource_request=info.is_resource_request,
                path=info.path,
            )
        )
        self._decisions.put(key, verdict, verdict.policy_revision)
        return verdict


def forbidden(user: common_pb2.UserInfo, info: RequestInfo, reason: str) -> errors.StatusError:
    """responsewriters.Forbidden: ``forbiddenMessage``, then ``: reason`` if any."""
    if not info.is_resource_request:
        detail = f'User "{user.username}" cannot {info.verb} path "{info.path}"'
        return errors.StatusError(
            code=403,
            reason="Forbidden",
            message=f"forbidden: {detail}" + (f": {reason}" if reason else ""),
            details={},
        )
    resource = info.resource + (f"/{info.subresource}" if info.subresource else "")
    detail = (
        f'User "{user.username}" cannot {info.verb} resource "{resource}" in API group '
        f'"{info.group}"'
    )
    detail += f' in the namespace "{info.namespace}"' if info.namespace else " at the cluster scope"
    if reason:
        detail += f": {reason}"
    return errors.forbidden(info.resource, info.group, info.name, detail)
