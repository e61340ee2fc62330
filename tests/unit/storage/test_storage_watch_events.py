"""watch.transform: what one change means to a watcher with selectors."""

from __future__ import annotations

import orjson
import pytest

from kapi.selectors import parse_field_selector, parse_label_selector
from services.storage import watch
from services.storage.backend import Event, EventType


def options(labels: str = "", fields: str = "") -> watch.Options:
    return watch.Options(
        labels=parse_label_selector(labels),
        fields=parse_field_selector(fields),
        resource_version=0,
        initial_events=False,
        initial_events_end_bookmark=False,
        allow_bookmarks=False,
        bookmark_interval=60,
        timeout=0,
    )


def obj(app: str | None) -> bytes:
    meta: dict[str, object] = {"name": "a"}
    if app is not None:
        meta["labels"] = {"app": app}
    return orjson.dumps({"metadata": meta})


def put(new: str | None, old: str | None = None, *, created: bool = False) -> Event:
    prev = None if created else obj(old)
    return Event(EventType.PUT, "/k/a", obj(new), 9, prev, created)


def delete(old: str | None) -> Event:
    return Event(EventType.DELETE, "/k/a", b"", 9, obj(old), False)


@pytest.mark.parametrize(
    ("case", "event", "selector", "expected"),
    [
        ("create, no selector", put("web", created=True), "", ("ADDED", "web")),
        ("create, matching", put("web", created=True), "app=web", ("ADDED", "web")),
        ("create, not matching", put("db", created=True), "app=web", None),
        ("update, no selector", put("db", "web"), "", ("MODIFIED", "db")),
        ("update, both match", put("web", "web"), "app", ("MODIFIED", "web")),
        ("update, starts matching", put("web", "db"), "app=web", ("ADDED", "web")),
        ("update, stops matching", put("db", "web"), "app=web", ("DELETED", "web")),
        ("update, never matches", put("db", "db"), "app=web", None),
        ("delete, matching", delete("web"), "app=web", ("DELETED", "web")),
        ("delete, not matching", delete("db"), "app=web", None),
    ],
)
def test_transform(
    case: str, event: Event, selector: str, expected: tuple[str, str] | None
) -> None:
    out = watch.transform(event, options(labels=selector))
    if expected is None:
        assert out is None
        return
    assert out is not None
    metadata = orjson.loads(out.object)["metadata"]
    assert (out.type, metadata["labels"]["app"]) == expected
    # Every event's object carries the change's revision, DELETED ones included.
    assert (out.resource_version, metadata["resourceVersion"]) == (9, "9")


def test_transform_update_without_previous_value() -> None:
    """History without the previous value (compacted): a matching update is MODIFIED."""
    event = Event(EventType.PUT, "/k/a", obj("web"), 9, None, False)
    out = watch.transform(event, options(labels="app=web"))
    assert out is not None and out.type == "MODIFIED"


def test_expired_event_is_a_410_status() -> None:
    event = watch.expired_event(5, 12)
    status = orjson.loads(event.object)
    assert event.type == "ERROR"
    assert (status["kind"], status["code"], status["reason"], status["message"]) == (
        "Status",
        410,
        "Expired",
        "too old resource version: 5 (11)",
    )
