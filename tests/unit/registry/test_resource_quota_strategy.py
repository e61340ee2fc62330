"""ResourceQuota validation as kube's ValidateResourceQuota / ValidateResourceQuotaUpdate
(pkg/apis/core/validation; the tables of pkg/apis/core/helper), through the registry's
create and update pipelines."""

from __future__ import annotations

from typing import Any

import pytest
from test_registry_strategies_builtin import causes, create, invalid, update

Obj = dict[str, Any]


def quota(**spec: Any) -> Obj:
    return {"metadata": {"name": "q"}, "spec": spec}


@pytest.mark.parametrize(
    "spec",
    [
        {"hard": {"pods": "10", "requests.cpu": "2", "limits.memory": "1Gi"}},
        {
            "hard": {
                "count/deployments.apps": "2",
                "count/widgets.stable.example.com": "1",
                "requests.nvidia.com/gpu": "4",
                "gold.storageclass.storage.k8s.io/requests.storage": "500Gi",
                "hugepages-2Mi": "1Gi",
                "services.nodeports": "0",
            }
        },
        {"hard": {"pods": "1", "requests.cpu": "1"}, "scopes": ["NotBestEffort", "Terminating"]},
        {"hard": {"pods": "1"}, "scopes": ["BestEffort"]},
        {
            "hard": {"pods": "1"},
            "scopeSelector": {
                "matchExpressions": [
                    {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]},
                    {"scopeName": "CrossNamespacePodAffinity", "operator": "Exists"},
                ]
            },
        },
    ],
)
def test_valid_quotas(spec: Obj) -> None:
    create("v1", "resourcequotas", quota(**spec))


SCOPES = '[]core.ResourceQuotaScope{"BestEffort", "NotBestEffort"}'


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"hard": {"foo": "1"}},
            [
                'spec.hard[foo]: Invalid value: "foo": must be a standard resource type or '
                "fully qualified",
                'spec.hard[foo]: Invalid value: "foo": must be a standard resource for quota',
            ],
        ),
        (
            {"hard": {"storage": "1Gi"}},
            ['spec.hard[storage]: Invalid value: "storage": must be a standard resource for quota'],
        ),
        (
            {"hard": {"pods": "1500m"}},
            ['spec.hard[pods]: Invalid value: "1500m": must be an integer'],
        ),
        (
            {"hard": {"cpu": "-1"}},
            ['spec.hard[cpu]: Invalid value: "-1": must be greater than or equal to 0'],
        ),
        (
            {"hard": {"pods": "1"}, "scopes": ["BestEffort", "NotBestEffort"]},
            [f"spec.scopes: Invalid value: {SCOPES}: conflicting scopes"],
        ),
        (
            {"hard": {"configmaps": "1"}, "scopes": ["Terminating"]},
            [
                'spec.scopes: Invalid value: []core.ResourceQuotaScope{"Terminating"}: '
                "unsupported scope applied to resource"
            ],
        ),
        (
            {"hard": {"requests.cpu": "1"}, "scopes": ["BestEffort"]},
            [
                'spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort"}: '
                "unsupported scope applied to resource"
            ],
        ),
        (
            {"hard": {"pods": "1"}, "scopes": ["Sometimes"]},
            [
                'spec.scopes: Invalid value: []core.ResourceQuotaScope{"Sometimes"}: '
                "unsupported scope"
            ],
        ),
        (
            {
                "hard": {"pods": "1"},
                "scopeSelector": {
                    "matchExpressions": [{"scopeName": "Terminating", "operator": "DoesNotExist"}]
                },
            },
            [
                'spec.scopeSelector.matchExpressions.operator: Invalid value: "DoesNotExist": '
                "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, "
                "ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, "
                "ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"
            ],
        ),
        (
            {
                "hard": {"pods": "1"},
                "scopeSelector": {
                    "matchExpressions": [{"scopeName": "PriorityClass", "operator": "In"}]
                },
            },
            [
                "spec.scopeSelector.matchExpressions.values: Required value: must be at least one "
                "value when `operator` is 'In' or 'NotIn' for scope selector"
            ],
        ),
        (
            {
                "hard": {"services": "1"},
                "scopeSelector": {
                    "matchExpressions": [{"scopeName": "PriorityClass", "operator": "Exists"}]
                },
            },
            [
                "spec.scopeSelector.matchExpressions: Invalid value: core.ScopeSelector{"
                "MatchExpressions:[]core.ScopedResourceSelectorRequirement{"
                'core.ScopedResourceSelectorRequirement{ScopeName:"PriorityClass", '
                'Operator:"Exists", Values:[]string(nil)}}}: unsupported scope applied to resource'
            ],
        ),
    ],
)
def test_invalid_quotas(spec: Obj, expected: list[str]) -> None:
    assert invalid("v1", "resourcequotas", quota(**spec)) == expected


def test_scopes_are_immutable() -> None:
    old = create("v1", "resourcequotas", quota(hard={"pods": "1"}, scopes=["BestEffort"]))
    old["metadata"]["resourceVersion"] = "1"

    def change(new: Obj) -> None:
        new["spec"]["scopes"] = ["NotBestEffort"]

    assert causes(lambda: update("v1", "resourcequotas", old, change)) == [
        'spec.scopes: Invalid value: []core.ResourceQuotaScope{"NotBestEffort"}: field is immutable'
    ]
