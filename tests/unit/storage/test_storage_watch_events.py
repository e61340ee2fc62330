"""What one change means to a watcher with selectors (``cached.event_type_for``), and
the in-band watch errors (``watch``)."""

from __future__ import annotations

import orjson
import pytest

from kapi.selectors import parse_field_selector, parse_label_selector
from services.storage import watch
from services.storage.cached import ADDED, DELETED, MODIFIED, CachedObject, CacheEvent, Decoded
from services.storage.predicate import Predicate


def predicate(labels: str = "", fields: str = "", namespace: str = "") -> Predicate:
    return Predicate.build(
        parse_label_selector(labels), parse_field_selector(fields), namespace=namespace
    )


def cached(app: str | None, revision: int, *, node: str = "n1", ns: str = "ns") -> CachedObject:
    labels = {"app": app} if app is not None else {}
    meta = {"name": "a", "namespace": ns, "labels": labels, "resourceVersion": str(revision)}
    data = orjson.dumps({"metadata": meta, "spec": {"nodeName": node}})
    return CachedObject(f"/k/{ns}/a", data, revision, ns, "a", labels)


def put(new: str | None, old: str | None = None, *, created: bool = False) -> CacheEvent:
    prev = None if created else cached(old, 5)
    return CacheEvent(ADDED if created else MODIFIED, cached(new, 9), prev, 0.0)


def delete(old: str | None) -> CacheEvent:
    return CacheEvent(DELETED, cached(old, 9), cached(old, 5), 0.0)


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
        ("delete, no selector", delete("db"), "", ("DELETED", "db")),
    ],
)
def test_event_type(
    case: str, event: CacheEvent, selector: str, expected: tuple[str, str] | None
) -> None:
    p = predicate(labels=selector)
    kind = watch_kind(p, event)
    if expected is None:
        assert kind is None
        return
    assert kind is not None
    data = event.deleted_data() if kind == DELETED else event.obj.data
    metadata = orjson.loads(data)["metadata"]
    assert (kind, metadata["labels"]["app"]) == expected
    # Every event's object carries the change's revision, DELETED ones included.
    assert (event.revision, metadata["resourceVersion"]) == (9, "9")


def watch_kind(p: Predicate, event: CacheEvent) -> str | None:
    from services.storage.cached import event_type_for

    return event_type_for(p, event, Decoded(event))


@pytest.mark.parametrize(
    ("selector", "old_node", "new_node", "expected"),
    [
        ("spec.nodeName=n1", "n1", "n1", "MODIFIED"),
        ("spec.nodeName=n1", "n2", "n1", "ADDED"),  # scheduled onto n1
        ("spec.nodeName=n1", "n1", "n2", "DELETED"),  # moved away
        ("spec.nodeName=n1", "n2", "n3", None),
        ("spec.nodeName!=n1", "n1", "n2", "ADDED"),
        ("metadata.name=a,spec.nodeName=n2", "n1", "n2", "ADDED"),
        ("metadata.name=b", "n1", "n2", None),
    ],
)
def test_field_selectors_on_updates(
    selector: str, old_node: str, new_node: str, expected: str | None
) -> None:
    event = CacheEvent(MODIFIED, cached("x", 9, node=new_node), cached("x", 5, node=old_node), 0)
    assert watch_kind(predicate(fields=selector), event) == expected


@pytest.mark.parametrize(
    ("namespace", "fields", "expected"),
    [
        ("ns", "", "MODIFIED"),
        ("other", "", None),
        ("", "metadata.namespace=ns", "MODIFIED"),
        ("", "metadata.namespace!=ns", None),
    ],
)
def test_namespace_scope(namespace: str, fields: str, expected: str | None) -> None:
    event = CacheEvent(MODIFIED, cached("x", 9), cached("x", 5), 0)
    assert watch_kind(predicate(fields=fields, namespace=namespace), event) == expected


def test_predicate_index_dimensions() -> None:
    """How the cache indexes a watcher: name, then an exact field (trigger), then
    namespace; ``everything`` only without scope or selectors."""
    assert predicate(fields="metadata.name=a").name == "a"
    p = predicate(fields="spec.nodeName=n1,status.phase=Running", namespace="ns")
    assert (p.namespace, p.name, p.trigger) == ("ns", None, ("spec.nodeName", "n1"))
    assert predicate(fields="spec.nodeName!=n1").trigger is None
    assert predicate().everything
    assert not predicate(namespace="ns").everything
    assert not predicate(labels="a").everything


def test_deleted_data_for_an_update_that_stops_matching_is_decoded_once() -> None:
    event = put("db", "web")
    first = event.deleted_data()
    assert event.deleted_data() is first
    assert orjson.loads(first)["metadata"]["labels"] == {"app": "web"}


def test_expired_event_is_a_410_status() -> None:
    event = watch.expired_event(5, 11)
    status = orjson.loads(event.object)
    assert event.type == "ERROR"
    assert (status["kind"], status["code"], status["reason"], status["message"]) == (
        "Status",
        410,
        "Expired",
        "too old resource version: 5 (11)",
    )


def test_too_large_resource_version_is_a_504() -> None:
    err = watch.too_large_resource_version(100, 42)
    assert (err.code, err.reason, err.message, err.retry_after) == (
        504,
        "Timeout",
        "Timeout: Too large resource version: 100, current: 42",
        1,
    )
    assert err.details is not None
    assert err.details["causes"] == [
        {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
    ]
