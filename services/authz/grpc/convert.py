"""Protobuf <-> domain values for the authz service."""

from __future__ import annotations

from kapi_proto import authz_pb2
from services.authz import authorization
from services.authz.authorization.rules import PolicyRule
from services.authz.client import user_from_pb, user_to_pb

__all__ = ["attributes_from_pb", "rule_from_pb", "rule_to_pb", "user_from_pb", "user_to_pb"]


def attributes_from_pb(request: authz_pb2.AuthorizeRequest) -> authorization.Attributes:
    return authorization.Attributes(
        user=user_from_pb(request.user),
        verb=request.verb,
        api_group=request.api_group,
        api_version=request.api_version,
        resource=request.resource,
        subresource=request.subresource,
        namespace=request.namespace,
        name=request.name,
        resource_request=request.resource_request,
        path=request.path,
    )


def rule_to_pb(rule: PolicyRule) -> authz_pb2.PolicyRule:
    return authz_pb2.PolicyRule(
        verbs=list(rule.verbs),
        api_groups=list(rule.api_groups),
        resources=list(rule.resources),
        resource_names=list(rule.resource_names),
        non_resource_urls=list(rule.non_resource_urls),
    )


def rule_from_pb(rule: authz_pb2.PolicyRule) -> PolicyRule:
    return PolicyRule(
        verbs=tuple(rule.verbs),
        api_groups=tuple(rule.api_groups),
        resources=tuple(rule.resources),
        resource_names=tuple(rule.resource_names),
        non_resource_urls=tuple(rule.non_resource_urls),
    )


PHASES = {authz_pb2.MUTATING: "mutating", authz_pb2.VALIDATING: "validating"}
