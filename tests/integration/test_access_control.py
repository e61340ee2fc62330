"""Access control on the in-process control plane: the reviews (JSON and kubectl's
captured Protobuf bodies), TokenRequest and its tokens, RBAC decisions as they change,
anonymous requests, and OIDC discovery — each answered as kube-apiserver answers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ControlPlane

WIRE = Path(__file__).resolve().parents[1] / "data" / "kubectl-1.32-protobuf"
PROTOBUF = "application/vnd.kubernetes.protobuf"
AUTHN = "/apis/authentication.k8s.io/v1"
AUTHZ = "/apis/authorization.k8s.io/v1"
RBAC = "/apis/rbac.authorization.k8s.io/v1"
ISSUER = "https://kubernetes.default.svc.cluster.local"


async def until(
    send: Callable[[], Awaitable[httpx.Response]],
    done: Callable[[httpx.Response], bool],
    deadline: float = 10.0,
) -> httpx.Response:
    """``send()``'s reply once ``done`` says so: an RBAC change takes effect when authz's
    watch has brought it (milliseconds; the deadline only bounds a hang)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        reply = await send()
        if done(reply) or loop.time() > end:
            return reply
        await asyncio.sleep(0.02)


def as_user(name: str, *groups: str) -> dict[str, Any]:
    headers: list[tuple[str, str]] = [("Impersonate-User", name)]
    headers += [("Impersonate-Group", g) for g in groups]
    return {"headers": headers}


async def make_service_account(cp: ControlPlane, name: str) -> dict[str, Any]:
    made = await cp.api.post(
        f"/api/v1/namespaces/{cp.namespace}/serviceaccounts",
        json={"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}},
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


async def request_token(cp: ControlPlane, account: str, **spec: Any) -> httpx.Response:
    return await cp.api.post(
        f"/api/v1/namespaces/{cp.namespace}/serviceaccounts/{account}/token",
        json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
    )


# --- reviews ------------------------------------------------------------------------------


async def test_self_subject_review_from_kubectls_protobuf_body(control_plane: ControlPlane) -> None:
    got = await control_plane.api.post(
        f"{AUTHN}/selfsubjectreviews",
        content=(WIRE / "selfsubjectreviews.bin").read_bytes(),
        headers={"Content-Type": PROTOBUF},
    )
    assert got.status_code == 201, got.text
    body = got.json()
    assert (body["kind"], body["apiVersion"]) == ("SelfSubjectReview", "authentication.k8s.io/v1")
    assert body["status"]["userInfo"] == {
        "username": "kapi-admin",
        "uid": "kapi-admin",
        "groups": ["system:masters", "system:authenticated"],
    }


async def test_self_subject_access_review_from_kubectls_protobuf_body(
    control_plane: ControlPlane,
) -> None:
    cp = control_plane
    body = (WIRE / "selfsubjectaccessreviews.bin").read_bytes()  # can-i create pods -n default
    allowed = await cp.api.post(
        f"{AUTHZ}/selfsubjectaccessreviews", content=body, headers={"Content-Type": PROTOBUF}
    )
    assert allowed.status_code == 201, allowed.text
    assert allowed.json()["status"] == {"allowed": True}
    refused = await cp.api.post(
        f"{AUTHZ}/selfsubjectaccessreviews",
        content=body,
        headers=[("Content-Type", PROTOBUF), ("Impersonate-User", "nobody")],
    )
    assert refused.json()["status"] == {"allowed": False}
    assert refused.json()["spec"]["resourceAttributes"] == {
        "namespace": "default",
        "verb": "create",
        "resource": "pods",
    }


async def test_self_subject_rules_review_from_kubectls_protobuf_body(
    control_plane: ControlPlane,
) -> None:
    got = await control_plane.api.post(
        f"{AUTHZ}/selfsubjectrulesreviews",
        content=(WIRE / "selfsubjectrulesreviews.bin").read_bytes(),
        headers=[("Content-Type", PROTOBUF), ("Impersonate-User", "nobody")],
    )
    assert got.status_code == 201, got.text
    status = got.json()["status"]
    assert status["incomplete"] is False
    assert {
        "verbs": ["create"],
        "apiGroups": ["authentication.k8s.io"],
        "resources": ["selfsubjectreviews"],
    } in status["resourceRules"]
    assert {
        "verbs": ["get"],
        "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"],
    } in status["nonResourceRules"]


async def test_subject_access_review_answers_for_anyone(control_plane: ControlPlane) -> None:
    cp = control_plane
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "system:serviceaccount:kube-system:kube-dns",
            "groups": ["system:serviceaccounts"],
            "resourceAttributes": {"verb": "watch", "resource": "endpoints"},
        },
    }
    got = await cp.api.post(f"{AUTHZ}/subjectaccessreviews", json=review)
    assert got.status_code == 201, got.text
    assert got.json()["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by ClusterRoleBinding "system:kube-dns" of ClusterRole '
        '"system:kube-dns" to ServiceAccount "kube-dns/kube-system"',
    }
    review["spec"]["resourceAttributes"]["verb"] = "delete"  # type: ignore[index]
    got = await cp.api.post(f"{AUTHZ}/subjectaccessreviews", json=review)
    assert got.json()["status"] == {"allowed": False}
    path = {
        **review,
        "spec": {
            "groups": ["system:unauthenticated"],
            "nonResourceAttributes": {"verb": "get", "path": "/version"},
        },
    }
    got = await cp.api.post(f"{AUTHZ}/subjectaccessreviews", json=path)
    assert got.json()["status"]["allowed"] is True


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"resourceAttributes": {"verb": "get"}},
            'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid '
            'value: "": at least one of user or group must be specified',
        ),
        (
            {"user": "bob"},
            'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: '
            'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes '
            "must be specified",
        ),
    ],
)
async def test_subject_access_review_validation(
    control_plane: ControlPlane, spec: dict[str, Any], message: str
) -> None:
    got = await control_plane.api.post(
        f"{AUTHZ}/subjectaccessreviews",
        json={"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec},
    )
    assert got.status_code == 422, got.text
    assert got.json()["message"] == message


async def test_local_subject_access_review_is_bound_to_its_namespace(
    control_plane: ControlPlane,
) -> None:
    cp = control_plane
    url = f"{AUTHZ}/namespaces/{cp.namespace}/localsubjectaccessreviews"
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "LocalSubjectAccessReview",
        "metadata": {"namespace": cp.namespace},
        "spec": {
            "user": "bob",
            "resourceAttributes": {"namespace": cp.namespace, "verb": "get", "resource": "pods"},
        },
    }
    got = await cp.api.post(url, json=review)
    assert got.status_code == 201, got.text
    assert got.json()["status"] == {"allowed": False}
    review["spec"]["resourceAttributes"]["namespace"] = "elsewhere"  # type: ignore[index]
    got = await cp.api.post(url, json=review)
    assert got.status_code == 422
    assert (
        'spec.resourceAttributes.namespace: Invalid value: "elsewhere": must match '
        "metadata.namespace" in got.json()["message"]
    )


async def test_reviews_are_only_created(control_plane: ControlPlane) -> None:
    got = await control_plane.api.get(f"{AUTHZ}/subjectaccessreviews")
    assert got.status_code == 405, got.text


# --- TokenRequest, TokenReview and the tokens themselves -----------------------------------


async def test_a_service_accounts_token_works_until_the_account_is_gone(
    control_plane: ControlPlane,
) -> None:
    cp = control_plane
    account = await make_service_account(cp, "robot")
    issued = await request_token(cp, "robot", audiences=[ISSUER], expirationSeconds=600)
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert (body["kind"], body["metadata"]["name"], body["metadata"]["namespace"]) == (
        "TokenRequest",
        "robot",
        cp.namespace,
    )
    assert body["spec"] == {"audiences": [ISSUER], "expirationSeconds": 600}
    token = body["status"]["token"]
    reviewed = await cp.api.post(
        f"{AUTHN}/tokenreviews",
        json={
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        },
    )
    assert reviewed.status_code == 201, reviewed.text
    status = reviewed.json()["status"]
    assert status["authenticated"] is True
    assert status["audiences"] == [ISSUER]
    user = status["user"]
    assert (user["username"], user["uid"]) == (
        f"system:serviceaccount:{cp.namespace}:robot",
        account["metadata"]["uid"],
    )
    assert user["groups"] == [
        "system:serviceaccounts",
        f"system:serviceaccounts:{cp.namespace}",
        "system:authenticated",
    ]
    async with httpx.AsyncClient(
        base_url=cp.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=20
    ) as robot:
        refused = await robot.get(f"/api/v1/namespaces/{cp.namespace}/configmaps")
        assert refused.status_code == 403
        assert refused.json()["message"] == (
            f'configmaps is forbidden: User "system:serviceaccount:{cp.namespace}:robot" cannot '
            f'list resource "configmaps" in API group "" in the namespace "{cp.namespace}"'
        )
        deleted = await cp.api.delete(f"/api/v1/namespaces/{cp.namespace}/serviceaccounts/robot")
        assert deleted.status_code == 200
        gone = await until(
            lambda: robot.get(f"/api/v1/namespaces/{cp.namespace}/configmaps"),
            lambda r: r.status_code == 401,
        )
        assert gone.status_code == 401
        assert gone.json() == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Unauthorized",
            "reason": "Unauthorized",
            "code": 401,
        }
    reviewed = await cp.api.post(
        f"{AUTHN}/tokenreviews",
        json={
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        },
    )
    assert reviewed.json()["status"] == {"user": {}, "error": 'serviceaccounts "robot" not found'}


async def test_token_request_from_kubectls_protobuf_body(control_plane: ControlPlane) -> None:
    cp = control_plane
    await make_service_account(cp, "sa1")  # the body is kubectl create token sa1
    got = await cp.api.post(
        f"/api/v1/namespaces/{cp.namespace}/serviceaccounts/sa1/token",
        content=(WIRE / "serviceaccounts-token.bin").read_bytes(),
        headers={"Content-Type": PROTOBUF},
    )
    assert got.status_code == 201, got.text
    assert got.json()["spec"]["audiences"] == [ISSUER]
    assert got.json()["spec"]["expirationSeconds"] == 3600


@pytest.mark.parametrize(
    ("spec", "code", "message"),
    [
        (
            {"expirationSeconds": 60},
            422,
            'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid '
            "value: 60: may not specify a duration less than 10 minutes",
        ),
        (
            {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "nope"}},
            404,
            'pods "nope" not found',
        ),
        (
            {"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "x"}},
            400,
            "cannot bind token to object of type /v1, Kind=ConfigMap",
        ),
    ],
)
async def test_token_request_refusals(
    control_plane: ControlPlane, spec: dict[str, Any], code: int, message: str
) -> None:
    cp = control_plane
    await make_service_account(cp, "robot")
    got = await request_token(cp, "robot", **spec)
    assert (got.status_code, got.json()["message"]) == (code, message)
    missing = await request_token(control_plane, "nobody")
    assert (missing.status_code, missing.json()["message"]) == (
        404,
        'serviceaccounts "nobody" not found',
    )


async def test_a_secret_bound_token_dies_with_its_secret(control_plane: ControlPlane) -> None:
    cp = control_plane
    await make_service_account(cp, "robot")
    secret = await cp.api.post(
        f"/api/v1/namespaces/{cp.namespace}/secrets",
        json={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}},
    )
    ref = {
        "kind": "Secret",
        "apiVersion": "v1",
        "name": "s",
        "uid": secret.json()["metadata"]["uid"],
    }
    token = (await request_token(cp, "robot", boundObjectRef=ref)).json()["status"]["token"]
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token},
    }
    assert (await cp.api.post(f"{AUTHN}/tokenreviews", json=review)).json()["status"][
        "authenticated"
    ]
    await cp.api.delete(f"/api/v1/namespaces/{cp.namespace}/secrets/s")
    status = (await cp.api.post(f"{AUTHN}/tokenreviews", json=review)).json()["status"]
    assert status == {"user": {}, "error": "service account token has been invalidated"}
    wrong_uid = {**ref, "uid": "not-its-uid"}
    got = await request_token(cp, "robot", boundObjectRef=wrong_uid)
    assert got.status_code == 404  # the secret is gone


# --- RBAC as it changes ---------------------------------------------------------------------


async def test_a_binding_takes_effect_and_its_removal_too(control_plane: ControlPlane) -> None:
    cp = control_plane
    name = f"reader-{uuid.uuid4().hex[:6]}"
    listing = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    refused = await cp.api.get(listing, **as_user(name))
    assert refused.status_code == 403
    made = await cp.api.post(
        f"{RBAC}/namespaces/{cp.namespace}/rolebindings",
        json={
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [{"kind": "User", "name": name, "apiGroup": "rbac.authorization.k8s.io"}],
        },
    )
    assert made.status_code == 201, made.text
    allowed = await until(
        lambda: cp.api.get(listing, **as_user(name)), lambda r: r.status_code == 200
    )
    assert allowed.status_code == 200
    # view does not write, nor read secrets, nor anything in another namespace.
    assert (
        await cp.api.get(f"/api/v1/namespaces/{cp.namespace}/secrets", **as_user(name))
    ).status_code == 403
    assert (
        await cp.api.get("/api/v1/namespaces/default/configmaps", **as_user(name))
    ).status_code == 403
    await cp.api.delete(f"{RBAC}/namespaces/{cp.namespace}/rolebindings/{name}")
    again = await until(
        lambda: cp.api.get(listing, **as_user(name)), lambda r: r.status_code == 403
    )
    assert again.status_code == 403


async def test_a_custom_role_labelled_for_view_joins_it(control_plane: ControlPlane) -> None:
    cp = control_plane
    name = f"widgets-{uuid.uuid4().hex[:6]}"
    made = await cp.api.post(
        f"{RBAC}/clusterroles",
        json={
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": name,
                "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
            },
            "rules": [{"apiGroups": ["example.com"], "resources": [name], "verbs": ["get"]}],
        },
    )
    assert made.status_code == 201, made.text

    def has_rule(reply: httpx.Response) -> bool:
        return any(name in (r.get("resources") or []) for r in reply.json().get("rules") or [])

    for aggregated in ("view", "edit", "admin"):  # view is in edit, edit in admin
        url = f"{RBAC}/clusterroles/{aggregated}"
        got = await until(lambda url=url: cp.api.get(url), has_rule)  # type: ignore[misc]
        assert has_rule(got), aggregated
    await cp.api.delete(f"{RBAC}/clusterroles/{name}")
    got = await until(lambda: cp.api.get(f"{RBAC}/clusterroles/view"), lambda r: not has_rule(r))
    assert not has_rule(got)


# --- anonymous, discovery of the issuer ----------------------------------------------------


async def test_anonymous_reads_only_public_information(control_plane: ControlPlane) -> None:
    cp = control_plane
    async with httpx.AsyncClient(base_url=cp.base_url, timeout=20) as anonymous:
        for path in ("/version", "/healthz", "/livez", "/readyz"):
            assert (await anonymous.get(path)).status_code == 200, path
        for path, message in (
            ("/api", 'forbidden: User "system:anonymous" cannot get path "/api"'),
            (
                "/api/v1/namespaces",
                'namespaces is forbidden: User "system:anonymous" cannot list resource '
                '"namespaces" in API group "" at the cluster scope',
            ),
            ("/nowhere", 'forbidden: User "system:anonymous" cannot get path "/nowhere"'),
        ):
            got = await anonymous.get(path)
            assert (got.status_code, got.json()["message"]) == (403, message), path
        bad = await anonymous.get("/api", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401


async def test_openid_discovery_for_service_accounts(control_plane: ControlPlane) -> None:
    cp = control_plane
    got = await cp.api.get("/.well-known/openid-configuration")
    assert got.status_code == 200, got.text
    assert got.headers["cache-control"] == "public, max-age=3600"
    document = got.json()
    assert document["issuer"] == ISSUER
    assert document["jwks_uri"].endswith("/openid/v1/jwks")
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    keys = await cp.api.get("/openid/v1/jwks")
    assert keys.headers["content-type"] == "application/jwk-set+json"
    [key] = keys.json()["keys"]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    await make_service_account(cp, "reader")
    token = (await request_token(cp, "reader")).json()["status"]["token"]
    async with httpx.AsyncClient(
        base_url=cp.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=20
    ) as account:
        # system:service-account-issuer-discovery is bound to every ServiceAccount.
        assert (await account.get("/openid/v1/jwks")).status_code == 200
    async with httpx.AsyncClient(base_url=cp.base_url, timeout=20) as anonymous:
        assert (await anonymous.get("/openid/v1/jwks")).status_code == 403
