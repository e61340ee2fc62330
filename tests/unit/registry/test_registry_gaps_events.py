"""Events are validated by the API they are written through (strategies/events.py), as
kube's ValidateEventCreate/Update do with the request's group-version, although both are
stored as core v1 Events: the registry picks the strategy of the served group.

Expected messages are kube-apiserver 1.32's (pkg/apis/core/validation/events.go): paths
name the core fields, and the reporting controller is ``reportingComponent`` through v1.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from builtin_definitions import strategy_for
from test_registry_service import World, failure, loads, make_namespace

from kapi import errors
from services.registry import conversion, pipeline
from services.registry.service import ReadOptions, Registry, Target
from services.registry.strategies import builtin_table, core, events

Obj = dict[str, Any]
STORED = next(t for t in builtin_table().types if (t.group, t.resource) == ("", "events"))
TIME = "2025-01-10T11:00:00.000000Z"

NEW_EVENT: Obj = {
    "metadata": {"name": "e"},
    "eventTime": TIME,
    "type": "Normal",
    "reason": "Started",
    "action": "Start",
    "reportingController": "example.com/controller",
    "reportingInstance": "controller-1",
    "regarding": {"kind": "Pod", "name": "p", "namespace": "ns"},
    "note": "started",
}
OLD_EVENT: Obj = {  # what `kubectl create -f` of a classic core Event sends
    "metadata": {"name": "e"},
    "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns"},
    "reason": "Started",
    "message": "started",
    "type": "Normal",
    "count": 1,
    "source": {"component": "kubelet"},
    "firstTimestamp": "2025-01-10T11:00:00Z",
    "lastTimestamp": "2025-01-10T11:00:00Z",
}


def stored_form(new_api: Obj) -> Obj:
    """An events.k8s.io/v1 body as the registry hands it to the strategy (core v1)."""
    return conversion.convert(
        {"apiVersion": "events.k8s.io/v1", "kind": "Event", **copy.deepcopy(new_api)},
        kind="Event",
        from_api_version="events.k8s.io/v1",
        to_api_version="v1",
    )


def with_(base: Obj, **changes: Any) -> Obj:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def causes(group: str, obj: Obj) -> list[str]:
    strategy = strategy_for(group, "events")
    prepared = pipeline.prepare_create(STORED, strategy, copy.deepcopy(obj), "ns")
    try:
        pipeline.validate_create(STORED, strategy, prepared)
    except errors.StatusError as err:
        assert err.code == 422
        return [f"{c['field']}: {c['message']}" for c in (err.details or {})["causes"]]
    return []


def test_the_served_group_picks_the_strategy() -> None:
    assert isinstance(strategy_for("events.k8s.io", "events"), events.EventStrategy)
    assert isinstance(strategy_for("", "events"), core.EventStrategy)


QUALIFIED_EMPTY = [
    'Invalid value: "": name part must be non-empty',
    "Invalid value: \"\": name part must consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
    "'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
]

# (case, served group, stored-form object, kube's causes)
CREATE: list[tuple[str, str, Obj, list[str]]] = [
    ("events.k8s.io: a complete event", "events.k8s.io", stored_form(NEW_EVENT), []),
    (
        "events.k8s.io: no eventTime, odd type",
        "events.k8s.io",
        stored_form({"metadata": {"name": "e"}, "type": "Odd"}),
        [
            'involvedObject.namespace: Invalid value: "": does not match event.namespace',
            "eventTime: Required value",
            'type: Invalid value: "": has invalid value: Odd',
        ],
    ),
    (
        "events.k8s.io: eventTime without the reporting fields",
        "events.k8s.io",
        stored_form(
            {"metadata": {"name": "e"}, "eventTime": TIME, "type": "Warning", "regarding": {}}
        ),
        [
            'involvedObject.namespace: Invalid value: "": does not match event.namespace',
            "reportingController: Required value",
            *(f"reportingController: {m}" for m in QUALIFIED_EMPTY),
            "reportingInstance: Required value",
            "action: Required value",
            "reason: Required value",
        ],
    ),
    (
        "events.k8s.io: the deprecated fields must stay unset",
        "events.k8s.io",
        stored_form(
            with_(
                NEW_EVENT,
                deprecatedCount=2,
                deprecatedSource={"component": "kubelet"},
                deprecatedFirstTimestamp="2025-01-10T11:00:00Z",
                deprecatedLastTimestamp="2025-01-10T11:00:00Z",
            )
        ),
        [
            'firstTimestamp: Invalid value: "": needs to be unset',
            'lastTimestamp: Invalid value: "": needs to be unset',
            'count: Invalid value: "": needs to be unset',
            'source: Invalid value: "": needs to be unset',
        ],
    ),
    (
        "events.k8s.io: a series counts from 2 and has a last observed time",
        "events.k8s.io",
        stored_form(with_(NEW_EVENT, series={"count": 1})),
        [
            'series.count: Invalid value: "": should be at least 2',
            "series.lastObservedTime: Required value",
        ],
    ),
    (
        "events.k8s.io: long action and note",
        "events.k8s.io",
        stored_form(with_(NEW_EVENT, action="a" * 129, note="n" * 1025)),
        [
            'action: Invalid value: "": can have at most 128 characters',
            'message: Invalid value: "": can have at most 1024 characters',
        ],
    ),
    ("core v1: a classic event", "", OLD_EVENT, []),
    (
        "core v1: the same classic event is refused through events.k8s.io",
        "events.k8s.io",
        OLD_EVENT,
        [
            "eventTime: Required value",
            'firstTimestamp: Invalid value: "": needs to be unset',
            'lastTimestamp: Invalid value: "": needs to be unset',
            'count: Invalid value: "": needs to be unset',
            'source: Invalid value: "": needs to be unset',
        ],
    ),
    (
        "core v1: involved object in another namespace",
        "",
        with_(OLD_EVENT, involvedObject={"kind": "Pod", "name": "p", "namespace": "other"}),
        ['involvedObject.namespace: Invalid value: "other": does not match event.namespace'],
    ),
    (
        "core v1: eventTime asks for the reporting component by its v1 name",
        "",
        with_(OLD_EVENT, eventTime=TIME, reportingInstance="i", action="Start"),
        [
            "reportingComponent: Required value",
            *(f"reportingComponent: {m}" for m in QUALIFIED_EMPTY),
        ],
    ),
]


@pytest.mark.parametrize(
    ("group", "obj", "expected"), [c[1:] for c in CREATE], ids=[c[0] for c in CREATE]
)
def test_create(group: str, obj: Obj, expected: list[str]) -> None:
    assert causes(group, obj) == expected


# (case, change to a stored events.k8s.io event, kube's causes)
UPDATE: list[tuple[str, Obj, list[str]]] = [
    ("a new series", {"series": {"count": 2, "lastObservedTime": TIME}}, []),
    (
        "a bad series",
        {"series": {"count": 1, "lastObservedTime": TIME}},
        ['series.count: Invalid value: "": should be at least 2'],
    ),
    ("labels", {"metadata": {"name": "e", "namespace": "ns", "labels": {"a": "b"}}}, []),
    ("the same time in another zone", {"eventTime": "2025-01-10T12:00:00.000000+01:00"}, []),
    ("the note", {"message": "changed"}, ['message: Invalid value: "changed": field is immutable']),
    (
        "the reason",
        {"reason": "Other"},
        [
            'reason: Invalid value: "Other": field is immutable',
            'reason: Invalid value: "Other": field is immutable',
        ],
    ),
    (
        "the controller",
        {"reportingComponent": "example.com/other"},
        ['reportingController: Invalid value: "example.com/other": field is immutable'],
    ),
    (
        "the time",
        {"eventTime": "2025-01-10T11:00:01.000000Z"},
        ['eventTime: Invalid value: "2025-01-10T11:00:01.000000Z": field is immutable'],
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in UPDATE], ids=[c[0] for c in UPDATE]
)
def test_update_through_events_k8s_io(change: Obj, expected: list[str]) -> None:
    strategy = strategy_for("events.k8s.io", "events")
    old = pipeline.prepare_create(STORED, strategy, stored_form(NEW_EVENT), "ns")
    new = copy.deepcopy(old)
    for key, value in change.items():
        new[key] = {**new[key], **value} if key == "metadata" else value
    new = pipeline.prepare_update(STORED, strategy, new, old)
    try:
        pipeline.validate_update(STORED, strategy, new, old)
        found: list[str] = []
    except errors.StatusError as err:
        found = [f"{c['field']}: {c['message']}" for c in (err.details or {})["causes"]]
    assert found == expected


def test_core_v1_updates_only_pass_the_legacy_checks() -> None:
    strategy = strategy_for("", "events")
    old = pipeline.prepare_create(STORED, strategy, copy.deepcopy(OLD_EVENT), "ns")
    new = with_(old, message="changed", count=2)
    pipeline.validate_update(
        STORED, strategy, pipeline.prepare_update(STORED, strategy, new, old), old
    )


# --- through the registry -------------------------------------------------------------------


@pytest.fixture
def registry() -> Registry:
    return World().registry


def events_target(group: str, name: str = "") -> Target:
    return Target(group, "v1", "events", namespace="ns", name=name)


def body(group: str, obj: Obj) -> bytes:
    api_version = "events.k8s.io/v1" if group else "v1"
    return orjson.dumps({"apiVersion": api_version, "kind": "Event", **obj})


async def test_registry_writes_through_events_k8s_io_get_its_rules(registry: Registry) -> None:
    await make_namespace(registry)
    err = await failure(
        registry.create(
            events_target("events.k8s.io"), body("events.k8s.io", with_(NEW_EVENT, eventTime=None))
        )
    )
    # kube names the kind of the stored internal type: Event, core group
    assert err.message == 'Event "e" is invalid: eventTime: Required value'
    assert (err.details or {}).get("kind") == "Event"
    assert "group" not in (err.details or {})
    created = loads(
        await registry.create(events_target("events.k8s.io"), body("events.k8s.io", NEW_EVENT))
    )
    assert created["apiVersion"] == "events.k8s.io/v1"
    assert created["reportingController"] == "example.com/controller"


async def test_registry_updates_through_events_k8s_io_get_its_rules(registry: Registry) -> None:
    await make_namespace(registry)
    created = loads(
        await registry.create(events_target("events.k8s.io"), body("events.k8s.io", NEW_EVENT))
    )
    created["note"] = "changed"
    err = await failure(registry.update(events_target("events.k8s.io", "e"), orjson.dumps(created)))
    assert (
        err.message == 'Event "e" is invalid: message: Invalid value: "changed": field is immutable'
    )
    # Through core v1 the same change is allowed (legacy checks only).
    core_view = loads(await registry.get(events_target("", "e"), ReadOptions()))
    core_view["message"] = "changed"
    updated = loads(await registry.update(events_target("", "e"), orjson.dumps(core_view)))
    assert updated["message"] == "changed"


async def test_registry_core_v1_events_keep_the_legacy_rules(registry: Registry) -> None:
    await make_namespace(registry)
    created = loads(await registry.create(events_target(""), body("", OLD_EVENT)))
    assert created["count"] == 1
    refused = with_(OLD_EVENT, eventTime=TIME)
    refused["metadata"] = {"name": "e2"}
    err = await failure(registry.create(events_target(""), body("", refused)))
    assert err.message.startswith('Event "e2" is invalid: [reportingComponent: Required value, ')
