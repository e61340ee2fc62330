"""Boolean field selectors select as kube does (FieldSelection.selectable_terms): kube compares
the printed Go bool, "true" or "false", so ``spec.unschedulable=false`` selects the nodes
whose stored JSON has no such field. The registry rewrites the term before storage, which
compares the stored JSON, applies it.
"""

from __future__ import annotations

import orjson
import pytest
from builtin_definitions import BY_GROUP_RESOURCE
from test_registry_service import World, loads, make_namespace

from kapi import selectors
from services.registry.service import ReadOptions, Registry, Target

# (case, group, resource, selector, what storage is asked)
REWRITTEN: list[tuple[str, str, str, str, str]] = [
    ("=false reads absent as false", "", "nodes", "spec.unschedulable=false",
     "spec.unschedulable!=true"),
    ("==false likewise", "", "nodes", "spec.unschedulable==false", "spec.unschedulable!=true"),
    ("!=false is =true", "", "nodes", "spec.unschedulable!=false", "spec.unschedulable=true"),
    ("=true is kept", "", "nodes", "spec.unschedulable=true", "spec.unschedulable=true"),
    ("!=true is kept", "", "nodes", "spec.unschedulable!=true", "spec.unschedulable!=true"),
    ("a value no bool prints is kept", "", "nodes", "spec.unschedulable=yes",
     "spec.unschedulable=yes"),
    ("= (empty) selects nothing", "", "nodes", "spec.unschedulable=",
     "spec.unschedulable=true,spec.unschedulable!=true"),
    ("!= (empty) selects everything", "", "nodes", "spec.unschedulable!=", ""),
    ("other terms are untouched", "", "nodes", "metadata.name=n,spec.unschedulable=false",
     "metadata.name=n,spec.unschedulable!=true"),
    ("a pod's hostNetwork", "", "pods", "spec.hostNetwork=false", "spec.hostNetwork!=true"),
    ("other types are untouched", "", "secrets", "type=false", "type=false"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("group", "resource", "selector", "expected"),
    [c[1:] for c in REWRITTEN],
    ids=[c[0] for c in REWRITTEN],
)
def test_selectable_terms(group: str, resource: str, selector: str, expected: str) -> None:
    terms = selectors.parse_field_selector(selector).terms
    selection = BY_GROUP_RESOURCE[(group, resource)].selection
    assert str(selectors.FieldSelector(selection.selectable_terms(terms))) == expected


def test_terms_without_booleans_are_the_same_tuple() -> None:
    terms = selectors.parse_field_selector("spec.nodeName=n1").terms
    assert BY_GROUP_RESOURCE[("", "pods")].selection.selectable_terms(terms) is terms


# --- through the registry -------------------------------------------------------------------


@pytest.fixture
def registry() -> Registry:
    return World().registry


NODES = Target("", "v1", "nodes")


async def node_names(registry: Registry, selector: str) -> list[str]:
    listed = loads(await registry.list(NODES, ReadOptions(field_selector=selector)))
    return [item["metadata"]["name"] for item in listed["items"]]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("spec.unschedulable=false", ["plain", "schedulable"]),
        ("spec.unschedulable!=true", ["plain", "schedulable"]),
        ("spec.unschedulable=true", ["cordoned"]),
        ("spec.unschedulable!=false", ["cordoned"]),
        ("spec.unschedulable=", []),
        ("spec.unschedulable!=", ["cordoned", "plain", "schedulable"]),
        ("spec.unschedulable=false,metadata.name=plain", ["plain"]),
    ],
)
async def test_registry_lists_nodes_as_kube_selects_them(
    registry: Registry, selector: str, expected: list[str]
) -> None:
    for name, spec in (
        ("cordoned", {"unschedulable": True}),
        ("plain", {}),
        ("schedulable", {"unschedulable": False}),
    ):
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": spec}
        await registry.create(NODES, orjson.dumps(node))
    assert await node_names(registry, selector) == expected


async def test_registry_selects_pods_without_host_network(registry: Registry) -> None:
    await make_namespace(registry)
    pods = Target("", "v1", "pods", namespace="ns")
    for name, spec in (("host", {"hostNetwork": True}), ("plain", {})):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec},
        }
        await registry.create(pods, orjson.dumps(pod))
    listed = loads(await registry.list(pods, ReadOptions(field_selector="spec.hostNetwork=false")))
    assert [item["metadata"]["name"] for item in listed["items"]] == ["plain"]


# --- integer fields Go's JSON omits at zero ---------------------------------------------


def test_zero_integer_fields_read_as_0_in_storage() -> None:
    terms = selectors.parse_field_selector("status.succeeded=0").terms
    (term,) = BY_GROUP_RESOURCE[("batch", "jobs")].selection.selectable_terms(terms)
    assert term.path == "status.succeeded|0"
    assert term.matches({"status": {}})  # omitted: kube prints 0
    assert term.matches({"status": {"succeeded": 0}})
    assert not term.matches({"status": {"succeeded": 2}})


async def test_jobs_select_by_status_successful_zero_through_the_registry() -> None:
    registry = World().registry
    await make_namespace(registry, "ns")
    jobs = Target("batch", "v1", "jobs", namespace="ns")
    template = {
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
    }
    for name in ("fresh", "done"):
        body = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name},
            "spec": {"template": template},
        }
        await registry.create(jobs, orjson.dumps(body))
    done = loads(
        await registry.get(
            Target("batch", "v1", "jobs", namespace="ns", name="done"), ReadOptions()
        )
    )
    done["status"] = {"succeeded": 1}
    await registry.update(
        Target("batch", "v1", "jobs", subresource="status", namespace="ns", name="done"),
        orjson.dumps(done),
    )

    async def names(selector: str) -> list[str]:
        listed = loads(await registry.list(jobs, ReadOptions(field_selector=selector)))
        return [item["metadata"]["name"] for item in listed["items"]]

    assert await names("status.successful=0") == ["fresh"]
    assert await names("status.successful!=0") == ["done"]
    assert await names("status.successful=1") == ["done"]
