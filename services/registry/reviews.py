"""The reviews and TokenRequest: creates that ask authz a question and answer it, storing
nothing (kube's ``pkg/registry/authentication/{tokenreview,selfsubjectreview}``,
``pkg/registry/authorization/{subjectaccessreview,localsubjectaccessreview,
selfsubjectaccessreview,selfsubjectrulesreview}`` and
``pkg/registry/core/serviceaccount/storage/token.go``).

Each answers 201 with the object it was sent, ``status`` filled in: TokenReview who a
token is (``kubectl``-less clients: the official client's ``create_token_review``);
SelfSubjectReview who the caller is (``kubectl auth whoami``); SubjectAccessReview,
LocalSubjectAccessReview and SelfSubjectAccessReview whether someone may do something
(``kubectl auth can-i``); SelfSubjectRulesReview what the caller may do in a namespace
(``kubectl auth can-i --list``). TokenRequest (``POST serviceaccounts/NAME/token``,
``kubectl create token``) has authz sign a token for an existing ServiceAccount, bound
to a Pod, Secret or Node when asked.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from kapi import errors
from kapi.errors import FieldError
from kapi.user import UserInfo
from services.registry.ports import AccessPort, AccessQuestion, Where

if TYPE_CHECKING:
    from services.registry.service import Registry, Target

Obj = dict[str, Any]

AUTHENTICATION = "authentication.k8s.io"
AUTHORIZATION = "authorization.k8s.io"
DEFAULT_TOKEN_SECONDS = 3600  # SetDefaults_TokenRequestSpec
MIN_TOKEN_SECONDS = 600  # authentication/validation MinTokenAgeSec
MAX_TOKEN_SECONDS = 1 << 32


def _access(registry: Registry) -> AccessPort:
    if registry.access is None:
        raise errors.service_unavailable("access reviews are not available")
    return registry.access


def _answer(obj: Obj, api_version: str, kind: str, status: Obj) -> bytes:
    """The review as sent, typed, with a ``creationTimestamp`` (null, as kube writes an
    unset one) and its status."""
    out: Obj = {"kind": kind, "apiVersion": api_version}
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    out["metadata"] = {**(meta or {}), "creationTimestamp": (meta or {}).get("creationTimestamp")}
    out["spec"] = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    out["status"] = status
    return orjson.dumps(out)


def _user_json(user: UserInfo) -> Obj:
    """authentication/v1 UserInfo (every field omitempty)."""
    out: Obj = {}
    if user.username:
        out["username"] = user.username
    if user.uid:
        out["uid"] = user.uid
    if user.groups:
        out["groups"] = list(user.groups)
    if user.extra:
        out["extra"] = {key: list(values) for key, values in user.extra.items()}
    return out


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


# --- authentication.k8s.io ---------------------------------------------------------------


async def token_review(registry: Registry, target: Target, obj: Obj, *, dry_run: bool) -> bytes:
    spec = _spec(obj)
    token = spec.get("token") if isinstance(spec.get("token"), str) else ""
    if not token:
        raise errors.bad_request("token is required for TokenReview in authentication")
    result = await _access(registry).review_token(token, tuple(_strings(spec.get("audiences"))))
    status: Obj = {}
    if result.user is not None:
        status["authenticated"] = True
        status["user"] = _user_json(result.user)
    else:
        status["user"] = {}
    if result.audiences and result.user is not None:
        status["audiences"] = list(result.audiences)
    if result.error:
        status["error"] = result.error
    return _answer(obj, f"{AUTHENTICATION}/v1", "TokenReview", status)


async def self_subject_review(
    registry: Registry, target: Target, obj: Obj, *, dry_run: bool
) -> bytes:
    user = _caller(target)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return orjson.dumps(
        {
            "kind": "SelfSubjectReview",
            "apiVersion": f"{AUTHENTICATION}/v1",
            "metadata": {"creationTimestamp": stamp},
            "status": {"userInfo": _user_json(user)},
        }
    )


def _caller(target: Target) -> UserInfo:
    if target.user is None:
        raise errors.bad_request("no user present on request")
    return target.user


# --- authorization.k8s.io ----------------------------------------------------------------


def _go_value(value: Any) -> str:
    """How a field error shows a structure it refuses (Go prints the pointer's value)."""
    return orjson.dumps(value).decode() if value is not None else "null"


def _validate_spec(spec: Obj, *, needs_subject: bool) -> list[FieldError]:
    """ValidateSubjectAccessReviewSpec / ValidateSelfSubjectAccessReviewSpec."""
    out: list[FieldError] = []
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if resource is not None and non_resource is not None:
        out.append(
            errors.invalid_value(
                "spec.nonResourceAttributes",
                _go_value(non_resource),
                "cannot be specified in combination with resourceAttributes",
            )
        )
    if resource is None and non_resource is None:
        out.append(
            errors.invalid_value(
                "spec.resourceAttributes",
                "null",
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )
        )
    if needs_subject and not spec.get("user") and not spec.get("groups"):
        out.append(
            errors.invalid_value(
                "spec.user",
                spec.get("user") or "",
                "at least one of user or group must be specified",
            )
        )
    return out


def _metadata_must_be_empty(obj: Obj, *, but_namespace: bool = False) -> list[FieldError]:
    found = obj.get("metadata")
    meta = dict(found) if isinstance(found, dict) else {}
    for key in ("creationTimestamp", "managedFields"):
        if meta.get(key) in (None, [], ""):
            meta.pop(key, None)
    if but_namespace:
        meta.pop("namespace", None)
    if not meta:
        return []
    detail = "must be empty except for namespace" if but_namespace else "must be empty"
    return [errors.invalid_value("metadata", _go_value(meta), detail)]


def _question(user: UserInfo, spec: Obj) -> AccessQuestion:
    """ResourceAttributesFrom / NonResourceAttributesFrom (an empty version is "*")."""
    resource = spec.get("resourceAttributes")
    if isinstance(resource, dict):
        return AccessQuestion(
            user=user,
            verb=str(resource.get("verb") or ""),
            resource_request=True,
            group=str(resource.get("group") or ""),
            version=str(resource.get("version") or "") or "*",
            resource=str(resource.get("resource") or ""),
            subresource=str(resource.get("subresource") or ""),
            namespace=str(resource.get("namespace") or ""),
            name=str(resource.get("name") or ""),
        )
    non_resource = spec.get("nonResourceAttributes")
    non_resource = non_resource if isinstance(non_resource, dict) else {}
    return AccessQuestion(
        user=user,
        verb=str(non_resource.get("verb") or ""),
        resource_request=False,
        path=str(non_resource.get("path") or ""),
    )


async def _decide(registry: Registry, question: AccessQuestion) -> Obj:
    answer = await _access(registry).review_access(question)
    status: Obj = {"allowed": answer.allowed}
    if answer.denied:
        status["denied"] = True
    if answer.reason:
        status["reason"] = answer.reason
    if answer.evaluation_error:
        status["evaluationError"] = answer.evaluation_error
    return status


def _subject(spec: Obj) -> UserInfo:
    """The user a SubjectAccessReview asks about, from its spec."""
    extra = spec.get("extra") if isinstance(spec.get("extra"), dict) else {}
    return UserInfo(
        username=str(spec.get("user") or ""),
        uid=str(spec.get("uid") or ""),
        groups=tuple(_strings(spec.get("groups"))),
        extra={str(k): tuple(_strings(v)) for k, v in (extra or {}).items()},
    )


async def subject_access_review(
    registry: Registry, target: Target, obj: Obj, *, dry_run: bool
) -> bytes:
    spec = _spec(obj)
    problems = _metadata_must_be_empty(obj) + _validate_spec(spec, needs_subject=True)
    if problems:
        raise errors.invalid("SubjectAccessReview", AUTHORIZATION, "", problems)
    status = await _decide(registry, _question(_subject(spec), spec))
    return _answer(obj, f"{AUTHORIZATION}/v1", "SubjectAccessReview", status)


async def local_subject_access_review(
    registry: Registry, target: Target, obj: Obj, *, dry_run: bool
) -> bytes:
    namespace = target.namespace
    if not namespace:
        raise errors.bad_request(f"namespace is required on this type: {namespace}")
    spec = _spec(obj)
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    review_namespace = str((meta or {}).get("namespace") or "")
    problems = _validate_spec(spec, needs_subject=True) + _metadata_must_be_empty(
        obj, but_namespace=True
    )
    resource = spec.get("resourceAttributes")
    if isinstance(resource, dict) and str(resource.get("namespace") or "") != review_namespace:
        problems.append(
            errors.invalid_value(
                "spec.resourceAttributes.namespace",
                str(resource.get("namespace") or ""),
                "must match metadata.namespace",
            )
        )
    if spec.get("nonResourceAttributes") is not None:
        problems.append(
            errors.invalid_value(
                "spec.nonResourceAttributes",
                _go_value(spec.get("nonResourceAttributes")),
                "disallowed on this kind of request",
            )
        )
    if problems:
        raise errors.invalid("LocalSubjectAccessReview", AUTHORIZATION, "", problems)
    if review_namespace != namespace:
        raise errors.bad_request(
            f"spec.resourceAttributes.namespace must match namespace: {namespace}"
        )
    status = await _decide(registry, _question(_subject(spec), spec))
    return _answer(obj, f"{AUTHORIZATION}/v1", "LocalSubjectAccessReview", status)


async def self_subject_access_review(
    registry: Registry, target: Target, obj: Obj, *, dry_run: bool
) -> bytes:
    spec = _spec(obj)
    problems = _metadata_must_be_empty(obj) + _validate_spec(spec, needs_subject=False)
    if problems:
        raise errors.invalid("SelfSubjectAccessReview", AUTHORIZATION, "", problems)
    status = await _decide(registry, _question(_caller(target), spec))
    return _answer(obj, f"{AUTHORIZATION}/v1", "SelfSubjectAccessReview", status)


async def self_subject_rules_review(
    registry: Registry, target: Target, obj: Obj, *, dry_run: bool
) -> bytes:
    user = _caller(target)
    namespace = str(_spec(obj).get("namespace") or "")
    if not namespace:
        raise errors.bad_request("no namespace on request")
    held = await _access(registry).rules_for(user, namespace)
    status: Obj = {
        "resourceRules": held.resource_rules,
        "nonResourceRules": held.non_resource_rules,
        "incomplete": held.incomplete,
    }
    if held.evaluation_error:
        status["evaluationError"] = held.evaluation_error
    return orjson.dumps(
        {
            "kind": "SelfSubjectRulesReview",
            "apiVersion": f"{AUTHORIZATION}/v1",
            "metadata": {"creationTimestamp": None},
            "spec": {},
            "status": status,
        }
    )


# --- TokenRequest ------------------------------------------------------------------------

_BOUND_KINDS = {"Pod": ("pods", True), "Secret": ("secrets", True), "Node": ("nodes", False)}


async def _read(registry: Registry, resource: str, namespace: str, name: str) -> Obj:
    rt = registry.catalog.table.lookup("", "v1", resource)
    assert rt is not None
    where = Where(group="", resource=resource, namespaced=rt.namespaced)
    found = orjson.loads(await registry.storage.get(where, namespace, name))
    return found if isinstance(found, dict) else {}


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


async def token_request(registry: Registry, target: Target, obj: Obj, *, dry_run: bool) -> bytes:
    """TokenREST.Create: name and namespace as the URL's, the ServiceAccount and the bound
    object looked up, the expiry validated, then the token signed by authz."""
    namespace, name = target.namespace, target.name
    meta = dict(obj.get("metadata") or {}) if isinstance(obj.get("metadata"), dict) else {}
    if meta.get("name") and meta["name"] != name:
        raise errors.invalid(
            "TokenRequest",
            AUTHENTICATION,
            name,
            [
                errors.invalid_value(
                    "metadata.name",
                    meta["name"],
                    "must match the service account name if specified",
                )
            ],
        )
    if meta.get("namespace") and meta["namespace"] != namespace:
        raise errors.invalid(
            "TokenRequest",
            AUTHENTICATION,
            name,
            [
                errors.invalid_value(
                    "metadata.namespace",
                    meta["namespace"],
                    "must match the service account namespace if specified",
                )
            ],
        )
    account = await _read(registry, "serviceaccounts", namespace, name)
    spec = dict(_spec(obj))
    audiences = _strings(spec.get("audiences"))
    seconds = spec.get("expirationSeconds")
    if seconds is None:
        seconds = DEFAULT_TOKEN_SECONDS
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise errors.bad_request("spec.expirationSeconds must be an integer")
    problems: list[FieldError] = []
    if seconds < MIN_TOKEN_SECONDS:
        problems.append(
            errors.invalid_value(
                "spec.expirationSeconds", seconds, "may not specify a duration less than 10 minutes"
            )
        )
    if seconds > MAX_TOKEN_SECONDS:
        problems.append(
            errors.invalid_value(
                "spec.expirationSeconds",
                seconds,
                "may not specify a duration larger than 2^32 seconds",
            )
        )
    if problems:
        raise errors.invalid("TokenRequest", AUTHENTICATION, "", problems)
    bound = await _bound_objects(registry, namespace, name, spec.get("boundObjectRef"))
    issued = await _access(registry).issue_token(
        namespace=namespace,
        name=name,
        uid=_uid(account),
        audiences=tuple(audiences),
        expiration_seconds=seconds,
        bound=bound,
    )
    now = time.time()
    spec["audiences"] = list(issued.audiences)
    spec["expirationSeconds"] = seconds
    if spec.get("boundObjectRef") is None:
        spec.pop("boundObjectRef", None)
    return orjson.dumps(
        {
            "kind": "TokenRequest",
            "apiVersion": f"{AUTHENTICATION}/v1",
            "metadata": {
                **meta,
                "name": name,
                "namespace": namespace,
                "creationTimestamp": _stamp(now),
            },
            "spec": spec,
            "status": {"token": issued.token, "expirationTimestamp": _stamp(now + seconds)},
        }
    )


async def _bound_objects(
    registry: Registry, namespace: str, account: str, ref: Any
) -> dict[str, tuple[str, str]]:
    if not isinstance(ref, dict):
        return {}
    kind = str(ref.get("kind") or "")
    api_version = str(ref.get("apiVersion") or "")
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    ref_name = str(ref.get("name") or "")
    if group or kind not in _BOUND_KINDS:
        version = api_version.rpartition("/")[2]
        raise errors.bad_request(
            f"cannot bind token to object of type {group}/{version}, Kind={kind}"
        )
    resource, namespaced = _BOUND_KINDS[kind]
    if not ref_name:
        raise errors.bad_request("resource name may not be empty")
    obj = await _read(registry, resource, namespace if namespaced else "", ref_name)
    bound: dict[str, tuple[str, str]] = {}
    if kind == "Pod":
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        if (spec or {}).get("serviceAccountName") != account:
            raise errors.bad_request(
                f'cannot bind token for serviceaccount "{account}" to pod running with '
                "different serviceaccount name."
            )
        bound["pod"] = (ref_name, _uid(obj))
        node_name = str((spec or {}).get("nodeName") or "")
        if node_name:
            try:
                node = await _read(registry, "nodes", "", node_name)
                bound["node"] = (node_name, _uid(node))
            except errors.StatusError as err:
                if err.code != 404:
                    raise
                bound["node"] = (node_name, "")  # kube names the node even when it is gone
    elif kind == "Secret":
        bound["secret"] = (ref_name, _uid(obj))
    else:
        bound["node"] = (ref_name, _uid(obj))
    wanted_uid = str(ref.get("uid") or "")
    if wanted_uid and wanted_uid != _uid(obj):
        raise errors.conflict(
            kind,
            "",
            ref_name,
            f"the UID in the bound object reference ({wanted_uid}) does not match the UID in "
            "record. The object might have been deleted and then recreated",
        )
    return bound


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def schema_of(kind: str) -> str:
    group = (
        AUTHENTICATION
        if kind in ("TokenReview", "SelfSubjectReview", "TokenRequest")
        else AUTHORIZATION
    )
    return f"io.k8s.api.{group.split('.')[0]}.v1.{kind}"


REVIEWS: Mapping[tuple[str, str, str], tuple[str, Any]] = {
    (AUTHENTICATION, "tokenreviews", ""): ("TokenReview", token_review),
    (AUTHENTICATION, "selfsubjectreviews", ""): ("SelfSubjectReview", self_subject_review),
    (AUTHORIZATION, "subjectaccessreviews", ""): ("SubjectAccessReview", subject_access_review),
    (AUTHORIZATION, "localsubjectaccessreviews", ""): (
        "LocalSubjectAccessReview",
        local_subject_access_review,
    ),
    (AUTHORIZATION, "selfsubjectaccessreviews", ""): (
        "SelfSubjectAccessReview",
        self_subject_access_review,
    ),
    (AUTHORIZATION, "selfsubjectrulesreviews", ""): (
        "SelfSubjectRulesReview",
        self_subject_rules_review,
    ),
    ("", "serviceaccounts", "token"): ("TokenRequest", token_request),
}
