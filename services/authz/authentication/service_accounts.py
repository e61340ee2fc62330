"""ServiceAccount tokens: issued by TokenRequest, verified on every request that bears one.

A token is a JWT signed by authz's key (``signing_keys``) with kube 1.32's claims
(``pkg/serviceaccount/claims.go``): ``aud``, ``exp``, ``iat``, ``iss``, ``jti``,
``kubernetes.io`` (``namespace``, ``serviceaccount`` name and uid, and the ``pod``,
``secret`` or ``node`` it is bound to), ``nbf``, ``sub`` =
``system:serviceaccount:NS:NAME``. Keys are written sorted, as go-jose writes them.

Validation is kube's ``jwtTokenAuthenticator`` and ``validator``: a token of another
issuer, or no JWT at all, is not ours to judge; otherwise the signature must verify
with a known key, the audiences must meet the ones asked for (the API server's own by
default), the times hold (a minute of leeway), and the ServiceAccount — and the object
the token is bound to — must still exist with the uid the token names and not have been
deleted. The user is the ServiceAccount's, in ``system:serviceaccounts`` and
``system:serviceaccounts:NS``, with the token's id and bound pod and node as extras.

The JOSE library is PyJWT (with ``cryptography``, already kapi's): the most used
Python JWT library, maintained, and all a JWS with RS256/ES256 needs.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import jwt
import orjson

from kapi import errors
from kapi.user import (
    CREDENTIAL_ID_KEY,
    NODE_NAME_KEY,
    NODE_UID_KEY,
    POD_NAME_KEY,
    POD_UID_KEY,
    UserInfo,
    service_account_groups,
    service_account_username,
)
from services.authz.authentication import Authenticated, Credentials, Failed, Outcome
from services.authz.authentication.signing_keys import SigningKey, VerifyingKey

Obj = dict[str, Any]

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
LEEWAY_SECONDS = 60  # go-jose's jwt.DefaultLeeway
CLAIMS = "kubernetes.io"


class Objects(Protocol):
    """Where validation finds the objects a token names; None when one does not exist.
    A storage failure raises its ``StatusError``."""

    async def service_account(self, namespace: str, name: str) -> Obj | None: ...

    async def secret(self, namespace: str, name: str) -> Obj | None: ...

    async def pod(self, namespace: str, name: str) -> Obj | None: ...

    async def node(self, name: str) -> Obj | None: ...


@dataclass(frozen=True)
class Bound:
    """What a token is bound to, beside its ServiceAccount (name and uid each)."""

    pod: tuple[str, str] | None = None
    secret: tuple[str, str] | None = None
    node: tuple[str, str] | None = None  # a pod's node, or the node it is bound to


@dataclass(frozen=True)
class Issued:
    token: str
    expiration: int  # Unix seconds


class TokenIssuer:
    """Signs tokens with the one signing key (``--service-account-signing-key-file``)."""

    def __init__(self, key: SigningKey, issuer: str) -> None:
        self.key = key
        self.issuer = issuer

    def issue(
        self,
        *,
        namespace: str,
        name: str,
        uid: str,
        audiences: Sequence[str],
        expiration_seconds: int,
        bound: Bound = Bound(),
        now: float | None = None,
    ) -> Issued:
        issued_at = int(now if now is not None else time.time())
        private: dict[str, Any] = {"namespace": namespace}
        if bound.node is not None:
            private["node"] = _ref(bound.node)
        if bound.pod is not None:
            private["pod"] = _ref(bound.pod)
        if bound.secret is not None:
            private["secret"] = _ref(bound.secret)
        private["serviceaccount"] = {"name": name, "uid": uid}
        expiry = issued_at + expiration_seconds
        claims = {
            "aud": list(audiences),
            "exp": expiry,
            "iat": issued_at,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            CLAIMS: private,
            "nbf": issued_at,
            "sub": service_account_username(namespace, name),
        }
        token = jwt.encode(
            claims,
            self.key.private_key,
            algorithm=self.key.verifying.algorithm,
            headers={"typ": None, "kid": self.key.verifying.kid},
        )
        return Issued(token, expiry)


def _ref(name_uid: tuple[str, str]) -> dict[str, str]:
    name, uid = name_uid
    return {"name": name, "uid": uid} if uid else {"name": name}


def _unverified_issuer(token: str) -> str | None:
    """hasCorrectIssuer's peek: the ``iss`` of something shaped like a JWT."""
    if token.lstrip().startswith("{"):
        return None
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(payload, dict):
        return None
    issuer = payload.get("iss")
    return issuer if isinstance(issuer, str) else ""


def _name_uid(value: Any) -> tuple[str, str] | None:
    if not isinstance(value, dict):
        return None
    return str(value.get("name") or ""), str(value.get("uid") or "")


class ServiceAccountTokens:
    """The authenticator of ServiceAccount tokens (kube's JWT token authenticator)."""

    def __init__(
        self,
        *,
        issuers: Sequence[str],
        keys: Sequence[VerifyingKey],
        api_audiences: Sequence[str],
        objects: Objects,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuers = frozenset(issuers)
        self.keys = tuple(keys)
        self.api_audiences = tuple(api_audiences)
        self.objects = objects
        self._clock = clock

    async def authenticate(self, credentials: Credentials) -> Outcome:
        token = credentials.bearer_token
        if not token or _unverified_issuer(token) not in self.issuers:
            return None
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            return None
        kid = header.get("kid") if isinstance(header.get("kid"), str) else ""
        # The key the token names; all of them for a token naming none, or an unknown one.
        keys = [k for k in self.keys if kid and k.kid == kid] or list(self.keys)
        if not keys:
            return Failed("invalid signature, no keys found")
        claims: Obj | None = None
        for key in keys:
            try:
                claims = jwt.decode(
                    token,
                    key.public_key,
                    algorithms=[key.algorithm],
                    options={
                        "verify_exp": False,
                        "verify_nbf": False,
                        "verify_iat": False,
                        "verify_aud": False,
                        "verify_iss": False,
                    },
                )
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.InvalidTokenError:
                return None
        if claims is None:
            return Failed("go-jose/go-jose: error in cryptographic primitive")
        if claims.get("iss") not in self.issuers:
            return Failed(f"token issuer {_q(str(claims.get('iss')))} is invalid")
        return await self._validate(claims, credentials.audiences)

    async def _validate(self, claims: Obj, asked: Sequence[str]) -> Outcome:
        audience = claims.get("aud")
        token_audiences = (
            [audience]
            if isinstance(audience, str)
            else [a for a in audience or [] if isinstance(a, str)]
        )
        if not token_audiences:
            token_audiences = list(self.api_audiences)
        requested = list(asked) or list(self.api_audiences)
        audiences = tuple(a for a in token_audiences if a in requested)
        if not audiences and self.api_audiences:
            return Failed(
                f"token audiences {_go_list(token_audiences)} is invalid for the target "
                f"audiences {_go_list(requested)}"
            )
        now = self._clock()
        expiry = _number(claims.get("exp"))
        if expiry is not None and now > expiry + LEEWAY_SECONDS:
            return Failed("service account token has expired")
        nbf = _number(claims.get("nbf"))
        if nbf is not None and now < nbf - LEEWAY_SECONDS:
            return Failed("service account token is not valid yet")
        iat = _number(claims.get("iat"))
        if iat is not None and now < iat - LEEWAY_SECONDS:
            return Failed("service account token is not valid yet")
        private = claims.get(CLAIMS)
        private = private if isinstance(private, dict) else {}
        namespace = str(private.get("namespace") or "")
        account = _name_uid(private.get("serviceaccount")) or ("", "")
        try:
            user = await self._check_objects(claims, private, namespace, account, now)
        except errors.StatusError as err:
            return Failed(err.message)
        if isinstance(user, Failed):
            return user
        return Authenticated(user, audiences)

    async def _check_objects(
        self, claims: Obj, private: Obj, namespace: str, account: tuple[str, str], now: float
    ) -> UserInfo | Failed:
        deleted_before = now - LEEWAY_SECONDS
        name, uid = account
        found = await self.objects.service_account(namespace, name)
        if found is None:
            return Failed(f'serviceaccounts "{name}" not found')
        if _deleted_before(found, deleted_before):
            return Failed(f"service account {namespace}/{name} has been deleted")
        actual_uid = str((found.get("metadata") or {}).get("uid") or "")
        if actual_uid != uid:
            return Failed(f"service account UID ({actual_uid}) does not match claim ({uid})")
        extra: dict[str, tuple[str, ...]] = {}
        secret = _name_uid(private.get("secret"))
        if secret is not None:
            obj = await self.objects.secret(namespace, secret[0])
            if obj is None or _deleted_before(obj, deleted_before):
                return Failed("service account token has been invalidated")
            if _uid(obj) != secret[1]:
                return Failed(
                    f"secret UID ({_uid(obj)}) does not match service account secret ref "
                    f"claim ({secret[1]})"
                )
        pod = _name_uid(private.get("pod"))
        if pod is not None:
            obj = await self.objects.pod(namespace, pod[0])
            if obj is None or _deleted_before(obj, deleted_before):
                return Failed("service account token has been invalidated")
            if _uid(obj) != pod[1]:
                return Failed(
                    f"pod UID ({_uid(obj)}) does not match service account pod ref claim ({pod[1]})"
                )
            extra[POD_NAME_KEY] = (pod[0],)
            extra[POD_UID_KEY] = (pod[1],)
        node = _name_uid(private.get("node"))
        if node is not None and pod is None:
            # Bound to the node itself: it must still be there.
            obj = await self.objects.node(node[0])
            if obj is None or _deleted_before(obj, deleted_before):
                return Failed("service account token has been invalidated")
            if _uid(obj) != node[1]:
                return Failed(
                    f"node UID ({_uid(obj)}) does not match service account node ref claim "
                    f"({node[1]})"
                )
        jti = claims.get("jti")
        if isinstance(jti, str) and jti:
            extra[CREDENTIAL_ID_KEY] = (f"JTI={jti}",)
        if node is not None and node[0]:
            extra[NODE_NAME_KEY] = (node[0],)
            if node[1]:
                extra[NODE_UID_KEY] = (node[1],)
        return UserInfo(
            service_account_username(namespace, name),
            uid,
            service_account_groups(namespace),
            dict(sorted(extra.items())),
        )


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _deleted_before(obj: Obj, moment: float) -> bool:
    stamp = (obj.get("metadata") or {}).get("deletionTimestamp")
    if not isinstance(stamp, str) or not stamp:
        return False
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return False
    return when < moment


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _go_list(values: Sequence[str]) -> str:
    return "[" + " ".join(_q(v) for v in values) + "]"
