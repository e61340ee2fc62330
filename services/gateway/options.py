"""Query parameters into request options, rejected with kube-apiserver's words.

kube decodes query parameters into ListOptions / DeleteOptions with apimachinery's
string conversions (k8s.io/apimachinery/pkg/runtime/conversion.go): an integer is Go's
``strconv.ParseInt(s, 10, 64)`` — its error, out of range or not a number, becomes a 400
BadRequest with that error's text — and a boolean is true unless it is ``0`` or ``false``.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request

from kapi import errors
from kapi_proto import registry_pb2
from services.gateway import negotiation

DRY_RUN_VALUES = ("All",)
FIELD_VALIDATION_VALUES = ("", "Ignore", "Warn", "Strict")


INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_DECIMAL = re.compile(r"[+-]?[0-9]+")


def flag(value: str | None) -> bool:
    """Convert_Slice_string_To_bool: absent, ``0`` or ``false`` (any case) are false, any
    other value — the empty string too — is true."""
    return value is not None and value != "0" and value.lower() != "false"


def parse_int64(value: str) -> int:
    """Go's ``strconv.ParseInt(value, 10, 64)``; a 400 with its error's words otherwise."""
    parsing = f"strconv.ParseInt: parsing {errors.quote(value)}"
    if not _DECIMAL.fullmatch(value):
        raise errors.bad_request(f"{parsing}: invalid syntax")
    # More than 19 significant digits is out of range: never int() them (Python refuses
    # strings of over 4,300 digits, and converting long ones costs quadratic time).
    significant = value.lstrip("+-").lstrip("0")
    number = int(value) if len(significant) <= 19 else INT64_MAX + 1
    if not INT64_MIN <= number <= INT64_MAX:
        raise errors.bad_request(f"{parsing}: value out of range")
    return number


def int64_param(params: Any, name: str) -> int | None:
    """An int64 query parameter; None when absent (kube reads the first value)."""
    value = params.get(name)
    return None if value is None else parse_int64(value)


def non_negative_int(params: Any, name: str) -> int:
    number = int64_param(params, name)
    if number is None:
        return 0
    if number < 0:
        raise errors.bad_request(f"invalid value for {name}: must be non-negative")
    return number


def delete_options(params: Any) -> dict[str, Any]:
    """The DeleteOptions a DELETE without a body gives in its query (kube's delete handler
    decodes them from the query only then): gracePeriodSeconds, orphanDependents,
    propagationPolicy and dryRun."""
    out: dict[str, Any] = {}
    grace = int64_param(params, "gracePeriodSeconds")
    if grace is not None:
        out["gracePeriodSeconds"] = grace
    if "orphanDependents" in params:
        out["orphanDependents"] = flag(params.get("orphanDependents"))
    if "propagationPolicy" in params:
        out["propagationPolicy"] = params.get("propagationPolicy")
    dry = params.getlist("dryRun")
    if dry:
        out["dryRun"] = dry
    return out


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
