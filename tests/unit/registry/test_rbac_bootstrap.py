"""The bootstrap RBAC policy's reconciliation and ClusterRole aggregation
(services/registry/rbac_bootstrap.py), as kube's reconciliation package and
clusterrole-aggregation controller do them.
"""

from __future__ import annotations

import copy
from typing import Any

from services.authz.authorization.rbac import bootstrap_policy
from services.registry.rbac_bootstrap import (
    aggregated_rules,
    protected,
    reconcile_binding,
    reconcile_role,
    selector_matches,
)

VIEW = next(r for r in bootstrap_policy.CLUSTER_ROLES if r["metadata"]["name"] == "view")
BASIC = next(
    r for r in bootstrap_policy.CLUSTER_ROLES if r["metadata"]["name"] == "system:basic-user"
)
PUBLIC = next(
    b
    for b in bootstrap_policy.CLUSTER_ROLE_BINDINGS
    if b["metadata"]["name"] == "system:public-info-viewer"
)


def stored(obj: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["metadata"]["resourceVersion"] = "7"
    out.update(changes)
    return out


def test_the_policy_has_kubes_objects() -> None:
    names = {r["metadata"]["name"] for r in bootstrap_policy.CLUSTER_ROLES}
    assert {
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:basic-user",
        "system:discovery",
        "system:public-info-viewer",
        "system:kube-controller-manager",
        "system:kube-scheduler",
        "system:node",
    } <= names
    masters = next(
        b
        for b in bootstrap_policy.CLUSTER_ROLE_BINDINGS
        if b["metadata"]["name"] == "cluster-admin"
    )
    assert masters["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}
    ]
    assert PUBLIC["subjects"][1]["name"] == "system:unauthenticated"
    for obj in (*bootstrap_policy.CLUSTER_ROLES, *bootstrap_policy.CLUSTER_ROLE_BINDINGS):
        assert obj["metadata"]["annotations"] == {
            "rbac.authorization.kubernetes.io/autoupdate": "true"
        }
        assert obj["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"


def test_an_up_to_date_role_is_left_alone() -> None:
    assert reconcile_role(stored(BASIC), BASIC) is None


def test_missing_rules_and_labels_are_added_nothing_removed() -> None:
    trimmed = stored(
        BASIC, rules=[BASIC["rules"][0], {"verbs": ["get"], "nonResourceURLs": ["/x"]}]
    )
    trimmed["metadata"]["labels"] = {"mine": "yes", "kubernetes.io/bootstrapping": "changed"}
    result = reconcile_role(trimmed, BASIC)
    assert result is not None
    assert result["rules"] == [*trimmed["rules"], BASIC["rules"][1]]
    # The policy's labels are added; values the object has are its own.
    assert result["metadata"]["labels"] == {"mine": "yes", "kubernetes.io/bootstrapping": "changed"}


def test_aggregation_selectors_are_added() -> None:
    plain = stored(VIEW)
    del plain["aggregationRule"]
    result = reconcile_role(plain, VIEW)
    assert result is not None and result["aggregationRule"] == VIEW["aggregationRule"]


def test_protected_objects_are_the_administrators() -> None:
    mine = stored(BASIC)
    mine["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] = "false"
    assert protected(mine)
    assert not protected(stored(BASIC))


def test_missing_subjects_are_added_and_another_role_means_recreate() -> None:
    fewer = stored(PUBLIC, subjects=PUBLIC["subjects"][:1])
    result, recreate = reconcile_binding(fewer, PUBLIC)
    assert not recreate and result is not None and result["subjects"] == PUBLIC["subjects"]
    assert reconcile_binding(stored(PUBLIC), PUBLIC) == (None, False)
    other_role = stored(PUBLIC, roleRef={**PUBLIC["roleRef"], "name": "something-else"})
    result, recreate = reconcile_binding(other_role, PUBLIC)
    assert recreate and result is not None and result["roleRef"] == PUBLIC["roleRef"]


def role(name: str, labels: dict[str, str], *rules: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}, "rules": list(rules)}


def test_aggregated_rules_gather_selected_roles_in_name_order_once() -> None:
    label = "rbac.authorization.k8s.io/aggregate-to-view"
    reads_pods = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
    reads_crs = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}
    roles = [
        role("z-widgets", {label: "true"}, reads_crs, reads_pods),
        role("a-pods", {label: "true"}, reads_pods),
        role("unlabelled", {}, {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}),
        VIEW,
    ]
    assert aggregated_rules(VIEW, roles) == [reads_pods, reads_crs]


def test_label_selectors() -> None:
    labels = {"a": "1", "b": "2"}
    assert selector_matches({}, labels)
    assert selector_matches({"matchLabels": {"a": "1"}}, labels)
    assert not selector_matches({"matchLabels": {"a": "2"}}, labels)
    expressions = [
        ({"key": "a", "operator": "In", "values": ["1", "3"]}, True),
        ({"key": "a", "operator": "NotIn", "values": ["1"]}, False),
        ({"key": "c", "operator": "NotIn", "values": ["1"]}, True),
        ({"key": "b", "operator": "Exists"}, True),
        ({"key": "b", "operator": "DoesNotExist"}, False),
    ]
    for expression, expected in expressions:
        assert selector_matches({"matchExpressions": [expression]}, labels) is expected
    assert not selector_matches(None, labels)
