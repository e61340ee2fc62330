"""Strategic merge patch, checked against kubectl's own implementation.

``kubectl patch --local -f <object> -p <patch> -o json`` applies a strategic merge patch
with k8s.io/apimachinery's strategicpatch, offline: it is the oracle. Two suites use it:

- a table of directive cases (``$patch``, ``$retainKeys``, ``$setElementOrder``,
  ``$deleteFromPrimitiveList``, errors), each compared with kubectl's answer;
- property tests: patches generated at random from the schema (merged lists by their merge
  keys, new and deleted items, list order directives, replaced and deleted maps, nulls,
  scalar changes) against real manifests, each compared with kubectl's answer.

kubectl is required, as for the end-to-end suite: a machine without it fails here.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from kapi import errors
from services.registry import patching
from services.registry.patching import schema as schemas
from services.registry.patching import strategic

Obj = dict[str, Any]

DEFINITIONS = {
    "Deployment": "io.k8s.api.apps.v1.Deployment",
    "StatefulSet": "io.k8s.api.apps.v1.StatefulSet",
    "Pod": "io.k8s.api.core.v1.Pod",
    "Service": "io.k8s.api.core.v1.Service",
    "ConfigMap": "io.k8s.api.core.v1.ConfigMap",
    "Job": "io.k8s.api.batch.v1.Job",
}


def pod_spec(extra: Obj | None = None) -> Obj:
    return {
        "containers": [
            {
                "name": "web",
                "image": "nginx:1.25",
                "args": ["--port", "80"],
                "ports": [
                    {"containerPort": 80, "name": "http"},
                    {"containerPort": 443, "name": "https", "protocol": "TCP"},
                ],
                "env": [
                    {"name": "MODE", "value": "prod"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                "volumeMounts": [
                    {"name": "config", "mountPath": "/etc/config"},
                    {"name": "cache", "mountPath": "/cache"},
                ],
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
            },
            {
                "name": "sidecar",
                "image": "busybox",
                "command": ["sh", "-c", "sleep 3600"],
                "env": [{"name": "A", "value": "1"}],
            },
        ],
        "initContainers": [{"name": "init", "image": "busybox", "command": ["true"]}],
        "volumes": [
            {"name": "config", "configMap": {"name": "web-config"}},
            {"name": "cache", "emptyDir": {"medium": "Memory"}},
        ],
        "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
        "nodeSelector": {"disk": "ssd"},
        "imagePullSecrets": [{"name": "registry"}],
        "securityContext": {"runAsUser": 1000, "fsGroup": 2000},
        **(extra or {}),
    }


MANIFESTS: list[Obj] = [
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "labels": {"app": "web", "tier": "frontend"},
            "annotations": {"note": "x"},
            "finalizers": ["example.com/a", "example.com/b"],
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec()},
        },
    },
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "svc", "labels": {"app": "web"}},
        "spec": {
            "selector": {"app": "web"},
            "ports": [
                {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                {"name": "https", "port": 443, "targetPort": "https"},
            ],
            "type": "ClusterIP",
        },
    },
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "pod",
            "labels": {"run": "pod"},
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ReplicationController", "name": "rc", "uid": "u1"}
            ],
        },
        "spec": pod_spec({"hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a", "b"]}]}),
    },
    {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": pod_spec()},
            "volumeClaimTemplates": [
                {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
            ],
        },
    },
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "labels": {"a": "b"}},
        "data": {"one": "1", "two": "2"},
    },
]


# --- the oracle ----------------------------------------------------------------------------


def kubectl_binary() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is not on PATH: the strategic merge oracle needs the real kubectl")
    return found


def kubectl_patch(original: Obj, patch: Obj) -> tuple[str, Any]:
    """("ok", result) or ("error", message), as ``kubectl patch --local`` answers."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "object.json"
        source.write_text(json.dumps(original))
        done = subprocess.run(
            [
                kubectl_binary(),
                "patch",
                "--local",
                "--kubeconfig=/dev/null",
                "-f",
                str(source),
                "--type",
                "strategic",
                "-p",
                json.dumps(patch),
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    if done.returncode != 0:
        return "error", done.stderr.strip().removeprefix("error: ")
    return "ok", json.loads(done.stdout)


def ours(original: Obj, patch: Obj) -> tuple[str, Any]:
    definition = DEFINITIONS[original["kind"]]
    try:
        return "ok", strategic.strategic_merge_patch(original, patch, schemas.root(definition))
    except strategic.PatchError as exc:
        return "error", exc.message


def check_all(cases: list[tuple[Obj, Obj]]) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        expected = list(pool.map(lambda c: kubectl_patch(*c), cases))
    mismatches = []
    for (original, patch), want in zip(cases, expected, strict=True):
        got = ours(original, patch)
        if got != want:
            mismatches.append((original["kind"], patch, want, got))
    assert not mismatches, "\n\n".join(
        f"{kind} patch {json.dumps(patch)}\n kubectl: {want}\n ours:    {got}"
        for kind, patch, want, got in mismatches[:5]
    )


# --- directive cases -------------------------------------------------------------------------

DEPLOY = MANIFESTS[0]
POD = MANIFESTS[2]


def template_spec(spec: Obj) -> Obj:
    return {"spec": {"template": {"spec": spec}}}


DIRECTIVE_CASES: list[tuple[str, Obj, Obj]] = [
    (
        "merge container by name",
        DEPLOY,
        template_spec({"containers": [{"name": "web", "image": "x"}]}),
    ),
    (
        "new container goes first",
        DEPLOY,
        template_spec({"containers": [{"name": "new", "image": "n"}]}),
    ),
    (
        "delete container",
        DEPLOY,
        template_spec({"containers": [{"name": "sidecar", "$patch": "delete"}]}),
    ),
    (
        "delete missing container",
        DEPLOY,
        template_spec({"containers": [{"name": "no", "$patch": "delete"}]}),
    ),
    (
        "replace containers",
        DEPLOY,
        template_spec({"containers": [{"name": "x", "image": "y"}, {"$patch": "replace"}]}),
    ),
    (
        "merge directive in list",
        DEPLOY,
        template_spec({"containers": [{"name": "web", "$patch": "merge"}]}),
    ),
    (
        "unknown directive in list",
        DEPLOY,
        template_spec({"containers": [{"name": "web", "$patch": "nope"}]}),
    ),
    ("item without merge key", DEPLOY, template_spec({"containers": [{"image": "q"}]})),
    ("delete without merge key", DEPLOY, template_spec({"containers": [{"$patch": "delete"}]})),
    (
        "ports by containerPort",
        DEPLOY,
        template_spec(
            {
                "containers": [
                    {
                        "name": "web",
                        "ports": [{"containerPort": 8080}, {"containerPort": 80, "name": "web"}],
                    }
                ]
            }
        ),
    ),
    (
        "env by name",
        DEPLOY,
        template_spec(
            {
                "containers": [
                    {
                        "name": "web",
                        "env": [
                            {
                                "name": "MODE",
                                "value": None,
                                "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}},
                            }
                        ],
                    }
                ]
            }
        ),
    ),
    (
        "atomic list replaced",
        DEPLOY,
        template_spec({"containers": [{"name": "web", "args": ["--other"]}]}),
    ),
    (
        "tolerations replaced",
        DEPLOY,
        template_spec({"tolerations": [{"key": "k", "operator": "Exists"}]}),
    ),
    (
        "replace a map",
        DEPLOY,
        template_spec({"securityContext": {"$patch": "replace", "runAsUser": 1}}),
    ),
    ("delete a map", DEPLOY, template_spec({"securityContext": {"$patch": "delete"}})),
    ("unknown directive in map", DEPLOY, template_spec({"securityContext": {"$patch": "merge"}})),
    (
        "null deletes",
        DEPLOY,
        template_spec({"nodeSelector": None, "securityContext": {"fsGroup": None}}),
    ),
    (
        "retainKeys on a volume",
        DEPLOY,
        template_spec(
            {
                "$setElementOrder/volumes": [{"name": "config"}, {"name": "cache"}],
                "volumes": [
                    {
                        "name": "config",
                        "$retainKeys": ["name", "secret"],
                        "secret": {"secretName": "s"},
                    }
                ],
            }
        ),
    ),
    (
        "retainKeys on strategy",
        DEPLOY,
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
    ),
    (
        "retainKeys missing a key",
        DEPLOY,
        {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 2}}}},
    ),
    ("retainKeys not a list", DEPLOY, {"spec": {"strategy": {"$retainKeys": "type"}}}),
    (
        "setElementOrder reorders",
        DEPLOY,
        template_spec({"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}]}),
    ),
    (
        "setElementOrder with new item",
        DEPLOY,
        template_spec(
            {
                "$setElementOrder/containers": [
                    {"name": "web"},
                    {"name": "new"},
                    {"name": "sidecar"},
                ],
                "containers": [{"name": "new", "image": "n"}],
            }
        ),
    ),
    (
        "setElementOrder mismatch",
        DEPLOY,
        template_spec(
            {
                "$setElementOrder/containers": [{"name": "new"}, {"name": "web"}],
                "containers": [{"name": "web", "image": "z"}, {"name": "new"}],
            }
        ),
    ),
    ("setElementOrder without slash", DEPLOY, template_spec({"$setElementOrder": []})),
    (
        "setElementOrder of scalars",
        DEPLOY,
        {
            "metadata": {
                "$setElementOrder/finalizers": ["example.com/b", "example.com/c", "example.com/a"],
                "finalizers": ["example.com/c"],
            }
        },
    ),
    ("finalizers merge", DEPLOY, {"metadata": {"finalizers": ["example.com/c", "example.com/a"]}}),
    (
        "deleteFromPrimitiveList",
        DEPLOY,
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a"]}},
    ),
    (
        "deleteFromPrimitiveList on an atomic list",
        DEPLOY,
        template_spec({"containers": [{"name": "web", "$deleteFromPrimitiveList/args": ["80"]}]}),
    ),
    (
        "deleteFromPrimitiveList null",
        DEPLOY,
        {"metadata": {"$deleteFromPrimitiveList/finalizers": None}},
    ),
    (
        "deleteFromPrimitiveList without slash",
        DEPLOY,
        {"metadata": {"$deleteFromPrimitiveList": ["x"]}},
    ),
    ("mixed list types", DEPLOY, {"metadata": {"finalizers": [1]}}),
    (
        "type change replaces",
        DEPLOY,
        {"spec": {"template": {"spec": {"containers": {"name": "x"}}}}},
    ),
    (
        "whole object replaced",
        DEPLOY,
        {
            "$patch": "replace",
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
        },
    ),
    (
        "new subtree drops directives",
        POD,
        {
            "spec": {
                "readinessGates": [{"conditionType": "a", "$patch": "delete"}],
                "dnsConfig": {"$patch": "replace", "nameservers": ["1.1.1.1"]},
            }
        },
    ),
    (
        "new subtree keeps retainKeys",
        POD,
        {
            "spec": {
                "dnsConfig": {
                    "$retainKeys": ["nameservers"],
                    "nameservers": ["1.1.1.1"],
                    "searches": None,
                }
            }
        },
    ),
    (
        "owner references by uid",
        POD,
        {
            "metadata": {
                "ownerReferences": [{"uid": "u2", "apiVersion": "v1", "kind": "Node", "name": "n"}]
            }
        },
    ),
    (
        "host aliases by ip",
        POD,
        {"spec": {"hostAliases": [{"ip": "10.0.0.1", "hostnames": ["c"]}]}},
    ),
    (
        "service ports by port",
        MANIFESTS[1],
        {"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 53, "protocol": "UDP"}]}},
    ),
    ("configmap data", MANIFESTS[4], {"data": {"one": None, "three": "3"}}),
]


@pytest.mark.parametrize(
    ("original", "patch"),
    [pytest.param(o, p, id=name) for name, o, p in DIRECTIVE_CASES],
)
def test_directive_matches_kubectl(original: Obj, patch: Obj) -> None:
    check_all([(original, patch)])


def test_new_item_first_and_order_directive_by_hand() -> None:
    """The same facts as above, spelled out without the oracle."""
    got = strategic.strategic_merge_patch(
        DEPLOY,
        template_spec({"containers": [{"name": "new", "image": "n"}]}),
        schemas.root(DEFINITIONS["Deployment"]),
    )
    names = [c["name"] for c in got["spec"]["template"]["spec"]["containers"]]
    assert names == ["new", "web", "sidecar"]
    assert DEPLOY["spec"]["template"]["spec"]["containers"][0]["name"] == "web"  # untouched


def test_errors_map_to_kube_status_codes() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    definition = DEFINITIONS["ConfigMap"]

    def status(patch: Obj) -> errors.StatusError:
        with pytest.raises(errors.StatusError) as caught:
            patching.apply_patch(
                patching.STRATEGIC_MERGE_PATCH,
                obj,
                patching.decode_patch(json.dumps(patch).encode()),
                definition=definition,
            )
        return caught.value

    assert status({"metadata": {"$retainKeys": "x"}}).code == 400
    lists = status({"metadata": {"finalizers": [["a"]]}, "$patch": "merge"})
    # kube: a 500 with no reason; kapi: the client's fault, 400 (patching._patch_error).
    assert (lists.code, lists.reason) == (400, "BadRequest")
    nested = {"metadata": {"finalizers": ["a"]}}
    obj_with_list = {**obj, "metadata": {"name": "c", "finalizers": [["x"]]}}
    with pytest.raises(errors.StatusError) as caught:
        patching.apply_patch(
            patching.STRATEGIC_MERGE_PATCH,
            obj_with_list,
            patching.decode_patch(json.dumps(nested).encode()),
            definition=definition,
        )
    assert (caught.value.code, caught.value.reason) == (422, "Invalid")
    with pytest.raises(errors.StatusError) as caught:
        patching.apply_patch(
            patching.STRATEGIC_MERGE_PATCH,
            obj,
            patching.decode_patch(b"[1]"),
            definition=definition,
        )
    assert caught.value.code == 400


def test_no_schema_merges_like_a_merge_patch_and_replaces_lists() -> None:
    custom = {
        "apiVersion": "x/v1",
        "kind": "Thing",
        "metadata": {"name": "t"},
        "spec": {"items": [{"name": "a"}], "size": 1, "nested": {"a": 1}},
    }
    got = strategic.strategic_merge_patch(
        custom, {"spec": {"items": [{"name": "b"}], "nested": {"b": 2}}}, None
    )
    assert got["spec"] == {"items": [{"name": "b"}], "size": 1, "nested": {"a": 1, "b": 2}}


# --- property tests: random patches against real manifests -----------------------------------

PROTECTED = {"apiVersion", "kind", "name"}


class PatchGenerator:
    """Random strategic merge patches shaped by the schema, as kubectl's three-way diff and
    hand-written patches shape them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.counter = 0

    def fresh(self, prefix: str = "n") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def scalar(self, old: Any) -> Any:
        if isinstance(old, bool):
            return not old
        if isinstance(old, int):
            return old + self.rng.randint(1, 5)
        if isinstance(old, str):
            return old + "-" + self.fresh("v")
        return self.fresh("v")

    def patch_map(self, original: Obj, schema: schemas.Node | None, depth: int = 0) -> Obj:
        rng = self.rng
        patch: Obj = {}
        keys = [k for k in original if k not in PROTECTED]
        if depth > 0 and rng.random() < 0.04:
            return {"$patch": "delete"}
        if depth > 0 and rng.random() < 0.04:
            copy_ = {k: v for k, v in original.items() if rng.random() < 0.5}
            return {"$patch": "replace", **copy_}
        for _ in range(rng.randint(1, 3)):
            roll = rng.random()
            if keys and roll < 0.7:
                key = rng.choice(keys)
                value = original[key]
                if isinstance(value, dict):
                    meta = schemas.lookup_map(schema, key)
                    patch[key] = self.patch_map(value, meta.schema, depth + 1)
                elif isinstance(value, list):
                    patch.update(self.patch_list(key, value, schemas.lookup_list(schema, key)))
                else:
                    patch[key] = None if rng.random() < 0.25 else self.scalar(value)
            elif roll < 0.85:
                patch[self.fresh("k")] = self.fresh("value")
            else:
                patch[self.fresh("gone")] = None
        if keys and depth > 0 and rng.random() < 0.08:
            retained = sorted(
                {k for k, v in patch.items() if v is not None and not k.startswith("$")}
            )
            patch["$retainKeys"] = retained + rng.sample(keys, k=min(len(keys), 1))
        return patch

    def patch_list(self, key: str, items: list[Any], meta: schemas.PatchMeta) -> Obj:
        rng = self.rng
        merged = "merge" in meta.strategies
        if not merged or not items:
            replacement = list(items)
            if replacement and isinstance(replacement[0], str):
                replacement.append(self.fresh("s"))
            elif replacement:
                replacement = replacement[: rng.randint(0, len(replacement))]
            return {key: replacement}
        if not meta.merge_key:  # a merged list of scalars
            out: Obj = {}
            if rng.random() < 0.5:
                out[f"$deleteFromPrimitiveList/{key}"] = rng.sample(
                    items, k=rng.randint(1, len(items))
                )
            if rng.random() < 0.6:
                # kubectl applies the two directives in Go's random map order, so a value
                # both deleted and added has no single answer: keep the two apart.
                deleted = set(out.get(f"$deleteFromPrimitiveList/{key}", ()))
                kept = [item for item in items if item not in deleted]
                out[key] = [self.fresh("s"), *rng.sample(kept, k=rng.randint(0, len(kept)))]
            if key in out and rng.random() < 0.5:
                order = list(dict.fromkeys(items + out[key]))
                rng.shuffle(order)
                out[key].sort(key=order.index)
                out[f"$setElementOrder/{key}"] = order
            return out or {key: [self.fresh("s")]}
        merge_key = meta.merge_key
        present = [
            item[merge_key] for item in items if isinstance(item, dict) and merge_key in item
        ]
        patch_items: list[Obj] = []
        for item in items:
            if not isinstance(item, dict) or merge_key not in item:
                continue
            roll = rng.random()
            if roll < 0.35:
                change = self.patch_map(
                    {k: v for k, v in item.items() if k != merge_key}, meta.schema, depth=2
                )
                change.pop("$patch", None)
                patch_items.append({merge_key: item[merge_key], **change})
            elif roll < 0.5:
                patch_items.append({merge_key: item[merge_key], "$patch": "delete"})
        added: list[Any] = []
        if rng.random() < 0.4:
            sample = next(i for i in items if isinstance(i, dict))
            new_key: Any = (
                rng.randint(1000, 9999)
                if isinstance(sample[merge_key], int)
                else self.fresh("item")
            )
            new_item = {k: v for k, v in sample.items() if k != merge_key and rng.random() < 0.5}
            patch_items.append({merge_key: new_key, **new_item})
            added.append(new_key)
        if rng.random() < 0.05:
            patch_items.append({"$patch": "replace"})
        out = {key: patch_items} if patch_items else {}
        if rng.random() < 0.5:
            deleted = {i[merge_key] for i in patch_items if i.get("$patch") == "delete"}
            order = [k for k in present if k not in deleted] + added
            rng.shuffle(order)
            kept = [i for i in patch_items if "$patch" not in i]
            kept.sort(key=lambda i: order.index(i[merge_key]))
            directives = [i for i in patch_items if "$patch" in i]
            if patch_items:
                out[key] = kept + directives
            out[f"$setElementOrder/{key}"] = [{merge_key: k} for k in order]
        return out or {key: [{merge_key: present[0]}]}

    def patch_for(self, manifest: Obj) -> Obj:
        schema = schemas.root(DEFINITIONS[manifest["kind"]])
        return self.patch_map(manifest, schema)


@pytest.mark.parametrize("seed", range(6))
def test_random_patches_match_kubectl(seed: int) -> None:
    rng = random.Random(seed)
    generator = PatchGenerator(rng)
    cases = []
    for _ in range(30):
        manifest = rng.choice(MANIFESTS)
        cases.append((manifest, generator.patch_for(manifest)))
    check_all(cases)


def test_patched_results_patch_again_as_kubectl_does() -> None:
    """Chains: each result is the next original (lists reordered, items added)."""
    rng = random.Random(1234)
    generator = PatchGenerator(rng)
    for manifest in MANIFESTS[:3]:
        current = manifest
        chain = []
        for _ in range(6):
            patch = generator.patch_for(current)
            outcome = kubectl_patch(current, patch)
            chain.append((current, patch))
            if outcome[0] == "ok":
                current = outcome[1]
        check_all(chain)
