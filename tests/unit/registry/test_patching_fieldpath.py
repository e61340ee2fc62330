"""Field paths, field sets and FieldsV1; typed field sets, comparisons and removal."""

from __future__ import annotations

from typing import Any

import pytest

from services.registry.patching import fieldpath
from services.registry.patching import schema as schemas
from services.registry.patching.fieldpath import FieldsError, FieldSet, make_path
from services.registry.patching.typed import Typed, drop_nulls, json_equal

TYPED = Typed(schemas.builtin_types())
DEPLOYMENT = schemas.root("io.k8s.api.apps.v1.Deployment")
CONFIGMAP = schemas.root("io.k8s.api.core.v1.ConfigMap")


def test_path_strings_as_kube_prints_them() -> None:
    path = make_path(
        "spec",
        "containers",
        fieldpath.key({"name": "web"}),
        "ports",
        fieldpath.key({"protocol": "TCP", "containerPort": 80}),
    )
    assert fieldpath.path_string(path) == (
        '.spec.containers[name="web"].ports[containerPort=80,protocol="TCP"]'
    )
    assert fieldpath.path_string(make_path("metadata", "finalizers", fieldpath.value("a"))) == (
        '.metadata.finalizers[="a"]'
    )
    assert fieldpath.path_string(make_path("args", fieldpath.index(2))) == ".args[2]"


def test_fields_v1_round_trip_and_order() -> None:
    fields = {
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {
            "f:ports": {
                'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}},
                'k:{"port":443,"protocol":"TCP"}': {".": {}, "f:port": {}},
                'k:{"port":8080,"protocol":"TCP"}': {},
            }
        },
        "f:finalizers": {'v:"a"': {}, "i:0": {}},
    }
    decoded = FieldSet.from_fields_v1(fields)
    encoded = decoded.to_fields_v1()
    assert encoded == fields
    assert list(encoded) == ["f:finalizers", "f:metadata", "f:spec"]
    ports = list(encoded["f:spec"]["f:ports"])
    assert ports == [  # numbers compare as numbers, not as text
        'k:{"port":80,"protocol":"TCP"}',
        'k:{"port":443,"protocol":"TCP"}',
        'k:{"port":8080,"protocol":"TCP"}',
    ]
    assert list(encoded["f:finalizers"]) == ['v:"a"', "i:0"]


@pytest.mark.parametrize(
    "bad",
    [{"x:y": {}}, {"k:notjson": {}}, {"k:[1]": {}}, {"i:a": {}}, {"f:a": []}, []],
)
def test_bad_fields_v1(bad: Any) -> None:
    with pytest.raises(FieldsError):
        FieldSet.from_fields_v1(bad)


def test_set_operations() -> None:
    parent, child = make_path("a"), make_path("a", "b")
    both = FieldSet.of(parent, child)
    assert both.difference(FieldSet.of(parent)) == FieldSet.of(child)
    assert both.difference(FieldSet.of(child)) == FieldSet.of(parent)  # parent - child = parent
    assert both.recursive_difference(FieldSet.of(parent)) == FieldSet()
    assert both.intersection(FieldSet.of(child, make_path("c"))) == FieldSet.of(child)
    assert FieldSet.of(parent).union(FieldSet.of(child)) == both
    assert both.has(child) and both.has(parent) and not both.has(make_path("b"))
    assert both.paths() == [parent, child]
    assert FieldSet.of(child).to_fields_v1() == {"f:a": {"f:b": {}}}
    assert both.to_fields_v1() == {"f:a": {".": {}, "f:b": {}}}


def test_to_field_set_of_an_applied_deployment() -> None:
    config = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "labels": {"app": "d"}},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "i",
                            "ports": [{"containerPort": 80}],
                            "args": ["a"],
                            "resources": {},
                        }
                    ],
                    "nodeSelector": {"disk": "ssd"},
                }
            },
        },
    }
    fields = TYPED.to_field_set(config, DEPLOYMENT).to_fields_v1()
    assert fields == {
        "f:apiVersion": {},
        "f:kind": {},
        "f:metadata": {"f:labels": {"f:app": {}}, "f:name": {}},
        "f:spec": {
            "f:selector": {},  # LabelSelector is atomic
            "f:template": {
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"c"}': {
                            ".": {},
                            "f:args": {},  # atomic list
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {
                                'k:{"containerPort":80,"protocol":"TCP"}': {
                                    ".": {},
                                    "f:containerPort": {},
                                }
                            },
                            "f:resources": {},  # an empty map is owned itself
                        }
                    },
                    "f:nodeSelector": {},  # atomic map
                }
            },
        },
    }


def test_validate_an_applied_configuration() -> None:
    config = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "replicas": "3",
            "bogus": 1,
            "template": {
                "spec": {
                    "containers": [{"name": "c"}, {"name": "c"}, {"image": "x"}],
                }
            },
        },
    }
    assert TYPED.validate(config, DEPLOYMENT) == [
        ".spec.replicas: expected numeric (int or float), got string",
        ".spec.bogus: field not declared in schema",
        '.spec.template.spec.containers: duplicate entries for key [name="c"]',
        ".spec.template.spec.containers: element 2: associative list with keys has an "
        'element that omits key field "name" (and doesn\'t have default value)',
    ]


def test_compare() -> None:
    old = {"data": {"a": "1", "b": "2"}, "metadata": {"name": "c"}}
    new = {"data": {"a": "9", "c": "3"}, "metadata": {"name": "c", "labels": {"x": "y"}}}
    compare = TYPED.compare(old, new, CONFIGMAP)
    assert compare.modified == FieldSet.of(make_path("data", "a"))
    assert compare.added == FieldSet.of(
        make_path("data", "c"),
        make_path("metadata", "labels"),
        make_path("metadata", "labels", "x"),
    )
    assert compare.removed == FieldSet.of(make_path("data", "b"))


def test_remove_items_leaves_null_for_emptied_containers() -> None:
    value = {"data": {"a": "1"}, "metadata": {"name": "c"}}
    removed = TYPED.remove_items(value, FieldSet.of(make_path("data", "a")), CONFIGMAP)
    assert removed == {"data": None, "metadata": {"name": "c"}}
    assert drop_nulls(removed) == {"metadata": {"name": "c"}}


def test_json_equal() -> None:
    assert json_equal(1, 1.0)
    assert not json_equal(True, 1)
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})


def test_no_schema_deduces_maps_granular_lists_atomic() -> None:
    value = {"spec": {"a": {"b": 1}, "l": [{"x": 1}]}}
    assert TYPED.to_field_set(value, None).to_fields_v1() == {
        "f:spec": {".": {}, "f:a": {".": {}, "f:b": {}}, "f:l": {}}
    }
