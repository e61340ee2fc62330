"""A create's managedFields by the one-walk path (``patching/created.py``) are exactly
those of the general path (compare, set algebra, encode), byte for byte, on every
manifest the tests use and on random objects of every built-in type (typed as the
schema says, and not: nulls, empties, wrong types, unknown fields, duplicate and
key-less list items)."""

from __future__ import annotations

import ast
import copy
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from builtin_definitions import strategy_for

from kapi import errors
from services.registry import patching, pipeline
from services.registry.patching import created, fieldpath
from services.registry.patching import schema as schemas
from services.registry.patching.fieldpath import FieldSet, SetBuilder
from services.registry.patching.managed_fields import FieldManager
from services.registry.patching.schema import LIST, MAP, SCALAR, UNTYPED
from services.registry.patching.typed import Typed, TypeRef
from services.registry.strategies import bootstrap, builtin_table
from services.registry.types import ResourceType

Obj = dict[str, Any]
TESTS = Path(__file__).resolve().parents[2]
TYPED = Typed(schemas.builtin_types())
TABLE = builtin_table()
STAMP = "2024-01-01T00:00:00Z"
MANAGERS = ("kubectl-create", "")


def _by_kind() -> dict[tuple[str, str], ResourceType]:
    found: dict[tuple[str, str], ResourceType] = {}
    for rt in TABLE.types:
        found.setdefault((rt.api_version, rt.kind), rt)
    return found


BY_KIND = _by_kind()


def manager_for(rt: ResourceType | None, api_version: str = "", kind: str = "") -> FieldManager:
    """The field manager ``Registry`` uses for creates of ``rt`` (``None``: a type
    without a schema), with a fixed clock."""
    if rt is None:
        return FieldManager(TYPED, None, api_version=api_version, kind=kind, now=lambda: STAMP)
    return FieldManager(
        TYPED,
        schemas.root(rt.schema),
        api_version=rt.api_version,
        kind=rt.kind,
        ignored=patching.reset_fields(
            rt.schema, subresource="", has_status="status" in rt.subresources
        ),
        now=lambda: STAMP,
    )


def assert_same(fields: FieldManager, obj: Obj) -> None:
    for manager in MANAGERS:
        general = copy.deepcopy(obj)
        general = fields._update_general({}, general, manager)
        fast = copy.deepcopy(obj)
        fast = fields._update_created(fast, fast["metadata"], manager)
        assert orjson.dumps(fast) == orjson.dumps(general), orjson.dumps(obj)[:2000]


def variants(rt: ResourceType | None, obj: Obj) -> Iterator[Obj]:
    """``obj`` as sent, and as the create pipeline prepares it (defaults applied)."""
    sent = copy.deepcopy(obj)
    if not isinstance(sent.get("metadata"), dict):
        sent["metadata"] = {}
    sent["metadata"].pop("managedFields", None)
    yield sent
    if rt is None:
        return
    try:
        prepared = pipeline.prepare_create(
            rt, strategy_for(rt.group, rt.resource), copy.deepcopy(sent), "ns"
        )
    except (errors.StatusError, AttributeError, TypeError, KeyError, ValueError):
        return  # a body the pipeline refuses never reaches the field manager
    yield prepared


# --- the manifests the tests use ---------------------------------------------------------


PLACEHOLDER = "x"


def _value(node: ast.expr) -> Any:
    """A literal's value; what is not a literal (a name, a call) reads as ``"x"``."""
    if isinstance(node, ast.Dict):
        return {
            _value(k): _value(v)
            for k, v in zip(node.keys, node.values, strict=True)
            if k is not None and isinstance(_value(k), str)
        }
    if isinstance(node, ast.List | ast.Tuple):
        return [_value(e) for e in node.elts if not isinstance(e, ast.Starred)]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        operand = _value(node.operand)
        return -operand if isinstance(operand, int | float) else PLACEHOLDER
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool):
        return node.value
    if isinstance(node, ast.Constant) and node.value is None:
        return None
    return PLACEHOLDER


def _literal_manifests() -> Iterator[Obj]:
    """Every dict literal naming an apiVersion and kind in the test modules (values
    that are not literals read as "x"), and every YAML or JSON document in a string."""
    for path in sorted(TESTS.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                if {"apiVersion", "kind"} <= keys:
                    yield _value(node)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
                text = (
                    node.value
                    if isinstance(node.value, str)
                    else node.value.decode("utf-8", "replace")
                )
                if "apiVersion" in text and "kind" in text:
                    yield from _documents(text)


def _documents(text: str) -> Iterator[Obj]:
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return
    for document in documents:
        if isinstance(document, dict):
            try:  # as JSON would carry it (no dates, no non-string keys)
                yield orjson.loads(orjson.dumps(document, default=str))
            except TypeError:
                continue


def manifests() -> list[Obj]:
    found = list(_literal_manifests())
    for path in sorted((TESTS / "data").rglob("*.json")):
        found.append(json.loads(path.read_text()))
    found.extend(copy.deepcopy(obj) for *_, obj in bootstrap.BOOTSTRAP)
    return [
        obj
        for obj in found
        if isinstance(obj.get("apiVersion"), str) and isinstance(obj.get("kind"), str)
    ]


MANIFESTS = manifests()


def test_the_corpus_is_not_empty() -> None:
    assert len(MANIFESTS) > 150
    assert len({(o["apiVersion"], o["kind"]) for o in MANIFESTS}) > 30


def test_every_manifest_the_tests_use() -> None:
    for obj in MANIFESTS:
        rt = BY_KIND.get((obj["apiVersion"], obj["kind"]))
        fields = manager_for(rt, obj["apiVersion"], obj["kind"])
        for variant in variants(rt, obj):
            assert_same(fields, variant)


# --- random objects ------------------------------------------------------------------------


def _scalar(rng: random.Random, kind: str) -> Any:
    choices: dict[str, list[Any]] = {
        "string": ["a", "b", "", "80", "ä<&>"],
        "numeric": [0, 1, 80, 80.0, 2.5, -1],
        "boolean": [True, False],
    }
    return rng.choice(choices.get(kind, [c for cs in choices.values() for c in cs]))


def _json(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.5:
        return rng.choice([None, "a", "b", 1, 80.0, True, {}, []])
    if roll < 0.75:
        return [_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice("abc"): _json(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def _odd(rng: random.Random) -> Any:
    """A value of a shape the schema may not expect there."""
    return rng.choice([None, {}, [], "x", 1, 2.0, True, {"a": 1}, [1, "a"]])


def random_value(rng: random.Random, ref: TypeRef, depth: int) -> Any:
    atom = TYPED.atom(ref)
    if rng.random() < 0.08:
        return _odd(rng)
    if atom.kind == SCALAR:
        return _scalar(rng, atom.scalar)
    if atom.kind == UNTYPED or depth > 6:
        return _json(rng, depth)
    if atom.kind == LIST:
        return [_item(rng, atom.elem, atom.keys, depth + 1) for _ in range(rng.randint(0, 3))]
    assert atom.kind == MAP
    out: Obj = {}
    if atom.fields:
        names = sorted(atom.fields)
        for name in rng.sample(names, min(len(names), rng.randint(0, 4))):
            out[name] = random_value(rng, atom.fields[name], depth + 1)
    if atom.elem is not None:
        for name in rng.sample(["k1", "k2", "k3"], rng.randint(0, 2)):
            out[name] = random_value(rng, atom.elem, depth + 1)
    if rng.random() < 0.1:
        out["unknownField"] = _json(rng, depth + 1)
    return out


def _item(rng: random.Random, elem: TypeRef, keys: tuple[str, ...], depth: int) -> Any:
    """A list item; for keyed lists keys from a small domain, so duplicates happen, and
    sometimes none at all."""
    item = random_value(rng, elem, depth)
    if not keys or not isinstance(item, dict):
        if not keys and not isinstance(item, dict | list) and rng.random() < 0.5:
            return rng.choice(["a", "b", 80, 80.0])  # set items that collide
        return item
    elem_atom = TYPED.atom(elem)
    for key in keys:
        if rng.random() < 0.1:
            item.pop(key, None)
            continue
        key_ref, _ = TYPED.field_type(elem_atom, key)
        key_atom = TYPED.atom(key_ref)
        item[key] = rng.choice(
            [80, 80.0, 443] if key_atom.scalar == "numeric" else ["a", "b", "TCP", "UDP"]
        )
    return item


def random_object(rng: random.Random, rt: ResourceType) -> Obj:
    root = TYPED.atom(schemas.root(rt.schema))
    obj: Obj = {"apiVersion": rt.api_version, "kind": rt.kind}
    for name, sub in root.fields.items():
        if name in ("apiVersion", "kind"):
            continue
        if rng.random() < (0.8 if name in ("metadata", "spec", "status") else 0.4):
            obj[name] = random_value(rng, sub, 1)
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    meta.update(name="n", uid="u", creationTimestamp=STAMP)
    if rt.namespaced:
        meta["namespace"] = "ns"
    return obj


SERVED = sorted({(rt.api_version, rt.kind): rt for rt in TABLE.types}.items())


@pytest.mark.parametrize("rt", [rt for _, rt in SERVED], ids=[f"{v}/{k}" for (v, k), _ in SERVED])
def test_random_objects_of_every_type(rt: ResourceType) -> None:
    rng = random.Random(f"{rt.api_version}/{rt.kind}")
    fields = manager_for(rt)
    assert fields._created is not None  # every built-in type takes the one walk
    for _ in range(40):
        for variant in variants(rt, random_object(rng, rt)):
            assert_same(fields, variant)


def test_random_objects_without_a_schema() -> None:
    rng = random.Random("deduced")
    fields = manager_for(None, "example.com/v1", "Widget")
    for _ in range(300):
        obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
        for name in ("metadata", "spec", "status", "data"):
            if rng.random() < 0.7:
                obj[name] = _json(rng, 0)
        if not isinstance(obj["metadata"], dict):
            obj["metadata"] = {}
        assert_same(fields, obj)


# --- what the dispatch sends where --------------------------------------------------------


def test_a_create_with_sent_managed_fields_takes_the_general_path() -> None:
    fields = manager_for(BY_KIND[("v1", "ConfigMap")])
    sent = [
        {
            "manager": "m",
            "operation": "Update",
            "apiVersion": "v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:z": {}}},
        }
    ]
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "managedFields": sent},
        "data": {"a": "1", "b": "2"},
    }
    out = fields.update({}, obj, "kubectl-create")
    assert [e["manager"] for e in out["metadata"]["managedFields"]] == ["m", "kubectl-create"]


def test_an_object_that_sets_nothing_gets_no_entry() -> None:
    fields = manager_for(BY_KIND[("v1", "ConfigMap")])
    obj: Obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    assert "managedFields" not in fields.update({}, obj, "m")["metadata"]


def test_plain_zero() -> None:
    assert created.plain_zero({"a": None, "b": {"c": {}}})
    assert not created.plain_zero({"a": []})
    with pytest.raises(ValueError):
        created.CreatedFields(
            TYPED, None, zero={"a": [1]}, ignored=created.EMPTY, stripped=created.EMPTY
        )


# --- the walk against the comparison it replaces, for any empty object and filters -------


def _random_zero(rng: random.Random, depth: int) -> Any:
    if depth > 2 or rng.random() < 0.3:
        return None
    return {rng.choice("abc"): _random_zero(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def _random_paths(rng: random.Random, obj: Any, root: TypeRef) -> FieldSet:
    """Some paths of ``obj`` (fields, list items, and below them)."""
    builder = SetBuilder()

    def walk(value: Any, path: fieldpath.Path, ref: TypeRef) -> None:
        atom = TYPED.atom(ref)
        if isinstance(value, dict):
            for name, sub in value.items():
                sub_path = (*path, fieldpath.field(name))
                if rng.random() < 0.15:
                    builder.insert(sub_path)
                walk(sub, sub_path, TYPED.field_type(atom, name)[0])
        elif isinstance(value, list) and atom.kind == LIST:
            for pe, item in TYPED.elements(atom, value):
                if rng.random() < 0.15:
                    builder.insert((*path, pe))
                walk(item, (*path, pe), atom.elem)

    walk(obj, (), root)
    return builder.build()


@pytest.mark.parametrize(
    "kind", [("", ""), ("apps/v1", "Deployment"), ("v1", "Service"), ("v1", "Pod")]
)
def test_the_walk_is_the_comparison_it_replaces(kind: tuple[str, str]) -> None:
    rng = random.Random(str(kind))
    rt = BY_KIND.get(kind)
    root = schemas.root(rt.schema) if rt else None
    for _ in range(400):
        zero = _random_zero(rng, 0) or {}
        obj = random_object(rng, rt) if rt else _json(rng, 0)
        if not isinstance(obj, dict):
            continue
        ignored, stripped = _random_paths(rng, obj, root), _random_paths(rng, obj, root)
        walk = created.CreatedFields(TYPED, root, zero=zero, ignored=ignored, stripped=stripped)
        compare = TYPED.compare(zero, obj, root)
        expected = (
            compare.added.union(compare.modified)
            .recursive_difference(ignored)
            .difference(stripped)
            .to_fields_v1()
        )
        assert walk.fields_v1(obj) == expected
        assert orjson.dumps(walk.fields_v1(obj)) == orjson.dumps(expected)
