"""The ``authorizer`` of admission CEL (``kapi.cel.library.authz``) answered by authz's
own authorizer: the request's user, or the ServiceAccount an expression names, asked
as kube's admission authorizer asks (``api_version`` "*")."""

from __future__ import annotations

from typing import Any

from kapi.cel.library import authz as cel_authz
from kapi.user import UserInfo
from services.authz import authorization
from services.authz.admission import Attributes, review

Obj = dict[str, Any]
_DECISIONS = {
    authorization.Decision.ALLOW: "allow",
    authorization.Decision.DENY: "deny",
    authorization.Decision.NO_OPINION: "noOpinion",
}


def checker(authorizer: authorization.Authorizer) -> cel_authz.Check:
    def check(user: Obj, asked: Obj) -> tuple[str, str, str]:
        who = UserInfo(
            username=str(user.get("username") or ""),
            uid=str(user.get("uid") or ""),
            groups=tuple(str(g) for g in user.get("groups") or ()),
            extra={k: tuple(v) for k, v in (user.get("extra") or {}).items()},
        )
        path = str(asked.get("path") or "")
        outcome = authorizer.authorize(
            authorization.Attributes(
                user=who,
                verb=str(asked.get("verb") or ""),
                api_group=str(asked.get("group") or ""),
                api_version="*",
                resource=str(asked.get("resource") or ""),
                subresource=str(asked.get("subresource") or ""),
                namespace=str(asked.get("namespace") or ""),
                name=str(asked.get("name") or ""),
                resource_request=not path,
                path=path,
            )
        )
        return _DECISIONS.get(outcome.decision, "deny"), outcome.reason, outcome.error

    return check


def variables(attributes: Attributes) -> Obj:
    """``authorizer`` and ``authorizer.requestResource`` for the request's user."""
    user = review.user_info(attributes.user)
    resource = {
        "group": attributes.group,
        "resource": attributes.resource,
        "subresource": attributes.subresource,
        "namespace": attributes.namespace,
        "name": attributes.name,
    }
    return {
        "authorizer": cel_authz.authorizer(user),
        "authorizer.requestResource": cel_authz.request_resource(user, resource),
    }
