"""Events: one stored kind (the core v1 Event), validated by the API they are written
through, as ``pkg/apis/core/validation/events.go`` does with the request's group-version.

Both strategies see the object in its stored (core v1) form, the way kube validates its
internal ``core.Event``, so the field paths are the core ones (``involvedObject``,
``message``, ``firstTimestamp``...) even for a write through events.k8s.io/v1:

- every write passes the legacy checks (``legacyValidateEvent``): an event without
  ``eventTime`` must agree with its involved object's namespace; one with ``eventTime``
  needs its reporting controller, instance, action and reason (named
  ``reportingComponent`` when written through core v1);
- a write through events.k8s.io/v1 also needs ``eventTime``, a ``Normal`` or ``Warning``
  type and a valid series, may not set the deprecated fields, and may change nothing
  but its series and metadata on update (``ValidateEventCreate`` / ``ValidateEventUpdate``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kapi import errors
from kapi.errors import FieldError
from services.registry import validation
from services.registry.definition import Definition, grouped
from services.registry.field_selection import FieldSelection
from services.registry.strategies import common
from services.registry.strategy import Obj, Strategy

REPORTING_INSTANCE_MAX = 128
NOTE_MAX = 1024
ACTION_MAX = 128
REASON_MAX = 128
EVENT_TYPES = ("Normal", "Warning")

# What may not change once written through events.k8s.io/v1, in kube's order (it checks
# reason twice).
_IMMUTABLE = (
    "involvedObject",
    "reason",
    "message",
    "source",
    "firstTimestamp",
    "lastTimestamp",
    "count",
    "reason",
    "type",
    "eventTime",
    "action",
    "related",
    "reportingComponent",
    "reportingInstance",
)
# The stored (core) field -> how events.k8s.io/v1 update errors name it.
_IMMUTABLE_PATHS = {"reportingComponent": "reportingController"}


def _text(obj: Obj, key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _namespace(obj: Obj) -> str:
    meta = obj.get("metadata")
    value = meta.get("namespace") if isinstance(meta, dict) else None
    return value if isinstance(value, str) else ""


def _involved_namespace(obj: Obj) -> str:
    involved = obj.get("involvedObject")
    value = involved.get("namespace") if isinstance(involved, dict) else None
    return value if isinstance(value, str) else ""


def _too_long(path: str, limit: int) -> FieldError:
    return errors.invalid_value(path, "", f"can have at most {limit} characters")


def validate_legacy(obj: Obj, *, reporting_field: str) -> list[FieldError]:
    """legacyValidateEvent: what every event must satisfy, whatever API wrote it.

    ``reporting_field``: how the reporting controller is named in errors (core v1 calls it
    ``reportingComponent``, events.k8s.io ``reportingController``)."""
    out: list[FieldError] = []
    namespace = _namespace(obj)
    involved_namespace = _involved_namespace(obj)
    mismatch = errors.invalid_value(
        "involvedObject.namespace", involved_namespace, "does not match event.namespace"
    )
    if not obj.get("eventTime"):
        # Old-style events: the event lives in its involved object's namespace.
        if not involved_namespace:
            if namespace not in ("", "default"):
                out.append(mismatch)
        elif namespace != involved_namespace:
            out.append(mismatch)
    else:
        if not involved_namespace and namespace not in ("default", "kube-system"):
            out.append(mismatch)
        controller = _text(obj, "reportingComponent")
        if not controller:
            out.append(errors.required(reporting_field))
        out.extend(
            errors.invalid_value(reporting_field, controller, message)
            for message in validation.qualified_name(controller)
        )
        for key, limit in (("reportingInstance", REPORTING_INSTANCE_MAX), ("action", ACTION_MAX)):
            value = _text(obj, key)
            if not value:
                out.append(errors.required(key))
            if len(value) > limit:
                out.append(_too_long(key, limit))
        reason = _text(obj, "reason")
        if not reason:
            out.append(errors.required("reason"))
        if len(reason) > REASON_MAX:
            out.append(_too_long("reason", REASON_MAX))
        if len(_text(obj, "message")) > NOTE_MAX:
            out.append(_too_long("message", NOTE_MAX))
    if namespace:  # always set through the registry (an existing namespace's name)
        out.extend(
            errors.invalid_value("namespace", namespace, message)
            for message in validation.dns1123_subdomain(namespace)
        )
    return out


def _validate_series(obj: Obj) -> list[FieldError]:
    """validateV1EventSeries."""
    series = obj.get("series")
    if not isinstance(series, dict):
        return []
    out: list[FieldError] = []
    count = series.get("count")
    if not isinstance(count, int) or count < 2:
        out.append(errors.invalid_value("series.count", "", "should be at least 2"))
    if not series.get("lastObservedTime"):
        out.append(errors.required("series.lastObservedTime"))
    return out


def _same_instant(new: Any, old: Any) -> bool:
    """MicroTimes compared as kube does (to the microsecond, whatever the zone)."""
    if new == old:
        return True
    if not isinstance(new, str) or not isinstance(old, str):
        return False
    try:
        return _instant(new) == _instant(old)
    except ValueError:
        return False


def _set_or_none(value: Any) -> Any:
    """A field's value, None for Go's zero value (absent, "", 0, empty): the same to kube."""
    return None if value in (None, "", 0, {}, []) else value


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))


class EventStrategy(Strategy):
    """An Event written through events.k8s.io/v1 (stored as a core v1 Event)."""

    def validate(self, obj: Obj) -> list[FieldError]:
        """ValidateEventCreate for events.k8s.io/v1 (ObjectMeta is checked apart)."""
        out = validate_legacy(obj, reporting_field="reportingController")
        out += _validate_series(obj)
        if not obj.get("eventTime"):
            out.append(errors.required("eventTime"))
        kind = _text(obj, "type")
        if kind not in EVENT_TYPES:
            out.append(errors.invalid_value("type", "", f"has invalid value: {kind}"))
        for key in ("firstTimestamp", "lastTimestamp", "count"):
            if obj.get(key):
                out.append(errors.invalid_value(key, "", "needs to be unset"))
        source = obj.get("source")
        if isinstance(source, dict) and (source.get("component") or source.get("host")):
            out.append(errors.invalid_value("source", "", "needs to be unset"))
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        """ValidateEventUpdate for events.k8s.io/v1: what an event says never changes."""
        out = validate_legacy(new, reporting_field="reportingController")
        if new.get("series") != old.get("series"):
            out += _validate_series(new)
        for key in _IMMUTABLE:
            before, after = _set_or_none(old.get(key)), _set_or_none(new.get(key))
            same = _same_instant(after, before) if key == "eventTime" else after == before
            if not same:
                path = _IMMUTABLE_PATHS.get(key, key)
                out.append(errors.invalid_value(path, new.get(key), common.IMMUTABLE))
        return out


# events.k8s.io/v1: the core Events, seen through the new API (stored as core v1 Events;
# the labels of its field selectors name the core fields they read).
DEFINITIONS: tuple[Definition, ...] = (
    grouped(
        "events.k8s.io", "v1", "events", "Event", EventStrategy(),
        schema_group="events", short_names=("ev",), storage_version="v1",
        selection=FieldSelection(
            (
                "regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid",
                "regarding.apiVersion", "regarding.resourceVersion", "regarding.fieldPath",
                "reason", "reportingController", "type",
            ),
            paths={
                "regarding.kind": "involvedObject.kind",
                "regarding.namespace": "involvedObject.namespace",
                "regarding.name": "involvedObject.name",
                "regarding.uid": "involvedObject.uid",
                "regarding.apiVersion": "involvedObject.apiVersion",
                "regarding.resourceVersion": "involvedObject.resourceVersion",
                "regarding.fieldPath": "involvedObject.fieldPath",
                "reportingController": "reportingComponent",
            },
        ),
    ),
)  # fmt: skip
