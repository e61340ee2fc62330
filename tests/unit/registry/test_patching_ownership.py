"""Field ownership across managers, mirroring structured-merge-diff's merge tests.

Each case is a sequence of applies and updates by named managers on a small schema (the
same shapes structured-merge-diff's fixtures use: leaf fields, an associative list keyed
by ``name``, a list of lists, a struct with a nested struct), then the object and each
manager's field set that must result, and the conflicts an apply must raise. Cases
carry the names of their upstream counterparts (``merge/leaf_test.go``,
``merge/multiple_appliers_test.go``, ...); facts are carried, not code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from services.registry.patching import fieldpath
from services.registry.patching.fieldpath import FieldSet, Path, make_path
from services.registry.patching.ownership import ConflictsError, Managers, Updater
from services.registry.patching.schema import Resolver, Types
from services.registry.patching.typed import Typed

REF = "#/components/schemas/"

DEFINITIONS: dict[str, dict[str, Any]] = {
    "leafFields": {
        "type": "object",
        "properties": {
            "numeric": {"type": "integer"},
            "string": {"type": "string"},
            "bool": {"type": "boolean"},
        },
    },
    "associative": {
        "type": "object",
        "properties": {
            "list": {
                "type": "array",
                "items": {"$ref": REF + "item"},
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            },
            "listOfLists": {
                "type": "array",
                "items": {"$ref": REF + "listItem"},
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            },
            "atomicList": {"type": "array", "items": {"type": "string"}},
            "set": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
        },
    },
    "item": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "value": {"type": "integer"}},
    },
    "listItem": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "value": {
                "type": "array",
                "items": {"type": "string"},
                "x-kubernetes-list-type": "set",
            },
        },
    },
    "structs": {
        "type": "object",
        "properties": {"struct": {"$ref": REF + "struct"}, "version": {"type": "string"}},
    },
    "struct": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "scalarField": {"type": "string"},
            "complexField": {"$ref": REF + "complex"},
            "atomicStruct": {
                "allOf": [{"$ref": REF + "complex"}],
                "x-kubernetes-map-type": "atomic",
            },
        },
    },
    "complex": {"type": "object", "properties": {"name": {"type": "string"}}},
}

TYPED = Typed(Types(Resolver(DEFINITIONS.get)))


def _p(*parts: Any) -> Path:
    """A path: strings are fields, dicts keys, ("v", x) set values."""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(fieldpath.field(part))
        elif isinstance(part, dict):
            out.append(fieldpath.key(part))
        else:
            out.append(fieldpath.value(part[1]))
    return tuple(out)


@dataclass
class Apply:
    manager: str
    obj: dict[str, Any]
    conflicts: list[tuple[str, Path]] = field(default_factory=list)
    force: bool = False


@dataclass
class Update:
    manager: str
    obj: dict[str, Any]


def run(root: str, ops: list[Apply | Update]) -> tuple[Any, Managers]:
    updater = Updater(TYPED, DEFINITIONS[root])
    live: Any = {}
    managers: Managers = {}
    for op in ops:
        if isinstance(op, Update):
            managers = updater.update(live, op.obj, "v1", managers, op.manager)
            live = op.obj
            continue
        if op.conflicts:
            with pytest.raises(ConflictsError) as caught:
                updater.apply(live, op.obj, "v1", managers, op.manager, force=False)
            assert [(c.manager, c.path) for c in caught.value.conflicts] == op.conflicts
            continue
        merged, managers = updater.apply(live, op.obj, "v1", managers, op.manager, force=op.force)
        if merged is not None:
            live = merged
    return live, managers


def sets(managers: Managers) -> dict[str, FieldSet]:
    return {name: versioned.fields for name, versioned in managers.items()}


# --- merge/leaf_test.go -----------------------------------------------------------------------


def test_leaf_apply_twice() -> None:
    obj, managers = run(
        "leafFields",
        [
            Apply("default", {"numeric": 1, "string": "string"}),
            Apply("default", {"numeric": 2, "string": "string", "bool": False}),
        ],
    )
    assert obj == {"numeric": 2, "string": "string", "bool": False}
    assert sets(managers) == {"default": FieldSet.of(_p("numeric"), _p("string"), _p("bool"))}


def test_leaf_apply_update_apply_no_conflict() -> None:
    obj, managers = run(
        "leafFields",
        [
            Apply("default", {"numeric": 1, "string": "string"}),
            Update("controller", {"numeric": 1, "string": "string", "bool": True}),
            Apply("default", {"numeric": 2, "string": "string"}),
        ],
    )
    assert obj == {"numeric": 2, "string": "string", "bool": True}
    assert sets(managers) == {
        "default": FieldSet.of(_p("numeric"), _p("string")),
        "controller": FieldSet.of(_p("bool")),
    }


def test_leaf_apply_update_apply_with_conflict_then_force() -> None:
    obj, managers = run(
        "leafFields",
        [
            Apply("default", {"numeric": 1, "string": "string"}),
            Update("controller", {"numeric": 1, "string": "controller string", "bool": True}),
            Apply(
                "default",
                {"numeric": 2, "string": "user string"},
                conflicts=[("controller", _p("string"))],
            ),
            Apply("default", {"numeric": 2, "string": "user string"}, force=True),
        ],
    )
    assert obj == {"numeric": 2, "string": "user string", "bool": True}
    assert sets(managers) == {
        "default": FieldSet.of(_p("numeric"), _p("string")),
        "controller": FieldSet.of(_p("bool")),
    }


def test_leaf_apply_twice_remove() -> None:
    obj, managers = run(
        "leafFields",
        [
            Apply("default", {"numeric": 1, "string": "string", "bool": False}),
            Apply("default", {"string": "new string"}),
        ],
    )
    assert obj == {"string": "new string"}
    assert sets(managers) == {"default": FieldSet.of(_p("string"))}


def test_leaf_update_apply_omits() -> None:
    obj, managers = run(
        "leafFields",
        [
            Apply("default", {"numeric": 2}),
            Update("controller", {"numeric": 1}),
            Apply("default", {}),
        ],
    )
    assert obj == {"numeric": 1}
    assert sets(managers) == {"controller": FieldSet.of(_p("numeric"))}


def test_leaf_update_remove_empty_set() -> None:
    obj, managers = run(
        "leafFields",
        [
            Apply("default", {"string": "string"}),
            Update("controller", {"string": "new string"}),
        ],
    )
    assert obj == {"string": "new string"}
    assert sets(managers) == {"controller": FieldSet.of(_p("string"))}


def test_leaf_apply_remove_empty_set() -> None:
    obj, managers = run(
        "leafFields",
        [
            Apply("default", {"string": "string"}),
            Apply("default", {}),
        ],
    )
    assert not obj
    assert managers == {}


# --- merge/multiple_appliers_test.go: associative lists ----------------------------------


def _item(name: str) -> tuple[Path, Path]:
    return _p("list", {"name": name}), _p("list", {"name": name}, "name")


def test_multiple_appliers_remove_one() -> None:
    obj, managers = run(
        "associative",
        [
            Apply("apply-one", {"list": [{"name": "a"}, {"name": "b"}]}),
            Apply("apply-two", {"list": [{"name": "c"}]}),
            Apply("apply-one", {"list": [{"name": "a"}]}),
        ],
    )
    assert obj == {"list": [{"name": "a"}, {"name": "c"}]}
    assert sets(managers) == {
        "apply-one": FieldSet.of(*_item("a")),
        "apply-two": FieldSet.of(*_item("c")),
    }


def test_multiple_appliers_same_value_no_conflict() -> None:
    _obj, managers = run(
        "associative",
        [
            Apply("apply-one", {"list": [{"name": "a", "value": 0}]}),
            Apply("apply-two", {"list": [{"name": "a", "value": 0}]}),
        ],
    )
    shared = FieldSet.of(*_item("a"), _p("list", {"name": "a"}, "value"))
    assert sets(managers) == {"apply-one": shared, "apply-two": shared}


def test_multiple_appliers_change_value_yes_conflict() -> None:
    obj, _managers = run(
        "associative",
        [
            Apply("apply-one", {"list": [{"name": "a", "value": 0}]}),
            Apply(
                "apply-two",
                {"list": [{"name": "a", "value": 1}]},
                conflicts=[("apply-one", _p("list", {"name": "a"}, "value"))],
            ),
        ],
    )
    assert obj == {"list": [{"name": "a", "value": 0}]}


def test_multiple_appliers_remove_one_keep_one() -> None:
    obj, managers = run(
        "associative",
        [
            Apply("apply-one", {"list": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}),
            Apply("apply-two", {"list": [{"name": "c"}, {"name": "d"}]}),
            Apply("apply-one", {"list": [{"name": "a"}]}),
        ],
    )
    assert obj == {"list": [{"name": "a"}, {"name": "c"}, {"name": "d"}]}
    assert sets(managers) == {
        "apply-one": FieldSet.of(*_item("a")),
        "apply-two": FieldSet.of(*_item("c"), *_item("d")),
    }


# --- merge/multiple_appliers_test.go: unsetting fields ----------------------------------------


def test_unset_scalar_sole_owner() -> None:
    obj, managers = run(
        "structs",
        [
            Apply("apply-one", {"struct": {"name": "a", "scalarField": "a"}}),
            Apply("apply-one", {"struct": {"name": "a"}}),
        ],
    )
    assert obj == {"struct": {"name": "a"}}
    assert sets(managers) == {"apply-one": FieldSet.of(_p("struct", "name"))}


def test_unset_scalar_shared_with_applier() -> None:
    obj, managers = run(
        "structs",
        [
            Apply("apply-one", {"struct": {"name": "a", "scalarField": "a"}}),
            Apply("apply-two", {"struct": {"scalarField": "a"}}),
            Apply("apply-one", {"struct": {"name": "a"}}),
        ],
    )
    assert obj == {"struct": {"name": "a", "scalarField": "a"}}
    assert sets(managers) == {
        "apply-one": FieldSet.of(_p("struct", "name")),
        "apply-two": FieldSet.of(_p("struct", "scalarField")),
    }


def test_unset_scalar_shared_with_updater() -> None:
    obj, managers = run(
        "structs",
        [
            Update("updater", {"struct": {"name": "a", "scalarField": "a"}}),
            Apply("applier", {"struct": {"name": "a", "scalarField": "a"}}),
            Apply("applier", {"struct": {"name": "a"}}),
        ],
    )
    assert obj == {"struct": {"name": "a", "scalarField": "a"}}
    assert sets(managers) == {
        "updater": FieldSet.of(_p("struct"), _p("struct", "name"), _p("struct", "scalarField")),
        "applier": FieldSet.of(_p("struct", "name")),
    }


def test_updater_claims_field() -> None:
    obj, managers = run(
        "structs",
        [
            Apply("applier", {"struct": {"name": "a", "scalarField": "a"}}),
            Update("updater", {"struct": {"name": "a", "scalarField": "b"}}),
        ],
    )
    assert obj == {"struct": {"name": "a", "scalarField": "b"}}
    assert sets(managers) == {
        "updater": FieldSet.of(_p("struct", "scalarField")),
        "applier": FieldSet.of(_p("struct", "name")),
    }


def test_unset_complex_sole_owner() -> None:
    obj, managers = run(
        "structs",
        [
            Apply("apply-one", {"struct": {"name": "a", "complexField": {"name": "b"}}}),
            Apply("apply-one", {"struct": {"name": "a"}}),
        ],
    )
    assert obj == {"struct": {"name": "a"}}
    assert sets(managers) == {"apply-one": FieldSet.of(_p("struct", "name"))}


def test_unset_complex_shared_with_applier() -> None:
    obj, managers = run(
        "structs",
        [
            Apply("apply-one", {"struct": {"name": "a", "complexField": {"name": "b"}}}),
            Apply("apply-two", {"struct": {"complexField": {"name": "b"}}}),
            Apply("apply-one", {"struct": {"name": "a"}}),
        ],
    )
    assert obj == {"struct": {"name": "a", "complexField": {"name": "b"}}}
    assert sets(managers) == {
        "apply-one": FieldSet.of(_p("struct", "name")),
        "apply-two": FieldSet.of(_p("struct", "complexField", "name")),
    }


# --- merge/multiple_appliers_test.go: nested lists ----------------------------------------------


def _sub(name: str, *values: str) -> list[Path]:
    paths = [_p("listOfLists", {"name": name}), _p("listOfLists", {"name": name}, "name")]
    paths += [_p("listOfLists", {"name": name}, "value", ("v", v)) for v in values]
    return paths


def test_remove_one_keep_one_with_two_sub_items() -> None:
    obj, managers = run(
        "associative",
        [
            Apply("apply-one", {"listOfLists": [{"name": "a"}, {"name": "b", "value": ["c"]}]}),
            Apply("apply-two", {"listOfLists": [{"name": "b", "value": ["d"]}]}),
            Apply("apply-one", {"listOfLists": [{"name": "a"}]}),
        ],
    )
    assert obj == {"listOfLists": [{"name": "a"}, {"name": "b", "value": ["d"]}]}
    assert sets(managers) == {
        "apply-one": FieldSet.of(*_sub("a")),
        "apply-two": FieldSet.of(*_sub("b", "d")),
    }


def test_remove_one_keep_one_with_dangling_subitem() -> None:
    obj, managers = run(
        "associative",
        [
            Apply("apply-one", {"listOfLists": [{"name": "a"}, {"name": "b", "value": ["c"]}]}),
            Apply("apply-two", {"listOfLists": [{"name": "b", "value": ["d"]}]}),
            Update(
                "controller",
                {"listOfLists": [{"name": "a"}, {"name": "b", "value": ["c", "d", "e"]}]},
            ),
            Apply("apply-one", {"listOfLists": [{"name": "a"}]}),
        ],
    )
    assert obj == {"listOfLists": [{"name": "a"}, {"name": "b", "value": ["d", "e"]}]}
    assert sets(managers) == {
        "apply-one": FieldSet.of(*_sub("a")),
        "apply-two": FieldSet.of(*_sub("b", "d")),
        "controller": FieldSet.of(_p("listOfLists", {"name": "b"}, "value", ("v", "e"))),
    }


def test_remove_one_with_dangling_subitem_keep_one() -> None:
    obj, _managers = run(
        "associative",
        [
            Apply("apply-one", {"listOfLists": [{"name": "a"}, {"name": "b", "value": ["c"]}]}),
            Apply("apply-two", {"listOfLists": [{"name": "a", "value": ["b"]}]}),
            Update(
                "controller",
                {
                    "listOfLists": [
                        {"name": "a", "value": ["b"]},
                        {"name": "b", "value": ["c", "d"]},
                    ]
                },
            ),
            Apply("apply-one", {"listOfLists": [{"name": "a"}]}),
        ],
    )
    assert obj == {"listOfLists": [{"name": "a", "value": ["b"]}]}


# --- set and atomic semantics -----------------------------------------------------------------


def test_set_items_are_owned_one_by_one() -> None:
    obj, managers = run(
        "associative",
        [
            Apply("one", {"set": ["a", "b"]}),
            Apply("two", {"set": ["b", "c"]}),
            Apply("one", {"set": ["b"]}),
        ],
    )
    assert obj == {"set": ["b", "c"]}
    assert sets(managers) == {
        "one": FieldSet.of(_p("set", ("v", "b"))),
        "two": FieldSet.of(_p("set", ("v", "b")), _p("set", ("v", "c"))),
    }


def test_atomic_list_is_one_field() -> None:
    obj, managers = run(
        "associative",
        [
            Apply("one", {"atomicList": ["a", "b"]}),
            Apply("two", {"atomicList": ["c"]}, conflicts=[("one", _p("atomicList"))]),
            Apply("two", {"atomicList": ["c"]}, force=True),
        ],
    )
    assert obj == {"atomicList": ["c"]}
    assert sets(managers) == {"two": FieldSet.of(_p("atomicList"))}


def test_atomic_struct_is_replaced_whole() -> None:
    obj, _ = run(
        "structs",
        [
            Update("one", {"struct": {"atomicStruct": {"name": "a"}, "name": "x"}}),
            Apply(
                "two",
                {"struct": {"atomicStruct": {}}},
                conflicts=[("one", _p("struct", "atomicStruct"))],
            ),
        ],
    )
    assert obj["struct"]["atomicStruct"] == {"name": "a"}


def test_apply_order_of_associative_list() -> None:
    """Items only the live object has keep their place; shared ones follow the
    configuration; new ones come where the configuration has them."""
    obj, _ = run(
        "associative",
        [
            Update("u", {"list": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}),
            Apply("x", {"list": [{"name": "c"}, {"name": "a"}, {"name": "d"}]}),
        ],
    )
    assert [i["name"] for i in obj["list"]] == ["b", "c", "a", "d"]


def test_update_takes_changed_fields_from_appliers_without_conflict() -> None:
    _, managers = run(
        "associative",
        [
            Apply("applier", {"list": [{"name": "a", "value": 1}]}),
            Update("updater", {"list": [{"name": "a", "value": 2}]}),
        ],
    )
    assert sets(managers)["updater"] == FieldSet.of(_p("list", {"name": "a"}, "value"))
    assert sets(managers)["applier"] == FieldSet.of(*_item("a"))


def test_conflicts_of_several_managers_are_sorted() -> None:
    updater = Updater(TYPED, DEFINITIONS["leafFields"])
    managers = updater.update({}, {"numeric": 1}, "v1", {}, "b")
    managers = updater.update({"numeric": 1}, {"numeric": 1, "string": "s"}, "v1", managers, "a")
    with pytest.raises(ConflictsError) as caught:
        updater.apply(
            {"numeric": 1, "string": "s"},
            {"numeric": 2, "string": "t"},
            "v1",
            managers,
            "c",
            force=False,
        )
    assert [(c.manager, c.path) for c in caught.value.conflicts] == [
        ("a", make_path("string")),
        ("b", make_path("numeric")),
    ]


def test_ignored_fields_are_never_owned() -> None:
    updater = Updater(TYPED, DEFINITIONS["leafFields"], FieldSet.of(make_path("bool")))
    merged, managers = updater.apply({}, {"numeric": 1, "bool": True}, "v1", {}, "m", force=False)
    assert merged == {"numeric": 1, "bool": True}
    assert sets(managers) == {"m": FieldSet.of(make_path("numeric"))}
