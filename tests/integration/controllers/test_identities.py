"""The controller manager, scheduler and node simulator under RBAC, each as its own user
with only the roles kube gives it: workloads still run end to end, and what none of
their roles grants is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kapi import errors
from kapi.kube.client import ApiClient
from kapi.kube.resources import DEPLOYMENTS, JOBS, NODES, PODS, SERVICES, Resource
from tests.integration.conftest import ControlPlane
from tests.integration.controllers.conftest import connection, eventually

SECRETS = Resource("", "v1", "secrets", "Secret")
CLUSTERROLEBINDINGS = Resource(
    "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False
)


@pytest.fixture
async def as_user(control_plane: ControlPlane) -> AsyncIterator[Any]:
    clients: list[ApiClient] = []

    def make(user: str) -> ApiClient:
        api = ApiClient(connection(control_plane, user))
        clients.append(api)
        return api

    yield make
    for api in clients:
        await api.close()


async def test_a_deployment_and_a_job_run_with_every_component_on_its_own_credential(
    control_plane: ControlPlane, client: ApiClient, controllers: Any, scheduler: Any, nodes: Any
) -> None:
    ns = control_plane.namespace
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    await client.create(
        DEPLOYMENTS,
        ns,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": template,
            },
        },
    )
    job_template = {
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
    }
    await client.create(
        JOBS,
        ns,
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once"},
            "spec": {"template": job_template},
        },
    )

    async def available() -> Any:
        d = await client.get(DEPLOYMENTS, ns, "web")
        return (d.get("status") or {}).get("availableReplicas") == 2

    async def complete() -> Any:
        j = await client.get(JOBS, ns, "once")
        conditions = (j.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Complete" and c["status"] == "True" for c in conditions)

    await eventually(available, timeout=60)
    await eventually(complete, timeout=60)
    pods = (await client.list(PODS, ns, labelSelector="app=web"))["items"]
    assert {p["spec"]["nodeName"] for p in pods} <= {"sim-0", "sim-1"}
    assert all(p["status"]["phase"] == "Running" for p in pods)


@pytest.mark.parametrize(
    ("user", "verb", "resource"),
    [
        # none of kube's controller roles creates Services or Deployments
        ("system:kube-controller-manager", "create", SERVICES),
        ("system:kube-controller-manager", "create", DEPLOYMENTS),
        ("system:kube-controller-manager", "create", CLUSTERROLEBINDINGS),
        # the scheduler binds pods, it does not make them; nor does it touch nodes
        ("system:kube-scheduler", "create", PODS),
        ("system:kube-scheduler", "delete", NODES),
        # a kubelet's role reads no workload objects
        ("system:kapi-node-simulator", "list", DEPLOYMENTS),
        ("system:kapi-node-simulator", "create", SECRETS),
    ],
)
async def test_what_no_role_grants_is_forbidden(
    control_plane: ControlPlane, as_user: Any, user: str, verb: str, resource: Resource
) -> None:
    api: ApiClient = as_user(user)
    ns = control_plane.namespace if resource.namespaced else ""
    body = {"apiVersion": resource.api_version, "kind": resource.kind, "metadata": {"name": "x"}}
    with pytest.raises(errors.StatusError) as refused:
        if verb == "create":
            await api.create(resource, ns, body)
        elif verb == "delete":
            await api.delete(resource, ns, "x")
        else:
            await api.list(resource, ns)
    assert refused.value.code == 403
    assert refused.value.reason == "Forbidden"
    assert f'User "{user}" cannot {verb} resource "{resource.resource}"' in refused.value.message


async def test_each_controller_writes_as_its_own_service_account(
    control_plane: ControlPlane, client: ApiClient, controllers: Any
) -> None:
    """kube's --use-service-account-credentials: kube-system/NAME per controller, whose
    token the controller's client bears (a SelfSubjectReview says who it is)."""
    from kapi.kube.resources import SERVICEACCOUNTS

    whoami = Resource("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview")
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    for name in ("deployment-controller", "generic-garbage-collector", "namespace-controller"):
        answer = await controllers.context.client_for(name).create(whoami, "", review)
        user = answer["status"]["userInfo"]
        assert user["username"] == f"system:serviceaccount:kube-system:{name}"
        assert "system:serviceaccounts:kube-system" in user["groups"]
        account = await client.get(SERVICEACCOUNTS, "kube-system", name)
        assert user["uid"] == account["metadata"]["uid"]
    # the shared informers list and watch as the manager itself
    answer = await controllers.client.create(whoami, "", review)
    assert answer["status"]["userInfo"]["username"] == "system:kube-controller-manager"
