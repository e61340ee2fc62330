"""ValidatingAdmissionPolicy through the whole control plane, on real etcd: kube's denial
(422 Invalid, or the validation's reason, with the message as the one cause), params by
name and selector, parameterNotFoundAction, Warn as a ``Warning`` header, variables,
messageExpression, matchConditions, namespace selectors and failurePolicy."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

DEADLINE = 15.0  # waiting for a configuration to arrive at all, not a latency budget
ADMISSION = "/apis/admissionregistration.k8s.io/v1"


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    while not await check():
        assert loop.time() < end, "the configuration did not take effect"
        await asyncio.sleep(0.1)


def configmap(name: str, data: dict[str, str] | None = None, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": data or {},
    }


async def make(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    reply = await api.post(path, json=body)
    assert reply.status_code == 201, reply.text


def policy(name: str, validations: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["configmaps"],
                    }
                ]
            },
            "validations": validations,
            **spec,
        },
    }


def binding(name: str, policy_name: str, actions: list[str], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": policy_name, "validationActions": actions, **spec},
    }


@pytest.fixture
def names() -> Callable[[str], str]:
    suffix = uuid.uuid4().hex[:6]
    return lambda base: f"{base}-{suffix}"


async def _cleanup(api: httpx.AsyncClient, kinds_names: list[tuple[str, str]]) -> None:
    for kind, name in kinds_names:
        await api.delete(f"{ADMISSION}/{kind}/{name}")


async def test_deny_with_kube_text_and_reason(
    control_plane: ControlPlane, names: Callable[[str], str]
) -> None:
    api, ns = control_plane.api, control_plane.namespace
    p, b = names("no-bad"), names("no-bad-binding")
    await make(
        api,
        f"{ADMISSION}/validatingadmissionpolicies",
        policy(
            p,
            [
                {
                    "expression": "!has(object.data) || !('bad' in object.data)",
                    "message": "no bad key",
                },
                {
                    "expression": "object.metadata.name.size() < 20",
                    "messageExpression": "'name ' + object.metadata.name + ' is too long'",
                    "reason": "Forbidden",
                },
            ],
        ),
    )
    await make(api, f"{ADMISSION}/validatingadmissionpolicybindings", binding(b, p, ["Deny"]))
    path = f"/api/v1/namespaces/{ns}/configmaps"
    try:

        async def denied() -> bool:
            reply = await api.post(path, json=configmap(names("x"), {"bad": "1"}))
            if reply.status_code == 201:
                await api.delete(f"{path}/{reply.json()['metadata']['name']}")
                return False
            return True

        await eventually(denied)
        reply = await api.post(path, json=configmap("cm-bad", {"bad": "1"}))
        assert reply.status_code == 422
        message = f"ValidatingAdmissionPolicy '{p}' with binding '{b}' denied request: no bad key"
        assert reply.json() == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f'configmaps "cm-bad" is forbidden: {message}',
            "reason": "Invalid",
            "details": {"name": "cm-bad", "kind": "configmaps", "causes": [{"message": message}]},
            "code": 422,
        }
        # The registry's own validation answers first, as kube validates before
        # validating admission, although the policy's verdict on this object came back
        # with the mutating call already.
        reply = await api.post(path, json=configmap("cm-both", {"bad": "1", "no way!": "x"}))
        assert reply.status_code == 422
        assert reply.json()["message"].startswith('ConfigMap "cm-both" is invalid: data[no way!]')
        long_name = "a-very-long-configmap-name"
        reply = await api.post(path, json=configmap(long_name))
        assert reply.status_code == 403
        assert reply.json()["reason"] == "Forbidden"
        assert reply.json()["message"].endswith(f"denied request: name {long_name} is too long")
        ok = await api.post(path, json=configmap("cm-good", {"good": "1"}))
        assert ok.status_code == 201, ok.text
        # An update is matched too; the object the update would store is checked.
        bad_update = await api.put(f"{path}/cm-good", json={**ok.json(), "data": {"bad": "x"}})
        assert bad_update.status_code == 422
        # Other resources are not matched.
        secret = await api.post(
            f"/api/v1/namespaces/{ns}/secrets",
            json={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {}},
        )
        assert secret.status_code == 201
    finally:
        await _cleanup(
            api, [("validatingadmissionpolicybindings", b), ("validatingadmissionpolicies", p)]
        )
    # Once the binding is gone, nothing is refused.

    async def admitted() -> bool:
        reply = await api.post(path, json=configmap(names("y"), {"bad": "1"}))
        return reply.status_code == 201

    await eventually(admitted)


async def test_params_warn_variables_and_conditions(
    control_plane: ControlPlane, names: Callable[[str], str]
) -> None:
    api, ns = control_plane.api, control_plane.namespace
    p, b, missing = names("max-keys"), names("max-keys-binding"), names("missing-binding")
    limits = names("limits")
    await make(
        api, f"/api/v1/namespaces/{ns}/configmaps", configmap(limits, {"max": "2"}, role="param")
    )
    await make(
        api,
        f"{ADMISSION}/validatingadmissionpolicies",
        policy(
            p,
            [
                {
                    "expression": "variables.keys <= int(params.data.max)",
                    "messageExpression": "'at most ' + params.data.max + ' keys, not ' + "
                    "string(variables.keys)",
                }
            ],
            paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
            variables=[{"name": "keys", "expression": "has(object.data) ? size(object.data) : 0"}],
            matchConditions=[
                {"name": "not-exempt", "expression": "!('exempt' in object.metadata.labels)"}
            ],
        ),
    )
    await make(
        api,
        f"{ADMISSION}/validatingadmissionpolicybindings",
        binding(b, p, ["Warn"], paramRef={"name": limits, "parameterNotFoundAction": "Deny"}),
    )
    path = f"/api/v1/namespaces/{ns}/configmaps"
    big = {"a": "1", "b": "2", "c": "3"}
    try:

        async def warned() -> bool:
            reply = await api.post(path, json=configmap(names("w"), big))
            assert reply.status_code == 201, reply.text
            return "warning" in reply.headers

        await eventually(warned)
        reply = await api.post(path, json=configmap("big", big))
        assert reply.status_code == 201
        assert reply.headers.get_list("warning") == [
            f"299 - \"Validation failed for ValidatingAdmissionPolicy '{p}' with binding "
            f"'{b}': at most 2 keys, not 3\""
        ]
        exempt = await api.post(path, json=configmap("big-exempt", big, exempt="yes"))
        assert exempt.status_code == 201 and "warning" not in exempt.headers
        small = await api.post(path, json=configmap("small", {"a": "1"}))
        assert small.status_code == 201 and "warning" not in small.headers
        # A binding whose param does not exist, with parameterNotFoundAction Deny.
        await make(
            api,
            f"{ADMISSION}/validatingadmissionpolicybindings",
            binding(
                missing,
                p,
                ["Deny"],
                paramRef={"name": "absent", "parameterNotFoundAction": "Deny"},
            ),
        )

        async def refused() -> bool:
            reply = await api.post(path, json=configmap(names("m")))
            return reply.status_code == 422

        await eventually(refused)
        reply = await api.post(path, json=configmap("m"))
        assert reply.json()["message"] == (
            f"configmaps \"m\" is forbidden: ValidatingAdmissionPolicy '{p}' with binding "
            f"'{missing}' denied request: failed to configure binding: no params found for "
            "policy binding with `Deny` parameterNotFoundAction"
        )
    finally:
        await _cleanup(
            api,
            [
                ("validatingadmissionpolicybindings", b),
                ("validatingadmissionpolicybindings", missing),
                ("validatingadmissionpolicies", p),
            ],
        )


async def test_selector_params_and_failure_policy(
    control_plane: ControlPlane, names: Callable[[str], str]
) -> None:
    api, ns = control_plane.api, control_plane.namespace
    p, b = names("forbidden-keys"), names("forbidden-keys-binding")
    for key in ("alpha", "beta"):
        await make(
            api,
            f"/api/v1/namespaces/{ns}/configmaps",
            configmap(names(f"rule-{key}"), {"key": key}, kind="forbidden-key"),
        )
    await make(
        api,
        f"{ADMISSION}/validatingadmissionpolicies",
        policy(
            p,
            [
                {
                    "expression": "!has(object.data) || !(params.data.key in object.data)",
                    "messageExpression": "'key ' + params.data.key + ' is forbidden'",
                },
                # An error: failurePolicy Ignore lets it pass.
                {"expression": "object.data.nope == 'x'"},
            ],
            paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
            failurePolicy="Ignore",
        ),
    )
    await make(
        api,
        f"{ADMISSION}/validatingadmissionpolicybindings",
        binding(
            b,
            p,
            ["Deny"],
            paramRef={
                "selector": {"matchLabels": {"kind": "forbidden-key"}},
                "parameterNotFoundAction": "Allow",
            },
            matchResources={"objectSelector": {"matchLabels": {"checked": "yes"}}},
        ),
    )
    path = f"/api/v1/namespaces/{ns}/configmaps"
    try:

        async def denied() -> bool:
            reply = await api.post(path, json=configmap(names("d"), {"beta": "1"}, checked="yes"))
            return reply.status_code == 422

        await eventually(denied)
        reply = await api.post(path, json=configmap("d", {"beta": "1"}, checked="yes"))
        assert reply.json()["message"].endswith("denied request: key beta is forbidden")
        unchecked = await api.post(path, json=configmap("u", {"beta": "1"}))
        assert unchecked.status_code == 201
        fine = await api.post(path, json=configmap("f", {"gamma": "1"}, checked="yes"))
        assert fine.status_code == 201, fine.text
    finally:
        await _cleanup(
            api, [("validatingadmissionpolicybindings", b), ("validatingadmissionpolicies", p)]
        )


async def test_authorizer_in_expressions(
    control_plane: ControlPlane, names: Callable[[str], str]
) -> None:
    """``authorizer`` asks authz's own authorizer: the admin (system:masters) may delete
    nodes; a ServiceAccount nobody bound may not list pods."""
    api, ns = control_plane.api, control_plane.namespace
    p, b = names("authz"), names("authz-binding")
    await make(
        api,
        f"{ADMISSION}/validatingadmissionpolicies",
        policy(
            p,
            [
                {
                    "expression": "!('check' in object.metadata.labels) || "
                    "!authorizer.group('').resource('nodes').check('delete').allowed()",
                    "message": "node deleters may not write checked configmaps",
                },
                {
                    "expression": "!authorizer.serviceAccount(request.namespace, 'nobody')"
                    ".group('').resource('pods').check('list').allowed()",
                },
                {"expression": "authorizer.requestResource.check('create').allowed()"},
            ],
        ),
    )
    await make(api, f"{ADMISSION}/validatingadmissionpolicybindings", binding(b, p, ["Deny"]))
    path = f"/api/v1/namespaces/{ns}/configmaps"
    try:

        async def denied() -> bool:
            reply = await api.post(path, json=configmap(names("c"), check="1"))
            return reply.status_code == 422

        await eventually(denied)
        reply = await api.post(path, json=configmap("checked", check="1"))
        assert reply.json()["message"].endswith(
            "denied request: node deleters may not write checked configmaps"
        )
        plain = await api.post(path, json=configmap("plain"))
        assert plain.status_code == 201, plain.text
    finally:
        await _cleanup(
            api, [("validatingadmissionpolicybindings", b), ("validatingadmissionpolicies", p)]
        )
