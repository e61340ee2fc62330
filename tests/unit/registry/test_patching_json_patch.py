"""JSON patch (services/registry/patching/json_patch.py): RFC 6902 as evanphx/json-patch v4
applies it for kube-apiserver, and the two limits kube puts on it: 10,000 operations (413)
and a budget for what ``copy`` adds (422, the generic answer of a patch that fails).
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from kapi import errors
from services.registry import limits
from services.registry.patching import json_patch

Obj = dict[str, Any]

DOC: Obj = {"metadata": {"name": "c", "labels": {"a": "1"}}, "data": {"k": "v"}, "items": [1, 2, 3]}

REJECTED = "the server rejected our request due to an error in our request"


def applied(operations: Any, doc: Obj | None = None) -> Obj:
    return json_patch.apply(copy.deepcopy(DOC if doc is None else doc), operations)


def refused(operations: Any, doc: Obj | None = None) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as info:
        applied(operations, doc)
    return info.value


@pytest.mark.parametrize(
    ("operations", "changed"),
    [
        ([{"op": "add", "path": "/data/n", "value": "x"}], {"data": {"k": "v", "n": "x"}}),
        ([{"op": "add", "path": "/data/k", "value": "w"}], {"data": {"k": "w"}}),
        ([{"op": "add", "path": "/items/0", "value": 0}], {"items": [0, 1, 2, 3]}),
        ([{"op": "add", "path": "/items/3", "value": 4}], {"items": [1, 2, 3, 4]}),
        ([{"op": "add", "path": "/items/-", "value": 4}], {"items": [1, 2, 3, 4]}),
        ([{"op": "add", "path": "/items/-1", "value": 9}], {"items": [1, 2, 9, 3]}),
        ([{"op": "add", "path": "/data/n"}], {"data": {"k": "v", "n": None}}),  # v4: null
        ([{"op": "remove", "path": "/items/1"}], {"items": [1, 3]}),
        ([{"op": "remove", "path": "/items/-1"}], {"items": [1, 2]}),
        ([{"op": "replace", "path": "/data/k", "value": "w"}], {"data": {"k": "w"}}),
        (
            [{"op": "move", "from": "/data/k", "path": "/data/m"}],
            {"data": {"m": "v"}},
        ),
        (
            [{"op": "copy", "from": "/metadata/labels", "path": "/data/l"}],
            {"data": {"k": "v", "l": {"a": "1"}}},
        ),
        ([{"op": "test", "path": "/items", "value": [1, 2, 3]}], {}),
        ([{"op": "test", "path": "/items/0", "value": 1.0}], {}),
        ([{"op": "test", "path": "/data/missing", "value": None}], {}),  # v4: missing is null
        ([{"op": "test", "path": "", "value": DOC}], {}),
        (
            [{"op": "add", "path": "/metadata/labels/a~1b", "value": "x"}],
            {"metadata": {"name": "c", "labels": {"a": "1", "a/b": "x"}}},
        ),
    ],
)
def test_operations(operations: list[Obj], changed: Obj) -> None:
    assert applied(operations) == {**DOC, **changed}


def test_copies_are_not_shared() -> None:
    out = applied(
        [
            {"op": "copy", "from": "/metadata/labels", "path": "/data/l"},
            {"op": "add", "path": "/data/l/b", "value": "2"},
        ]
    )
    assert out["metadata"]["labels"] == {"a": "1"}
    assert out["data"]["l"] == {"a": "1", "b": "2"}


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "test", "path": "/data/k", "value": "other"}],
        [{"op": "test", "path": "/items/0", "value": True}],  # true is not 1
        [{"op": "test", "path": "/data/missing", "value": "x"}],
        [{"op": "test", "path": "/missing/k"}],
        [{"op": "test", "path": "", "value": {}}],
        [{"op": "remove", "path": "/data/missing"}],
        [{"op": "replace", "path": "/data/missing", "value": 1}],
        [{"op": "add", "path": "/missing/k", "value": 1}],
        [{"op": "add", "path": "/items/5", "value": 1}],
        [{"op": "remove", "path": "/items/-"}],
        [{"op": "remove", "path": "/items/-4"}],
        [{"op": "add", "path": "", "value": {}}],  # v4 cannot replace the document
        [{"op": "add", "path": "data", "value": 1}],
        [{"op": "add", "value": 1}],
        [{"op": "copy", "path": "/data/x"}],
        [{"op": "bogus", "path": "/data"}],
        [{"path": "/data"}],
        [{"op": "add", "path": "/data/k/deeper", "value": 1}],
    ],
)
def test_an_operation_that_does_not_apply_is_kubes_generic_422(operations: list[Obj]) -> None:
    err = refused(operations)
    assert (err.code, err.reason, err.message, err.details) == (422, "Invalid", REJECTED, {})


@pytest.mark.parametrize(
    ("operations", "message"),
    [
        ({"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
        ("ops", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"),
        ([1], "json: cannot unmarshal number into Go value of type jsonpatch.Operation"),
        ([[]], "json: cannot unmarshal array into Go value of type jsonpatch.Operation"),
    ],
)
def test_what_is_not_a_list_of_operations_is_400(operations: Any, message: str) -> None:
    err = refused(operations)
    assert (err.code, err.reason, err.message) == (400, "BadRequest", message)


def test_at_most_10000_operations() -> None:
    """kube's maxJSONPatchOperations (k8s.io/apiserver handlers/patch.go): 413."""
    test = {"op": "test", "path": "/data/k", "value": "v"}
    assert applied([test] * limits.MAX_JSON_PATCH_OPERATIONS) == DOC
    err = refused([test] * (limits.MAX_JSON_PATCH_OPERATIONS + 1))
    assert (err.code, err.reason, err.message) == (
        413,
        "RequestEntityTooLarge",
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, "
        "got 10001",
    )


def test_copies_draw_on_one_budget() -> None:
    """evanphx/json-patch's AccumulatedCopySizeLimit: the JSON bytes every copy adds."""
    value = "x" * 1000
    doc = {"data": {"v": value}}
    size = len(orjson.dumps(value))
    fits = limits.MAX_JSON_PATCH_COPY_BYTES // size
    copies = [{"op": "copy", "from": "/data/v", "path": f"/data/c{i}"} for i in range(fits)]
    assert len(applied(copies, doc)["data"]) == fits + 1
    copies.append({"op": "copy", "from": "/data/v", "path": "/data/last"})
    err = refused(copies, doc)
    assert (err.code, err.message) == (422, REJECTED)


def test_copying_a_map_into_itself_stops_at_the_budget() -> None:
    """The issue's 3.2 KB patch: 25 copies of the annotations into themselves doubled them
    each time (2^25 times larger: the registry grew to 22 GiB). Now the copies stop once
    they add more than the budget, having added at most that much. (16 copies here: 6.5 MB
    even without the budget.)"""
    doc = {"metadata": {"annotations": {"a": "x" * 100}}}
    operations = [
        {"op": "copy", "from": "/metadata/annotations", "path": f"/metadata/annotations/a{i}"}
        for i in range(16)
    ]
    err = refused(operations, doc)
    assert (err.code, err.message) == (422, REJECTED)
    # The largest prefix that fits is as large as the budget allows, no larger.
    for count in range(16, 0, -1):
        try:
            out = applied(operations[:count], doc)
        except errors.StatusError:
            continue
        assert len(orjson.dumps(out)) <= limits.MAX_JSON_PATCH_COPY_BYTES + 200
        break
    else:
        pytest.fail("no prefix of the copies fits the budget")


def test_values_of_the_patch_are_not_copied() -> None:
    """The document is the caller's own copy and the patch freshly decoded: a value goes
    in as it is (a 3 MiB value is not held twice)."""
    value = {"big": ["x"]}
    out = json_patch.apply({"data": {}}, [{"op": "add", "path": "/data/v", "value": value}])
    assert out["data"]["v"] is value
