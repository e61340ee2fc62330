"""The built-in API surface through all four services on a real etcd: every type created
from a real-world manifest and read back as a Table, kubectl's Protobuf bodies for each
generator, ``/scale``, dry runs, node ports, field selectors and what the apiserver
creates for itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

Obj = dict[str, Any]
WIRE = Path(__file__).resolve().parents[1] / "data" / "kubectl-1.32-protobuf"
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
PROTOBUF = {
    "Content-Type": "application/vnd.kubernetes.protobuf",
    "Accept": "application/vnd.kubernetes.protobuf,application/json",
}


def container(name: str = "app", image: str = "nginx:1.27") -> Obj:
    return {"name": name, "image": image}


def pod_template(labels: Obj, restart: str = "Always") -> Obj:
    return {
        "metadata": {"labels": labels},
        "spec": {"containers": [container()], "restartPolicy": restart},
    }


# (api path prefix, resource, manifest, table columns kubectl prints without -o wide)
MANIFESTS: list[tuple[str, str, Obj, list[str]]] = [
    (
        "/apis/apps/v1",
        "replicasets",
        {
            "metadata": {"name": "frontend"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"tier": "frontend"}},
                "template": pod_template({"tier": "frontend"}),
            },
        },
        ["Name", "Desired", "Current", "Ready", "Age"],
    ),
    (
        "/apis/apps/v1",
        "statefulsets",
        {
            "metadata": {"name": "web"},
            "spec": {
                "serviceName": "nginx",
                "replicas": 2,
                "selector": {"matchLabels": {"app": "nginx"}},
                "template": pod_template({"app": "nginx"}),
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "www"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
                    }
                ],
            },
        },
        ["Name", "Ready", "Age"],
    ),
    (
        "/apis/apps/v1",
        "daemonsets",
        {
            "metadata": {"name": "fluentd"},
            "spec": {
                "selector": {"matchLabels": {"name": "fluentd"}},
                "template": pod_template({"name": "fluentd"}),
            },
        },
        ["Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age"],
    ),
    (
        "/apis/batch/v1",
        "jobs",
        {
            "metadata": {"name": "pi"},
            "spec": {
                "backoffLimit": 4,
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "pi",
                                "image": "perl:5.34.0",
                                "command": ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"],
                            }
                        ],
                        "restartPolicy": "Never",
                    }
                },
            },
        },
        ["Name", "Status", "Completions", "Duration", "Age"],
    ),
    (
        "/apis/batch/v1",
        "cronjobs",
        {
            "metadata": {"name": "hello"},
            "spec": {
                "schedule": "* * * * *",
                "jobTemplate": {"spec": {"template": pod_template({}, "OnFailure")}},
            },
        },
        ["Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age"],
    ),
    (
        "/apis/autoscaling/v2",
        "horizontalpodautoscalers",
        {
            "metadata": {"name": "php-apache"},
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "php-apache",
                },
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
        },
        ["Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"],
    ),
    (
        "/apis/networking.k8s.io/v1",
        "ingresses",
        {
            "metadata": {"name": "minimal-ingress"},
            "spec": {
                "ingressClassName": "nginx-example",
                "rules": [
                    {
                        "http": {
                            "paths": [
                                {
                                    "path": "/testpath",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {"name": "test", "port": {"number": 80}}
                                    },
                                }
                            ]
                        }
                    }
                ],
            },
        },
        ["Name", "Class", "Hosts", "Address", "Ports", "Age"],
    ),
    (
        "/apis/networking.k8s.io/v1",
        "networkpolicies",
        {"metadata": {"name": "db"}, "spec": {"podSelector": {"matchLabels": {"role": "db"}}}},
        ["Name", "Pod-Selector", "Age"],
    ),
    (
        "/apis/policy/v1",
        "poddisruptionbudgets",
        {
            "metadata": {"name": "zk-pdb"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "zookeeper"}}},
        },
        ["Name", "Min Available", "Max Unavailable", "Allowed Disruptions", "Age"],
    ),
    (
        "/api/v1",
        "persistentvolumeclaims",
        {
            "metadata": {"name": "myclaim"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "8Gi"}},
                "storageClassName": "slow",
            },
        },
        [
            "Name",
            "Status",
            "Volume",
            "Capacity",
            "Access Modes",
            "StorageClass",
            "VolumeAttributesClass",
            "Age",
        ],
    ),
    (
        "/api/v1",
        "replicationcontrollers",
        {
            "metadata": {"name": "nginx"},
            "spec": {"replicas": 1, "template": pod_template({"app": "nginx"})},
        },
        ["Name", "Desired", "Current", "Ready", "Age"],
    ),
    (
        "/api/v1",
        "resourcequotas",
        {"metadata": {"name": "q1"}, "spec": {"hard": {"pods": "10", "cpu": "4"}}},
        ["Name", "Request", "Limit", "Age"],
    ),
    (
        "/api/v1",
        "limitranges",
        {
            "metadata": {"name": "cpu"},
            "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}}]},
        },
        ["Name", "Created At"],
    ),
    (
        "/api/v1",
        "endpoints",
        {
            "metadata": {"name": "my-service"},
            "subsets": [{"addresses": [{"ip": "192.0.2.42"}], "ports": [{"port": 9376}]}],
        },
        ["Name", "Endpoints", "Age"],
    ),
    (
        "/api/v1",
        "podtemplates",
        {"metadata": {"name": "tpl"}, "template": pod_template({"a": "b"})},
        ["Name", "Containers", "Images", "Pod Labels"],
    ),
    (
        "/apis/coordination.k8s.io/v1",
        "leases",
        {"metadata": {"name": "my-lease"}, "spec": {"holderIdentity": "node-1"}},
        ["Name", "Holder", "Age"],
    ),
    (
        "/apis/discovery.k8s.io/v1",
        "endpointslices",
        {
            "metadata": {"name": "example-abc"},
            "addressType": "IPv4",
            "ports": [{"name": "http", "protocol": "TCP", "port": 80}],
            "endpoints": [{"addresses": ["10.1.2.3"]}],
        },
        ["Name", "AddressType", "Ports", "Endpoints", "Age"],
    ),
    (
        "/apis/rbac.authorization.k8s.io/v1",
        "roles",
        {
            "metadata": {"name": "pod-reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        },
        ["Name", "Created At"],
    ),
    (
        "/apis/apps/v1",
        "controllerrevisions",
        {"metadata": {"name": "web-1"}, "revision": 1, "data": {"spec": {}}},
        ["Name", "Controller", "Revision", "Age"],
    ),
]


@pytest.mark.parametrize(
    ("prefix", "resource", "manifest", "table"),
    MANIFESTS,
    ids=[m[1] for m in MANIFESTS],
)
async def test_create_read_as_table_and_delete(
    control_plane: ControlPlane, prefix: str, resource: str, manifest: Obj, table: list[str]
) -> None:
    api, ns = control_plane.api, control_plane.namespace
    collection = f"{prefix}/namespaces/{ns}/{resource}"
    dry = await api.post(collection, json=manifest, params={"dryRun": "All"})
    assert dry.status_code == 201, dry.text
    name = manifest["metadata"]["name"]
    assert (await api.get(f"{collection}/{name}")).status_code == 404  # nothing stored
    created = await api.post(collection, json=manifest)
    assert created.status_code == 201, created.text
    obj = created.json()
    assert obj["metadata"]["namespace"] == ns
    listed = await api.get(collection, headers={"Accept": TABLE_ACCEPT})
    rendered = listed.json()
    assert rendered["kind"] == "Table"
    shown = [c["name"] for c in rendered["columnDefinitions"] if c["priority"] == 0]
    assert shown == table
    (row,) = rendered["rows"]
    assert name in row["cells"]
    assert row["object"]["metadata"]["name"] == name
    deleted = await api.delete(f"{collection}/{name}", params={"dryRun": "All"})
    assert deleted.status_code == 200
    assert (await api.get(f"{collection}/{name}")).status_code == 200
    # As kubectl deletes: in the background (a ReplicationController's own default is to
    # orphan, which leaves it to the garbage collector, not running here).
    background = {"propagationPolicy": "Background"}
    assert (await api.request("DELETE", f"{collection}/{name}", json=background)).status_code == 200
    assert (await api.get(f"{collection}/{name}")).status_code == 404


CLUSTER_MANIFESTS: list[tuple[str, str, Obj]] = [
    (
        "/api/v1",
        "persistentvolumes",
        {
            "metadata": {"name": "pv0003"},
            "spec": {
                "capacity": {"storage": "5Gi"},
                "accessModes": ["ReadWriteOnce"],
                "nfs": {"path": "/tmp", "server": "172.17.0.2"},
            },
        },
    ),
    ("/api/v1", "nodes", {"metadata": {"name": "node-1"}}),
    (
        "/apis/storage.k8s.io/v1",
        "storageclasses",
        {"metadata": {"name": "standard"}, "provisioner": "kubernetes.io/aws-ebs"},
    ),
    ("/apis/storage.k8s.io/v1", "csidrivers", {"metadata": {"name": "hostpath.csi.k8s.io"}}),
    (
        "/apis/scheduling.k8s.io/v1",
        "priorityclasses",
        {"metadata": {"name": "high-priority"}, "value": 1000000},
    ),
    (
        "/apis/node.k8s.io/v1",
        "runtimeclasses",
        {"metadata": {"name": "gvisor"}, "handler": "runsc"},
    ),
    (
        "/apis/networking.k8s.io/v1",
        "ingressclasses",
        {"metadata": {"name": "external-lb"}, "spec": {"controller": "example.com/ingress"}},
    ),
    (
        "/apis/rbac.authorization.k8s.io/v1",
        "clusterroles",
        {
            "metadata": {"name": "secret-reader"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
        },
    ),
    (
        "/apis/apiextensions.k8s.io/v1",
        "customresourcedefinitions",
        {
            "metadata": {"name": "crontabs.stable.example.com"},
            "spec": {
                "group": "stable.example.com",
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {"openAPIV3Schema": {"type": "object"}},
                    }
                ],
                "scope": "Namespaced",
                "names": {"plural": "crontabs", "kind": "CronTab"},
            },
        },
    ),
    (
        "/apis/flowcontrol.apiserver.k8s.io/v1",
        "prioritylevelconfigurations",
        {"metadata": {"name": "exempt-ish"}, "spec": {"type": "Exempt", "exempt": {}}},
    ),
]


@pytest.mark.parametrize(
    ("prefix", "resource", "manifest"), CLUSTER_MANIFESTS, ids=[m[1] for m in CLUSTER_MANIFESTS]
)
async def test_cluster_scoped_types(
    control_plane: ControlPlane, prefix: str, resource: str, manifest: Obj
) -> None:
    api = control_plane.api
    name = manifest["metadata"]["name"]
    created = await api.post(f"{prefix}/{resource}", json=manifest)
    assert created.status_code == 201, created.text
    assert "namespace" not in created.json()["metadata"]
    table = await api.get(f"{prefix}/{resource}/{name}", headers={"Accept": TABLE_ACCEPT})
    assert table.json()["rows"][0]["object"]["metadata"]["name"] == name
    assert (await api.delete(f"{prefix}/{resource}/{name}")).status_code == 200


@pytest.mark.parametrize(
    ("vector", "path", "check"),
    [
        (
            "jobs.bin",
            "/apis/batch/v1/namespaces/default/jobs",
            lambda o: (
                o["spec"]["template"]["spec"]["restartPolicy"] == "Never"
                and o["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"]
                == o["metadata"]["uid"]
            ),
        ),
        (
            "cronjobs.bin",
            "/apis/batch/v1/namespaces/default/cronjobs",
            lambda o: (
                o["spec"]["schedule"] == "*/5 * * * *" and o["spec"]["concurrencyPolicy"] == "Allow"
            ),
        ),
        (
            "roles.bin",
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
            lambda o: o["rules"][0]["verbs"] == ["get", "list"],
        ),
        (
            "rolebindings.bin",
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
            lambda o: o["roleRef"]["name"] == "r1" and o["subjects"][0]["name"] == "alice",
        ),
        (
            "clusterroles.bin",
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            lambda o: o["metadata"]["name"] == "cr1",
        ),
        (
            "clusterrolebindings.bin",
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            lambda o: (
                o["subjects"][0]
                == {
                    "kind": "Group",
                    "apiGroup": "rbac.authorization.k8s.io",
                    "name": "devs",
                }
            ),
        ),
        (
            "resourcequotas.bin",
            "/api/v1/namespaces/default/resourcequotas",
            lambda o: o["spec"]["hard"] == {"cpu": "4", "pods": "10"} and o["status"] == {},
        ),
        (
            "priorityclasses.bin",
            "/apis/scheduling.k8s.io/v1/priorityclasses",
            lambda o: o["value"] == 1000 and o["preemptionPolicy"] == "PreemptLowerPriority",
        ),
        (
            "poddisruptionbudgets.bin",
            "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
            lambda o: o["spec"]["minAvailable"] == 1 and o["metadata"]["generation"] == 1,
        ),
        (
            "ingresses.bin",
            "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
            lambda o: o["spec"]["rules"][0]["http"]["paths"][0]["pathType"] == "Exact",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and v.endswith(".bin") else "",
)
async def test_kubectl_generators_protobuf_bodies(
    control_plane: ControlPlane, vector: str, path: str, check: Any
) -> None:
    api = control_plane.api
    created = await api.post(path, content=(WIRE / vector).read_bytes(), headers=PROTOBUF)
    assert created.status_code == 201, created.text
    obj = created.json()
    assert check(obj), obj
    assert (await api.delete(f"{path}/{obj['metadata']['name']}")).status_code == 200


# --- /scale ----------------------------------------------------------------------------------


SCALABLE = [
    (
        "/apis/apps/v1",
        "deployments",
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": pod_template({"app": "web"}),
            },
        },
        "app=web",
    ),
    (
        "/apis/apps/v1",
        "replicasets",
        {
            "metadata": {"name": "rs"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "rs"}},
                "template": pod_template({"app": "rs"}),
            },
        },
        "app=rs",
    ),
    (
        "/apis/apps/v1",
        "statefulsets",
        {
            "metadata": {"name": "db"},
            "spec": {
                "replicas": 2,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": pod_template({"app": "db"}),
            },
        },
        "app=db",
    ),
    (
        "/api/v1",
        "replicationcontrollers",
        {
            "metadata": {"name": "rc"},
            "spec": {
                "replicas": 2,
                "selector": {"app": "rc"},
                "template": pod_template({"app": "rc"}),
            },
        },
        "app=rc",
    ),
]


@pytest.mark.parametrize(
    ("prefix", "resource", "manifest", "selector"), SCALABLE, ids=[s[1] for s in SCALABLE]
)
async def test_scale_subresource(
    control_plane: ControlPlane, prefix: str, resource: str, manifest: Obj, selector: str
) -> None:
    api, ns = control_plane.api, control_plane.namespace
    url = f"{prefix}/namespaces/{ns}/{resource}/{manifest['metadata']['name']}"
    created = await api.post(f"{prefix}/namespaces/{ns}/{resource}", json=manifest)
    assert created.status_code == 201, created.text
    parent = created.json()

    scale = (await api.get(f"{url}/scale")).json()
    assert scale == {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": parent["metadata"]["name"],
            "namespace": ns,
            "uid": parent["metadata"]["uid"],
            "resourceVersion": parent["metadata"]["resourceVersion"],
            "creationTimestamp": parent["metadata"]["creationTimestamp"],
        },
        "spec": {"replicas": 2},
        "status": {"replicas": 0, "selector": selector},
    }

    # kubectl scale --replicas=4: a merge patch of the Scale
    patched = await api.patch(
        f"{url}/scale",
        content=b'{"spec":{"replicas":4}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["spec"] == {"replicas": 4}
    after = (await api.get(url)).json()
    assert after["spec"]["replicas"] == 4
    assert after["metadata"]["generation"] == 2
    assert after["status"] == parent["status"]

    # kubectl scale --current-replicas: GET then PUT, no Content-Type, resourceVersion kept
    scale = (await api.get(f"{url}/scale")).json()
    scale["spec"]["replicas"] = 1
    put = await api.put(f"{url}/scale", content=orjson.dumps(scale))
    assert put.status_code == 200, put.text
    assert put.json()["spec"]["replicas"] == 1
    stale = await api.put(f"{url}/scale", content=orjson.dumps(scale))
    assert stale.status_code == 409
    assert stale.json()["reason"] == "Conflict"

    # dry run changes nothing; a negative count is refused as kube refuses it
    dry = await api.patch(
        f"{url}/scale",
        params={"dryRun": "All"},
        content=b'{"spec":{"replicas":9}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert dry.status_code == 200
    assert dry.json()["spec"]["replicas"] == 9
    assert (await api.get(url)).json()["spec"]["replicas"] == 1
    negative = await api.patch(
        f"{url}/scale",
        content=b'{"spec":{"replicas":-1}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert negative.status_code == 422
    status = negative.json()
    assert status["message"] == (
        f'Scale.autoscaling "{parent["metadata"]["name"]}" is invalid: spec.replicas: '
        "Invalid value: -1: must be greater than or equal to 0"
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: -1: must be greater than or equal to 0",
            "field": "spec.replicas",
        }
    ]


async def test_scale_is_only_where_kube_has_it(control_plane: ControlPlane) -> None:
    api, ns = control_plane.api, control_plane.namespace
    ds = {
        "metadata": {"name": "ds"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": pod_template({"a": "b"})},
    }
    assert (await api.post(f"/apis/apps/v1/namespaces/{ns}/daemonsets", json=ds)).status_code == 201
    missing = await api.get(f"/apis/apps/v1/namespaces/{ns}/daemonsets/ds/scale")
    assert missing.status_code == 404
    gone = await api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/nope/scale")
    assert gone.status_code == 404
    assert gone.json()["reason"] == "NotFound"


# --- status, generation, defaults through the API --------------------------------------------


async def test_status_is_kept_on_update_and_set_through_status(control_plane: ControlPlane) -> None:
    api, ns = control_plane.api, control_plane.namespace
    base = f"/apis/batch/v1/namespaces/{ns}/jobs"
    job = {"metadata": {"name": "j"}, "spec": {"template": pod_template({}, "Never")}}
    created = (await api.post(base, json=job)).json()
    created["status"] = {"active": 1}
    written = await api.put(f"{base}/j/status", json=created)
    assert written.status_code == 200, written.text
    assert written.json()["status"] == {"active": 1}
    current = written.json()
    current["status"] = {"succeeded": 5}
    current["metadata"]["labels"]["team"] = "a"
    updated = (await api.put(f"{base}/j", json=current)).json()
    assert updated["status"] == {"active": 1}
    assert updated["metadata"]["generation"] == 1  # no spec change
    selected = await api.get(base, params={"fieldSelector": "status.successful=5"})
    assert selected.json()["items"] == []


async def test_node_ports_and_cluster_ips(control_plane: ControlPlane) -> None:
    api, ns = control_plane.api, control_plane.namespace
    base = f"/api/v1/namespaces/{ns}/services"
    first = await api.post(
        base,
        json={"metadata": {"name": "a"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}},
    )
    assert first.status_code == 201, first.text
    port = first.json()["spec"]["ports"][0]["nodePort"]
    assert 30000 <= port <= 32767
    clash = await api.post(
        base,
        json={
            "metadata": {"name": "b"},
            "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]},
        },
    )
    assert clash.status_code == 422
    assert clash.json()["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": f"Invalid value: {port}: provided port is already allocated",
            "field": "spec.ports[0].nodePort",
        }
    ]
    # released on delete: the port can be asked for again
    assert (await api.delete(f"{base}/a")).status_code == 200
    again = await api.post(
        base,
        json={
            "metadata": {"name": "b"},
            "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]},
        },
    )
    assert again.status_code == 201, again.text
    # a ClusterIP service turned NodePort gets its node port on update
    plain = (
        await api.post(base, json={"metadata": {"name": "c"}, "spec": {"ports": [{"port": 80}]}})
    ).json()
    plain["spec"]["type"] = "NodePort"
    turned = await api.put(f"{base}/c", json=plain)
    assert turned.status_code == 200, turned.text
    assert turned.json()["spec"]["ports"][0]["nodePort"] != port
    assert turned.json()["spec"]["clusterIP"] == plain["spec"]["clusterIP"]


async def test_what_the_apiserver_creates_for_itself(control_plane: ControlPlane) -> None:
    api = control_plane.api
    service = (await api.get("/api/v1/namespaces/default/services/kubernetes")).json()
    assert service["spec"]["clusterIP"] == "10.96.0.1"
    assert service["spec"]["ports"][0]["name"] == "https"
    assert service["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    classes = (await api.get("/apis/scheduling.k8s.io/v1/priorityclasses")).json()
    values = {i["metadata"]["name"]: i["value"] for i in classes["items"]}
    assert values["system-node-critical"] == 2000001000
    assert values["system-cluster-critical"] == 2000000000


async def test_field_selectors(control_plane: ControlPlane) -> None:
    api, ns = control_plane.api, control_plane.namespace
    base = f"/api/v1/namespaces/{ns}/services"
    await api.post(
        base,
        json={"metadata": {"name": "np"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}},
    )
    await api.post(base, json={"metadata": {"name": "ci"}, "spec": {"ports": [{"port": 80}]}})
    node_ports = (await api.get(base, params={"fieldSelector": "spec.type=NodePort"})).json()
    assert [i["metadata"]["name"] for i in node_ports["items"]] == ["np"]

    events = f"/api/v1/namespaces/{ns}/events"
    event = {
        "metadata": {"name": "e1"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": ns},
        "reason": "Started",
        "type": "Normal",
        "source": {"component": "kubelet", "host": "node-1"},
    }
    assert (await api.post(events, json=event)).status_code == 201
    for selector in (
        "involvedObject.name=p,involvedObject.kind=Pod",
        "source=kubelet",
        "reason=Started,type=Normal",
    ):
        found = (await api.get(events, params={"fieldSelector": selector})).json()
        assert [i["metadata"]["name"] for i in found["items"]] == ["e1"], selector

    bad = await api.get(
        f"/api/v1/namespaces/{ns}/configmaps", params={"fieldSelector": "foo.bar=baz"}
    )
    assert bad.status_code == 400
    assert bad.json()["message"] == (
        '"foo.bar" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )
    bad = await api.get(f"/api/v1/namespaces/{ns}/pods", params={"fieldSelector": "spec.foo=x"})
    assert bad.json()["message"] == "field label not supported: spec.foo"


async def test_validation_errors_are_kube_s(control_plane: ControlPlane) -> None:
    api, ns = control_plane.api, control_plane.namespace
    cron = {
        "metadata": {"name": "bad"},
        "spec": {
            "schedule": "61 * * * *",
            "jobTemplate": {"spec": {"template": pod_template({}, "OnFailure")}},
        },
    }
    refused = await api.post(f"/apis/batch/v1/namespaces/{ns}/cronjobs", json=cron)
    assert refused.status_code == 422
    assert refused.json()["message"] == (
        'CronJob.batch "bad" is invalid: spec.schedule: Invalid value: "61 * * * *": '
        "end of range (61) above maximum (59): 61"
    )
    ingress = {
        "metadata": {"name": "bad"},
        "spec": {
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "backend": {"service": {"name": "s", "port": {"number": 80}}},
                            }
                        ]
                    }
                }
            ]
        },
    }
    refused = await api.post(f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses", json=ingress)
    assert refused.status_code == 422
    assert refused.json()["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: pathType must be specified",
            "field": "spec.rules[0].http.paths[0].pathType",
        }
    ]
