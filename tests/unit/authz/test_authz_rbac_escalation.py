"""RBAC escalation prevention (services/authz/admission/rbac_escalation.py), as kube's
policy-based RBAC storages: a role granting more than its author holds is 403 with
kube's message, unless the author may ``escalate``; a binding needs ``bind`` or the
role's rules; an aggregationRule needs everything; system:masters may do anything.
"""

from __future__ import annotations

from typing import Any

import pytest

from kapi import errors
from kapi.user import UserInfo
from services.authz import authorization
from services.authz.admission import Attributes
from services.authz.admission.rbac_escalation import RBACEscalation
from services.authz.authorization.rbac import RBAC
from tests.unit.authz.test_authz_rbac import (
    binding,
    cluster_binding,
    cluster_role,
    index,
    role,
    rule,
)

GROUP = "rbac.authorization.k8s.io"
BOB = UserInfo("bob", groups=("system:authenticated",))


def plugin(**policy: Any) -> RBACEscalation:
    held = index(**policy)
    return RBACEscalation(held, authorization.Union([authorization.PrivilegedGroups(), RBAC(held)]))


def write(
    resource: str,
    obj: dict[str, Any],
    *,
    user: UserInfo = BOB,
    namespace: str = "ns",
    operation: str = "CREATE",
    old: dict[str, Any] | None = None,
) -> Attributes:
    return Attributes(
        operation=operation,
        user=user,
        group=GROUP,
        version="v1",
        kind="",
        resource=resource,
        subresource="",
        namespace=namespace if resource in ("roles", "rolebindings") else "",
        name=obj["metadata"]["name"],
        object=obj,
        old_object=old,
    )


BOB_READS_PODS = {
    "cluster_roles": (cluster_role("pod-reader", rule("get,list", "", "pods")),),
    "role_bindings": (binding("ns", "b", "ClusterRole", "pod-reader", "User:bob"),),
}


async def test_a_role_within_what_the_author_holds_is_fine() -> None:
    await plugin(**BOB_READS_PODS).admit(write("roles", role("ns", "r", rule("get", "", "pods"))))


async def test_a_role_granting_more_is_403_with_kubes_message() -> None:
    with pytest.raises(errors.StatusError) as info:
        await plugin(**BOB_READS_PODS).admit(
            write("roles", role("ns", "r", rule("get,delete", "", "pods,secrets")))
        )
    err = info.value
    assert (err.code, err.reason) == (403, "Forbidden")
    assert err.message == (
        'roles.rbac.authorization.k8s.io "r" is forbidden: user "bob" '
        '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not '
        "currently held:\n"
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}'
    )
    assert err.details == {"name": "r", "group": GROUP, "kind": "roles"}


async def test_rules_held_in_another_namespace_do_not_count() -> None:
    with pytest.raises(errors.StatusError):
        await plugin(**BOB_READS_PODS).admit(
            write("roles", role("other", "r", rule("get", "", "pods")), namespace="other")
        )


async def test_escalate_lets_anything_through() -> None:
    escalating = {
        "cluster_roles": (cluster_role("esc", rule("escalate", GROUP, "roles")),),
        "role_bindings": (binding("ns", "b", "ClusterRole", "esc", "User:bob"),),
    }
    await plugin(**escalating).admit(write("roles", role("ns", "r", rule("*", "*", "*"))))


async def test_system_masters_are_never_checked() -> None:
    root = UserInfo("root", groups=("system:masters",))
    await plugin().admit(write("clusterroles", cluster_role("all", rule("*", "*", "*")), user=root))


async def test_an_aggregation_rule_needs_everything() -> None:
    admin_like = {
        "cluster_roles": (cluster_role("ns-admin", rule("*", "*", "*")),),
        "role_bindings": (binding("ns", "b", "ClusterRole", "ns-admin", "User:bob"),),
    }
    aggregated = {
        **cluster_role("agg"),
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]},
    }
    with pytest.raises(errors.StatusError) as info:
        await plugin(**admin_like).admit(write("clusterroles", aggregated))
    assert info.value.message == (
        'clusterroles.rbac.authorization.k8s.io "agg" is forbidden: must have '
        "cluster-admin privileges to use the aggregationRule"
    )
    everything = {
        "cluster_roles": (cluster_role("all", rule("*", "*", "*"), rule("*", urls="*")),),
        "cluster_role_bindings": (cluster_binding("b", "all", "User:bob"),),
    }
    await plugin(**everything).admit(write("clusterroles", aggregated))


async def test_a_binding_needs_bind_or_the_roles_rules() -> None:
    edit_binding = binding("ns", "e", "ClusterRole", "editor", "User:alice")
    policy = {
        "cluster_roles": (
            cluster_role("editor", rule("*", "", "pods,configmaps")),
            cluster_role("pod-reader", rule("get,list", "", "pods")),
            cluster_role("binder", rule("bind", GROUP, "clusterroles", names="editor")),
        ),
        "role_bindings": (binding("ns", "b", "ClusterRole", "pod-reader", "User:bob"),),
    }
    with pytest.raises(errors.StatusError) as info:
        await plugin(**policy).admit(write("rolebindings", edit_binding))
    assert info.value.message.startswith(
        'rolebindings.rbac.authorization.k8s.io "e" is forbidden: user "bob" '
    )
    # Binding what one holds is fine.
    await plugin(**policy).admit(
        write("rolebindings", binding("ns", "r", "ClusterRole", "pod-reader", "User:alice"))
    )
    # So is binding with the bind verb on that role, in the binding's namespace.
    may_bind = {
        **policy,
        "role_bindings": (
            *policy["role_bindings"],
            binding("ns", "c", "ClusterRole", "binder", "User:bob"),
        ),
    }
    await plugin(**may_bind).admit(write("rolebindings", edit_binding))


async def test_binding_a_missing_role_is_404() -> None:
    with pytest.raises(errors.StatusError) as info:
        await plugin(**BOB_READS_PODS).admit(
            write("rolebindings", binding("ns", "x", "Role", "nope", "User:bob"))
        )
    assert (info.value.code, info.value.message) == (
        404,
        'roles.rbac.authorization.k8s.io "nope" not found',
    )


async def test_an_update_of_owner_references_or_finalizers_alone_is_not_checked() -> None:
    old = role("ns", "r", rule("*", "*", "*"))
    new = role("ns", "r", rule("*", "*", "*"))
    new["metadata"]["finalizers"] = ["example.com/keep"]
    await plugin().admit(write("roles", new, operation="UPDATE", old=old))
    changed = role("ns", "r", rule("*", "*", "*"))
    changed["metadata"]["labels"] = {"x": "y"}
    with pytest.raises(errors.StatusError):
        await plugin().admit(write("roles", changed, operation="UPDATE", old=old))
