"""Who a request runs as: kube's ``user.Info`` as a plain value.

Services pass users to each other inside protobuf messages (``common_pb2.UserInfo``); at
a service's edge they become this dataclass, so the domains (authentication,
authorization, admission, the registry's strategies) never see a protobuf message. The
field names are the wire's (``username``, ``uid``, ``groups``, ``extra``).

The well-known names are k8s.io/apiserver/pkg/authentication/user's and
serviceaccount's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

ANONYMOUS = "system:anonymous"
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
PRIVILEGED_GROUP = "system:masters"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"

# Extra keys a ServiceAccount token's user carries (serviceaccount/util.go).
CREDENTIAL_ID_KEY = "authentication.kubernetes.io/credential-id"
POD_NAME_KEY = "authentication.kubernetes.io/pod-name"
POD_UID_KEY = "authentication.kubernetes.io/pod-uid"
NODE_NAME_KEY = "authentication.kubernetes.io/node-name"
NODE_UID_KEY = "authentication.kubernetes.io/node-uid"


@dataclass(frozen=True)
class UserInfo:
    """A user: name, uid, groups and extra values. Immutable; ``extra`` is not part of
    the hash (a mapping), but compares."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    @property
    def privileged(self) -> bool:
        """A member of ``system:masters``, which kube lets do anything."""
        return PRIVILEGED_GROUP in self.groups

    def with_group(self, group: str) -> UserInfo:
        """This user with ``group`` added (once)."""
        if group in self.groups:
            return self
        return UserInfo(self.username, self.uid, (*self.groups, group), self.extra)


def anonymous() -> UserInfo:
    """kube's anonymous authenticator's user."""
    return UserInfo(ANONYMOUS, groups=(ALL_UNAUTHENTICATED,))


def service_account_username(namespace: str, name: str) -> str:
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def service_account_groups(namespace: str) -> tuple[str, ...]:
    """serviceaccount.MakeGroupNames: everyone's and the namespace's."""
    return (SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{namespace}")


def split_service_account(username: str) -> tuple[str, str] | None:
    """(namespace, name) of a ServiceAccount's user name, None for any other user (no
    validation of the parts: serviceaccount.MatchesUsername compares them as they are)."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    namespace, sep, name = username[len(SERVICE_ACCOUNT_PREFIX) :].partition(":")
    if not sep or not namespace or not name or ":" in name:
        return None
    return namespace, name
