"""Server-side printing: kube-apiserver 1.32's Table columns and cells, per type."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kapi import errors
from services.registry import openapi_schemas, printers
from services.registry.strategies import builtin_table
from services.registry.types import ResourceType

NOW = datetime(2025, 1, 10, 12, 0, 0, tzinfo=UTC)
TYPES = {t.resource: t for t in builtin_table().types}
META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

ROLE = ResourceType(
    group="rbac.authorization.k8s.io",
    version="v1",
    resource="roles",
    kind="Role",
    singular="role",
    namespaced=True,
    schema="io.k8s.api.rbac.v1.Role",
)


def _cells(rt: Any, obj: dict[str, Any], now: Any) -> list[Any]:
    cells, _ = printers.for_kind(rt.group, rt.kind).row(obj, now)
    return cells


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, *, age: timedelta | None = timedelta(hours=1), **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "namespace": "default",
        "uid": f"uid-{name}",
        "resourceVersion": "7",
        **extra,
    }
    if age is not None:
        out["creationTimestamp"] = (NOW - age).strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


# --- HumanDuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=-2), "<invalid>"),
        (timedelta(seconds=-1.5), "0s"),
        (timedelta(seconds=-1), "0s"),
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(seconds=119, milliseconds=999), "119s"),
        (timedelta(minutes=2), "2m"),
        (timedelta(minutes=2, seconds=10), "2m10s"),
        (timedelta(minutes=5, seconds=10), "5m10s"),
        (timedelta(minutes=9, seconds=59), "9m59s"),
        (timedelta(minutes=10), "10m"),
        (timedelta(minutes=10, seconds=59), "10m"),
        (timedelta(minutes=179, seconds=59), "179m"),
        (timedelta(hours=3), "3h"),
        (timedelta(hours=3, minutes=2), "3h2m"),
        (timedelta(hours=7, minutes=59), "7h59m"),
        (timedelta(hours=8), "8h"),
        (timedelta(hours=47, minutes=59), "47h"),
        (timedelta(hours=48), "2d"),
        (timedelta(days=2, hours=5), "2d5h"),
        (timedelta(days=7, hours=23), "7d23h"),
        (timedelta(days=8), "8d"),
        (timedelta(days=729), "729d"),
        (timedelta(days=730), "2y"),
        (timedelta(days=731), "2y1d"),
        (timedelta(days=365 * 8 - 1), "7y364d"),
        (timedelta(days=365 * 8), "8y"),
        (timedelta(days=365 * 20 + 100), "20y"),
    ],
)
def test_human_duration(delta: timedelta, expected: str) -> None:
    assert printers.human_duration(delta) == expected


# --- column definitions ----------------------------------------------------------------

COLUMNS = {
    "namespaces": [("Name", 0), ("Status", 0), ("Age", 0)],
    "configmaps": [("Name", 0), ("Data", 0), ("Age", 0)],
    "secrets": [("Name", 0), ("Type", 0), ("Data", 0), ("Age", 0)],
    "serviceaccounts": [("Name", 0), ("Secrets", 0), ("Age", 0)],
    "pods": [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ],
    "services": [
        ("Name", 0),
        ("Type", 0),
        ("Cluster-IP", 0),
        ("External-IP", 0),
        ("Port(s)", 0),
        ("Age", 0),
        ("Selector", 1),
    ],
    "events": [
        ("Last Seen", 0),
        ("Type", 0),
        ("Reason", 0),
        ("Object", 0),
        ("Subobject", 1),
        ("Source", 1),
        ("Message", 0),
        ("First Seen", 1),
        ("Count", 1),
        ("Name", 1),
    ],
    "deployments": [
        ("Name", 0),
        ("Ready", 0),
        ("Up-to-date", 0),
        ("Available", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ],
}


@pytest.mark.parametrize("resource", sorted(COLUMNS))
def test_column_names_and_priorities(resource: str) -> None:
    columns = printers.for_kind(TYPES[resource].group, TYPES[resource].kind).column_definitions()
    assert [(c["name"], c["priority"]) for c in columns] == COLUMNS[resource]
    for column in columns:
        assert set(column) == {"name", "type", "format", "description", "priority"}
        assert column["type"] == "string"
        assert column["format"] == ("name" if column["name"] == "Name" else "")
        assert column["description"]


def test_column_descriptions_are_kubes_swagger_docs() -> None:
    definitions = openapi_schemas.builtin()
    pods = {
        c["name"]: c
        for c in printers.for_kind(TYPES["pods"].group, TYPES["pods"].kind).column_definitions()
    }
    assert pods["Name"]["description"] == definitions.field_description(META, "name")
    assert pods["Age"]["description"].startswith("CreationTimestamp is a timestamp")
    assert pods["Ready"]["description"] == (
        "The aggregate readiness state of this pod for accepting traffic."
    )
    assert pods["Node"]["description"] == definitions.field_description(
        "io.k8s.api.core.v1.PodSpec", "nodeName"
    )
    events = {
        c["name"]: c
        for c in printers.for_kind(TYPES["events"].group, TYPES["events"].kind).column_definitions()
    }
    assert events["Object"]["description"] == "The object that this event is about."
    namespaces = {
        c["name"]: c
        for c in printers.for_kind(
            TYPES["namespaces"].group, TYPES["namespaces"].kind
        ).column_definitions()
    }
    assert namespaces["Status"]["description"] == "The status of the namespace"


def test_default_columns_for_types_without_a_printer() -> None:
    columns = printers.for_kind(ROLE.group, ROLE.kind).column_definitions()
    assert [(c["name"], c["type"], c["format"]) for c in columns] == [
        ("Name", "string", "name"),
        ("Created At", "date", ""),
    ]


def test_column_definitions_are_fresh_copies() -> None:
    first = printers.for_kind(TYPES["pods"].group, TYPES["pods"].kind).column_definitions()
    first[0]["name"] = "mutated"
    first.pop()
    again = printers.for_kind(TYPES["pods"].group, TYPES["pods"].kind).column_definitions()
    assert again[0]["name"] == "Name" and len(again) == 9


# --- rows --------------------------------------------------------------------------------

RUNNING_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": meta("web-1", labels={"app": "web"}),
    "spec": {"nodeName": "node-1", "containers": [{"name": "web", "image": "nginx:1.27"}]},
    "status": {
        "phase": "Running",
        "podIP": "10.244.0.5",
        "podIPs": [{"ip": "10.244.0.5"}],
        "conditions": [
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": "True"},
        ],
        "containerStatuses": [
            {
                "name": "web",
                "ready": True,
                "started": True,
                "restartCount": 1,
                "state": {"running": {"startedAt": ago(minutes=5)}},
                "lastState": {
                    "terminated": {
                        "exitCode": 1,
                        "reason": "Error",
                        "startedAt": ago(minutes=30),
                        "finishedAt": ago(minutes=5),
                    }
                },
            }
        ],
    },
}


def pod(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(RUNNING_POD)
    for path, value in changes.items():
        target: dict[str, Any] = out
        *parents, last = path.split("__")
        for key in parents:
            target = target.setdefault(key, {})
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return out


def waiting(name: str, reason: str, restarts: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason}},
    }


POD_ROWS: dict[str, tuple[dict[str, Any], list[Any]]] = {
    "running with one restart": (
        RUNNING_POD,
        [
            "web-1",
            "1/1",
            "Running",
            "1 (5m ago)",
            "60m",
            "10.244.0.5",
            "node-1",
            "<none>",
            "<none>",
        ],
    ),
    "pending, unscheduled": (
        pod(
            metadata=meta("p", age=timedelta(seconds=5)),
            spec__nodeName=None,
            status={"phase": "Pending"},
        ),
        ["p", "0/1", "Pending", "0", "5s", "<none>", "<none>", "<none>", "<none>"],
    ),
    "scheduling gated": (
        pod(
            status={
                "phase": "Pending",
                "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
                ],
            }
        ),
        ["web-1", "0/1", "SchedulingGated", "0", "60m", "<none>", "node-1", "<none>", "<none>"],
    ),
    "crash loop in the second of two containers": (
        pod(
            spec__containers=[{"name": "web"}, {"name": "side"}],
            status__containerStatuses=[
                RUNNING_POD["status"]["containerStatuses"][0],
                waiting("side", "CrashLoopBackOff", restarts=4),
            ],
        ),
        [
            "web-1",
            "1/2",
            "CrashLoopBackOff",
            "5 (5m ago)",
            "60m",
            "10.244.0.5",
            "node-1",
            "<none>",
            "<none>",
        ],
    ),
    "init container running": (
        pod(
            spec__initContainers=[{"name": "init"}],
            status={
                "phase": "Pending",
                "initContainerStatuses": [
                    {
                        "name": "init",
                        "ready": False,
                        "restartCount": 0,
                        "state": {"running": {"startedAt": ago(seconds=3)}},
                    }
                ],
                "containerStatuses": [waiting("web", "PodInitializing")],
            },
        ),
        ["web-1", "0/1", "Init:0/1", "0", "60m", "<none>", "node-1", "<none>", "<none>"],
    ),
    "init container failed": (
        pod(
            spec__initContainers=[{"name": "init"}],
            status={
                "phase": "Pending",
                "initContainerStatuses": [
                    {"name": "init", "restartCount": 2, "state": {"terminated": {"exitCode": 3}}}
                ],
            },
        ),
        ["web-1", "0/1", "Init:ExitCode:3", "2", "60m", "<none>", "node-1", "<none>", "<none>"],
    ),
    "sidecar counts as a container": (
        pod(
            spec__initContainers=[{"name": "proxy", "restartPolicy": "Always"}],
            status__initContainerStatuses=[
                {
                    "name": "proxy",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {}},
                }
            ],
        ),
        [
            "web-1",
            "2/2",
            "Running",
            "1 (5m ago)",
            "60m",
            "10.244.0.5",
            "node-1",
            "<none>",
            "<none>",
        ],
    ),
    "completed": (
        pod(
            status={
                "phase": "Succeeded",
                "containerStatuses": [
                    {
                        "name": "web",
                        "ready": False,
                        "restartCount": 0,
                        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                    }
                ],
            }
        ),
        ["web-1", "0/1", "Completed", "0", "60m", "<none>", "node-1", "<none>", "<none>"],
    ),
    "terminating": (
        pod(metadata=meta("web-1", deletionTimestamp=ago(seconds=10))),
        [
            "web-1",
            "1/1",
            "Terminating",
            "1 (5m ago)",
            "60m",
            "10.244.0.5",
            "node-1",
            "<none>",
            "<none>",
        ],
    ),
    "nominated, with readiness gates": (
        pod(
            spec__readinessGates=[
                {"conditionType": "example.com/lb"},
                {"conditionType": "example.com/dns"},
            ],
            status__nominatedNodeName="node-2",
            status__conditions=[
                {"type": "Ready", "status": "True"},
                {"type": "example.com/lb", "status": "True"},
            ],
        ),
        ["web-1", "1/1", "Running", "1 (5m ago)", "60m", "10.244.0.5", "node-1", "node-2", "1/2"],
    ),
}


@pytest.mark.parametrize("case", list(POD_ROWS))
def test_pod_rows(case: str) -> None:
    obj, expected = POD_ROWS[case]
    assert _cells(TYPES["pods"], obj, NOW) == expected


def service(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta("web", age=timedelta(days=2)),
        "spec": spec,
        "status": status or {},
    }


SERVICE_ROWS: dict[str, tuple[dict[str, Any], list[Any]]] = {
    "cluster ip": (
        service(
            {
                "type": "ClusterIP",
                "clusterIP": "10.96.0.10",
                "clusterIPs": ["10.96.0.10"],
                "selector": {"app": "web", "tier": "front"},
                "ports": [
                    {"port": 80, "protocol": "TCP", "targetPort": 8080},
                    {"port": 443, "protocol": "TCP", "targetPort": "https"},
                ],
            }
        ),
        ["web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP,443/TCP", "2d", "app=web,tier=front"],
    ),
    "node port": (
        service(
            {
                "type": "NodePort",
                "clusterIP": "10.96.0.11",
                "ports": [
                    {"port": 80, "nodePort": 30080, "protocol": "TCP"},
                    {"port": 53, "protocol": "UDP"},
                ],
            }
        ),
        ["web", "NodePort", "10.96.0.11", "<none>", "80:30080/TCP,53/UDP", "2d", "<none>"],
    ),
    "load balancer pending": (
        service(
            {
                "type": "LoadBalancer",
                "clusterIPs": ["10.96.0.12"],
                "ports": [{"port": 80, "nodePort": 31000}],
            }
        ),
        ["web", "LoadBalancer", "10.96.0.12", "<pending>", "80:31000/TCP", "2d", "<none>"],
    ),
    "load balancer with ingress and external ips": (
        service(
            {
                "type": "LoadBalancer",
                "clusterIPs": ["10.96.0.12"],
                "externalIPs": ["192.0.2.9"],
                "ports": [{"port": 80, "nodePort": 31000}],
            },
            {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}, {"hostname": "lb.example"}]}},
        ),
        [
            "web",
            "LoadBalancer",
            "10.96.0.12",
            "203.0.113.7,lb.example,192.0.2.9",
            "80:31000/TCP",
            "2d",
            "<none>",
        ],
    ),
    "external name, defaulted type absent": (
        service({"type": "ExternalName", "externalName": "db.example.com"}),
        ["web", "ExternalName", "<none>", "db.example.com", "<none>", "2d", "<none>"],
    ),
    "headless, type defaulted": (
        service({"clusterIP": "None", "selector": {"app": "db"}}),
        ["web", "ClusterIP", "None", "<none>", "<none>", "2d", "app=db"],
    ),
}


@pytest.mark.parametrize("case", list(SERVICE_ROWS))
def test_service_rows(case: str) -> None:
    obj, expected = SERVICE_ROWS[case]
    assert _cells(TYPES["services"], obj, NOW) == expected


EVENT_ROWS: dict[str, tuple[dict[str, Any], list[Any]]] = {
    "core event": (
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": meta("web-1.17f0"),
            "involvedObject": {
                "kind": "Pod",
                "name": "web-1",
                "namespace": "default",
                "fieldPath": "spec.containers{web}",
            },
            "reason": "Pulled",
            "type": "Normal",
            "message": "  Container image pulled \n",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": ago(minutes=10),
            "lastTimestamp": ago(minutes=5),
            "count": 3,
        },
        [
            "5m",
            "Normal",
            "Pulled",
            "pod/web-1",
            "spec.containers{web}",
            "kubelet, node-1",
            "Container image pulled",
            "10m",
            3,
            "web-1.17f0",
        ],
    ),
    "events.k8s.io style, series": (
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": meta("web.abc"),
            "involvedObject": {"kind": "Deployment", "name": "web"},
            "reason": "ScalingReplicaSet",
            "type": "Normal",
            "message": "Scaled up",
            "eventTime": ago(hours=2),
            "reportingComponent": "deployment-controller",
            "series": {"count": 4, "lastObservedTime": ago(seconds=30)},
        },
        [
            "30s",
            "Normal",
            "ScalingReplicaSet",
            "deployment/web",
            "",
            "deployment-controller",
            "Scaled up",
            "120m",
            4,
            "web.abc",
        ],
    ),
    "singleton without times": (
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": meta("x"),
            "involvedObject": {"kind": "Node"},
            "reason": "Starting",
            "type": "Warning",
            "reportingComponent": "kubelet",
            "reportingInstance": "node-1",
        },
        [
            "<unknown>",
            "Warning",
            "Starting",
            "node",
            "",
            "kubelet, node-1",
            "",
            "<unknown>",
            1,
            "x",
        ],
    ),
}


@pytest.mark.parametrize("case", list(EVENT_ROWS))
def test_event_rows(case: str) -> None:
    obj, expected = EVENT_ROWS[case]
    assert _cells(TYPES["events"], obj, NOW) == expected


DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": meta("web", age=timedelta(seconds=45), generation=2),
    "spec": {
        "replicas": 3,
        "selector": {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "api"]},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        },
        "template": {
            "metadata": {"labels": {"app": "web", "tier": "front"}},
            "spec": {
                "containers": [
                    {"name": "web", "image": "nginx:1.27"},
                    {"name": "side", "image": "busybox"},
                ]
            },
        },
    },
    "status": {
        "observedGeneration": 2,
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 2,
        "availableReplicas": 2,
    },
}

OTHER_ROWS: dict[str, tuple[str, dict[str, Any], list[Any]]] = {
    "namespace": (
        "namespaces",
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": meta("team-a", age=timedelta(days=10)),
            "status": {"phase": "Terminating"},
        },
        ["team-a", "Terminating", "10d"],
    ),
    "namespace, phase defaulted": (
        "namespaces",
        {"metadata": meta("default", age=timedelta(days=3, hours=4))},
        ["default", "Active", "3d4h"],
    ),
    "configmap": (
        "configmaps",
        {"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}},
        ["cfg", 3, "60m"],
    ),
    "configmap, empty": ("configmaps", {"metadata": meta("empty")}, ["empty", 0, "60m"]),
    "secret": (
        "secrets",
        {
            "metadata": meta("tls"),
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": "Zm9v", "tls.key": "YmFy"},
        },
        ["tls", "kubernetes.io/tls", 2, "60m"],
    ),
    "secret, stringData and defaulted type": (
        "secrets",
        {"metadata": meta("s"), "data": {"a": "Zm9v"}, "stringData": {"a": "x", "b": "y"}},
        ["s", "Opaque", 2, "60m"],
    ),
    "service account": (
        "serviceaccounts",
        {"metadata": meta("builder", age=timedelta(hours=3)), "secrets": [{"name": "t"}]},
        ["builder", 1, "3h"],
    ),
    "deployment": (
        "deployments",
        DEPLOYMENT,
        [
            "web",
            "2/3",
            3,
            2,
            "45s",
            "web,side",
            "nginx:1.27,busybox",
            "app=web,!canary,tier in (api,front)",
        ],
    ),
    "deployment, fresh (no status, replicas defaulted)": (
        "deployments",
        {
            "metadata": meta("new", age=None),
            "spec": {
                "selector": {"matchLabels": {"app": "new"}},
                "template": {"spec": {"containers": [{"name": "c", "image": "img"}]}},
            },
        },
        ["new", "0/1", 0, 0, "<unknown>", "c", "img", "app=new"],
    ),
}


@pytest.mark.parametrize("case", list(OTHER_ROWS))
def test_other_rows(case: str) -> None:
    resource, obj, expected = OTHER_ROWS[case]
    assert _cells(TYPES[resource], obj, NOW) == expected


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        ("2025-01-10T11:00:00Z", "2025-01-10T11:00:00Z"),
        ("2025-01-10T13:00:00.123456+02:00", "2025-01-10T11:00:00Z"),
        (None, "0001-01-01T00:00:00Z"),
    ],
)
def test_default_rows(created: str | None, expected: str) -> None:
    metadata = {"name": "reader", **({"creationTimestamp": created} if created else {})}
    assert _cells(ROLE, {"metadata": metadata}, NOW) == ["reader", expected]


def test_rows_align_with_columns() -> None:
    samples = {
        "pods": [obj for obj, _ in POD_ROWS.values()],
        "services": [obj for obj, _ in SERVICE_ROWS.values()],
        "events": [obj for obj, _ in EVENT_ROWS.values()],
        **{resource: [obj] for resource, obj, _ in OTHER_ROWS.values()},
    }
    for resource, objects in samples.items():
        width = len(
            printers.for_kind(TYPES[resource].group, TYPES[resource].kind).column_definitions()
        )
        for obj in objects:
            assert len(_cells(TYPES[resource], obj, NOW)) == width, resource


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (None, ""),
        ({}, ""),
        ({"matchLabels": {"b": "2", "a": "1"}}, "a=1,b=2"),
        (
            {
                "matchExpressions": [
                    {"key": "env", "operator": "NotIn", "values": ["prod", "dev"]},
                    {"key": "app", "operator": "Exists"},
                ]
            },
            "app,env notin (dev,prod)",
        ),
        ({"matchExpressions": [{"key": "x", "operator": "Bogus"}]}, "<invalid>"),
    ],
)
def test_format_label_selector(selector: dict[str, Any] | None, expected: str) -> None:
    assert printers.format_label_selector(selector) == expected


# --- the Table ---------------------------------------------------------------------------


def test_table_with_partial_object_metadata() -> None:
    completed = POD_ROWS["completed"][0]
    list_meta = {"resourceVersion": "42", "continue": "abc", "remainingItemCount": 3}
    result = printers.table(
        TYPES["pods"].printer, [RUNNING_POD, completed], now=NOW, list_metadata=list_meta
    )
    assert list(result) == ["kind", "apiVersion", "metadata", "columnDefinitions", "rows"]
    assert result["kind"] == "Table" and result["apiVersion"] == "meta.k8s.io/v1"
    assert result["metadata"] == list_meta
    assert (
        result["columnDefinitions"]
        == printers.for_kind(TYPES["pods"].group, TYPES["pods"].kind).column_definitions()
    )
    first, second = result["rows"]
    assert first["cells"] == POD_ROWS["running with one restart"][1]
    assert "conditions" not in first
    assert first["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": RUNNING_POD["metadata"],
    }
    assert second["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]


def test_table_include_object_and_versions() -> None:
    cm = OTHER_ROWS["configmap"][1]
    whole = printers.table(
        TYPES["configmaps"].printer, [cm], now=NOW, list_metadata={}, include_object="Object"
    )
    assert whole["rows"][0]["object"] is cm
    none = printers.table(
        TYPES["configmaps"].printer, [cm], now=NOW, list_metadata={}, include_object="None"
    )
    assert none["rows"][0] == {"cells": ["cfg", 3, "60m"], "object": None}
    beta = printers.table(
        TYPES["configmaps"].printer,
        [cm],
        now=NOW,
        list_metadata={},
        api_version="meta.k8s.io/v1beta1",
    )
    assert beta["apiVersion"] == "meta.k8s.io/v1beta1"
    assert beta["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"
    with pytest.raises(errors.StatusError) as raised:
        printers.table(
            TYPES["configmaps"].printer,
            [cm],
            now=NOW,
            list_metadata={},
            include_object="Everything",
        )
    assert raised.value.code == 400


def test_watch_events_after_the_first_have_no_columns() -> None:
    result = printers.table(
        TYPES["namespaces"].printer,
        [{"metadata": meta("a")}],
        now=NOW,
        list_metadata={"resourceVersion": "9"},
        with_columns=False,
    )
    assert result["columnDefinitions"] is None
    assert len(result["rows"]) == 1


def test_empty_table_and_default_printer() -> None:
    empty = printers.table(
        TYPES["secrets"].printer, [], now=NOW, list_metadata={"resourceVersion": "1"}
    )
    assert empty["rows"] == [] and len(empty["columnDefinitions"]) == 4
    role = printers.table(
        printers.for_kind(ROLE.group, ROLE.kind),
        [{"metadata": meta("r")}],
        now=NOW,
        list_metadata={},
    )
    assert role["rows"][0]["cells"] == ["r", "2025-01-10T11:00:00Z"]


def test_printing_does_not_mutate_objects() -> None:
    objects = [copy.deepcopy(obj) for obj, _ in POD_ROWS.values()]
    before = copy.deepcopy(objects)
    printers.table(TYPES["pods"].printer, objects, now=NOW, list_metadata={})
    assert objects == before


def test_partial_metadata_copies_the_metadata() -> None:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta("c"),
        "data": {"k": "v"},
    }
    partial = printers.partial_metadata(obj)
    assert partial == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }
    partial["metadata"]["name"] = "changed"
    assert obj["metadata"]["name"] == "c"
    assert printers.partial_metadata(obj, "meta.k8s.io/v1beta1")["apiVersion"] == (
        "meta.k8s.io/v1beta1"
    )
