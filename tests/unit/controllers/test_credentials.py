"""Controllers' ServiceAccount credentials as kube's DynamicControllerClientBuilder gets
them: the account made if missing, a TokenRequest for an hour, renewed at 80 %; a client
that carries that token and no credential of the manager's."""

from __future__ import annotations

from typing import Any, cast

from kapi import errors
from kapi.kube.client import ApiClient
from kapi.kube.connection import Connection
from services.controllers import credentials

Obj = dict[str, Any]


class Root:
    """The manager's own client, as far as the token source uses it."""

    def __init__(self, *, account_exists: bool) -> None:
        self.account_exists = account_exists
        self.calls: list[tuple[str, str]] = []
        self.issued = 0

    async def get(self, res: Any, namespace: str, name: str) -> Obj:
        self.calls.append(("get", f"{namespace}/{name}"))
        if not self.account_exists:
            raise errors.not_found("serviceaccounts", "", name)
        return {}

    async def create(
        self, res: Any, namespace: str, body: Obj, *, subresource: str = "", name: str = ""
    ) -> Obj:
        if subresource == "token":
            self.calls.append(("token", f"{namespace}/{name}"))
            self.issued += 1
            return {"spec": body["spec"], "status": {"token": f"token-{self.issued}"}}
        self.calls.append(("create", f"{namespace}/{body['metadata']['name']}"))
        self.account_exists = True
        return body


async def test_the_account_is_made_then_a_token_asked_for_an_hour() -> None:
    root = Root(account_exists=False)
    now = [1000.0]
    source = credentials.TokenSource(cast(ApiClient, root), "job-controller", clock=lambda: now[0])
    assert await source() == "token-1"
    assert root.calls == [
        ("get", "kube-system/job-controller"),
        ("create", "kube-system/job-controller"),
        ("token", "kube-system/job-controller"),
    ]
    # reused until 80% of the hour has passed, then renewed
    now[0] += 0.8 * 3600 - 1
    assert await source() == "token-1"
    now[0] += 2
    assert await source() == "token-2"
    assert root.calls[-2:] == [
        ("get", "kube-system/job-controller"),
        ("token", "kube-system/job-controller"),
    ]


async def test_a_controller_client_bears_only_its_token() -> None:
    root = Root(account_exists=True)
    connection = Connection(
        server="https://api:6443", ca_pem=b"CA", cert_pem=b"CERT", key_pem=b"KEY", token="mine"
    )
    clients = credentials.ServiceAccountClients(cast(ApiClient, root), connection, "kcm/v1")
    one = clients.client("deployment-controller")
    assert clients.client("deployment-controller") is one
    assert one.connection == Connection(server="https://api:6443", ca_pem=b"CA")
    assert one.user_agent == "kcm/v1/system:serviceaccount:kube-system:deployment-controller"
    assert await one._auth() == {"Authorization": "Bearer token-1"}
    await clients.close()


def test_every_controller_has_its_service_account_and_kube_s_role_for_it() -> None:
    """Each controller kapi runs writes as kube-system/NAME, bound as kube binds it to
    system:controller:NAME — a controller without one would be refused everything."""
    from services.authz.authorization.rbac import bootstrap_policy as policy
    from services.controllers import catalog

    roles = {r["metadata"]["name"] for r in policy.CLUSTER_ROLES}
    bindings = {
        b["metadata"]["name"]: b["subjects"]
        for b in policy.CLUSTER_ROLE_BINDINGS
        if "subjects" in b
    }
    for controller in catalog.CONTROLLERS:
        account = controller.service_account
        assert account, controller.name
        role = f"system:controller:{account}"
        assert role in roles, role
        assert bindings[role] == [
            {"kind": "ServiceAccount", "name": account, "namespace": "kube-system"}
        ]
