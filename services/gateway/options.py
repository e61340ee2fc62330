"""Query parameters into request options, rejected with kube-apiserver's words."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from kapi import errors
from kapi_proto import registry_pb2
from services.gateway import negotiation

DRY_RUN_VALUES = ("All",)
FIELD_VALIDATION_VALUES = ("", "Ignore", "Warn", "Strict")


def flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1", "t", "")


def non_negative_int(params: Any, name: str) -> int:
    value = params.get(name)
    if value in (None, ""):
        return 0
    try:
        number = int(value)
    except ValueError:
        raise errors.bad_request(f"invalid value for {name}: {value!r} is not an integer") from None
    if number < 0:
        raise errors.bad_request(f"invalid value for {name}: must be non-negative")
    return number


def dry_run(params: Any) -> bool:
    values = params.getlist("dryRun")
    for value in values:
        if value not in DRY_RUN_VALUES:
            raise errors.bad_request(f'Invalid dryRun value: "{value}"; supported values: "All"')
    return bool(values)


def field_validation(params: Any) -> str:
    value = params.get("fieldValidation", "")
    if value not in FIELD_VALIDATION_VALUES:
        raise errors.bad_request(
            f"fieldValidation must be one of Ignore, Warn, Strict; got {value}"
        )
    return str(value)


def read_request(
    request: Request, target: registry_pb2.RequestTarget, rendering: negotiation.Rendering
) -> registry_pb2.ReadRequest:
    params = request.query_params
    include = {
        "None": registry_pb2.INCLUDE_NONE,
        "Object": registry_pb2.INCLUDE_OBJECT,
        "Metadata": registry_pb2.INCLUDE_METADATA,
        "": registry_pb2.INCLUDE_METADATA,
    }
    include_object = params.get("includeObject", "")
    if include_object not in include:
        raise errors.bad_request(
            f'includeObject: Unsupported value: "{include_object}": supported values: '
            '"None", "Metadata", "Object"'
        )
    renderings = {
        "object": registry_pb2.OBJECT,
        "table": registry_pb2.TABLE,
        "table-v1beta1": registry_pb2.TABLE_V1BETA1,
        "metadata": registry_pb2.METADATA,
    }
    match = params.get("resourceVersionMatch", "")
    if match not in ("", "NotOlderThan", "Exact"):
        raise errors.bad_request(
            f'resourceVersionMatch: Unsupported value: "{match}": supported values: '
            '"Exact", "NotOlderThan"'
        )
    return registry_pb2.ReadRequest(
        target=target,
        rendering=renderings[rendering.rendering],
        include_object=include[include_object],
        label_selector=params.get("labelSelector", ""),
        field_selector=params.get("fieldSelector", ""),
        limit=non_negative_int(params, "limit"),
        continue_token=params.get("continue", ""),
        resource_version=params.get("resourceVersion", ""),
        resource_version_match=match,
        allow_bookmarks=flag(params.get("allowWatchBookmarks")),
        timeout_seconds=non_negative_int(params, "timeoutSeconds"),
        send_initial_events=flag(params.get("sendInitialEvents")),
    )
