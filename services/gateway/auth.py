"""Authentication and authorization at the edge, through the authz service.

Decisions are cached for a few seconds per credential (kube-apiserver caches token
reviews and webhook decisions the same way), so a busy client costs one authz hop per
few seconds, not one per request.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import orjson

from kapi import errors
from kapi_proto import authz_pb2, common_pb2
from services.authz.client import AuthzClient
from services.gateway import auditing
from services.gateway.request_info import RequestInfo

CACHE_SECONDS = 10.0
CACHE_MAX = 10_000

# Paths anonymous callers may read, as kube's system:public-info-viewer allows.
PUBLIC_PATHS = ("/version", "/healthz", "/livez", "/readyz")


@dataclass
class _Entry:
    value: object
    expires: float


class TTLCache:
    def __init__(self, seconds: float = CACHE_SECONDS, max_entries: int = CACHE_MAX) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._data: dict[object, _Entry] = {}

    def get(self, key: object) -> object | None:
        entry = self._data.get(key)
        if entry is None or entry.expires < time.monotonic():
            return None
        return entry.value

    def put(self, key: object, value: object) -> None:
        if len(self._data) >= self.max_entries:
            now = time.monotonic()
            self._data = {k: e for k, e in self._data.items() if e.expires >= now}
            if len(self._data) >= self.max_entries:
                self._data.clear()
        self._data[key] = _Entry(value, time.monotonic() + self.seconds)


ANONYMOUS = common_pb2.UserInfo(username="system:anonymous", groups=["system:unauthenticated"])


class Gatekeeper:
    def __init__(self, authz: AuthzClient) -> None:
        self.authz = authz
        self._users = TTLCache()
        self._decisions = TTLCache()

    async def authenticate(
        self, authorization_header: str | None, path: str
    ) -> common_pb2.UserInfo:
        token = ""
        if authorization_header:
            scheme, _, value = authorization_header.partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                token = value.strip()
            else:
                raise errors.unauthorized()
        if not token:
            if path.rstrip("/") in PUBLIC_PATHS or path.startswith(
                ("/livez/", "/readyz/", "/healthz/")
            ):
                return ANONYMOUS
            raise errors.unauthorized()
        cached = self._users.get(token)
        if isinstance(cached, common_pb2.UserInfo):
            return cached
        user = await self.authz.authenticate(bearer_token=token)
        self._users.put(token, user)
        return user

    async def authorize(self, user: common_pb2.UserInfo, info: RequestInfo) -> None:
        """Raise 403 Forbidden, worded as kube-apiserver, unless the user may do this.
        An anonymous caller only reaches the public paths, which anyone may read. The
        decision and its reason go to the request's audit event (kube's
        WithAuthorization annotations)."""
        recorder = auditing.current()
        if user is ANONYMOUS:
            if recorder is not None:
                recorder.authorized(True, "")
            return
        try:
            allowed, reason = await self.decide(user, info)
        except errors.StatusError:
            if recorder is not None:
                recorder.authorization_failed()
            raise
        if recorder is not None:
            recorder.authorized(allowed, reason)
        if not allowed:
            raise _forbidden(user, info, reason)

    async def check(self, user: common_pb2.UserInfo, info: RequestInfo) -> None:
        """Raise 403 Forbidden unless ``user`` may do ``info`` (no audit annotation: kube
        records only the request's own authorization, not impersonation's checks)."""
        allowed, reason = await self.decide(user, info)
        if not allowed:
            raise _forbidden(user, info, reason)

    async def decide(self, user: common_pb2.UserInfo, info: RequestInfo) -> tuple[bool, str]:
        """Whether ``user`` may do ``info`` and the authorizer's reason, from the
        authorizer or its recent allowing decisions."""
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
        if isinstance(cached, str):
            return True, cached
        allowed, reason = await self.authz.authorize(
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
        if allowed:
            self._decisions.put(key, reason)
        return allowed, reason


def _forbidden(user: common_pb2.UserInfo, info: RequestInfo, reason: str) -> errors.StatusError:
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
