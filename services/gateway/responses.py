"""The gateway's replies: a JSON body, a Status, a discovery document, Warning headers."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from kapi import errors
from kapi_proto import registry_pb2
from services.gateway import auditing, negotiation, warning_headers


def json_response(
    body: bytes,
    code: int = 200,
    *,
    media_type: str = negotiation.JSON,
    warnings: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    recorder = auditing.current()
    if recorder is not None:
        recorder.response_object(body, len(body))
    out = Response(
        content=negotiation.encode(body, media_type),
        status_code=code,
        media_type=media_type,
        headers=headers,
    )
    if warnings:
        out.raw_headers.extend((b"warning", value) for value in warning_headers.headers(warnings))
    return out


def rendered(reply: registry_pb2.RenderedObject, media_type: str) -> Response:
    """A write's reply as the registry rendered it: its code (201 on create), warnings,
    and admission's audit annotations (recorded in the request's audit event)."""
    if reply.audit_annotations:
        recorder = auditing.current()
        if recorder is not None:
            for key, value in sorted(reply.audit_annotations.items()):
                recorder.annotate(key, value)
    return json_response(
        reply.object, reply.status_code or 200, media_type=media_type, warnings=list(reply.warnings)
    )


def status_response(err: errors.StatusError) -> Response:
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after else None
    body = err.to_json()
    recorder = auditing.current()
    if recorder is not None:
        recorder.response_object(body, len(body))
        for key, value in sorted(err.audit_annotations.items()):
            recorder.annotate(key, value)
    return Response(
        content=body, status_code=err.code, media_type=negotiation.JSON, headers=headers
    )


def method_not_allowed() -> errors.StatusError:
    return errors.StatusError(
        code=405,
        reason="MethodNotAllowed",
        message="the server does not allow this method on the requested resource",
        details={},
    )


def discovery_document(body: dict[str, Any]) -> tuple[bytes, str]:
    """A discovery document's bytes and ETag."""
    data = orjson.dumps(body)
    return data, '"' + hashlib.sha256(data).hexdigest().upper() + '"'


def discovery_response(
    request: Request,
    body: dict[str, Any] | tuple[bytes, str],
    aggregated_type: str = "",
) -> Response:
    """A discovery document (or its ``discovery_document`` form) with its ETag (304 when
    the client has it)."""
    data, etag = body if isinstance(body, tuple) else discovery_document(body)
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    out = json_response(data, headers={"ETag": etag})
    if aggregated_type:
        out.headers["Content-Type"] = aggregated_type
    out.headers["Vary"] = "Accept"
    return out
