"""What a write may cost the registry (services/registry/limits.py), and the proof that the
worst patch a 3 MiB body can express grows the registry by less than 200 MiB.

The proof runs the registry domain in a child process, on a storage that holds JSON bytes
(as the storage service does for it) and an admission that sends the objects as JSON (as
the authz client does), and measures each patch's peak resident memory (VmHWM, reset
before each patch through /proc/self/clear_refs). The heaviest shape of JSON in Python is
``{"":{}}``: 8 bytes of JSON, 256 of dicts (32x). So the objects are the heaviest storage
holds (~1.5 MiB of it in a free-form field of a CRD) and the patches 3 MiB of it. A
watchdog thread ends the child past +400 MiB, so even a registry without the bounds takes
no more than that (the 25 copies of the issue's patch would take 22 GiB).
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from kapi import errors, json_depth
from services.registry import limits
from services.registry.catalog import Catalog
from services.registry.ports import StoredList, Where
from services.registry.service import Registry, Target
from services.registry.strategies import BUILTIN

Obj = dict[str, Any]
MiB = 1 << 20
REPO = Path(__file__).resolve().parents[3]
CHILD = "tests.unit.registry.test_registry_limits"  # this module, importable from REPO

# --- limits.exceeded_depth -------------------------------------------------------------------


def nested(kind: str, depth: int) -> Any:
    text = ('{"a":' * depth + "1" + "}" * depth) if kind == "{" else "[" * depth + "]" * depth
    return orjson.loads(text)


@pytest.mark.parametrize("kind", ["{", "["])
def test_depth_up_to_the_limit_passes(kind: str) -> None:
    assert limits.exceeded_depth(nested(kind, limits.MAX_DEPTH)) == ""
    assert limits.exceeded_depth(nested(kind, limits.MAX_DEPTH + 1)) == kind


def test_depth_names_the_container_past_the_limit() -> None:
    mixed = orjson.loads('{"a":[' * 3 + "1" + "]}" * 3)  # 6 deep, alternating
    assert limits.exceeded_depth(mixed, 5) == "["
    assert limits.exceeded_depth(mixed, 4) == "{"
    assert limits.exceeded_depth(mixed, 6) == ""
    assert limits.exceeded_depth("scalar", 0) == ""


def test_depth_walk_does_not_recurse() -> None:
    """Deeper than Python's recursion limit: still answered."""
    assert limits.exceeded_depth(nested("[", 1000)) == "["


def test_patch_depth_is_refused_in_gos_words() -> None:
    with pytest.raises(errors.StatusError) as info:
        limits.check_patch_depth(nested("{", limits.MAX_DEPTH + 1))
    assert (info.value.code, info.value.message) == (
        400,
        "error decoding patch: invalid character '{' exceeded max depth",
    )


def test_a_patched_object_too_deep_is_422_on_the_field_patch() -> None:
    # Its managed fields may mirror it a few levels deeper: within that, it passes.
    room = limits.MAX_DEPTH + json_depth.MANAGED_FIELDS_DEPTH
    limits.check_patched({"spec": nested("[", room - 1)})
    with pytest.raises(errors.StatusError) as info:
        limits.check_patched({"spec": nested("[", room)})
    assert (info.value.code, info.value.reason, info.value.message) == (
        422,
        "Invalid",
        " \"\" is invalid: patch: Invalid value: invalid character '[' exceeded max depth",
    )


def test_a_patched_object_larger_than_storage_holds_is_413() -> None:
    limits.check_patched({"data": {"a": "x" * (limits.MAX_OBJECT_BYTES - 100)}})
    with pytest.raises(errors.StatusError) as info:
        limits.check_patched({"data": {"a": "x" * limits.MAX_OBJECT_BYTES}})
    assert (info.value.code, info.value.reason, info.value.message) == (
        413,
        "RequestEntityTooLarge",
        "Request entity too large: limit is 1572864",
    )


@pytest.mark.parametrize(
    "value",
    [{}, [], [[[]]], {"k": {"": {}}}, [1, 2, 3], {"a": [True, False, None, "x", {"b": "c"}]}],
)
def test_json_size_is_exact_for_structure(value: Any) -> None:
    """Maps, lists, keys, ASCII strings, single digits, literals: counted exactly."""
    size = len(orjson.dumps(value))
    assert not limits.json_size_exceeds(value, size)
    assert limits.json_size_exceeds(value, size - 1)


@pytest.mark.parametrize("value", ["é", 'a"b', "\n", 12345, 2.5])
def test_json_size_never_counts_more_than_json_has(value: Any) -> None:
    """UTF-8, escapes and numbers are counted low: a value storage would take is never
    refused for its size (storage checks the exact bytes of what passes)."""
    assert not limits.json_size_exceeds([value], len(orjson.dumps([value])))


# --- the worst patches, measured in a child process ---------------------------------------

BODY_LIMIT = 3 * MiB  # the gateway's (kube-apiserver's --max-request-body-bytes)
HEAVY = '{"":{}}'  # the most Python per byte of JSON
WATCHDOG_BYTES = 400 * MiB
BOUND_BYTES = 200 * MiB
CRDS = Target("apiextensions.k8s.io", "v1", "customresourcedefinitions")
SCHEMA = "/spec/versions/0/schema/openAPIV3Schema"


def heavy(size: int) -> str:
    """A JSON array of ``{"":{}}`` about ``size`` bytes long."""
    return "[" + ",".join([HEAVY] * (size // (len(HEAVY) + 1))) + "]"


def crd(name: str, **schema: Any) -> Obj:
    group = f"{name}.example.com"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"crontabs.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "crontabs", "kind": "CronTab"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", **schema}},
                }
            ],
        },
    }


def with_value(obj: Obj, value: str) -> bytes:
    """``obj`` as JSON with its ``"VALUE"`` string replaced by ``value`` (JSON text)."""
    return orjson.dumps(obj).replace(b'"VALUE"', value.encode())


def crd_target(name: str) -> Target:
    return Target(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        name=f"crontabs.{name}.example.com",
    )


def configmaps(name: str = "") -> Target:
    return Target("", "v1", "configmaps", namespace="ns", name=name)


class BytesStorage:
    """The registry's storage port as the storage service serves it: JSON bytes in and
    out, and etcd's 1.5 MiB limit (413 above it)."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, int]] = {}
        self.revision = 1

    def _out(self, data: bytes, revision: int) -> bytes:
        at = data.index(b'"metadata":{') + len(b'"metadata":{')
        return data[:at] + b'"resourceVersion":"%d",' % revision + data[at:]

    def _put(self, key: str, obj: bytes) -> bytes:
        if len(obj) > limits.MAX_OBJECT_BYTES:
            raise errors.request_entity_too_large(f"limit is {limits.MAX_OBJECT_BYTES}")
        self.revision += 1
        self.objects[key] = (obj, self.revision)
        return self._out(obj, self.revision)

    async def create(
        self, where: Where, namespace: str, name: str, obj: bytes, *, dry_run: bool = False
    ) -> bytes:
        key = f"{where.group}/{where.resource}/{namespace}/{name}"
        if key in self.objects:
            raise errors.already_exists(where.resource, where.group, name)
        return self._put(key, obj)

    async def get(
        self, where: Where, namespace: str, name: str, *, resource_version: str = ""
    ) -> bytes:
        key = f"{where.group}/{where.resource}/{namespace}/{name}"
        if key not in self.objects:
            raise errors.not_found(where.resource, where.group, name)
        return self._out(*self.objects[key])

    async def update(
        self,
        where: Where,
        namespace: str,
        name: str,
        obj: bytes,
        *,
        expected_revision: int,
        dry_run: bool = False,
    ) -> bytes:
        key = f"{where.group}/{where.resource}/{namespace}/{name}"
        if self.objects[key][1] != expected_revision:
            raise errors.conflict(where.resource, where.group, name)
        return self._put(key, obj)

    async def list(self, where: Where, namespace: str, **options: Any) -> StoredList:
        return StoredList([], self.revision, "", None)

    async def delete(self, where: Where, namespace: str, name: str, **options: Any) -> bytes:
        raise NotImplementedError

    def watch(self, where: Where, namespace: str, **options: Any) -> Any:
        raise NotImplementedError


class JsonAdmission:
    """Admission as the authz client does it: both objects sent as JSON; nothing changed,
    so the object sent comes back as it is."""

    async def admit(
        self, phase: str, target: Any, obj: Obj | None, old: Obj | None = None
    ) -> tuple[Obj | None, list[str]]:
        for value in (obj, old):
            if value is not None:
                orjson.dumps(value)
        return obj, []


Case = tuple[str, Target, str, bytes, int]


def cases() -> Iterator[Case]:
    """(name, target, patch type, body, expected code). ``w`` is the heaviest object
    storage holds: its schema's ``example`` (which CRD validation leaves alone, unlike a
    ``default``) is ~1.5 MiB of ``{"":{}}`` (~48 MiB of dicts)."""
    near_body = BODY_LIMIT - 4096
    copies = [
        {"op": "copy", "from": "/metadata/annotations", "path": f"/metadata/annotations/a{i}"}
        for i in range(25)
    ]
    yield "the issue's 25 copies", configmaps("c"), JSON_PATCH, orjson.dumps(copies), 422
    add = '[{"op":"add","path":"' + SCHEMA + '/example","value":VALUE}]'
    yield (
        "JSON patch adding 3 MiB",
        crd_target("w"),
        JSON_PATCH,
        add.replace("VALUE", heavy(near_body)).encode(),
        413,
    )
    copy = [{"op": "copy", "from": f"{SCHEMA}/example", "path": f"{SCHEMA}/default"}]
    yield "JSON patch copying 1.5 MiB", crd_target("w"), JSON_PATCH, orjson.dumps(copy), 413
    example = with_value(crd("w", example="VALUE"), heavy(near_body - 600))
    yield "merge patch of 3 MiB", crd_target("w"), MERGE_PATCH, example, 413
    yield "strategic merge patch of 3 MiB", crd_target("w"), STRATEGIC, example, 413
    yield "apply of 3 MiB", crd_target("w"), APPLY, example, 413
    replaced = with_value(crd("w", example="VALUE"), heavy(int(1.4 * MiB)))
    yield "merge patch replacing 1.4 MiB", crd_target("w"), MERGE_PATCH, replaced, 200
    yield "apply replacing 1.4 MiB", crd_target("w"), APPLY, replaced, 200


JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


def _memory() -> dict[str, int]:
    with open("/proc/self/status") as status:
        return {
            line.split(":")[0]: int(line.split()[1]) * 1024
            for line in status
            if line.startswith(("VmRSS", "VmHWM"))
        }


def _watchdog(baseline: int) -> None:
    """End the process (exit 3) once it holds more than WATCHDOG_BYTES over ``baseline``."""
    while True:
        if _memory()["VmRSS"] - baseline > WATCHDOG_BYTES:
            print("WATCHDOG", flush=True)
            os._exit(3)
        time.sleep(0.005)


async def _measure() -> None:
    registry = Registry(Catalog(BUILTIN), BytesStorage(), JsonAdmission())
    await registry.create(
        Target("", "v1", "namespaces"),
        b'{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"ns"}}',
    )
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    configmap["metadata"]["annotations"] = {"a": "x" * 100}  # type: ignore[index]
    await registry.create(configmaps(), orjson.dumps(configmap))
    heaviest = with_value(crd("w", example="VALUE"), heavy(limits.MAX_OBJECT_BYTES - 2048))
    await registry.create(CRDS, heaviest)
    del heaviest
    gc.collect()
    baseline = _memory()["VmRSS"]
    threading.Thread(target=_watchdog, args=(baseline,), daemon=True).start()
    for name, target, patch_type, body, _ in cases():
        gc.collect()
        print("START", name, flush=True)
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # VmHWM := VmRSS
        before = _memory()["VmRSS"]
        try:
            result = await registry.patch(
                target,
                patch_type,
                body,
                field_manager="m" if patch_type == APPLY else "",
                force=patch_type == APPLY,
            )
            code = result.code
        except errors.StatusError as err:
            code = err.code
        grown = _memory()["VmHWM"] - before
        print("RESULT", orjson.dumps({"name": name, "code": code, "grown": grown}).decode())


def child_main() -> None:
    asyncio.run(_measure())


@pytest.fixture(scope="module")
def measured() -> dict[str, Obj]:
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import tests.unit.registry.test_registry_limits as t; t.child_main()",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    results = {}
    for line in child.stdout.splitlines():
        if line.startswith("RESULT "):
            found = orjson.loads(line[len("RESULT ") :])
            results[found["name"]] = found
    if child.returncode != 0:
        started = [line for line in child.stdout.splitlines() if line.startswith("START")]
        pytest.fail(
            f"the child ended with {child.returncode} in {started[-1:]}: "
            f"{child.stdout[-2000:]}{child.stderr[-2000:]}"
        )
    return results


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("name", "code"), [(case[0], case[4]) for case in cases()])
def test_the_worst_patches_grow_the_registry_by_less_than_200_mib(
    measured: dict[str, Obj], name: str, code: int
) -> None:
    found = measured[name]
    assert found["code"] == code
    assert found["grown"] < BOUND_BYTES, f"{name}: +{found['grown'] / MiB:.0f} MiB"
