"""kapi/quota.py: what objects count against quotas, as kube's evaluators count them
(pkg/quota/v1/evaluator/core: pods.go, services.go, persistent_volume_claims.go;
apiserver's quota/v1/generic for ``count/<resource>.<group>``)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from kapi import quota

Obj = dict[str, Any]


def container(name: str = "c", requests: Obj | None = None, limits: Obj | None = None) -> Obj:
    resources: Obj = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"name": name, "image": "nginx", "resources": resources}


def pod(*containers: Obj, **spec: Any) -> Obj:
    return {"metadata": {"name": "p"}, "spec": {"containers": list(containers), **spec}}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            pod(
                container("a", {"cpu": "250m", "memory": "64Mi"}, {"cpu": "1", "memory": "128Mi"}),
                container("b", {"cpu": "250m", "ephemeral-storage": "1Gi"}),
            ),
            {
                "count/pods": "1",
                "pods": "1",
                "cpu": "500m",
                "requests.cpu": "500m",
                "limits.cpu": "1",
                "memory": "64Mi",
                "requests.memory": "64Mi",
                "limits.memory": "128Mi",
                "ephemeral-storage": "1Gi",
                "requests.ephemeral-storage": "1Gi",
            },
        ),
        (  # extended resources count as requests.<name> only; hugepages both ways
            pod(
                container(
                    requests={"nvidia.com/gpu": "2", "hugepages-2Mi": "4Mi"},
                    limits={"nvidia.com/gpu": "2", "hugepages-2Mi": "4Mi"},
                )
            ),
            {
                "count/pods": "1",
                "pods": "1",
                "requests.nvidia.com/gpu": "2",
                "hugepages-2Mi": "4Mi",
                "requests.hugepages-2Mi": "4Mi",
            },
        ),
        (  # init containers raise the sum; the overhead adds
            pod(
                container(requests={"cpu": "100m"}),
                initContainers=[container("i", {"cpu": "1"})],
                overhead={"cpu": "10m"},
            ),
            {"count/pods": "1", "pods": "1", "cpu": "1010m", "requests.cpu": "1010m"},
        ),
        (  # a terminal pod is an object, not compute
            {**pod(container(requests={"cpu": "1"})), "status": {"phase": "Succeeded"}},
            {"count/pods": "1"},
        ),
    ],
)
def test_pod_usage(obj: Obj, expected: dict[str, str]) -> None:
    assert quota.to_json(quota.usage("", "pods", obj)) == dict(sorted(expected.items()))


def test_a_pod_past_its_deletion_grace_is_not_charged() -> None:
    obj = pod(container(requests={"cpu": "1"}))
    obj["metadata"] |= {
        "deletionTimestamp": "2026-01-01T00:00:00Z",
        "deletionGracePeriodSeconds": 30,
    }
    deleted = quota._timestamp("2026-01-01T00:00:00Z")
    assert deleted is not None
    assert "pods" in quota.usage("", "pods", obj, now=deleted + 30)
    assert quota.usage("", "pods", obj, now=deleted + 31) == {"count/pods": 1}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"ports": [{"port": 80}]}, {"services.loadbalancers": "0", "services.nodeports": "0"}),
        (
            {"type": "NodePort", "ports": [{"port": 80}, {"port": 443}]},
            {"services.loadbalancers": "0", "services.nodeports": "2"},
        ),
        (
            {"type": "LoadBalancer", "ports": [{"port": 80}]},
            {"services.loadbalancers": "1", "services.nodeports": "1"},
        ),
        (  # no node ports allocated: only those asked for count
            {
                "type": "LoadBalancer",
                "allocateLoadBalancerNodePorts": False,
                "ports": [{"port": 80}, {"port": 81, "nodePort": 30001}],
            },
            {"services.loadbalancers": "1", "services.nodeports": "1"},
        ),
    ],
)
def test_service_usage(spec: Obj, expected: dict[str, str]) -> None:
    used = quota.to_json(quota.usage("", "services", {"spec": spec}))
    assert used == {"count/services": "1", "services": "1", **expected}


def test_claim_usage_by_storage_class_rounded_up_to_bytes() -> None:
    claim = {
        "metadata": {"name": "c"},
        "spec": {"storageClassName": "gold", "resources": {"requests": {"storage": "1500m"}}},
        "status": {"allocatedResources": {"storage": "1"}},
    }
    assert quota.to_json(quota.usage("", "persistentvolumeclaims", claim)) == {
        "count/persistentvolumeclaims": "1",
        "gold.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
        "gold.storageclass.storage.k8s.io/requests.storage": "2",
        "persistentvolumeclaims": "1",
        "requests.storage": "2",
    }
    claim["metadata"]["annotations"] = {quota.BETA_STORAGE_CLASS: "silver"}
    assert "silver.storageclass.storage.k8s.io/persistentvolumeclaims" in quota.usage(
        "", "persistentvolumeclaims", claim
    )


@pytest.mark.parametrize(
    ("group", "resource", "expected"),
    [
        ("", "configmaps", {"count/configmaps": 1, "configmaps": 1}),
        ("", "secrets", {"count/secrets": 1, "secrets": 1}),
        (
            "",
            "replicationcontrollers",
            {"count/replicationcontrollers": 1, "replicationcontrollers": 1},
        ),
        ("", "resourcequotas", {"count/resourcequotas": 1, "resourcequotas": 1}),
        ("", "serviceaccounts", {"count/serviceaccounts": 1}),
        ("apps", "deployments", {"count/deployments.apps": 1}),
        ("stable.example.com", "widgets", {"count/widgets.stable.example.com": 1}),
    ],
)
def test_object_counts(group: str, resource: str, expected: dict[str, int]) -> None:
    assert quota.usage(group, resource, {"metadata": {"name": "x"}}) == expected


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("count/deployments.apps", ("apps", "deployments")),
        ("count/widgets.stable.example.com", ("stable.example.com", "widgets")),
        ("count/pods", ("", "pods")),
        ("requests.cpu", ("", "pods")),
        ("limits.ephemeral-storage", ("", "pods")),
        ("requests.nvidia.com/gpu", ("", "pods")),
        ("hugepages-1Gi", ("", "pods")),
        ("services.nodeports", ("", "services")),
        ("requests.storage", ("", "persistentvolumeclaims")),
        ("gold.storageclass.storage.k8s.io/requests.storage", ("", "persistentvolumeclaims")),
        ("secrets", ("", "secrets")),
        ("limits.nvidia.com/gpu", None),  # extended resources are quoted as requests only
        ("unknown", None),
    ],
)
def test_evaluated_by(name: str, kind: tuple[str, str] | None) -> None:
    assert quota.evaluated_by(name) == kind


def scoped(*scopes: str, **selector: Any) -> Obj:
    spec: Obj = {"hard": {"pods": "5"}, "scopes": list(scopes)}
    if selector:
        spec["scopeSelector"] = {"matchExpressions": [selector]}
    return {"spec": spec, "status": {"hard": {"pods": "5"}, "used": {"pods": "0"}}}


AFFINITY = {
    "podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"topologyKey": "zone", "namespaceSelector": {}}
        ]
    }
}


@pytest.mark.parametrize(
    ("q", "obj", "expected"),
    [
        (scoped("Terminating"), pod(container(), activeDeadlineSeconds=0), True),
        (scoped("Terminating"), pod(container()), False),
        (scoped("NotTerminating"), pod(container()), True),
        (scoped("BestEffort"), pod(container()), True),
        (scoped("BestEffort"), pod(container(requests={"cpu": "1"})), False),
        # only cpu and memory decide the QoS class
        (scoped("BestEffort"), pod(container(requests={"nvidia.com/gpu": "1"})), True),
        (scoped("NotBestEffort"), pod(container(limits={"memory": "1Gi"})), True),
        (scoped("CrossNamespacePodAffinity"), pod(container(), affinity=AFFINITY), True),
        (scoped("CrossNamespacePodAffinity"), pod(container()), False),
        (
            scoped(scopeName="PriorityClass", operator="In", values=["high"]),
            pod(container(), priorityClassName="high"),
            True,
        ),
        (
            scoped(scopeName="PriorityClass", operator="NotIn", values=["high"]),
            pod(container()),
            True,
        ),
        (scoped(scopeName="PriorityClass", operator="Exists"), pod(container()), False),
        (scoped(scopeName="PriorityClass", operator="DoesNotExist"), pod(container()), True),
    ],
)
def test_pod_scopes(q: Obj, obj: Obj, expected: bool) -> None:
    assert quota.matches(q, "", "pods", obj) is expected


def test_matches_needs_a_counted_resource_and_unscoped_kinds() -> None:
    counted = {"status": {"hard": {"count/secrets": "1"}}}
    assert quota.matches(counted, "", "secrets", {})
    assert not quota.matches(counted, "", "configmaps", {})
    assert not quota.matches({"spec": {"hard": {"secrets": "1"}}}, "", "secrets", {})
    assert not quota.matches(scoped("BestEffort"), "", "secrets", {})


def test_missing_requests_names_each_container() -> None:
    obj = pod(container("a", {"cpu": "1"}), container("b", limits={"cpu": "1"}))
    assert quota.missing_requests(obj, ["requests.cpu", "limits.cpu", "pods"]) == (
        "must specify limits.cpu for: a; requests.cpu for: b"
    )


@pytest.mark.parametrize(
    ("value", "binary", "text"),
    [
        (Fraction(1, 2), False, "500m"),
        (Fraction(2**30), True, "1Gi"),
        (Fraction(3000), False, "3k"),
        (Fraction(-1), False, "-1"),
        (Fraction(0), True, "0"),
    ],
)
def test_format_quantity(value: Fraction, binary: bool, text: str) -> None:
    assert quota.format_quantity(value, binary=binary) == text


def test_quantities_come_from_kapi_quantity() -> None:
    assert quota.parse_list({"cpu": "250m", "memory": "1Gi", "bad": "x"}) == {
        "cpu": Fraction(1, 4),
        "memory": Fraction(2**30),
        "bad": Fraction(0),
    }
