"""The AdmissionRequest (admission.k8s.io/v1) of a request, as webhooks receive it and as
CEL's ``request`` variable reads it (kube's ``webhook/request/admissionreview.go`` and
``plugin/cel.CreateAdmissionRequest``)."""

from __future__ import annotations

import uuid
from typing import Any

from kapi.cel import admission as cel
from kapi.user import UserInfo
from services.authz.admission import Attributes, Served

Obj = dict[str, Any]

_OPTIONS_KINDS = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


def user_info(user: UserInfo) -> Obj:
    """authentication/v1 UserInfo (empty fields left out, as kube's omitempty)."""
    out: Obj = {"username": user.username}
    if user.uid:
        out["uid"] = user.uid
    if user.groups:
        out["groups"] = list(user.groups)
    if user.extra:
        out["extra"] = {k: list(v) for k, v in user.extra.items()}
    return out


def options(attributes: Attributes) -> Obj | None:
    """The operation's options: as the request sent them, else the kind alone (with
    ``dryRun``), as kube fills ``request.options``."""
    if attributes.options is not None:
        return attributes.options
    kind = _OPTIONS_KINDS.get(attributes.operation)
    if kind is None:
        return None
    out: Obj = {"kind": kind, "apiVersion": "meta.k8s.io/v1"}
    if attributes.dry_run:
        out["dryRun"] = ["All"]
    return out


def namespace_of(attributes: Attributes) -> str:
    """kube's request namespace: a Namespace's own name for requests on namespaces."""
    if attributes.group == "" and attributes.resource == "namespaces":
        return attributes.name
    return attributes.namespace


def request(
    attributes: Attributes,
    *,
    uid: str = "",
    with_objects: bool = False,
    seen_as: Served | None = None,
    objects: tuple[Obj | None, Obj | None] | None = None,
) -> Obj:
    """The AdmissionRequest; ``with_objects``: with ``object`` and ``oldObject`` (the
    request's, or ``objects``: them in ``seen_as``'s version). ``seen_as``: the
    resource the webhook or policy matched (kube's invocation Kind and Resource), the
    request's own in ``requestKind`` and ``requestResource``."""
    asked = attributes.request_as
    seen = seen_as or asked
    out = cel.request_object(
        uid=uid or str(uuid.uuid4()),
        kind=(seen.group, seen.version, seen.kind),
        resource=(seen.group, seen.version, seen.resource),
        request_kind=(asked.group, asked.version, asked.kind),
        request_resource=(asked.group, asked.version, asked.resource),
        subresource=attributes.subresource,
        name=attributes.name,
        namespace=namespace_of(attributes),
        operation=attributes.operation,
        user=user_info(attributes.user),
        dry_run=attributes.dry_run,
        options=options(attributes),
    )
    if with_objects:
        out["object"], out["oldObject"] = (
            objects if objects is not None else (attributes.object, attributes.old_object)
        )
    return out
