"""events.k8s.io/v1 Events: the stricter checks kube applies to events written through
the new API (``ValidateEventCreate`` for requests in events.k8s.io/v1)."""

from __future__ import annotations

from kapi import errors
from kapi.errors import FieldError
from services.registry import validation
from services.registry.strategy import Obj, Strategy

REPORTING_INSTANCE_MAX = 128
NOTE_MAX = 1024
ACTION_MAX = 128
REASON_MAX = 128


class EventStrategy(Strategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        out: list[FieldError] = []
        if not obj.get("eventTime"):
            out.append(errors.required("eventTime"))
        kind = obj.get("type")
        if kind not in ("Normal", "Warning"):
            out.append(errors.invalid_value("type", "", f"has invalid value: {kind or ''}"))
        if obj.get("deprecatedFirstTimestamp"):
            out.append(errors.invalid_value("deprecatedFirstTimestamp", "", "needs to be unset"))
        if obj.get("deprecatedLastTimestamp"):
            out.append(errors.invalid_value("deprecatedLastTimestamp", "", "needs to be unset"))
        if obj.get("deprecatedCount"):
            out.append(errors.invalid_value("deprecatedCount", "", "needs to be unset"))
        if obj.get("deprecatedSource"):
            out.append(errors.invalid_value("deprecatedSource", "", "needs to be unset"))
        controller = obj.get("reportingController")
        if not controller:
            out.append(errors.required("reportingController"))
        elif isinstance(controller, str):
            out.extend(
                errors.invalid_value("reportingController", controller, m)
                for m in validation.qualified_name(controller)
            )
        for key, limit in (("reportingInstance", REPORTING_INSTANCE_MAX), ("action", ACTION_MAX)):
            value = obj.get(key)
            if not value:
                out.append(errors.required(key))
            elif isinstance(value, str) and len(value) > limit:
                out.append(errors.invalid_value(key, "", f"can have at most {limit} characters"))
        reason = obj.get("reason")
        if not reason:
            out.append(errors.required("reason"))
        elif isinstance(reason, str) and len(reason) > REASON_MAX:
            out.append(
                errors.invalid_value("reason", "", f"can have at most {REASON_MAX} characters")
            )
        note = obj.get("note")
        if isinstance(note, str) and len(note) > NOTE_MAX:
            out.append(errors.too_long("note", NOTE_MAX))
        series = obj.get("series")
        if isinstance(series, dict):
            count = series.get("count")
            if not isinstance(count, int) or count < 2:
                out.append(errors.invalid_value("series.count", "", "should be at least 2"))
            if not series.get("lastObservedTime"):
                out.append(errors.required("series.lastObservedTime"))
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        """ValidateEventUpdate: what an event is about never changes."""
        out = self.validate(new)
        for key in (
            "regarding",
            "related",
            "reportingController",
            "reportingInstance",
            "action",
            "reason",
            "type",
            "eventTime",
        ):
            if new.get(key) != old.get(key):
                out.append(errors.invalid_value(key, new.get(key), "field is immutable"))
        return out
