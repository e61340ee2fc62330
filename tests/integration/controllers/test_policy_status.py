"""ValidatingAdmissionPolicy status on the real etcd: the
validatingadmissionpolicy-status controller (in process, a gateway client under its own
ServiceAccount) type checks each policy generation against the schemas the server
publishes — built-in kinds and custom resources alike — as kube-controller-manager does
(pkg/controller/validatingadmissionpolicystatus, admission/plugin/policy/validating/
typechecking.go)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kapi.kube.client import ApiClient
from kapi.kube.resources import Resource
from services.controllers.policystatus import POLICIES
from services.controllers.server import ControllersConfig, LeaderElection, create_server
from tests.crds import simple_crd
from tests.integration.conftest import ControlPlane
from tests.integration.controllers.conftest import connection, eventually

pytestmark = pytest.mark.integration

CRDS = Resource(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "CustomResourceDefinition",
    namespaced=False,
)
Obj = dict[str, Any]


@pytest.fixture
async def status_controller(control_plane: ControlPlane) -> AsyncIterator[Any]:
    running = await create_server(
        ControllersConfig(
            connection=connection(control_plane, "system:kube-controller-manager"),
            controllers=("validatingadmissionpolicy-status-controller",),
            leader_election=LeaderElection(enabled=False),
            identity="test",
        )
    )
    yield running
    await running.close()


def policy(name: str, validations: list[Obj], **spec: Any) -> Obj:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["apps"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["deployments", "replicasets"],
                    }
                ]
            },
            "validations": validations,
            **spec,
        },
    }


def limits_crd(group: str) -> Obj:
    schema = {"type": "object", "properties": {"maxReplicas": {"type": "integer"}}}
    return simple_crd(group, "limits", "Limit", schema, scope="Cluster")


async def checked(client: ApiClient, name: str, generation: int) -> Obj:
    async def done() -> Any:
        status = (await client.get(POLICIES, "", name)).get("status") or {}
        return status if status.get("observedGeneration") == generation else None

    found: Obj = await eventually(done)
    return found


def replicas_issue(kind: str) -> str:
    return (
        f"apps/v1, Kind={kind}: ERROR: <input>:1:7: undefined field 'replicas'\n"
        " | object.replicas > 1\n"
        " | ......^\n"
    )


async def test_type_checking_against_every_matched_kind_and_the_params_kind(
    control_plane: ControlPlane, client: ApiClient, status_controller: Any
) -> None:
    group = f"p{uuid.uuid4().hex[:8]}.example.com"
    await client.create(CRDS, "", limits_crd(group))
    name = f"replicas-{uuid.uuid4().hex[:6]}.example.com"
    created = await client.create(
        POLICIES,
        "",
        policy(
            name,
            [
                {"expression": "object.replicas > 1"},
                {
                    "expression": "object.spec.replicas <= params.maxReplica",
                    "messageExpression": "'at most ' + string(params.maxReplicas)",
                },
                {"expression": "object.spec.replicas > 0"},
                {
                    "expression": "object.spec.replicas <= params.maxReplicas",
                    "messageExpression": "'at most ' + params.maxReplicas",
                },
            ],
            paramKind={"apiVersion": f"{group}/v1", "kind": "Limit"},
        ),
    )
    assert created["metadata"]["generation"] == 1
    status = await checked(client, name, 1)
    assert status["typeChecking"]["expressionWarnings"] == [
        {
            "fieldRef": "spec.validations[0].expression",
            "warning": replicas_issue("Deployment") + "\n" + replicas_issue("ReplicaSet"),
        },
        {
            "fieldRef": "spec.validations[1].expression",
            "warning": "\n".join(
                f"apps/v1, Kind={kind}: ERROR: <input>:1:31: undefined field 'maxReplica'\n"
                " | object.spec.replicas <= params.maxReplica\n"
                f" | {'.' * 30}^\n"
                for kind in ("Deployment", "ReplicaSet")
            ),
        },
        {
            # the custom resource's schema types params.maxReplicas as an int
            "fieldRef": "spec.validations[3].messageExpression",
            "warning": "\n".join(
                f"apps/v1, Kind={kind}: ERROR: <input>:1:12: found no matching overload for "
                "'_+_' applied to '(string, int)'\n"
                " | 'at most ' + params.maxReplicas\n"
                f" | {'.' * 11}^\n"
                for kind in ("Deployment", "ReplicaSet")
            ),
        },
    ]

    # A new generation is checked again; a clean one says so with an empty typeChecking.
    current = await client.get(POLICIES, "", name)
    current["spec"]["validations"] = [{"expression": "object.spec.replicas > 1"}]
    updated = await client.update(POLICIES, current)
    assert updated["metadata"]["generation"] == 2
    status = await checked(client, name, 2)
    assert status["typeChecking"] == {}
    await client.delete(POLICIES, "", name)
    await client.delete(CRDS, "", f"limits.{group}")


async def test_wildcards_and_unknown_kinds_are_not_checked(
    control_plane: ControlPlane, client: ApiClient, status_controller: Any
) -> None:
    name = f"wild-{uuid.uuid4().hex[:6]}.example.com"
    body = policy(name, [{"expression": "object.nothing == 1"}])
    body["spec"]["matchConstraints"]["resourceRules"] = [
        {"apiGroups": ["*"], "apiVersions": ["v1"], "operations": ["*"], "resources": ["*"]},
        {
            "apiGroups": ["nope.example.com"],
            "apiVersions": ["v1"],
            "operations": ["CREATE"],
            "resources": ["things"],
        },
    ]
    await client.create(POLICIES, "", body)
    status = await checked(client, name, 1)
    assert status["typeChecking"] == {}
    await client.delete(POLICIES, "", name)
