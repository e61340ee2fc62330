"""Kubernetes API errors: one exception type, named constructors worded as apimachinery's.

Every error a client can see is a ``StatusError`` carrying a ``metav1.Status``. The
constructors mirror ``k8s.io/apimachinery/pkg/api/errors`` (code, reason, message
format, details), so kubectl prints what it prints against kube-apiserver. Field
errors mirror ``k8s.io/apimachinery/pkg/util/validation/field``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

JSON = dict[str, Any]


def qualified_resource(resource: str, group: str) -> str:
    """``configmaps`` for the core group, ``deployments.apps`` otherwise."""
    return f"{resource}.{group}" if group else resource


def qualified_kind(kind: str, group: str) -> str:
    """``ConfigMap`` for the core group, ``Deployment.apps`` otherwise."""
    return f"{kind}.{group}" if group else kind


def quote(value: str) -> str:
    """Go's ``%q`` for the strings that appear in API messages."""
    return orjson.dumps(value).decode()


class StatusError(Exception):
    """An error with a Kubernetes ``Status``: raised anywhere, rendered once by the gateway."""

    def __init__(
        self,
        *,
        code: int,
        reason: str,
        message: str,
        details: JSON | None = None,
        retry_after: int | None = None,
        metadata: JSON | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.retry_after = retry_after
        # The Status's ListMeta: e.g. the fresh ``continue`` of an expired list token.
        self.metadata = metadata
        # Audit annotations admission recorded before refusing: for the request's audit
        # event, not for the client (they cross gRPC beside the Status, kapi.rpc).
        self.audit_annotations: dict[str, str] = {}

    def status(self) -> JSON:
        """The ``metav1.Status``, fields in kube-apiserver's order."""
        out: JSON = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": self.metadata or {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details if self.details is not None else {},
            "code": self.code,
        }
        if not self.reason:
            del out["reason"]
        if self.details is None:
            del out["details"]
        return out

    def to_json(self) -> bytes:
        return orjson.dumps(self.status())

    @classmethod
    def from_status(cls, status: JSON) -> StatusError:
        details = status.get("details")
        retry = details.get("retryAfterSeconds") if isinstance(details, dict) else None
        metadata = status.get("metadata")
        return cls(
            code=int(status.get("code") or 500),
            reason=str(status.get("reason") or ""),
            message=str(status.get("message") or ""),
            details=details if isinstance(details, dict) else None,
            retry_after=retry if isinstance(retry, int) else None,
            metadata=metadata if isinstance(metadata, dict) and metadata else None,
        )

    def __repr__(self) -> str:
        return f"StatusError({self.code}, {self.reason!r}, {self.message!r})"


def _details(*, name: str = "", group: str = "", kind: str = "", **extra: Any) -> JSON:
    out: JSON = {}
    if name:
        out["name"] = name
    if group:
        out["group"] = group
    if kind:
        out["kind"] = kind
    out.update({k: v for k, v in extra.items() if v})
    return out


def not_found(resource: str, group: str, name: str) -> StatusError:
    return StatusError(
        code=404,
        reason="NotFound",
        message=f"{qualified_resource(resource, group)} {quote(name)} not found",
        details=_details(name=name, group=group, kind=resource),
    )


def not_found_path() -> StatusError:
    """What kube-apiserver answers for a path it does not serve."""
    return StatusError(
        code=404,
        reason="NotFound",
        message="the server could not find the requested resource",
        details={},
    )


def already_exists(resource: str, group: str, name: str) -> StatusError:
    return StatusError(
        code=409,
        reason="AlreadyExists",
        message=f"{qualified_resource(resource, group)} {quote(name)} already exists",
        details=_details(name=name, group=group, kind=resource),
    )


OBJECT_MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def conflict(resource: str, group: str, name: str, detail: str = OBJECT_MODIFIED) -> StatusError:
    return StatusError(
        code=409,
        reason="Conflict",
        message=(
            f"Operation cannot be fulfilled on {qualified_resource(resource, group)} "
            f"{quote(name)}: {detail}"
        ),
        details=_details(name=name, group=group, kind=resource),
    )


def forbidden(resource: str, group: str, name: str, detail: str) -> StatusError:
    qr = qualified_resource(resource, group)
    message = (
        f"{qr} {quote(name)} is forbidden: {detail}" if name else f"{qr} is forbidden: {detail}"
    )
    return StatusError(
        code=403,
        reason="Forbidden",
        message=message,
        details=_details(name=name, group=group, kind=resource),
    )


def unauthorized(message: str = "Unauthorized") -> StatusError:
    """``errors.NewUnauthorized``: a Status without details, as kube answers bad
    credentials."""
    return StatusError(code=401, reason="Unauthorized", message=message)


def bad_request(message: str) -> StatusError:
    return StatusError(code=400, reason="BadRequest", message=message, details={})


def method_not_supported(
    resource: str, group: str, action: str, *, message: str = ""
) -> StatusError:
    """405 MethodNotAllowed; ``message`` replaces kube's default words where kube does
    (a custom resource created while its definition is terminating)."""
    return StatusError(
        code=405,
        reason="MethodNotAllowed",
        message=message
        or (
            f"{action} is not supported on resources of kind "
            f"{quote(qualified_resource(resource, group))}"
        ),
        details=_details(group=group, kind=resource),
    )


def not_acceptable(message: str) -> StatusError:
    return StatusError(code=406, reason="NotAcceptable", message=message, details={})


def unsupported_media_type(
    content_type: str, accepted: tuple[str, ...] | list[str] | None = None
) -> StatusError:
    """415 for a body in ``content_type``; ``accepted`` lists what is taken instead
    (kube's NewUnsupportedMediaTypeError words: a patch type a resource refuses)."""
    if accepted is not None:
        return StatusError(
            code=415,
            reason="UnsupportedMediaType",
            message="the body of the request was in an unknown format - accepted media "
            "types include: " + ", ".join(accepted),
            details={},
        )
    return StatusError(
        code=415,
        reason="UnsupportedMediaType",
        message="the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml, application/vnd.kubernetes.protobuf"
        + (f" (got {content_type})" if content_type else ""),
        details={},
    )


def request_entity_too_large(message: str) -> StatusError:
    return StatusError(
        code=413,
        reason="RequestEntityTooLarge",
        message=f"Request entity too large: {message}",
        details={},
    )


def expired(message: str) -> StatusError:
    """410 Expired: a resourceVersion or continue token older than etcd keeps."""
    return StatusError(code=410, reason="Expired", message=message, details={})


def gone(message: str) -> StatusError:
    return StatusError(code=410, reason="Gone", message=message, details={})


def too_many_requests(message: str, retry_after: int = 1) -> StatusError:
    return StatusError(
        code=429,
        reason="TooManyRequests",
        message=message,
        details={"retryAfterSeconds": retry_after},
        retry_after=retry_after,
    )


def service_unavailable(message: str, retry_after: int = 0) -> StatusError:
    details: JSON = {"retryAfterSeconds": retry_after} if retry_after else {}
    return StatusError(
        code=503,
        reason="ServiceUnavailable",
        message=message,
        details=details,
        retry_after=retry_after or None,
    )


def timeout(message: str, retry_after: int = 0) -> StatusError:
    details: JSON = {"retryAfterSeconds": retry_after} if retry_after else {}
    return StatusError(
        code=504,
        reason="Timeout",
        message=f"Timeout: {message}",
        details=details,
        retry_after=retry_after or None,
    )


def internal(message: str) -> StatusError:
    return StatusError(
        code=500,
        reason="InternalError",
        message=f"Internal error occurred: {message}",
        details={"causes": [{"message": message}]},
    )


def unexpected(audit_id: str) -> StatusError:
    """The 500 for a bug: what failed goes to the log (under ``audit_id``), not to the
    client."""
    where = f"logged with audit ID {audit_id}" if audit_id else "logged by the server"
    return internal(f"an unexpected error occurred, {where}")


# --- field errors --------------------------------------------------------------------


def _go_value(value: Any) -> str:
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


@dataclass(frozen=True)
class FieldError:
    """One field's problem, as ``field.Error``: type, path, bad value, detail."""

    type: str  # FieldValueInvalid, FieldValueRequired, ...
    field: str
    value: Any = None
    detail: str = ""
    omit_value: bool = dataclasses.field(default=False, compare=False)

    def body(self) -> str:
        """``field.Error.ErrorBody``: the message without the field path."""
        label = _FIELD_TYPE_LABELS[self.type]
        if (
            self.type
            in (
                "FieldValueRequired",
                "FieldValueForbidden",
                "FieldValueTooLong",
                "InternalError",
            )
            or self.omit_value
        ):
            text = label
        else:
            text = f"{label}: {_go_value(self.value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> JSON:
        return {"reason": self.type, "message": self.body(), "field": self.field}


_FIELD_TYPE_LABELS = {
    "FieldValueNotFound": "Not found",
    "FieldValueRequired": "Required value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueInvalid": "Invalid value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueTooLong": "Too long",
    "FieldValueTooMany": "Too many",
    "FieldValueTypeInvalid": "Invalid value",
    "InternalError": "Internal error",
}


def invalid_value(path: str, value: Any, detail: str) -> FieldError:
    return FieldError("FieldValueInvalid", path, value, detail)


def required(path: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", path, None, detail)


def forbidden_field(path: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", path, None, detail)


def not_supported(path: str, value: Any, supported: Sequence[str]) -> FieldError:
    detail = "supported values: " + ", ".join(quote(s) for s in supported) if supported else ""
    return FieldError("FieldValueNotSupported", path, value, detail)


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError("FieldValueDuplicate", path, value)


def too_long(path: str, max_length: int) -> FieldError:
    return FieldError("FieldValueTooLong", path, None, f"may not be more than {max_length} bytes")


def invalid(kind: str, group: str, name: str, errors: Sequence[FieldError]) -> StatusError:
    """422 Invalid with one cause per field, as ``errors.NewInvalid``."""
    messages = [str(e) for e in errors]
    aggregate = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    return StatusError(
        code=422,
        reason="Invalid",
        message=f"{qualified_kind(kind, group)} {quote(name)} is invalid: {aggregate}",
        details=_details(name=name, group=group, kind=kind, causes=[e.cause() for e in errors]),
    )
