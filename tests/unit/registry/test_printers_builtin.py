"""Server-side tables of the built-in types beyond the first few: the columns kube-apiserver
1.32 prints for each (pkg/printers/internalversion/printers.go) and the cells of
realistic objects, as ``kubectl get`` (and ``-o wide``) shows them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.registry import printers
from services.registry.strategies import builtin_table

Obj = dict[str, Any]
NOW = datetime(2025, 1, 10, 12, 0, 0, tzinfo=UTC)
CREATED = "2025-01-10T11:00:00Z"  # one hour before NOW: Age "60m"
TYPES = {(t.group, t.version, t.resource): t for t in builtin_table().types}


def _cells(rt: Any, obj: dict[str, Any], now: Any) -> list[Any]:
    cells, _ = printers.for_kind(rt.group, rt.kind).row(obj, now)
    return cells


def meta(name: str, **extra: Any) -> Obj:
    return {"name": name, "namespace": "ns", "creationTimestamp": CREATED, **extra}


def columns(key: tuple[str, str, str]) -> list[tuple[str, int]]:
    return [
        (c["name"], c["priority"])
        for c in printers.for_kind(TYPES[key].group, TYPES[key].kind).column_definitions()
    ]


def cells(key: tuple[str, str, str], obj: Obj) -> list[Any]:
    return _cells(TYPES[key], obj, NOW)


WIDE = ("Containers", "Images")

COLUMNS: dict[tuple[str, str, str], list[tuple[str, int]]] = {
    ("", "v1", "replicationcontrollers"): [
        ("Name", 0),
        ("Desired", 0),
        ("Current", 0),
        ("Ready", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ],
    ("apps", "v1", "replicasets"): [
        ("Name", 0),
        ("Desired", 0),
        ("Current", 0),
        ("Ready", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ],
    ("apps", "v1", "statefulsets"): [
        ("Name", 0),
        ("Ready", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
    ],
    ("apps", "v1", "daemonsets"): [
        ("Name", 0),
        ("Desired", 0),
        ("Current", 0),
        ("Ready", 0),
        ("Up-to-date", 0),
        ("Available", 0),
        ("Node Selector", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ],
    ("apps", "v1", "controllerrevisions"): [
        ("Name", 0),
        ("Controller", 0),
        ("Revision", 0),
        ("Age", 0),
    ],
    ("batch", "v1", "jobs"): [
        ("Name", 0),
        ("Status", 0),
        ("Completions", 0),
        ("Duration", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ],
    ("batch", "v1", "cronjobs"): [
        ("Name", 0),
        ("Schedule", 0),
        ("Timezone", 0),
        ("Suspend", 0),
        ("Active", 0),
        ("Last Schedule", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ],
    ("networking.k8s.io", "v1", "ingresses"): [
        ("Name", 0),
        ("Class", 0),
        ("Hosts", 0),
        ("Address", 0),
        ("Ports", 0),
        ("Age", 0),
    ],
    ("networking.k8s.io", "v1", "ingressclasses"): [
        ("Name", 0),
        ("Controller", 0),
        ("Parameters", 0),
        ("Age", 0),
    ],
    ("networking.k8s.io", "v1", "networkpolicies"): [("Name", 0), ("Pod-Selector", 0), ("Age", 0)],
    ("autoscaling", "v2", "horizontalpodautoscalers"): [
        ("Name", 0),
        ("Reference", 0),
        ("Targets", 0),
        ("MinPods", 0),
        ("MaxPods", 0),
        ("Replicas", 0),
        ("Age", 0),
    ],
    ("", "v1", "nodes"): [
        ("Name", 0),
        ("Status", 0),
        ("Roles", 0),
        ("Age", 0),
        ("Version", 0),
        ("Internal-IP", 1),
        ("External-IP", 1),
        ("OS-Image", 1),
        ("Kernel-Version", 1),
        ("Container-Runtime", 1),
    ],
    ("", "v1", "persistentvolumeclaims"): [
        ("Name", 0),
        ("Status", 0),
        ("Volume", 0),
        ("Capacity", 0),
        ("Access Modes", 0),
        ("StorageClass", 0),
        ("VolumeAttributesClass", 0),
        ("Age", 0),
        ("VolumeMode", 1),
    ],
    ("", "v1", "persistentvolumes"): [
        ("Name", 0),
        ("Capacity", 0),
        ("Access Modes", 0),
        ("Reclaim Policy", 0),
        ("Status", 0),
        ("Claim", 0),
        ("StorageClass", 0),
        ("VolumeAttributesClass", 0),
        ("Reason", 0),
        ("Age", 0),
        ("VolumeMode", 1),
    ],
    ("", "v1", "endpoints"): [("Name", 0), ("Endpoints", 0), ("Age", 0)],
    ("", "v1", "podtemplates"): [
        ("Name", 0),
        ("Containers", 0),
        ("Images", 0),
        ("Pod Labels", 0),
    ],
    ("", "v1", "resourcequotas"): [("Name", 0), ("Request", 0), ("Limit", 0), ("Age", 0)],
    ("", "v1", "limitranges"): [("Name", 0), ("Created At", 0)],
    ("policy", "v1", "poddisruptionbudgets"): [
        ("Name", 0),
        ("Min Available", 0),
        ("Max Unavailable", 0),
        ("Allowed Disruptions", 0),
        ("Age", 0),
    ],
    ("rbac.authorization.k8s.io", "v1", "roles"): [("Name", 0), ("Created At", 0)],
    ("rbac.authorization.k8s.io", "v1", "clusterroles"): [("Name", 0), ("Created At", 0)],
    ("rbac.authorization.k8s.io", "v1", "rolebindings"): [
        ("Name", 0),
        ("Role", 0),
        ("Age", 0),
        ("Users", 1),
        ("Groups", 1),
        ("ServiceAccounts", 1),
    ],
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings"): [
        ("Name", 0),
        ("Role", 0),
        ("Age", 0),
        ("Users", 1),
        ("Groups", 1),
        ("ServiceAccounts", 1),
    ],
    ("storage.k8s.io", "v1", "storageclasses"): [
        ("Name", 0),
        ("Provisioner", 0),
        ("ReclaimPolicy", 0),
        ("VolumeBindingMode", 0),
        ("AllowVolumeExpansion", 0),
        ("Age", 0),
    ],
    ("scheduling.k8s.io", "v1", "priorityclasses"): [
        ("Name", 0),
        ("Value", 0),
        ("Global-Default", 0),
        ("Age", 0),
        ("PreemptionPolicy", 0),
    ],
    ("coordination.k8s.io", "v1", "leases"): [("Name", 0), ("Holder", 0), ("Age", 0)],
    ("node.k8s.io", "v1", "runtimeclasses"): [("Name", 0), ("Handler", 0), ("Age", 0)],
    ("discovery.k8s.io", "v1", "endpointslices"): [
        ("Name", 0),
        ("AddressType", 0),
        ("Ports", 0),
        ("Endpoints", 0),
        ("Age", 0),
    ],
    ("certificates.k8s.io", "v1", "certificatesigningrequests"): [
        ("Name", 0),
        ("Age", 0),
        ("SignerName", 0),
        ("Requestor", 0),
        ("RequestedDuration", 0),
        ("Condition", 0),
    ],
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions"): [
        ("Name", 0),
        ("Created At", 0),
    ],
}


@pytest.mark.parametrize("key", sorted(COLUMNS), ids=lambda k: k[2])
def test_columns_are_kube_s(key: tuple[str, str, str]) -> None:
    assert columns(key) == COLUMNS[key]


def test_every_type_has_a_table_whose_rows_fit_its_columns() -> None:
    empty: Obj = {"metadata": {"name": "x", "creationTimestamp": CREATED}}
    for key, rt in TYPES.items():
        definitions = printers.for_kind(rt.group, rt.kind).column_definitions()
        assert definitions, key
        for definition in definitions:
            # kube describes a RuntimeClass's Handler with ObjectMeta's absent "handler" doc
            if (key[2], definition["name"]) != ("runtimeclasses", "Handler"):
                assert definition["description"], (key, definition["name"])
            assert definition["type"] in ("string", "integer", "boolean", "date", "number")
        assert len(cells(key, empty)) == len(definitions), key


def test_both_hpa_versions_and_both_event_apis_print_alike() -> None:
    assert columns(("autoscaling", "v1", "horizontalpodautoscalers")) == columns(
        ("autoscaling", "v2", "horizontalpodautoscalers")
    )
    assert columns(("events.k8s.io", "v1", "events")) == columns(("", "v1", "events"))


TEMPLATE: Obj = {
    "metadata": {"labels": {"tier": "frontend"}},
    "spec": {"containers": [{"name": "php-redis", "image": "gb-frontend:v5"}]},
}


def test_replica_set_row() -> None:
    rs = {
        "metadata": meta("frontend"),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"tier": "frontend"}},
            "template": TEMPLATE,
        },
        "status": {"replicas": 3, "readyReplicas": 2},
    }
    key = ("apps", "v1", "replicasets")
    assert cells(key, rs) == [
        "frontend",
        3,
        3,
        2,
        "60m",
        "php-redis",
        "gb-frontend:v5",
        "tier=frontend",
    ]


def test_replication_controller_row() -> None:
    rc = {
        "metadata": meta("nginx"),
        "spec": {"replicas": 3, "selector": {"app": "nginx"}, "template": TEMPLATE},
        "status": {"replicas": 0},
    }
    assert cells(("", "v1", "replicationcontrollers"), rc) == [
        "nginx",
        3,
        0,
        0,
        "60m",
        "php-redis",
        "gb-frontend:v5",
        "app=nginx",
    ]


def test_stateful_set_row() -> None:
    sts = {
        "metadata": meta("web"),
        "spec": {"replicas": 3, "template": TEMPLATE},
        "status": {"replicas": 2, "readyReplicas": 1},
    }
    assert cells(("apps", "v1", "statefulsets"), sts) == [
        "web",
        "1/3",
        "60m",
        "php-redis",
        "gb-frontend:v5",
    ]


def test_daemon_set_row() -> None:
    ds = {
        "metadata": meta("fluentd"),
        "spec": {
            "selector": {"matchLabels": {"name": "fluentd"}},
            "template": {**TEMPLATE, "spec": {**TEMPLATE["spec"], "nodeSelector": {"os": "linux"}}},
        },
        "status": {
            "desiredNumberScheduled": 3,
            "currentNumberScheduled": 3,
            "numberReady": 2,
            "updatedNumberScheduled": 3,
            "numberAvailable": 2,
        },
    }
    assert cells(("apps", "v1", "daemonsets"), ds) == [
        "fluentd",
        3,
        3,
        2,
        3,
        2,
        "os=linux",
        "60m",
        "php-redis",
        "gb-frontend:v5",
        "name=fluentd",
    ]


def test_controller_revision_row() -> None:
    revision = {
        "metadata": meta(
            "web-7b5d",
            ownerReferences=[
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True}
            ],
        ),
        "revision": 2,
    }
    assert cells(("apps", "v1", "controllerrevisions"), revision) == [
        "web-7b5d",
        "statefulset.apps/web",
        2,
        "60m",
    ]


def job(status: Obj, **spec: Any) -> Obj:
    return {
        "metadata": meta("pi"),
        "spec": {
            "completions": 1,
            "parallelism": 1,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
            "template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.34.0"}]}},
            **spec,
        },
        "status": status,
    }


@pytest.mark.parametrize(
    ("status", "spec", "expected"),
    [
        ({}, {}, ["pi", "Running", "0/1", ""]),
        (
            {
                "startTime": "2025-01-10T11:00:00Z",
                "completionTime": "2025-01-10T11:00:42Z",
                "succeeded": 1,
                "conditions": [{"type": "Complete", "status": "True"}],
            },
            {},
            ["pi", "Complete", "1/1", "42s"],
        ),
        (
            {"startTime": "2025-01-10T11:55:00Z", "active": 1},
            {"completions": None, "parallelism": 3},
            ["pi", "Running", "0/1 of 3", "5m"],
        ),
        (
            {"conditions": [{"type": "Failed", "status": "True"}], "failed": 6},
            {},
            ["pi", "Failed", "0/1", ""],
        ),
        (
            {"conditions": [{"type": "Suspended", "status": "True"}]},
            {},
            ["pi", "Suspended", "0/1", ""],
        ),
    ],
)
def test_job_rows(status: Obj, spec: Obj, expected: list[Any]) -> None:
    obj = job(status, **spec)
    if spec.get("completions", 1) is None:
        del obj["spec"]["completions"]
    row = cells(("batch", "v1", "jobs"), obj)
    assert row[:4] == expected
    assert row[4:] == ["60m", "pi", "perl:5.34.0", "batch.kubernetes.io/controller-uid=u"]


def test_cron_job_row() -> None:
    cj = {
        "metadata": meta("hello"),
        "spec": {
            "schedule": "* * * * *",
            "suspend": False,
            "jobTemplate": {
                "spec": {
                    "template": {"spec": {"containers": [{"name": "hello", "image": "busybox"}]}}
                }
            },
        },
        "status": {"active": [{"name": "hello-1"}], "lastScheduleTime": "2025-01-10T11:59:00Z"},
    }
    assert cells(("batch", "v1", "cronjobs"), cj) == [
        "hello",
        "* * * * *",
        "<none>",
        "False",
        1,
        "60s",
        "60m",
        "hello",
        "busybox",
        "<none>",
    ]
    cj["spec"]["timeZone"] = "Etc/UTC"
    del cj["status"]
    row = cells(("batch", "v1", "cronjobs"), cj)
    assert (row[2], row[4], row[5]) == ("Etc/UTC", 0, "<none>")


def test_ingress_rows() -> None:
    ingress = {
        "metadata": meta("web"),
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": "a.example.com"}, {"http": {}}],
            "tls": [{"hosts": ["a.example.com"]}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}, {"hostname": "lb.example"}]}},
    }
    assert cells(("networking.k8s.io", "v1", "ingresses"), ingress) == [
        "web",
        "nginx",
        "a.example.com",
        "192.0.2.1,lb.example",
        "80, 443",
        "60m",
    ]
    bare = {
        "metadata": meta("bare"),
        "spec": {"defaultBackend": {}},
        "status": {"loadBalancer": {}},
    }
    assert cells(("networking.k8s.io", "v1", "ingresses"), bare) == [
        "bare",
        "<none>",
        "*",
        "",
        "80",
        "60m",
    ]


def test_ingress_class_and_network_policy_rows() -> None:
    ic = {
        "metadata": meta("external-lb"),
        "spec": {
            "controller": "example.com/ingress-controller",
            "parameters": {
                "apiGroup": "k8s.example.com",
                "kind": "IngressParameters",
                "name": "lb",
            },
        },
    }
    assert cells(("networking.k8s.io", "v1", "ingressclasses"), ic) == [
        "external-lb",
        "example.com/ingress-controller",
        "IngressParameters.k8s.example.com/lb",
        "60m",
    ]
    policy = {"metadata": meta("deny"), "spec": {"podSelector": {}}}
    assert cells(("networking.k8s.io", "v1", "networkpolicies"), policy) == [
        "deny",
        "<none>",
        "60m",
    ]
    policy["spec"]["podSelector"] = {"matchLabels": {"role": "db"}}
    assert cells(("networking.k8s.io", "v1", "networkpolicies"), policy)[1] == "role=db"


HPA_V2: Obj = {
    "metadata": meta("php-apache"),
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "php-apache"},
        "minReplicas": 1,
        "maxReplicas": 10,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 50},
                },
            }
        ],
    },
    "status": {"currentReplicas": 1, "desiredReplicas": 1},
}


def test_hpa_rows() -> None:
    key = ("autoscaling", "v2", "horizontalpodautoscalers")
    assert cells(key, HPA_V2) == [
        "php-apache",
        "Deployment/php-apache",
        "cpu: <unknown>/50%",
        "1",
        10,
        1,
        "60m",
    ]
    measured = {
        **HPA_V2,
        "status": {
            "currentReplicas": 3,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": 75}},
                }
            ],
        },
    }
    assert cells(key, measured)[2] == "cpu: 75%/50%"
    v1 = {
        "metadata": meta("php-apache"),
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "php-apache"},
            "maxReplicas": 10,
            "targetCPUUtilizationPercentage": 80,
        },
        "status": {
            "currentReplicas": 0,
            "desiredReplicas": 0,
            "currentCPUUtilizationPercentage": 5,
        },
    }
    assert cells(("autoscaling", "v1", "horizontalpodautoscalers"), v1)[2:4] == [
        "cpu: 5%/80%",
        "<unset>",
    ]


def test_hpa_with_many_metrics() -> None:
    metrics = [
        {
            "type": "Resource",
            "resource": {"name": r, "target": {"type": "Utilization", "averageUtilization": 60}},
        }
        for r in ("cpu", "memory")
    ] + [
        {
            "type": "Pods",
            "pods": {
                "metric": {"name": "packets"},
                "target": {"type": "AverageValue", "averageValue": "1k"},
            },
        }
    ]
    hpa = {**HPA_V2, "spec": {**HPA_V2["spec"], "metrics": metrics}}
    assert cells(("autoscaling", "v2", "horizontalpodautoscalers"), hpa)[2] == (
        "cpu: <unknown>/60%, memory: <unknown>/60% + 1 more..."
    )


def test_node_rows() -> None:
    node: Obj = {
        "metadata": {
            "name": "node-1",
            "creationTimestamp": CREATED,
            "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker"},
        },
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
            "nodeInfo": {
                "kubeletVersion": "v1.32.4",
                "osImage": "Ubuntu 24.04",
                "kernelVersion": "6.8.0",
                "containerRuntimeVersion": "containerd://1.7.0",
            },
        },
    }
    assert cells(("", "v1", "nodes"), node) == [
        "node-1",
        "Ready,SchedulingDisabled",
        "control-plane,worker",
        "60m",
        "v1.32.4",
        "10.0.0.1",
        "<none>",
        "Ubuntu 24.04",
        "6.8.0",
        "containerd://1.7.0",
    ]
    node["status"]["conditions"][0]["status"] = "False"
    node["spec"] = {}
    assert cells(("", "v1", "nodes"), node)[1] == "NotReady"


def test_persistent_volume_rows() -> None:
    pv = {
        "metadata": {"name": "pv0003", "creationTimestamp": CREATED},
        "spec": {
            "capacity": {"storage": "5Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Recycle",
            "storageClassName": "slow",
            "claimRef": {"namespace": "ns", "name": "myclaim"},
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Bound"},
    }
    assert cells(("", "v1", "persistentvolumes"), pv) == [
        "pv0003",
        "5Gi",
        "RWO,RWX",
        "Recycle",
        "Bound",
        "ns/myclaim",
        "slow",
        "<unset>",
        "",
        "60m",
        "Filesystem",
    ]
    pvc = {
        "metadata": meta("myclaim"),
        "spec": {"volumeName": "pv0003", "storageClassName": "slow", "volumeMode": "Filesystem"},
        "status": {
            "phase": "Bound",
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": "5Gi"},
        },
    }
    assert cells(("", "v1", "persistentvolumeclaims"), pvc) == [
        "myclaim",
        "Bound",
        "pv0003",
        "5Gi",
        "RWO",
        "slow",
        "<unset>",
        "60m",
        "Filesystem",
    ]
    pending = {"metadata": meta("new"), "spec": {}, "status": {"phase": "Pending"}}
    assert cells(("", "v1", "persistentvolumeclaims"), pending)[1:5] == ["Pending", "", "", ""]


def test_endpoints_rows() -> None:
    endpoints = {
        "metadata": meta("web"),
        "subsets": [
            {
                "addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 4)],
                "ports": [{"port": 80}, {"port": 443}],
            }
        ],
    }
    assert cells(("", "v1", "endpoints"), endpoints) == [
        "web",
        "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 3 more...",
        "60m",
    ]
    assert cells(("", "v1", "endpoints"), {"metadata": meta("none")})[1] == "<none>"
    slice_ = {
        "metadata": meta("web-abc"),
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 80}],
        "endpoints": [{"addresses": ["10.1.2.3"]}, {"addresses": ["10.1.2.4"]}],
    }
    assert cells(("discovery.k8s.io", "v1", "endpointslices"), slice_) == [
        "web-abc",
        "IPv4",
        "80",
        "10.1.2.3,10.1.2.4",
        "60m",
    ]


def test_quota_pdb_and_template_rows() -> None:
    quota = {
        "metadata": meta("q1"),
        "spec": {"hard": {"pods": "10", "limits.cpu": "4"}},
        "status": {
            "hard": {"pods": "10", "limits.cpu": "4", "requests.memory": "1Gi"},
            "used": {"pods": "2", "limits.cpu": "500m", "requests.memory": "0"},
        },
    }
    assert cells(("", "v1", "resourcequotas"), quota) == [
        "q1",
        "pods: 2/10, requests.memory: 0/1Gi",
        "limits.cpu: 500m/4",
        "60m",
    ]
    pdb = {
        "metadata": meta("zk-pdb"),
        "spec": {"minAvailable": 2},
        "status": {"disruptionsAllowed": 1},
    }
    assert cells(("policy", "v1", "poddisruptionbudgets"), pdb) == ["zk-pdb", "2", "N/A", 1, "60m"]
    template = {"metadata": meta("t"), "template": TEMPLATE}
    assert cells(("", "v1", "podtemplates"), template) == [
        "t",
        "php-redis",
        "gb-frontend:v5",
        "tier=frontend",
    ]


def test_rbac_rows() -> None:
    binding: Obj = {
        "metadata": meta("read-pods"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
        "subjects": [
            {"kind": "User", "name": "jane"},
            {"kind": "User", "name": "joe"},
            {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "name": "default", "namespace": "kube-system"},
        ],
    }
    assert cells(("rbac.authorization.k8s.io", "v1", "rolebindings"), binding) == [
        "read-pods",
        "Role/pod-reader",
        "60m",
        "jane, joe",
        "devs",
        "kube-system/default",
    ]
    role = {"metadata": meta("pod-reader")}
    assert cells(("rbac.authorization.k8s.io", "v1", "roles"), role) == ["pod-reader", CREATED]


def test_cluster_scoped_rows() -> None:
    sc = {
        "metadata": {
            "name": "standard",
            "creationTimestamp": CREATED,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "kubernetes.io/aws-ebs",
        "reclaimPolicy": "Retain",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
    }
    assert cells(("storage.k8s.io", "v1", "storageclasses"), sc) == [
        "standard (default)",
        "kubernetes.io/aws-ebs",
        "Retain",
        "WaitForFirstConsumer",
        True,
        "60m",
    ]
    pc = {
        "metadata": {"name": "high-priority", "creationTimestamp": CREATED},
        "value": 1000000,
        "globalDefault": False,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    assert cells(("scheduling.k8s.io", "v1", "priorityclasses"), pc) == [
        "high-priority",
        1000000,
        False,
        "60m",
        "PreemptLowerPriority",
    ]
    runtime = {"metadata": {"name": "gvisor", "creationTimestamp": CREATED}, "handler": "runsc"}
    assert cells(("node.k8s.io", "v1", "runtimeclasses"), runtime) == ["gvisor", "runsc", "60m"]
    csr: Obj = {
        "metadata": {"name": "myuser", "creationTimestamp": CREATED},
        "spec": {
            "signerName": "kubernetes.io/kube-apiserver-client",
            "username": "admin",
            "expirationSeconds": 86400,
        },
        "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"},
    }
    assert cells(("certificates.k8s.io", "v1", "certificatesigningrequests"), csr) == [
        "myuser",
        "60m",
        "kubernetes.io/kube-apiserver-client",
        "admin",
        "24h",
        "Approved,Issued",
    ]


def test_lease_row() -> None:
    lease = {"metadata": meta("my-lease"), "spec": {"holderIdentity": "node-1"}}
    assert cells(("coordination.k8s.io", "v1", "leases"), lease) == ["my-lease", "node-1", "60m"]


def test_events_k8s_io_events_print_as_core_events() -> None:
    event = {
        "metadata": meta("web.17f"),
        "eventTime": "2025-01-10T11:58:00.000000Z",
        "type": "Normal",
        "reason": "Started",
        "regarding": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{web}"},
        "note": "Started container web",
        "reportingController": "kubelet",
        "reportingInstance": "node-1",
        "action": "Start",
    }
    assert cells(("events.k8s.io", "v1", "events"), event) == [
        "2m",
        "Normal",
        "Started",
        "pod/web-1",
        "spec.containers{web}",
        "kubelet, node-1",
        "Started container web",
        "2m",
        1,
        "web.17f",
    ]


def test_hpa_pods_and_object_metrics_carry_no_name() -> None:
    metrics = [
        {
            "type": "Pods",
            "pods": {
                "metric": {"name": "packets-per-second"},
                "target": {"type": "AverageValue", "averageValue": "1k"},
            },
        },
        {
            "type": "Object",
            "object": {
                "metric": {"name": "requests-per-second"},
                "describedObject": {"kind": "Ingress", "name": "main"},
                "target": {"type": "Value", "value": "10k"},
            },
        },
    ]
    hpa = {**HPA_V2, "spec": {**HPA_V2["spec"], "metrics": metrics}}
    assert cells(("autoscaling", "v2", "horizontalpodautoscalers"), hpa)[2] == (
        "<unknown>/1k, <unknown>/10k"
    )


def test_ingress_hosts_beyond_three() -> None:
    rules = [{"host": f"h{i}.example.com"} for i in range(5)]
    ingress = {"metadata": meta("many"), "spec": {"rules": rules}}
    assert cells(("networking.k8s.io", "v1", "ingresses"), ingress)[2] == (
        "h0.example.com,h1.example.com,h2.example.com + 2 more..."
    )


@pytest.mark.parametrize(
    ("conditions", "certificate", "expected"),
    [
        ([], "", "Pending"),
        (["Approved"], "LS0t", "Approved,Issued"),
        (["Approved", "Denied"], "", "Denied"),
        (["Approved", "Failed"], "", "Approved,Failed"),
    ],
)
def test_csr_condition(conditions: list[str], certificate: str, expected: str) -> None:
    csr: Obj = {
        "metadata": {"name": "c", "creationTimestamp": CREATED},
        "spec": {},
        "status": {"conditions": [{"type": c, "status": "True"} for c in conditions]},
    }
    if certificate:
        csr["status"]["certificate"] = certificate
    row = cells(("certificates.k8s.io", "v1", "certificatesigningrequests"), csr)
    assert row[2:] == ["<none>", "", "<none>", expected]


def test_admission_policy_binding_param_ref() -> None:
    binding: Obj = {
        "metadata": {"name": "b", "creationTimestamp": CREATED},
        "spec": {"policyName": "p", "paramRef": {"name": "limits"}},
    }
    key = ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings")
    assert cells(key, binding) == ["b", "p", "*/limits", "60m"]
    binding["spec"]["paramRef"] = {"name": "limits", "namespace": "ns"}
    assert cells(key, binding)[2] == "ns/limits"
