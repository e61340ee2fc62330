"""The gateway's request gate on a real control plane: what a request carries before
its body — credentials, impersonation headers, query parameters — and how many are
served at once. Each hostile case gets kube-apiserver's Status, never a 500, and the
gateway keeps serving.

- ``Authorization: Bearer éé`` (bytes no token has) is 401, as any unknown token.
- ``limit``, ``timeoutSeconds``, ``gracePeriodSeconds`` past int64 are 400 with
  strconv.ParseInt's words (apimachinery's query conversions).
- ``Impersonate-*`` headers make the request run as the impersonated user: a CSR, which
  records its requester, names that user (impersonation.go).
- Past ``--max-mutating-requests-inflight`` a request is refused with 429 and
  Retry-After: 1; system:masters are served anyway; watches are not counted
  (maxinflight.go).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.gateway.app import create_app
from services.gateway.inflight import Limiter
from services.gateway.server import GatewayConfig, build_server
from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

INT64_OVERFLOW = str(2**63)


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


def assert_status(response: httpx.Response, code: int, reason: str, message: str = "") -> None:
    assert response.status_code == code, response.text
    body = response.json()
    assert (body["kind"], body["code"], body["reason"]) == ("Status", code, reason)
    if message:
        assert body["message"] == message


async def grant(cp: ControlPlane, user: str, rules: list[dict[str, Any]]) -> None:
    """A ClusterRole of ``rules`` bound to ``user`` (cluster-wide), made by the admin."""
    name = f"grant-{uuid.uuid4().hex[:8]}"
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole"}
    made = await cp.api.post(
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        json={**role, "metadata": {"name": name}, "rules": rules},
    )
    assert made.status_code == 201, made.text
    bound = await cp.api.post(
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        json={
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        },
    )
    assert bound.status_code == 201, bound.text


async def let_edit(cp: ControlPlane, user: str) -> None:
    """``user`` may edit the test namespace (kube's ``edit`` role), once authz knows."""
    bound = await cp.api.post(
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{cp.namespace}/rolebindings",
        json={
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": f"{user}-edit"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "edit",
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        },
    )
    assert bound.status_code == 201, bound.text
    listed = await until_allowed(
        lambda: cp.api.get(
            f"/api/v1/namespaces/{cp.namespace}/configmaps", headers={"Impersonate-User": user}
        )
    )
    assert listed.status_code == 200, listed.text


async def until_allowed(
    send: Callable[[], Awaitable[httpx.Response]], deadline: float = 10.0
) -> httpx.Response:
    """``send()``'s reply once it is no longer 403: a new binding takes effect when
    authz's watch has brought it (milliseconds; the deadline only bounds a hang)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        reply = await send()
        if reply.status_code != 403 or loop.time() > end:
            return reply
        await asyncio.sleep(0.02)


async def assert_still_serving(cp: ControlPlane) -> None:
    ready = await cp.api.get("/readyz")
    assert ready.status_code == 200, ready.text
    listed = await cp.api.get(f"/api/v1/namespaces/{cp.namespace}/configmaps")
    assert listed.status_code == 200, listed.text


# --- credentials ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        b"Bearer \xc3\xa9\xc3\xa9",  # UTF-8 "éé"
        b"Bearer \xe9\xe9",  # latin-1 "éé"
        b"Bearer \xff\xfe\x80",
    ],
)
async def test_a_token_of_non_ascii_bytes_is_401(
    control_plane: ControlPlane, authorization: bytes
) -> None:
    cp = control_plane
    async with httpx.AsyncClient(base_url=cp.base_url, timeout=20) as anonymous:
        for path in (f"/api/v1/namespaces/{cp.namespace}/configmaps", "/version"):
            got = await anonymous.get(path, headers={"Authorization": authorization})
            assert_status(got, 401, "Unauthorized", "Unauthorized")
    await assert_still_serving(cp)


async def test_another_scheme_is_anonymous(control_plane: ControlPlane) -> None:
    """kube-apiserver 1.32 reads only bearer tokens: ``Basic`` (gone since 1.19) is no
    credential, so the request is the anonymous user's."""
    cp = control_plane
    async with httpx.AsyncClient(base_url=cp.base_url, timeout=20) as anonymous:
        headers = {"Authorization": b"Basic \xe9\xe9"}
        got = await anonymous.get(f"/api/v1/namespaces/{cp.namespace}/configmaps", headers=headers)
        assert_status(
            got,
            403,
            "Forbidden",
            'configmaps is forbidden: User "system:anonymous" cannot list resource '
            f'"configmaps" in API group "" in the namespace "{cp.namespace}"',
        )
        assert (await anonymous.get("/version", headers=headers)).status_code == 200
    await assert_still_serving(cp)


# --- query parameters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        f"limit={INT64_OVERFLOW}",
        f"timeoutSeconds={INT64_OVERFLOW}",
        f"watch=1&timeoutSeconds={INT64_OVERFLOW}",
        f"limit={'9' * 5000}",
    ],
)
async def test_list_integers_past_int64_are_400(control_plane: ControlPlane, query: str) -> None:
    cp = control_plane
    got = await cp.api.get(f"/api/v1/namespaces/{cp.namespace}/configmaps?{query}")
    value = query.rsplit("=", 1)[1]
    assert_status(
        got, 400, "BadRequest", f'strconv.ParseInt: parsing "{value}": value out of range'
    )
    await assert_still_serving(cp)


async def test_int64_max_is_a_valid_limit(control_plane: ControlPlane) -> None:
    cp = control_plane
    got = await cp.api.get(f"/api/v1/namespaces/{cp.namespace}/configmaps?limit={2**63 - 1}")
    assert got.status_code == 200, got.text


async def test_a_delete_with_a_bad_grace_period_deletes_nothing(
    control_plane: ControlPlane,
) -> None:
    cp = control_plane
    collection = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    assert (await cp.api.post(collection, json=configmap("keep"))).status_code == 201
    for grace in (INT64_OVERFLOW, "soon"):
        got = await cp.api.delete(f"{collection}/keep?gracePeriodSeconds={grace}")
        assert_status(got, 400, "BadRequest")
        assert got.json()["message"].startswith(f'strconv.ParseInt: parsing "{grace}": ')
    assert (await cp.api.get(f"{collection}/keep")).status_code == 200
    deleted = await cp.api.delete(f"{collection}/keep?gracePeriodSeconds=0")
    assert deleted.status_code == 200, deleted.text


# --- impersonation --------------------------------------------------------------------------


def csr_request() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")]))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode()


def csr(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {
            "request": csr_request(),
            "signerName": "kubernetes.io/kube-apiserver-client",
            "usages": ["client auth"],
        },
    }


async def test_a_request_runs_as_the_impersonated_user(control_plane: ControlPlane) -> None:
    """The CSR strategy records who asked: the impersonated user, not the caller (whom
    RBAC lets create CSRs)."""
    cp = control_plane
    name = f"imp-{uuid.uuid4().hex[:8]}"
    await grant(
        cp,
        "alice",
        [{"apiGroups": ["certificates.k8s.io"], "resources": ["*"], "verbs": ["*"]}],
    )
    headers = [
        ("Impersonate-User", "alice"),
        ("Impersonate-Group", "devs"),
        ("Impersonate-Group", "ops"),
        ("Impersonate-Uid", "uid-alice"),
        ("Impersonate-Extra-Scopes", "view"),
    ]
    created = await until_allowed(
        lambda: cp.api.post(
            "/apis/certificates.k8s.io/v1/certificatesigningrequests",
            json=csr(name),
            headers=headers,
        )
    )
    assert created.status_code == 201, created.text
    spec = created.json()["spec"]
    assert spec["username"] == "alice"
    assert spec["uid"] == "uid-alice"
    assert spec["groups"] == ["devs", "ops", "system:authenticated"]
    assert spec["extra"] == {"scopes": ["view"]}
    stored = await cp.api.get(f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}")
    assert stored.json()["spec"]["username"] == "alice"
    await cp.api.delete(f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}")


async def test_impersonating_groups_without_a_user_is_400_and_writes_nothing(
    control_plane: ControlPlane,
) -> None:
    cp = control_plane
    collection = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    got = await cp.api.post(
        collection, json=configmap("nobody"), headers={"Impersonate-Group": "system:masters"}
    )
    assert_status(
        got,
        400,
        "BadRequest",
        "requested [{Group  system:masters    }] without impersonating a user",
    )
    assert (await cp.api.get(f"{collection}/nobody")).status_code == 404


# --- max in flight --------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def capped_gateway(
    cp: ControlPlane, *, request_body_timeout: float = 60.0
) -> AsyncIterator[tuple[str, Limiter]]:
    """A second gateway on the same services, serving one mutating and one read-only
    request at a time."""
    limiter = Limiter(read_only=1, mutating=1)
    app = create_app(cp.app.state.peers, inflight=limiter)
    server = build_server(
        app,
        GatewayConfig(
            listen="127.0.0.1:0",
            registry="",
            authz="",
            storage="",
            tls_cert_file="",
            tls_private_key_file="",
            request_body_timeout=request_body_timeout,
        ),
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.port}", limiter
    finally:
        server.should_exit = True
        await serving
        await app.state.hub.close()
        await app.state.gate.close()
        await app.state.types.close()


@pytest.fixture
async def capped(control_plane: ControlPlane) -> AsyncIterator[tuple[str, Limiter]]:
    async with capped_gateway(control_plane) as running:
        yield running


async def wait_until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        while not check():
            await asyncio.sleep(0.02)


async def test_mutating_requests_past_the_cap_get_429(
    control_plane: ControlPlane, capped: tuple[str, Limiter]
) -> None:
    cp = control_plane
    base, limiter = capped
    collection = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    token = cp.api.headers["authorization"]
    alice = {"Authorization": token, "Impersonate-User": "alice"}  # not system:masters
    await let_edit(cp, "alice")
    body_sent = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield b'{"apiVersion": "v1", "kind": "ConfigMap", '
        await body_sent.wait()
        yield b'"metadata": {"name": "slow"}}'

    async with httpx.AsyncClient(base_url=base, timeout=20) as client:
        holding = asyncio.create_task(
            client.post(
                collection,
                content=slow_body(),
                headers={**alice, "Content-Type": "application/json"},
            )
        )
        await wait_until(lambda: limiter.mutating == 1)
        refused = await client.post(collection, json=configmap("refused"), headers=alice)
        assert_status(refused, 429, "TooManyRequests", "Too many requests, please try again later.")
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["details"] == {"retryAfterSeconds": 1}
        # Reads have their own cap; system:masters are served over it; watches are free.
        listed = await client.get(collection, headers=alice)
        assert listed.status_code == 200, listed.text
        admin = await client.post(
            collection, json=configmap("by-admin"), headers={"Authorization": token}
        )
        assert admin.status_code == 201, admin.text
        async with client.stream("GET", f"{collection}?watch=1", headers=alice) as watching:
            assert watching.status_code == 200
            also_listed = await client.get(collection, headers=alice)
            assert also_listed.status_code == 200, also_listed.text
        body_sent.set()
        held = await holding
        assert held.status_code == 201, held.text
        assert limiter.mutating == 0
        served = await client.post(collection, json=configmap("served"), headers=alice)
        assert served.status_code == 201, served.text
    assert (await cp.api.get(f"{collection}/refused")).status_code == 404


async def test_a_body_that_never_ends_gives_its_place_back(
    control_plane: ControlPlane, caplog: pytest.LogCaptureFixture
) -> None:
    """A trickled body would hold its in-flight place for good: the body deadline cuts
    it off, the place is free again, and nothing is logged as a bug."""
    cp = control_plane
    collection = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    alice = {"Authorization": cp.api.headers["authorization"], "Impersonate-User": "alice"}
    await let_edit(cp, "alice")
    never = asyncio.Event()  # set only once the server has hung up

    async def endless_body() -> AsyncIterator[bytes]:
        yield b'{"apiVersion": "v1", '
        await never.wait()
        yield b"}"

    async with (
        capped_gateway(cp, request_body_timeout=0.5) as (base, limiter),
        httpx.AsyncClient(base_url=base, timeout=20) as client,
    ):
        stuck = asyncio.create_task(
            client.post(
                collection,
                content=endless_body(),
                headers={**alice, "Content-Type": "application/json"},
            )
        )
        await wait_until(lambda: limiter.mutating == 1)
        await wait_until(lambda: limiter.mutating == 0)
        never.set()  # the client notices it was hung up on when it writes again
        with pytest.raises(httpx.HTTPError):
            await stuck
        served = await client.post(collection, json=configmap("after"), headers=alice)
        assert served.status_code == 201, served.text
    assert "unhandled error" not in caplog.text
