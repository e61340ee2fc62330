"""RBAC escalation prevention: nobody grants, through a role or a binding, more than they
hold themselves — kube's policy-based RBAC storages (``pkg/registry/rbac/{role,
clusterrole,rolebinding,clusterrolebinding}/policybased``, ``escalation_check.go``,
``validation/rule.go`` ``ConfirmNoEscalation``).

kube checks this in the RBAC types' REST storage, before admission; authz holds the
policy it takes, so here it is the first plugin of the mutating chain (it changes
nothing), which the registry calls for every write before validating it:

- a member of ``system:masters`` may do anything;
- a Role or ClusterRole whose rules the caller does not all hold, in the request's
  namespace, is 403 unless the caller may ``escalate`` roles/clusterroles; an
  ``aggregationRule`` (set, or on the role being changed) needs ``*`` on everything;
- a binding needs ``bind`` on its role (in the binding's namespace), or all of the
  role's rules; a missing role is 404;
- an update changing only ``ownerReferences`` or ``finalizers`` is not checked.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from kapi import errors
from kapi.user import UserInfo
from services.authz import authorization
from services.authz.admission import Attributes
from services.authz.authorization.rbac import RBAC
from services.authz.authorization.rbac.index import PolicyIndex
from services.authz.authorization.rules import (
    PolicyRule,
    compact,
    covers,
    go_quote,
    go_quoted_list,
    rules_from_json,
)

GROUP = "rbac.authorization.k8s.io"
ROLES = ("roles", "clusterroles")
BINDINGS = ("rolebindings", "clusterrolebindings")
FULL_AUTHORITY = (
    PolicyRule(("*",), ("*",), ("*",)),
    PolicyRule(("*",), non_resource_urls=("*",)),
)

Obj = dict[str, Any]


def confirm_no_escalation(
    resolver: RBAC, user: UserInfo, namespace: str, rules: Sequence[PolicyRule]
) -> str:
    """ConfirmNoEscalation: "" when ``user``'s rules in ``namespace`` cover ``rules``,
    else kube's message naming what is missing."""
    held = resolver.rules_for(user, namespace)
    owned = (*held.resource_rules, *held.non_resource_rules)
    ok, missing = covers(owned, rules)
    if ok:
        return ""
    described = sorted({rule.compact_string() for rule in compact(missing)})
    message = (
        f"user {go_quote(user.username)} (groups={go_quoted_list(user.groups)}) is attempting "
        "to grant RBAC permissions not currently held:\n" + "\n".join(described)
    )
    if held.errors:
        message += "; resolution errors: [" + " ".join(held.errors) + "]"
    return message


def _only_gc_fields(new: Obj | None, old: Obj | None) -> bool:
    """IsOnlyMutatingGCFields: the objects differ at most in ownerReferences and
    finalizers (and what the server itself keeps: revision, managed fields)."""
    if new is None or old is None:
        return False
    left, right = copy.deepcopy(new), copy.deepcopy(old)
    for obj in (left, right):
        meta = obj.setdefault("metadata", {})
        for key in ("ownerReferences", "finalizers", "resourceVersion", "managedFields"):
            meta.pop(key, None)
    return left == right


def _has_aggregation_rule(role: Obj | None) -> bool:
    rule = (role or {}).get("aggregationRule")
    return isinstance(rule, dict) and bool(rule.get("clusterRoleSelectors"))


class RBACEscalation:
    operations = frozenset({"CREATE", "UPDATE"})

    def __init__(self, index: PolicyIndex, authorizer: authorization.Authorizer) -> None:
        self.resolver = RBAC(index)
        self.index = index
        self.authorizer = authorizer

    def active(self) -> bool:
        return True

    async def admit(self, attributes: Attributes) -> None:
        if attributes.group != GROUP or attributes.subresource:
            return
        if attributes.resource not in ROLES + BINDINGS:
            return
        user = attributes.user
        if user.privileged:  # EscalationAllowed
            return
        obj = attributes.object or {}
        if attributes.resource in ROLES:
            self._check_role(attributes, user, obj)
        else:
            self._check_binding(attributes, user, obj)

    def _allowed(self, user: UserInfo, verb: str, resource: str, name: str, namespace: str) -> bool:
        return self.authorizer.authorize(
            authorization.Attributes(
                user=user,
                verb=verb,
                api_group=GROUP,
                api_version="*",
                resource=resource,
                name=name,
                namespace=namespace,
            )
        ).allowed

    def _check_role(self, attributes: Attributes, user: UserInfo, obj: Obj) -> None:
        # RoleEscalationAuthorized: the escalate verb on what the request names.
        if self._allowed(
            user, "escalate", attributes.resource, attributes.name, attributes.namespace
        ):
            return
        if attributes.operation == "UPDATE" and _only_gc_fields(obj, attributes.old_object):
            return
        message = confirm_no_escalation(
            self.resolver, user, attributes.namespace, rules_from_json(obj.get("rules"))
        )
        if message:
            raise errors.forbidden(attributes.resource, GROUP, attributes.name, message)
        aggregating = _has_aggregation_rule(obj) or (
            attributes.operation == "UPDATE" and _has_aggregation_rule(attributes.old_object)
        )
        # An aggregation rule can gather anything: it takes * on everything.
        if (
            attributes.resource == "clusterroles"
            and aggregating
            and confirm_no_escalation(self.resolver, user, attributes.namespace, FULL_AUTHORITY)
        ):
            raise errors.forbidden(
                "clusterroles",
                GROUP,
                attributes.name,
                "must have cluster-admin privileges to use the aggregationRule",
            )

    def _check_binding(self, attributes: Attributes, user: UserInfo, obj: Obj) -> None:
        if attributes.operation == "UPDATE" and _only_gc_fields(obj, attributes.old_object):
            return
        namespace = attributes.namespace
        ref = obj.get("roleRef")
        ref = ref if isinstance(ref, dict) else {}
        kind, name = str(ref.get("kind") or ""), str(ref.get("name") or "")
        role_resource = {"ClusterRole": "clusterroles", "Role": "roles"}.get(kind)
        # BindingAuthorized: the bind verb on the role, in the binding's namespace.
        if role_resource is not None and self._allowed(
            user, "bind", role_resource, name, namespace
        ):
            return
        rules, problem = self.index.role_reference_rules(kind, name, namespace)
        if problem:
            if role_resource is None:
                raise errors.bad_request(problem)
            raise errors.not_found(role_resource, GROUP, name)
        message = confirm_no_escalation(self.resolver, user, namespace, rules)
        if message:
            raise errors.forbidden(attributes.resource, GROUP, attributes.name, message)
