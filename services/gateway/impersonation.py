"""Acting as another user: the ``Impersonate-*`` headers, as kube-apiserver's impersonation
filter honours them (k8s.io/apiserver/pkg/endpoints/filters/impersonation.go).

``Impersonate-User`` names the user (``system:serviceaccount:<ns>:<name>`` a service
account), ``Impersonate-Group`` (repeatable) its groups, ``Impersonate-Uid`` its uid and
``Impersonate-Extra-<key>`` (repeatable) its extra values. The caller must be allowed the
``impersonate`` verb on each: ``users``, ``serviceaccounts`` (in their namespace), ``groups``
(core group) and ``userextras/<key>``, ``uids`` (``authentication.k8s.io``), asked of the
authorizer like any other decision; the first refusal is a 403 worded as kube's. Groups,
extras or a uid without a user are a 400. The request then runs as the impersonated user
— authorization, admission, and whatever records the requester (a CSR's spec.username).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from kapi import errors
from kapi_proto import common_pb2
from services.gateway.auth import Gatekeeper
from services.gateway.request_info import RequestInfo

USER_HEADER = b"impersonate-user"
GROUP_HEADER = b"impersonate-group"
UID_HEADER = b"impersonate-uid"
EXTRA_PREFIX = b"impersonate-extra-"
_PREFIX = b"impersonate-"

AUTHENTICATION_GROUP = "authentication.k8s.io"
ANONYMOUS_USER = "system:anonymous"
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_ESCAPES_WELL_FORMED = re.compile(r"(?:[^%]|%[0-9A-Fa-f]{2})*")


@dataclass(frozen=True)
class Target:
    """One thing the caller asks to act as: the authorizer's resource and name for it."""

    kind: str  # ServiceAccount, User, Group, UserExtra, UID (the ObjectReference kind)
    name: str
    namespace: str = ""
    extra_key: str = ""

    @property
    def group(self) -> str:
        return AUTHENTICATION_GROUP if self.kind in ("UserExtra", "UID") else ""

    @property
    def resource(self) -> str:
        return {
            "ServiceAccount": "serviceaccounts",
            "User": "users",
            "Group": "groups",
            "UserExtra": "userextras",
            "UID": "uids",
        }[self.kind]

    def go_value(self) -> str:
        """Go's ``%v`` of the v1.ObjectReference kube builds (Kind Namespace Name UID
        APIVersion ResourceVersion FieldPath), for its 400 message."""
        api_version = f"{AUTHENTICATION_GROUP}/v1" if self.group else ""
        fields = (self.kind, self.namespace, self.name, "", api_version, "", self.extra_key)
        return "{" + " ".join(fields) + "}"

    def info(self) -> RequestInfo:
        """The authorization attributes: verb impersonate on this resource and name (the
        version is the ObjectReference's: none for the core kinds)."""
        return RequestInfo(
            path="",
            verb="impersonate",
            is_resource_request=True,
            group=self.group,
            version="v1" if self.group else "",
            namespace=self.namespace,
            resource=self.resource,
            subresource=self.extra_key,
            name=self.name,
        )


def requested(headers: Iterable[tuple[bytes, bytes]]) -> list[Target]:
    """What the headers ask to impersonate, in kube's order (user, groups, extras, uid);
    empty when they ask nothing. 400 for groups, extras or a uid without a user."""
    user: str | None = None  # the first value only, as Go's Header.Get
    uid: str | None = None
    groups: list[str] = []
    extras: list[Target] = []
    has_groups = has_extras = False
    for name, raw in headers:
        if not name.startswith(_PREFIX):
            continue
        value = raw.decode("utf-8", "replace")
        if name == USER_HEADER:
            user = value if user is None else user
        elif name == GROUP_HEADER:
            has_groups = True
            groups.append(value)
        elif name == UID_HEADER:
            uid = value if uid is None else uid
        elif name.startswith(EXTRA_PREFIX):
            has_extras = True
            key = _unescape(name[len(EXTRA_PREFIX) :].decode("utf-8", "replace").lower())
            extras.append(Target("UserExtra", value, extra_key=key))
    out: list[Target] = []
    if user:
        service_account = _split_service_account(user)
        if service_account is not None:
            namespace, sa_name = service_account
            out.append(Target("ServiceAccount", sa_name, namespace=namespace))
        else:
            out.append(Target("User", user))
    out += [Target("Group", group) for group in groups]
    out += extras
    if uid:
        out.append(Target("UID", uid))
    if (has_groups or has_extras or uid) and not user:
        listed = " ".join(target.go_value() for target in out)
        raise errors.bad_request(f"requested [{listed}] without impersonating a user")
    return out


def wants_to_impersonate(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    return any(name.startswith(_PREFIX) for name, _ in headers)


async def act_as(
    gate: Gatekeeper,
    requestor: common_pb2.UserInfo,
    headers: Iterable[tuple[bytes, bytes]],
) -> common_pb2.UserInfo:
    """The user this request runs as: ``requestor`` unless the headers ask to impersonate
    someone and the requestor may (403 for the first thing it may not)."""
    headers = list(headers)
    targets = requested(headers)
    if not targets:
        return requestor
    groups_specified = any(name == GROUP_HEADER for name, _ in headers)
    username = uid = ""
    groups: list[str] = []
    extra: dict[str, list[str]] = {}
    for target in targets:
        # Through the authorizer even for an anonymous caller: no shortcut here.
        await gate.check(requestor, target.info())
        if target.kind == "ServiceAccount":
            username = f"{SERVICE_ACCOUNT_PREFIX}{target.namespace}:{target.name}"
            if not groups_specified:
                groups = ["system:serviceaccounts", f"system:serviceaccounts:{target.namespace}"]
        elif target.kind == "User":
            username = target.name
        elif target.kind == "Group":
            groups.append(target.name)
        elif target.kind == "UserExtra":
            extra.setdefault(target.extra_key, []).append(target.name)
        else:
            uid = target.name
    if username != ANONYMOUS_USER:
        if ALL_AUTHENTICATED not in groups and ALL_UNAUTHENTICATED not in groups:
            groups.append(ALL_AUTHENTICATED)
    elif ALL_UNAUTHENTICATED not in groups:
        groups.append(ALL_UNAUTHENTICATED)
    return common_pb2.UserInfo(
        username=username,
        uid=uid,
        groups=groups,
        extra={key: common_pb2.StringList(values=values) for key, values in extra.items()},
    )


def _split_service_account(username: str) -> tuple[str, str] | None:
    """serviceaccount.SplitUsername: (namespace, name), or None for any other user name."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    parts = username[len(SERVICE_ACCOUNT_PREFIX) :].split(":")
    if len(parts) != 2:
        return None
    namespace, name = parts
    if len(namespace) > 63 or not _DNS_LABEL.fullmatch(namespace):
        return None
    if len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        return None
    return namespace, name


def _unescape(key: str) -> str:
    """url.PathUnescape of an extra's key; a malformed escape keeps the key as sent."""
    if not _ESCAPES_WELL_FORMED.fullmatch(key):
        return key
    return unquote(key, errors="replace")
