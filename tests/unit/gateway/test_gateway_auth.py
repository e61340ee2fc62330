"""Authentication and authorization at the edge (services/gateway/auth.py) with a fake authz
client: who may call without credentials, what is cached, and 401/403 worded as
kube-apiserver's (endpoints/handlers/responsewriters/errors.go forbiddenMessage).
"""

from __future__ import annotations

from typing import cast

import pytest

from kapi import errors
from kapi_proto import authz_pb2, common_pb2
from services.authz.client import AuthzClient
from services.gateway.auth import ANONYMOUS, Gatekeeper, TTLCache
from services.gateway.request_info import parse

BOB = common_pb2.UserInfo(username="bob", uid="u-bob", groups=["dev", "system:authenticated"])


class FakeAuthz:
    """Stands in for ``AuthzClient``: knows one token, allows what ``allowed`` says."""

    def __init__(self, *, allowed: bool = True, reason: str = "") -> None:
        self.allowed = allowed
        self.reason = reason
        self.tokens: list[str] = []
        self.requests: list[authz_pb2.AuthorizeRequest] = []

    async def authenticate(
        self,
        *,
        bearer_token: str = "",
        cert_common_name: str = "",
        cert_organizations: tuple[str, ...] = (),
    ) -> common_pb2.UserInfo:
        self.tokens.append(bearer_token)
        if bearer_token != "tok-bob":
            raise errors.unauthorized()
        return BOB

    async def authorize(self, request: authz_pb2.AuthorizeRequest) -> tuple[bool, str]:
        self.requests.append(request)
        return self.allowed, self.reason


def gatekeeper(fake: FakeAuthz) -> Gatekeeper:
    return Gatekeeper(cast(AuthzClient, fake))


# --- TTLCache -------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("services.gateway.auth.time.monotonic", fake)
    return fake


def test_cache_entries_expire(clock: Clock) -> None:
    cache = TTLCache(seconds=10)
    cache.put("k", "v")
    assert cache.get("k") == "v"
    clock.now += 10
    assert cache.get("k") == "v"
    clock.now += 0.5
    assert cache.get("k") is None
    assert cache.get("other") is None


def test_full_cache_drops_expired_entries_first(clock: Clock) -> None:
    cache = TTLCache(seconds=10, max_entries=2)
    cache.put("old", 1)
    clock.now += 5
    cache.put("young", 2)
    clock.now += 6  # "old" expired, "young" has 4 s left
    cache.put("new", 3)
    assert (cache.get("old"), cache.get("young"), cache.get("new")) == (None, 2, 3)


def test_full_cache_of_live_entries_starts_over(clock: Clock) -> None:
    cache = TTLCache(seconds=10, max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, None, 3)


def test_cache_put_replaces(clock: Clock) -> None:
    cache = TTLCache(seconds=10, max_entries=2)
    cache.put("a", 1)
    clock.now += 8
    cache.put("a", 2)
    clock.now += 8
    assert cache.get("a") == 2  # the expiry restarted with the new value


# --- authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/version", "/healthz", "/livez", "/readyz", "/readyz/", "/livez/etcd", "/healthz/ping"],
)
async def test_public_paths_are_anonymous_without_credentials(path: str) -> None:
    fake = FakeAuthz()
    user = await gatekeeper(fake).authenticate(None, path)
    assert user is ANONYMOUS
    assert (user.username, list(user.groups)) == ("system:anonymous", ["system:unauthenticated"])
    assert fake.tokens == []


@pytest.mark.parametrize(
    "path", ["/api", "/apis", "/api/v1/namespaces/ns/pods", "/openapi/v3", "/versions", "/"]
)
async def test_other_paths_need_credentials(path: str) -> None:
    with pytest.raises(errors.StatusError) as info:
        await gatekeeper(FakeAuthz()).authenticate(None, path)
    err = info.value
    assert (err.code, err.reason, err.message) == (401, "Unauthorized", "Unauthorized")


@pytest.mark.parametrize(
    "header", ["Basic Ym9iOnB3", "Bearer", "Bearer   ", "Token tok-bob", "tok-bob"]
)
async def test_unusable_authorization_headers_are_401(header: str) -> None:
    fake = FakeAuthz()
    for path in ("/api/v1/pods", "/version"):
        with pytest.raises(errors.StatusError) as info:
            await gatekeeper(fake).authenticate(header, path)
        assert info.value.code == 401
    assert fake.tokens == []


async def test_bearer_token_is_authenticated_once_then_cached() -> None:
    fake = FakeAuthz()
    gate = gatekeeper(fake)
    assert await gate.authenticate("Bearer tok-bob", "/api/v1/pods") == BOB
    assert await gate.authenticate("bearer  tok-bob ", "/api") == BOB
    assert fake.tokens == ["tok-bob"]


async def test_rejected_tokens_are_not_cached() -> None:
    fake = FakeAuthz()
    gate = gatekeeper(fake)
    for _ in range(2):
        with pytest.raises(errors.StatusError) as info:
            await gate.authenticate("Bearer wrong", "/api")
        assert info.value.code == 401
    assert fake.tokens == ["wrong", "wrong"]


# --- authorization -----------------------------------------------------------------------------


async def denied(method: str, path: str, *, reason: str = "") -> errors.StatusError:
    gate = gatekeeper(FakeAuthz(allowed=False, reason=reason))
    with pytest.raises(errors.StatusError) as info:
        await gate.authorize(BOB, parse(method, path))
    return info.value


@pytest.mark.parametrize(
    ("method", "path", "message", "details"),
    [
        (
            "GET",
            "/api/v1/namespaces/ns/configmaps",
            'configmaps is forbidden: User "bob" cannot list resource "configmaps" in API group '
            '"" in the namespace "ns"',
            {"kind": "configmaps"},
        ),
        (
            "GET",
            "/api/v1/namespaces/ns/configmaps/c",
            'configmaps "c" is forbidden: User "bob" cannot get resource "configmaps" in API '
            'group "" in the namespace "ns"',
            {"name": "c", "kind": "configmaps"},
        ),
        (
            "POST",
            "/api/v1/namespaces/ns/configmaps",
            'configmaps is forbidden: User "bob" cannot create resource "configmaps" in API '
            'group "" in the namespace "ns"',
            {"kind": "configmaps"},
        ),
        (
            "GET",
            "/api/v1/namespaces",
            'namespaces is forbidden: User "bob" cannot list resource "namespaces" in API group '
            '"" at the cluster scope',
            {"kind": "namespaces"},
        ),
        (
            "GET",
            "/api/v1/pods",
            'pods is forbidden: User "bob" cannot list resource "pods" in API group "" at the '
            "cluster scope",
            {"kind": "pods"},
        ),
        (
            "DELETE",
            "/apis/apps/v1/namespaces/ns/deployments/d",
            'deployments.apps "d" is forbidden: User "bob" cannot delete resource "deployments" '
            'in API group "apps" in the namespace "ns"',
            {"name": "d", "group": "apps", "kind": "deployments"},
        ),
        (
            "PUT",
            "/api/v1/namespaces/ns/pods/p/status",
            'pods "p" is forbidden: User "bob" cannot update resource "pods/status" in API group '
            '"" in the namespace "ns"',
            {"name": "p", "kind": "pods"},
        ),
        (
            "GET",
            "/api/v1/namespaces/ns/pods",
            'pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the '
            'namespace "ns"',
            {"kind": "pods"},
        ),
        (
            "GET",
            "/openapi/v3",
            'forbidden: User "bob" cannot get path "/openapi/v3"',
            {},
        ),
    ],
)
async def test_denials_are_403_worded_as_kube(
    method: str, path: str, message: str, details: dict[str, str]
) -> None:
    err = await denied(method, path)
    assert (err.code, err.reason, err.message) == (403, "Forbidden", message)
    assert err.details == details


async def test_denial_carries_the_authorizer_reason() -> None:
    err = await denied("GET", "/api/v1/namespaces/ns/secrets", reason="RBAC: no binding")
    assert err.message == (
        'secrets is forbidden: User "bob" cannot list resource "secrets" in API group "" in '
        'the namespace "ns": RBAC: no binding'
    )
    path_err = await denied("GET", "/metrics", reason="nope")
    assert path_err.message == 'forbidden: User "bob" cannot get path "/metrics": nope'


async def test_authorize_asks_with_the_request_attributes() -> None:
    fake = FakeAuthz()
    await gatekeeper(fake).authorize(
        BOB, parse("PATCH", "/apis/apps/v1/namespaces/ns/deployments/d/scale")
    )
    (request,) = fake.requests
    assert request.user == BOB
    assert (request.verb, request.api_group, request.api_version) == ("patch", "apps", "v1")
    assert (request.resource, request.subresource, request.name) == ("deployments", "scale", "d")
    assert request.namespace == "ns"
    assert request.resource_request is True
    assert request.path == "/apis/apps/v1/namespaces/ns/deployments/d/scale"


async def test_allowed_decisions_are_cached_per_request_shape() -> None:
    fake = FakeAuthz()
    gate = gatekeeper(fake)
    info = parse("GET", "/api/v1/namespaces/ns/configmaps")
    await gate.authorize(BOB, info)
    await gate.authorize(BOB, info)
    assert len(fake.requests) == 1
    await gate.authorize(BOB, parse("GET", "/api/v1/namespaces/other/configmaps"))
    assert len(fake.requests) == 2
    alice = common_pb2.UserInfo(username="alice")
    await gate.authorize(alice, info)
    assert len(fake.requests) == 3


async def test_decisions_differ_by_uid_and_extra() -> None:
    """Impersonation lets a client choose them: each is its own decision."""
    fake = FakeAuthz()
    gate = gatekeeper(fake)
    info = parse("GET", "/api/v1/namespaces/ns/configmaps")
    await gate.authorize(BOB, info)
    await gate.authorize(common_pb2.UserInfo(username="bob", uid="other", groups=BOB.groups), info)
    with_extra = common_pb2.UserInfo(username="bob", uid="u-bob", groups=BOB.groups)
    with_extra.extra["scopes"].values.append("view")
    await gate.authorize(with_extra, info)
    assert len(fake.requests) == 3


async def test_cached_decisions_keep_no_client_chosen_strings() -> None:
    """A name or impersonated group is the client's to choose, up to a 1 MiB head: the
    cache keeps a fixed-size digest of each, so 10,000 of them take little memory."""
    gate = gatekeeper(FakeAuthz())
    for n in range(20):
        user = common_pb2.UserInfo(username="bob", groups=[f"g{n}" + "g" * 100_000])
        await gate.authorize(
            user, parse("GET", f"/api/v1/namespaces/ns/configmaps/{'c' * 100_000}{n}")
        )
    keys = list(gate._decisions._data)
    assert len(keys) == 20
    assert all(isinstance(key, bytes) and len(key) <= 64 for key in keys)


async def test_denials_are_not_cached() -> None:
    fake = FakeAuthz(allowed=False)
    gate = gatekeeper(fake)
    info = parse("GET", "/api/v1/namespaces/ns/configmaps")
    for _ in range(2):
        with pytest.raises(errors.StatusError):
            await gate.authorize(BOB, info)
    assert len(fake.requests) == 2


async def test_anonymous_public_requests_skip_authz() -> None:
    fake = FakeAuthz(allowed=False)
    await gatekeeper(fake).authorize(ANONYMOUS, parse("GET", "/version"))
    assert fake.requests == []
