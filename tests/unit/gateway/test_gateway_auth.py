"""Authentication and authorization at the edge (services/gateway/auth.py) with a fake authz
client: credentials read as kube's bearer-token authenticator reads them, what is cached
and until when (authz's revisions), and 401/403 worded as kube-apiserver's
(endpoints/handlers/responsewriters/errors.go forbiddenMessage).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from kapi import errors
from kapi_proto import authz_pb2, common_pb2
from services.authz.client import AuthzClient, Verdict
from services.gateway.auth import AUTHORIZATION_KEY, Gatekeeper, RevisionCache, credentials_of
from services.gateway.request_info import parse

BOB = common_pb2.UserInfo(username="bob", uid="u-bob", groups=["dev", "system:authenticated"])
ANONYMOUS = common_pb2.UserInfo(username="system:anonymous", groups=["system:unauthenticated"])


class FakeAuthz:
    """Stands in for ``AuthzClient``: knows one token, allows what ``allowed`` says, and
    streams the revisions put in ``revisions``."""

    def __init__(self, *, allowed: bool = True, reason: str = "") -> None:
        self.allowed = allowed
        self.reason = reason
        self.policy = 1
        self.tokens: list[str] = []
        self.requests: list[authz_pb2.AuthorizeRequest] = []
        self.revisions: asyncio.Queue[authz_pb2.Revisions | None] = asyncio.Queue()
        self.revisions.put_nowait(authz_pb2.Revisions(policy=1, identity=1))

    async def authenticate(
        self,
        *,
        bearer_token: str = "",
        client_certificates: Any = (),
        audiences: Any = (),
        anonymous: bool = True,
    ) -> authz_pb2.AuthenticateResponse:
        self.tokens.append(bearer_token)
        if not bearer_token:
            return authz_pb2.AuthenticateResponse(
                authenticated=True, user=ANONYMOUS, identity_revision=1
            )
        if bearer_token != "tok-bob":
            return authz_pb2.AuthenticateResponse(error="invalid bearer token")
        return authz_pb2.AuthenticateResponse(authenticated=True, user=BOB, identity_revision=1)

    async def authorize(self, request: authz_pb2.AuthorizeRequest) -> Verdict:
        self.requests.append(request)
        decision = "ALLOW" if self.allowed else "NO_OPINION"
        return Verdict(decision, self.reason, policy_revision=self.policy)

    async def watch_revisions(self) -> AsyncIterator[authz_pb2.Revisions]:
        while True:
            revisions = await self.revisions.get()
            if revisions is None:
                raise errors.service_unavailable("authz went away")
            yield revisions


def gatekeeper(fake: FakeAuthz) -> Gatekeeper:
    return Gatekeeper(cast(AuthzClient, fake))


async def following(gate: Gatekeeper) -> Gatekeeper:
    """``gate`` once it follows the fake's revisions (its cache is live)."""
    gate.start()
    for _ in range(100):
        if gate._decisions.live:
            return gate
        await asyncio.sleep(0.01)
    raise AssertionError("the gatekeeper never followed the revisions")


def scope(authorization: str | None = None, *, chain: tuple[str, ...] = ()) -> dict[str, Any]:
    headers = [(b"authorization", authorization.encode())] if authorization is not None else []
    out: dict[str, Any] = {"type": "http", "headers": headers}
    if chain:
        out["extensions"] = {"tls": {"client_cert_chain": list(chain)}}
    return out


# --- RevisionCache ------------------------------------------------------------------------------


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


def live_cache(**kw: int) -> RevisionCache:
    cache = RevisionCache(seconds=10, **kw)
    cache.live = True
    return cache


def test_cache_entries_expire(clock: Clock) -> None:
    cache = live_cache()
    cache.put("k", "v", 1)
    assert cache.get("k") == "v"
    clock.now += 10
    assert cache.get("k") == "v"
    clock.now += 0.5
    assert cache.get("k") is None
    assert cache.get("other") is None


def test_entries_older_than_the_floor_are_stale(clock: Clock) -> None:
    cache = live_cache()
    cache.put("old", 1, 5)
    cache.put("new", 2, 7)
    cache.advance(6)
    assert (cache.get("old"), cache.get("new")) == (None, 2)
    cache.put("late", 3, 5)  # decided at a revision already known stale: not kept
    assert cache.get("late") is None
    cache.advance(4)  # the floor never goes back
    assert cache.get("old") is None


def test_a_cache_not_told_of_changes_serves_nothing(clock: Clock) -> None:
    cache = RevisionCache(seconds=10)
    cache.put("k", "v", 1)
    assert cache.get("k") is None
    cache.live = True
    cache.put("k", "v", 1)
    cache.live = False
    assert cache.get("k") is None


def test_full_cache_drops_expired_entries_first(clock: Clock) -> None:
    cache = live_cache(max_entries=2)
    cache.put("old", 1, 1)
    clock.now += 5
    cache.put("young", 2, 1)
    clock.now += 6  # "old" expired, "young" has 4 s left
    cache.put("new", 3, 1)
    assert (cache.get("old"), cache.get("young"), cache.get("new")) == (None, 2, 3)


def test_full_cache_of_live_entries_starts_over(clock: Clock) -> None:
    cache = live_cache(max_entries=2)
    cache.put("a", 1, 1)
    cache.put("b", 2, 1)
    cache.put("c", 3, 1)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, None, 3)


# --- credentials -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer tok-bob", "tok-bob"),
        ("bearer tok-bob", "tok-bob"),
        ("BEARER tok-bob extra", "tok-bob"),
        ("  Bearer tok-bob  ", "tok-bob"),
        ("Bearer  tok-bob", ""),  # kube ignores a token after two spaces
        ("Bearer", ""),
        ("Bearer ", ""),
        ("Basic Ym9iOnB3", ""),
        ("Token tok-bob", ""),
        ("tok-bob", ""),
    ],
)
def test_bearer_tokens_are_read_as_kube_reads_them(header: str, token: str) -> None:
    assert credentials_of(scope(header)).bearer_token == token


def test_the_verified_client_certificate_comes_from_the_tls_extension() -> None:
    found = credentials_of(scope(chain=("-----BEGIN CERTIFICATE-----\nAA==\n",)))
    assert found.certificates == ("-----BEGIN CERTIFICATE-----\nAA==\n",)
    assert credentials_of(scope()).certificates == ()


# --- authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Basic Ym9iOnB3", "Bearer", "Token tok-bob"])
async def test_requests_without_a_token_are_asked_of_authz_as_anonymous(
    header: str | None,
) -> None:
    fake = FakeAuthz()
    user = await gatekeeper(fake).authenticate(scope(header))
    assert user == ANONYMOUS
    assert fake.tokens == [""]


async def test_a_bad_token_is_401() -> None:
    with pytest.raises(errors.StatusError) as info:
        await gatekeeper(FakeAuthz()).authenticate(scope("Bearer wrong"))
    err = info.value
    assert (err.code, err.reason, err.message) == (401, "Unauthorized", "Unauthorized")


async def test_users_are_cached_while_authz_says_nothing_changed() -> None:
    fake = FakeAuthz()
    gate = await following(gatekeeper(fake))
    assert await gate.authenticate(scope("Bearer tok-bob")) == BOB
    assert await gate.authenticate(scope("bearer tok-bob")) == BOB
    assert fake.tokens == ["tok-bob"]
    fake.revisions.put_nowait(authz_pb2.Revisions(policy=1, identity=2))  # an SA went away
    await asyncio.sleep(0.05)
    assert await gate.authenticate(scope("Bearer tok-bob")) == BOB
    assert fake.tokens == ["tok-bob", "tok-bob"]
    await gate.close()


async def test_rejected_tokens_are_not_cached() -> None:
    fake = FakeAuthz()
    gate = await following(gatekeeper(fake))
    for _ in range(2):
        with pytest.raises(errors.StatusError) as info:
            await gate.authenticate(scope("Bearer wrong"))
        assert info.value.code == 401
    assert fake.tokens == ["wrong", "wrong"]
    await gate.close()


async def test_nothing_is_cached_while_the_revision_stream_is_down() -> None:
    fake = FakeAuthz()
    gate = await following(gatekeeper(fake))
    await gate.authenticate(scope("Bearer tok-bob"))
    fake.revisions.put_nowait(None)  # authz goes away
    await asyncio.sleep(0.05)
    await gate.authenticate(scope("Bearer tok-bob"))
    assert fake.tokens == ["tok-bob", "tok-bob"]
    await gate.close()


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


async def test_decisions_are_cached_per_request_shape() -> None:
    fake = FakeAuthz()
    gate = await following(gatekeeper(fake))
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
    gate = await following(gatekeeper(fake))
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
    gate = await following(gatekeeper(FakeAuthz()))
    for n in range(20):
        user = common_pb2.UserInfo(username="bob", groups=[f"g{n}" + "g" * 100_000])
        await gate.authorize(
            user, parse("GET", f"/api/v1/namespaces/ns/configmaps/{'c' * 100_000}{n}")
        )
    keys = list(gate._decisions._data)
    assert len(keys) == 20
    assert all(isinstance(key, bytes) and len(key) <= 64 for key in keys)


async def test_denials_are_cached_too() -> None:
    fake = FakeAuthz(allowed=False)
    gate = await following(gatekeeper(fake))
    info = parse("GET", "/api/v1/namespaces/ns/configmaps")
    for _ in range(2):
        with pytest.raises(errors.StatusError):
            await gate.authorize(BOB, info)
    assert len(fake.requests) == 1
    await gate.close()


async def test_a_policy_change_makes_older_decisions_stale() -> None:
    fake = FakeAuthz(allowed=False)
    gate = await following(gatekeeper(fake))
    info = parse("GET", "/api/v1/namespaces/ns/configmaps")
    with pytest.raises(errors.StatusError):
        await gate.authorize(BOB, info)
    fake.allowed, fake.policy = True, 2  # a RoleBinding was created at revision 2
    fake.revisions.put_nowait(authz_pb2.Revisions(policy=2, identity=1))
    await asyncio.sleep(0.05)
    await gate.authorize(BOB, info)
    assert len(fake.requests) == 2
    await gate.close()


async def test_the_decision_is_left_in_the_scope_for_audit() -> None:
    request_scope: dict[str, Any] = {}
    gate = gatekeeper(FakeAuthz(reason="RBAC: allowed by ClusterRoleBinding"))
    await gate.authorize(BOB, parse("GET", "/api/v1/pods"), request_scope)
    verdict = request_scope[AUTHORIZATION_KEY]
    assert (verdict.decision, verdict.reason) == ("ALLOW", "RBAC: allowed by ClusterRoleBinding")
    refused: dict[str, Any] = {}
    with pytest.raises(errors.StatusError):
        await gatekeeper(FakeAuthz(allowed=False)).authorize(
            BOB, parse("GET", "/api/v1/pods"), refused
        )
    assert refused[AUTHORIZATION_KEY].decision == "NO_OPINION"


async def test_anonymous_requests_are_authorized_like_any_other() -> None:
    fake = FakeAuthz(allowed=False)
    with pytest.raises(errors.StatusError) as info:
        await gatekeeper(fake).authorize(ANONYMOUS, parse("GET", "/api"))
    assert info.value.message == 'forbidden: User "system:anonymous" cannot get path "/api"'
    assert [r.path for r in fake.requests] == ["/api"]
