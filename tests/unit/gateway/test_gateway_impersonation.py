"""Impersonation (services/gateway/impersonation.py) as kube-apiserver's filter
(k8s.io/apiserver/pkg/endpoints/filters/impersonation.go): each thing impersonated is an
``impersonate`` decision of the authorizer, a refusal is kube's 403, groups, extras or a
uid without a user are a 400, and the user acted as gets system:authenticated (or
system:unauthenticated for system:anonymous) and a service account its groups.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import pytest

from kapi import errors
from kapi_proto import authz_pb2, common_pb2
from services.authz.client import AuthzClient, Verdict
from services.gateway.auth import Gatekeeper
from services.gateway.impersonation import act_as, requested

BOB = common_pb2.UserInfo(username="bob", uid="u-bob", groups=["dev", "system:authenticated"])
ANONYMOUS = common_pb2.UserInfo(username="system:anonymous", groups=["system:unauthenticated"])

Headers = list[tuple[bytes, bytes]]


class Authorizer:
    """Stands in for ``AuthzClient.authorize``: records each question; ``deny`` says
    which to refuse."""

    def __init__(self, deny: Callable[[authz_pb2.AuthorizeRequest], bool] | None = None) -> None:
        self.deny = deny or (lambda request: False)
        self.asked: list[authz_pb2.AuthorizeRequest] = []

    async def authorize(self, request: authz_pb2.AuthorizeRequest) -> Verdict:
        self.asked.append(request)
        if self.deny(request):
            return Verdict("NO_OPINION", "no impersonation for you")
        return Verdict("ALLOW")

    def questions(self) -> list[tuple[str, str, str, str, str, str, str]]:
        return [
            (
                q.verb,
                q.api_group,
                q.resource,
                q.subresource,
                q.namespace,
                q.name,
                q.user.username,
            )
            for q in self.asked
        ]


def gate(authorizer: Authorizer) -> Gatekeeper:
    return Gatekeeper(cast(AuthzClient, authorizer))


def headers(*pairs: tuple[str, str]) -> Headers:
    """Raw ASGI headers: lower-case names, as uvicorn gives them."""
    return [(name.lower().encode(), value.encode()) for name, value in pairs]


async def test_no_impersonation_headers_leave_the_caller_as_is() -> None:
    authorizer = Authorizer()
    user = await act_as(gate(authorizer), BOB, headers(("Accept", "application/json")))
    assert user is BOB
    assert authorizer.asked == []


async def test_impersonating_a_user() -> None:
    authorizer = Authorizer()
    user = await act_as(gate(authorizer), BOB, headers(("Impersonate-User", "alice")))
    assert (user.username, user.uid, list(user.groups), dict(user.extra)) == (
        "alice",
        "",
        ["system:authenticated"],
        {},
    )
    assert authorizer.questions() == [("impersonate", "", "users", "", "", "alice", "bob")]
    assert authorizer.asked[0].resource_request
    assert authorizer.asked[0].api_version == ""  # kube's ObjectReference has none


async def test_impersonating_a_user_with_groups_uid_and_extras() -> None:
    authorizer = Authorizer()
    user = await act_as(
        gate(authorizer),
        BOB,
        headers(
            ("Impersonate-User", "alice"),
            ("Impersonate-Group", "devs"),
            ("Impersonate-Group", "ops"),
            ("Impersonate-Uid", "42"),
            ("Impersonate-Extra-Scopes", "view"),
            ("Impersonate-Extra-Scopes", "edit"),
            ("Impersonate-Extra-Example.com%2FTeam", "blue"),
        ),
    )
    assert user.username == "alice"
    assert user.uid == "42"
    assert list(user.groups) == ["devs", "ops", "system:authenticated"]
    assert {k: list(v.values) for k, v in user.extra.items()} == {
        "scopes": ["view", "edit"],
        "example.com/team": ["blue"],
    }
    assert [q.api_version for q in authorizer.asked] == ["", "", "", "v1", "v1", "v1", "v1"]
    assert authorizer.questions() == [
        ("impersonate", "", "users", "", "", "alice", "bob"),
        ("impersonate", "", "groups", "", "", "devs", "bob"),
        ("impersonate", "", "groups", "", "", "ops", "bob"),
        ("impersonate", "authentication.k8s.io", "userextras", "scopes", "", "view", "bob"),
        ("impersonate", "authentication.k8s.io", "userextras", "scopes", "", "edit", "bob"),
        (
            "impersonate",
            "authentication.k8s.io",
            "userextras",
            "example.com/team",
            "",
            "blue",
            "bob",
        ),
        ("impersonate", "authentication.k8s.io", "uids", "", "", "42", "bob"),
    ]


async def test_impersonating_a_service_account() -> None:
    authorizer = Authorizer()
    user = await act_as(
        gate(authorizer), BOB, headers(("Impersonate-User", "system:serviceaccount:ci:builder"))
    )
    assert user.username == "system:serviceaccount:ci:builder"
    assert list(user.groups) == [
        "system:serviceaccounts",
        "system:serviceaccounts:ci",
        "system:authenticated",
    ]
    assert authorizer.questions() == [
        ("impersonate", "", "serviceaccounts", "", "ci", "builder", "bob")
    ]


async def test_a_service_account_with_groups_given_has_only_those() -> None:
    user = await act_as(
        gate(Authorizer()),
        BOB,
        headers(
            ("Impersonate-User", "system:serviceaccount:ci:builder"),
            ("Impersonate-Group", "robots"),
        ),
    )
    assert list(user.groups) == ["robots", "system:authenticated"]


@pytest.mark.parametrize(
    "name",
    [
        "system:serviceaccount:ci",
        "system:serviceaccount:ci:builder:extra",
        "system:serviceaccount:CI:builder",
        "system:serviceaccount::builder",
        "system:serviceaccount:ci:Builder_1",
    ],
)
async def test_a_malformed_service_account_name_is_a_plain_user(name: str) -> None:
    authorizer = Authorizer()
    user = await act_as(gate(authorizer), BOB, headers(("Impersonate-User", name)))
    assert user.username == name
    assert authorizer.questions()[0][2] == "users"


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ([], ["system:unauthenticated"]),
        (["system:unauthenticated"], ["system:unauthenticated"]),
        (["guests"], ["guests", "system:unauthenticated"]),
    ],
)
async def test_impersonating_anonymous_is_unauthenticated(
    groups: list[str], expected: list[str]
) -> None:
    pairs = [("Impersonate-User", "system:anonymous")] + [("Impersonate-Group", g) for g in groups]
    user = await act_as(gate(Authorizer()), BOB, headers(*pairs))
    assert list(user.groups) == expected


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        (["system:authenticated"], ["system:authenticated"]),
        (["system:unauthenticated"], ["system:unauthenticated"]),
    ],
)
async def test_given_authentication_groups_are_not_added_to(
    groups: list[str], expected: list[str]
) -> None:
    pairs = [("Impersonate-User", "alice")] + [("Impersonate-Group", g) for g in groups]
    user = await act_as(gate(Authorizer()), BOB, headers(*pairs))
    assert list(user.groups) == expected


async def test_the_first_user_header_counts() -> None:
    user = await act_as(
        gate(Authorizer()),
        BOB,
        headers(("Impersonate-User", "alice"), ("Impersonate-User", "mallory")),
    )
    assert user.username == "alice"


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (
            [("Impersonate-Group", "devs")],
            "requested [{Group  devs    }] without impersonating a user",
        ),
        (
            [("Impersonate-Uid", "42")],
            "requested [{UID  42  authentication.k8s.io/v1  }] without impersonating a user",
        ),
        (
            [("Impersonate-Extra-Scopes", "view"), ("Impersonate-Group", "a")],
            "requested [{Group  a    } {UserExtra  view  authentication.k8s.io/v1  scopes}] "
            "without impersonating a user",
        ),
        (
            [("Impersonate-User", ""), ("Impersonate-Group", "devs")],
            "requested [{Group  devs    }] without impersonating a user",
        ),
    ],
)
async def test_groups_extras_or_uid_without_a_user_are_400(
    pairs: list[tuple[str, str]], message: str
) -> None:
    authorizer = Authorizer()
    with pytest.raises(errors.StatusError) as info:
        await act_as(gate(authorizer), BOB, headers(*pairs))
    assert (info.value.code, info.value.reason, info.value.message) == (400, "BadRequest", message)
    assert authorizer.asked == []


@pytest.mark.parametrize(
    ("pairs", "denied", "message", "details"),
    [
        (
            [("Impersonate-User", "alice")],
            "users",
            'users "alice" is forbidden: User "bob" cannot impersonate resource "users" in API '
            'group "" at the cluster scope: no impersonation for you',
            {"name": "alice", "kind": "users"},
        ),
        (
            [("Impersonate-User", "alice"), ("Impersonate-Group", "system:masters")],
            "groups",
            'groups "system:masters" is forbidden: User "bob" cannot impersonate resource '
            '"groups" in API group "" at the cluster scope: no impersonation for you',
            {"name": "system:masters", "kind": "groups"},
        ),
        (
            [("Impersonate-User", "system:serviceaccount:ci:builder")],
            "serviceaccounts",
            'serviceaccounts "builder" is forbidden: User "bob" cannot impersonate resource '
            '"serviceaccounts" in API group "" in the namespace "ci": no impersonation for you',
            {"name": "builder", "kind": "serviceaccounts"},
        ),
        (
            [("Impersonate-User", "alice"), ("Impersonate-Extra-Scopes", "admin")],
            "userextras",
            'userextras.authentication.k8s.io "admin" is forbidden: User "bob" cannot '
            'impersonate resource "userextras/scopes" in API group "authentication.k8s.io" at '
            "the cluster scope: no impersonation for you",
            {"name": "admin", "group": "authentication.k8s.io", "kind": "userextras"},
        ),
        (
            [("Impersonate-User", "alice"), ("Impersonate-Uid", "0")],
            "uids",
            'uids.authentication.k8s.io "0" is forbidden: User "bob" cannot impersonate '
            'resource "uids" in API group "authentication.k8s.io" at the cluster scope: '
            "no impersonation for you",
            {"name": "0", "group": "authentication.k8s.io", "kind": "uids"},
        ),
    ],
)
async def test_a_refused_impersonation_is_kubes_403(
    pairs: list[tuple[str, str]], denied: str, message: str, details: dict[str, str]
) -> None:
    authorizer = Authorizer(deny=lambda request: request.resource == denied)
    with pytest.raises(errors.StatusError) as info:
        await act_as(gate(authorizer), BOB, headers(*pairs))
    assert (info.value.code, info.value.reason, info.value.message) == (403, "Forbidden", message)
    assert info.value.details == details


async def test_an_anonymous_caller_is_asked_about_too() -> None:
    """No shortcut for anonymous callers (who may read the public paths unasked)."""
    authorizer = Authorizer(deny=lambda request: request.user.username == "system:anonymous")
    with pytest.raises(errors.StatusError) as info:
        await act_as(gate(authorizer), ANONYMOUS, headers(("Impersonate-User", "kapi-admin")))
    assert info.value.code == 403
    assert authorizer.questions() == [
        ("impersonate", "", "users", "", "", "kapi-admin", "system:anonymous")
    ]


def test_requested_reads_only_impersonation_headers() -> None:
    assert requested(headers(("Authorization", "Bearer x"), ("Impersonator", "x"))) == []
