"""RBAC: kube's role-based authorizer (plugin/pkg/auth/authorizer/rbac/rbac.go).

A request is allowed by the first rule, of a role bound to its user, its groups or its
ServiceAccount, that allows it; the reason names that rule's binding. Otherwise there is
no opinion, with the errors met resolving roles as the reason (``RBAC: ...``).
"""

from __future__ import annotations

from kapi.user import UserInfo
from services.authz.authorization import Attributes, Decision, Outcome, Rules, aggregate
from services.authz.authorization.rbac.index import PolicyIndex
from services.authz.authorization.rules import rule_allows


class RBAC:
    def __init__(self, index: PolicyIndex) -> None:
        self.index = index

    def authorize(self, attributes: Attributes) -> Outcome:
        errors: list[str] = []
        for visit in self.index.visit(attributes.user, attributes.namespace):
            if visit.rule is None:
                errors.append(visit.error)
                continue
            if rule_allows(
                visit.rule,
                verb=attributes.verb,
                resource_request=attributes.resource_request,
                api_group=attributes.api_group,
                resource=attributes.resource,
                subresource=attributes.subresource,
                name=attributes.name,
                path=attributes.path,
            ):
                return Outcome(Decision.ALLOW, f"RBAC: allowed by {visit.source}")
        reason = f"RBAC: {aggregate(errors)}" if errors else ""
        return Outcome(Decision.NO_OPINION, reason)

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        """RBACAuthorizer.RulesFor: rules with resources are resource rules, rules with
        URLs non-resource rules (a rule with both is both)."""
        resource = []
        non_resource = []
        errors = []
        for visit in self.index.visit(user, namespace):
            if visit.rule is None:
                errors.append(visit.error)
                continue
            if visit.rule.resources:
                resource.append(visit.rule)
            if visit.rule.non_resource_urls:
                non_resource.append(visit.rule)
        return Rules(
            tuple(resource),
            tuple(non_resource),
            incomplete=False,
            errors=(aggregate(errors),) if errors else (),
        )
