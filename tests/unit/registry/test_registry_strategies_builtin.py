"""Strategies of the built-in types: each created from a real-world manifest (the
Kubernetes documentation's examples), defaulted as kube-apiserver 1.32 defaults it, and
refused (422, one cause per field, kube's words) when it is wrong.

Objects go through the write pipeline's create and update steps (services/registry/
pipeline.py), which run the strategy, the schema and the ObjectMeta checks in kube's order.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from builtin_definitions import strategy_for

from kapi import errors
from services.registry import conversion, pipeline
from services.registry.strategies import batch, builtin_table, scale
from services.registry.strategies.apps import TEMPLATE_GENERATION
from services.registry.strategies.core import NODE_PORT_RANGE
from services.registry.strategy import Strategy

Obj = dict[str, Any]
TYPES = {(t.group, t.version, t.resource): t for t in builtin_table().types}
UID = "0a1b2c3d-0000-4000-8000-000000000001"


def key_of(api_version: str, resource: str) -> tuple[str, str, str]:
    group, _, version = api_version.rpartition("/")
    return (group, version, resource)


def create(api_version: str, resource: str, manifest: Obj, namespace: str = "ns") -> Obj:
    rt = TYPES[key_of(api_version, resource)]
    strategy = strategy_for(rt.group, rt.resource)
    obj = pipeline.prepare_create(
        rt, strategy, copy.deepcopy(manifest), namespace if rt.namespaced else ""
    )
    pipeline.validate_create(rt, strategy, obj)
    return obj


def update(api_version: str, resource: str, old: Obj, change: Callable[[Obj], None]) -> Obj:
    rt = TYPES[key_of(api_version, resource)]
    strategy = strategy_for(rt.group, rt.resource)
    new = copy.deepcopy(old)
    change(new)
    new = pipeline.prepare_update(rt, strategy, new, old)
    pipeline.validate_update(rt, strategy, new, old)
    return new


def causes(call: Callable[[], Any]) -> list[str]:
    with pytest.raises(errors.StatusError) as info:
        call()
    assert info.value.code == 422
    assert info.value.reason == "Invalid"
    details = info.value.details or {}
    return [f"{c['field']}: {c['message']}" for c in details["causes"]]


def invalid(api_version: str, resource: str, manifest: Obj) -> list[str]:
    return causes(lambda: create(api_version, resource, manifest))


def container(name: str = "app", image: str = "nginx:1.27", **extra: Any) -> Obj:
    return {"name": name, "image": image, **extra}


def template(labels: Obj, restart: str | None = None, **spec: Any) -> Obj:
    pod_spec: Obj = {"containers": [container()], **spec}
    if restart:
        pod_spec["restartPolicy"] = restart
    return {"metadata": {"labels": labels}, "spec": pod_spec}


POD_SPEC_DEFAULTS: Obj = {
    "restartPolicy": "Always",
    "terminationGracePeriodSeconds": 30,
    "dnsPolicy": "ClusterFirst",
    "securityContext": {},
    "schedulerName": "default-scheduler",
}


# --- the table and the strategies agree -----------------------------------------------------


# The resources whose strategies keep metadata.generation (kube 1.32's strategies).
GENERATION_TRACKED = {
    ("", "replicationcontrollers"),
    ("apps", "daemonsets"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("batch", "cronjobs"),
    ("batch", "jobs"),
    ("networking.k8s.io", "ingressclasses"),
    ("networking.k8s.io", "ingresses"),
    ("networking.k8s.io", "networkpolicies"),
    ("policy", "poddisruptionbudgets"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("discovery.k8s.io", "endpointslices"),
    ("flowcontrol.apiserver.k8s.io", "flowschemas"),
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"),
}


def test_every_definition_has_its_strategy_and_they_agree() -> None:
    for rt in TYPES.values():
        if not rt.stored:  # bindings and component statuses: nothing to prepare or keep
            assert type(rt.strategy) is Strategy
            continue
        assert type(rt.strategy) is not Strategy, rt.resource
        tracked = (rt.group, rt.resource) in GENERATION_TRACKED
        assert rt.strategy.tracks_generation == tracked, rt.resource
        assert rt.strategy.has_status == (rt.subresource("status") is not None), rt.resource


# --- apps ----------------------------------------------------------------------------------


REPLICASET: Obj = {  # docs: controllers/frontend.yaml
    "apiVersion": "apps/v1",
    "kind": "ReplicaSet",
    "metadata": {"name": "frontend", "labels": {"app": "guestbook", "tier": "frontend"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"tier": "frontend"}},
        "template": {
            "metadata": {"labels": {"tier": "frontend"}},
            "spec": {
                "containers": [
                    {
                        "name": "php-redis",
                        "image": "us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5",
                    }
                ]
            },
        },
    },
}


def test_replicaset_from_the_docs() -> None:
    rs = create("apps/v1", "replicasets", REPLICASET)
    assert rs["metadata"]["generation"] == 1
    assert rs["status"] == {"replicas": 0}
    template_ = rs["spec"]["template"]
    assert template_["metadata"]["creationTimestamp"] is None
    assert {k: template_["spec"][k] for k in POD_SPEC_DEFAULTS} == POD_SPEC_DEFAULTS
    assert template_["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"


def test_replicaset_defaults_replicas_to_1() -> None:
    manifest = copy.deepcopy(REPLICASET)
    del manifest["spec"]["replicas"]
    assert create("apps/v1", "replicasets", manifest)["spec"]["replicas"] == 1


def test_replicaset_selector_must_match_template() -> None:
    manifest = copy.deepcopy(REPLICASET)
    manifest["spec"]["template"]["metadata"]["labels"] = {"tier": "backend"}
    assert invalid("apps/v1", "replicasets", manifest) == [
        'spec.template.metadata.labels: Invalid value: {"tier":"backend"}: '
        "`selector` does not match template `labels`"
    ]


def test_replicaset_pods_always_restart() -> None:
    manifest = copy.deepcopy(REPLICASET)
    manifest["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert invalid("apps/v1", "replicasets", manifest) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'
    ]


def test_replicaset_selector_is_immutable_and_generation_follows_spec() -> None:
    rs = create("apps/v1", "replicasets", REPLICASET)
    rs["status"] = {"replicas": 3, "readyReplicas": 3}

    def relabel(new: Obj) -> None:
        new["metadata"]["labels"] = {"changed": "yes"}
        new["status"] = {"replicas": 99}

    relabelled = update("apps/v1", "replicasets", rs, relabel)
    assert relabelled["metadata"]["generation"] == 1
    assert relabelled["status"] == {"replicas": 3, "readyReplicas": 3}  # kept

    def rescale(new: Obj) -> None:
        new["spec"]["replicas"] = 5

    assert update("apps/v1", "replicasets", rs, rescale)["metadata"]["generation"] == 2

    def reselect(new: Obj) -> None:
        new["spec"]["selector"] = {"matchLabels": {"tier": "frontend", "x": "y"}}
        new["spec"]["template"]["metadata"]["labels"]["x"] = "y"

    assert causes(lambda: update("apps/v1", "replicasets", rs, reselect)) == [
        'spec.selector: Invalid value: {"matchLabels":{"tier":"frontend","x":"y"}}: '
        "field is immutable"
    ]


STATEFULSET: Obj = {  # docs: concepts/workloads/controllers/statefulset
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "web"},
    "spec": {
        "selector": {"matchLabels": {"app": "nginx"}},
        "serviceName": "nginx",
        "replicas": 3,
        "minReadySeconds": 10,
        "template": {
            "metadata": {"labels": {"app": "nginx"}},
            "spec": {
                "terminationGracePeriodSeconds": 10,
                "containers": [
                    {
                        "name": "nginx",
                        "image": "registry.k8s.io/nginx-slim:0.24",
                        "ports": [{"containerPort": 80, "name": "web"}],
                        "volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx/html"}],
                    }
                ],
            },
        },
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "www"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "my-storage-class",
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        ],
    },
}


def test_statefulset_from_the_docs() -> None:
    sts = create("apps/v1", "statefulsets", STATEFULSET)
    spec = sts["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    claim = spec["volumeClaimTemplates"][0]
    assert claim["apiVersion"] == "v1"
    assert claim["kind"] == "PersistentVolumeClaim"
    assert claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["status"] == {"phase": "Pending"}
    assert sts["status"] == {"replicas": 0, "availableReplicas": 0}
    assert sts["metadata"]["generation"] == 1
    assert spec["template"]["spec"]["containers"][0]["ports"][0]["protocol"] == "TCP"


def test_statefulset_on_delete_keeps_no_partition() -> None:
    manifest = copy.deepcopy(STATEFULSET)
    manifest["spec"]["updateStrategy"] = {"type": "OnDelete"}
    assert create("apps/v1", "statefulsets", manifest)["spec"]["updateStrategy"] == {
        "type": "OnDelete"
    }


def test_statefulset_validation() -> None:
    manifest = copy.deepcopy(STATEFULSET)
    manifest["spec"]["podManagementPolicy"] = "Random"
    manifest["spec"]["selector"] = {}
    assert invalid("apps/v1", "statefulsets", manifest) == [
        "spec.selector: Invalid value: {}: empty selector is invalid for statefulset",
        'spec.podManagementPolicy: Unsupported value: "Random": supported values: '
        '"OrderedReady", "Parallel"',
    ]


def test_statefulset_updates_only_some_fields() -> None:
    sts = create("apps/v1", "statefulsets", STATEFULSET)

    def scale_and_retemplate(new: Obj) -> None:
        new["spec"]["replicas"] = 5
        new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"

    assert update("apps/v1", "statefulsets", sts, scale_and_retemplate)["spec"]["replicas"] == 5

    def rename_service(new: Obj) -> None:
        new["spec"]["serviceName"] = "other"

    assert causes(lambda: update("apps/v1", "statefulsets", sts, rename_service)) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', "
        "'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "
        "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
    ]


DAEMONSET: Obj = {  # docs: controllers/daemonset.yaml (abridged)
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "fluentd-elasticsearch", "labels": {"k8s-app": "fluentd-logging"}},
    "spec": {
        "selector": {"matchLabels": {"name": "fluentd-elasticsearch"}},
        "template": {
            "metadata": {"labels": {"name": "fluentd-elasticsearch"}},
            "spec": {
                "tolerations": [
                    {
                        "key": "node-role.kubernetes.io/control-plane",
                        "operator": "Exists",
                        "effect": "NoSchedule",
                    }
                ],
                "containers": [
                    {
                        "name": "fluentd-elasticsearch",
                        "image": "quay.io/fluentd_elasticsearch/fluentd:v2.5.2",
                        "resources": {
                            "limits": {"memory": "200Mi"},
                            "requests": {"cpu": "100m", "memory": "200Mi"},
                        },
                    }
                ],
            },
        },
    },
}


def test_daemonset_from_the_docs() -> None:
    ds = create("apps/v1", "daemonsets", DAEMONSET)
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert ds["spec"]["revisionHistoryLimit"] == 10
    assert ds["status"] == {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    }
    assert ds["metadata"]["annotations"] == {TEMPLATE_GENERATION: "1"}


def test_daemonset_template_generation_follows_the_template() -> None:
    ds = create("apps/v1", "daemonsets", DAEMONSET)

    def relabel(new: Obj) -> None:
        new["metadata"]["labels"]["x"] = "y"

    assert update("apps/v1", "daemonsets", ds, relabel)["metadata"]["annotations"] == {
        TEMPLATE_GENERATION: "1"
    }

    def new_image(new: Obj) -> None:
        new["spec"]["template"]["spec"]["containers"][0]["image"] = "fluentd:v3"

    changed = update("apps/v1", "daemonsets", ds, new_image)
    assert changed["metadata"]["annotations"] == {TEMPLATE_GENERATION: "2"}
    assert changed["metadata"]["generation"] == 2


def test_daemonset_empty_selector() -> None:
    manifest = copy.deepcopy(DAEMONSET)
    manifest["spec"]["selector"] = {"matchLabels": {}}
    assert invalid("apps/v1", "daemonsets", manifest) == [
        'spec.selector: Invalid value: {"matchLabels":{}}: empty selector is invalid for daemonset'
    ]


def test_deployment_rolling_update_may_not_be_zero_both_ways() -> None:
    manifest: Obj = {
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}},
            "template": template({"app": "web"}),
        },
    }
    assert invalid("apps/v1", "deployments", manifest) == [
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: "
        "may not be 0 when `maxSurge` is 0"
    ]


def test_controller_revision_data_is_immutable() -> None:
    revision = create(
        "apps/v1",
        "controllerrevisions",
        {"metadata": {"name": "web-7b5d"}, "revision": 1, "data": {"spec": {}}},
    )

    def rewrite(new: Obj) -> None:
        new["data"] = {"spec": {"x": 1}}

    assert causes(lambda: update("apps/v1", "controllerrevisions", revision, rewrite)) == [
        'data: Invalid value: {"spec":{"x":1}}: field is immutable'
    ]


# --- core ---------------------------------------------------------------------------------


RC: Obj = {  # docs: controllers/replication.yaml
    "apiVersion": "v1",
    "kind": "ReplicationController",
    "metadata": {"name": "nginx"},
    "spec": {
        "replicas": 3,
        "selector": {"app": "nginx"},
        "template": {
            "metadata": {"name": "nginx", "labels": {"app": "nginx"}},
            "spec": {"containers": [container("nginx", "nginx", ports=[{"containerPort": 80}])]},
        },
    },
}


def test_replication_controller_from_the_docs() -> None:
    rc = create("v1", "replicationcontrollers", RC)
    assert rc["status"] == {"replicas": 0}
    assert rc["metadata"]["generation"] == 1
    assert rc["metadata"]["labels"] == {"app": "nginx"}  # from the template


def test_replication_controller_selector_defaults_to_template_labels() -> None:
    manifest = copy.deepcopy(RC)
    del manifest["spec"]["selector"]
    del manifest["spec"]["replicas"]
    rc = create("v1", "replicationcontrollers", manifest)
    assert (rc["spec"]["selector"], rc["spec"]["replicas"]) == ({"app": "nginx"}, 1)


def test_replication_controller_template_must_match() -> None:
    manifest = copy.deepcopy(RC)
    manifest["spec"]["selector"] = {"app": "other"}
    assert invalid("v1", "replicationcontrollers", manifest) == [
        'spec.template.metadata.labels: Invalid value: {"app":"nginx"}: '
        "`selector` does not match template `labels`"
    ]


PVC: Obj = {  # docs: storage/persistent-volumes
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {"name": "myclaim"},
    "spec": {
        "accessModes": ["ReadWriteOnce"],
        "volumeMode": "Filesystem",
        "resources": {"requests": {"storage": "8Gi"}},
        "storageClassName": "slow",
        "selector": {
            "matchLabels": {"release": "stable"},
            "matchExpressions": [{"key": "environment", "operator": "In", "values": ["dev"]}],
        },
    },
}


def test_pvc_from_the_docs() -> None:
    pvc = create("v1", "persistentvolumeclaims", PVC)
    assert pvc["status"] == {"phase": "Pending"}


def test_pvc_volume_mode_defaults_to_filesystem() -> None:
    manifest = copy.deepcopy(PVC)
    del manifest["spec"]["volumeMode"]
    assert create("v1", "persistentvolumeclaims", manifest)["spec"]["volumeMode"] == "Filesystem"


def test_pvc_validation() -> None:
    manifest: Obj = {"metadata": {"name": "c"}, "spec": {"resources": {"requests": {}}}}
    assert invalid("v1", "persistentvolumeclaims", manifest) == [
        "spec.accessModes: Required value: at least 1 access mode is required",
        "spec.resources[storage]: Required value",
    ]


def test_pvc_spec_is_immutable_but_a_bound_claim_may_grow() -> None:
    pvc = create("v1", "persistentvolumeclaims", PVC)

    def grow(new: Obj) -> None:
        new["spec"]["resources"]["requests"]["storage"] = "16Gi"

    message = (
        "spec: Forbidden: spec is immutable after creation except resources.requests and "
        "volumeAttributesClassName for bound claims"
    )
    assert causes(lambda: update("v1", "persistentvolumeclaims", pvc, grow)) == [message]
    bound = {**pvc, "status": {"phase": "Bound"}}
    grown = update("v1", "persistentvolumeclaims", bound, grow)
    assert grown["spec"]["resources"]["requests"]["storage"] == "16Gi"

    def reclass(new: Obj) -> None:
        new["spec"]["storageClassName"] = "fast"

    assert causes(lambda: update("v1", "persistentvolumeclaims", bound, reclass)) == [message]


PV: Obj = {  # docs: storage/persistent-volumes
    "apiVersion": "v1",
    "kind": "PersistentVolume",
    "metadata": {"name": "pv0003"},
    "spec": {
        "capacity": {"storage": "5Gi"},
        "volumeMode": "Filesystem",
        "accessModes": ["ReadWriteOnce"],
        "persistentVolumeReclaimPolicy": "Recycle",
        "storageClassName": "slow",
        "mountOptions": ["hard", "nfsvers=4.1"],
        "nfs": {"path": "/tmp", "server": "172.17.0.2"},
    },
}


def test_pv_from_the_docs() -> None:
    pv = create("v1", "persistentvolumes", PV)
    assert pv["status"]["phase"] == "Pending"
    assert pv["status"]["lastPhaseTransitionTime"]
    assert "namespace" not in pv["metadata"]


def test_pv_defaults_and_validation() -> None:
    manifest = copy.deepcopy(PV)
    del manifest["spec"]["persistentVolumeReclaimPolicy"]
    assert create("v1", "persistentvolumes", manifest)["spec"]["persistentVolumeReclaimPolicy"] == (
        "Retain"
    )
    bad: Obj = {"metadata": {"name": "pv"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
    assert invalid("v1", "persistentvolumes", bad) == [
        "spec.capacity: Required value",
        "spec: Required value: must specify a volume type",
    ]


def test_node_keeps_the_status_it_registers_with() -> None:
    node = create(
        "v1",
        "nodes",
        {
            "metadata": {"name": "node-1"},
            "status": {"nodeInfo": {"kubeletVersion": "v1.32.4"}},
        },
    )
    assert node["status"] == {"nodeInfo": {"kubeletVersion": "v1.32.4"}}

    def cordon(new: Obj) -> None:
        new["spec"] = {"unschedulable": True}
        new["status"] = {}

    cordoned = update("v1", "nodes", node, cordon)
    assert cordoned["status"] == {"nodeInfo": {"kubeletVersion": "v1.32.4"}}


def test_node_taints() -> None:
    manifest: Obj = {"metadata": {"name": "n"}, "spec": {"taints": [{"key": "k", "effect": "Bad"}]}}
    assert invalid("v1", "nodes", manifest) == [
        'spec.taints[0].effect: Unsupported value: "Bad": supported values: '
        '"NoExecute", "NoSchedule", "PreferNoSchedule"'
    ]


def test_quota_and_limit_range() -> None:
    quota = create(
        "v1",
        "resourcequotas",
        {"metadata": {"name": "q1"}, "spec": {"hard": {"pods": "10", "cpu": "4"}}},
    )
    assert quota["status"] == {}
    assert invalid(
        "v1", "resourcequotas", {"metadata": {"name": "q"}, "spec": {"hard": {"cpu": "-1"}}}
    ) == ['spec.hard[cpu]: Invalid value: "-1": must be greater than or equal to 0']
    limits: Obj = {
        "metadata": {"name": "cpu-resource-constraint"},
        "spec": {
            "limits": [
                {
                    "default": {"cpu": "500m"},
                    "defaultRequest": {"cpu": "500m"},
                    "max": {"cpu": "1"},
                    "min": {"cpu": "100m"},
                    "type": "Container",
                }
            ]
        },
    }
    create("v1", "limitranges", limits)
    limits["spec"]["limits"][0]["type"] = "Cluster"
    assert invalid("v1", "limitranges", limits) == [
        'spec.limits[0].type: Unsupported value: "Cluster": supported values: '
        '"Container", "Pod", "PersistentVolumeClaim"'
    ]


def test_endpoints_and_pod_templates() -> None:
    endpoints = create(
        "v1",
        "endpoints",
        {
            "metadata": {"name": "my-service"},
            "subsets": [{"addresses": [{"ip": "192.0.2.42"}], "ports": [{"port": 9376}]}],
        },
    )
    assert endpoints["subsets"][0]["ports"][0]["protocol"] == "TCP"
    assert invalid(
        "v1",
        "endpoints",
        {"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "nope"}]}]},
    ) == ['subsets[0].addresses[0].ip: Invalid value: "nope": must be a valid IP address']
    podtemplate = create(
        "v1", "podtemplates", {"metadata": {"name": "t"}, "template": template({"a": "b"})}
    )
    assert podtemplate["template"]["spec"]["restartPolicy"] == "Always"


def test_configmap_and_secret_marked_immutable() -> None:
    cm = create(
        "v1", "configmaps", {"metadata": {"name": "c"}, "data": {"a": "1"}, "immutable": True}
    )

    def edit(new: Obj) -> None:
        new["data"] = {"a": "2"}

    assert causes(lambda: update("v1", "configmaps", cm, edit)) == [
        "data: Forbidden: field is immutable when `immutable` is set"
    ]
    secret = create(
        "v1", "secrets", {"metadata": {"name": "s"}, "data": {"a": "MQ=="}, "immutable": True}
    )

    def unmark(new: Obj) -> None:
        new["immutable"] = False

    assert causes(lambda: update("v1", "secrets", secret, unmark)) == [
        "immutable: Forbidden: field is immutable when `immutable` is set"
    ]


def test_secret_string_data_is_stored_as_data() -> None:
    secret = create(
        "v1",
        "secrets",
        {"metadata": {"name": "s"}, "data": {"a": "MQ=="}, "stringData": {"b": "two"}},
    )
    assert secret["data"] == {"a": "MQ==", "b": "dHdv"}
    assert "stringData" not in secret


def test_tls_secret_needs_its_keys() -> None:
    manifest: Obj = {"metadata": {"name": "tls"}, "type": "kubernetes.io/tls", "data": {}}
    assert invalid("v1", "secrets", manifest) == [
        "data[tls.crt]: Required value",
        "data[tls.key]: Required value",
    ]


# --- services: node ports ---------------------------------------------------------------------


def test_node_ports_are_allocated_from_the_range() -> None:
    service = strategy_for("", "services")
    obj = create(
        "v1",
        "services",
        {
            "metadata": {"name": "np"},
            "spec": {
                "type": "NodePort",
                "ports": [{"port": 80, "name": "a"}, {"port": 443, "name": "b"}],
            },
        },
    )
    taken = set(range(30000, 32767))  # leaves only 32767
    problems = service.allocate_node_ports(obj, taken - {32766})  # type: ignore[attr-defined]
    assert problems == []
    assert sorted(p["nodePort"] for p in obj["spec"]["ports"]) == [32766, 32767]
    for port in obj["spec"]["ports"]:
        assert port["nodePort"] in NODE_PORT_RANGE


def test_node_ports_asked_for_are_checked() -> None:
    service = strategy_for("", "services")
    obj: Obj = {
        "metadata": {"name": "np"},
        "spec": {
            "type": "NodePort",
            "ports": [
                {"port": 80, "name": "a", "nodePort": 80},
                {"port": 81, "name": "b", "nodePort": 30080},
            ],
        },
    }
    problems = service.allocate_node_ports(obj, {30080})  # type: ignore[attr-defined]
    assert [str(p) for p in problems] == [
        "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. "
        "The range of valid ports is 30000-32767",
        "spec.ports[1].nodePort: Invalid value: 30080: provided port is already allocated",
    ]


def test_cluster_ip_services_get_no_node_ports() -> None:
    service = strategy_for("", "services")
    obj = create("v1", "services", {"metadata": {"name": "c"}, "spec": {"ports": [{"port": 80}]}})
    assert service.allocate_node_ports(obj, set()) == []  # type: ignore[attr-defined]
    assert "nodePort" not in obj["spec"]["ports"][0]
    obj["spec"]["ports"][0]["nodePort"] = 30001
    assert invalid("v1", "services", obj) == [
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"
    ]


def test_node_ports_are_kept_on_update() -> None:
    old = create(
        "v1",
        "services",
        {"metadata": {"name": "np"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}},
    )
    old["spec"]["ports"][0]["nodePort"] = 31000
    old["spec"]["clusterIP"] = "10.96.0.20"

    def resend(new: Obj) -> None:
        new["spec"] = {"type": "NodePort", "ports": [{"port": 80}]}

    again = update("v1", "services", old, resend)
    assert again["spec"]["ports"][0]["nodePort"] == 31000
    assert again["spec"]["clusterIP"] == "10.96.0.20"


# --- batch ----------------------------------------------------------------------------------


JOB: Obj = {  # docs: controllers/job.yaml
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "pi", "uid": UID},
    "spec": {
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
        "backoffLimit": 4,
    },
}


def test_job_from_the_docs() -> None:
    job = create("batch/v1", "jobs", JOB)
    uid = job["metadata"]["uid"]
    spec = job["spec"]
    assert {k: spec[k] for k in spec if k not in ("template", "selector")} == {
        "backoffLimit": 4,
        "completions": 1,
        "parallelism": 1,
        "completionMode": "NonIndexed",
        "suspend": False,
        "podReplacementPolicy": "TerminatingOrFailed",
        "manualSelector": False,
    }
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": uid,
        "job-name": "pi",
    }
    assert spec["template"]["metadata"]["labels"] == labels
    assert job["metadata"]["labels"] == labels
    assert job["metadata"]["generation"] == 1
    assert job["status"] == {}


def test_job_defaults() -> None:
    manifest = copy.deepcopy(JOB)
    del manifest["spec"]["backoffLimit"]
    manifest["spec"]["parallelism"] = 3
    spec = create("batch/v1", "jobs", manifest)["spec"]
    assert (spec["backoffLimit"], spec["parallelism"], "completions" in spec) == (6, 3, False)


def test_job_restart_policy() -> None:
    manifest = copy.deepcopy(JOB)
    del manifest["spec"]["template"]["spec"]["restartPolicy"]
    assert invalid("batch/v1", "jobs", manifest) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: '
        '"OnFailure", "Never"'
    ]


def test_job_selector_is_generated_unless_manual() -> None:
    manifest = copy.deepcopy(JOB)
    manifest["spec"]["selector"] = {"matchLabels": {"app": "pi"}}
    manifest["spec"]["template"]["metadata"] = {"labels": {"app": "pi"}}
    problems = invalid("batch/v1", "jobs", manifest)
    assert len(problems) == 1
    assert problems[0].startswith("spec.selector: Invalid value: ")
    assert problems[0].endswith("`selector` not auto-generated")
    manifest["spec"]["manualSelector"] = True
    job = create("batch/v1", "jobs", manifest)
    assert job["spec"]["selector"] == {"matchLabels": {"app": "pi"}}
    assert job["spec"]["template"]["metadata"]["labels"] == {"app": "pi"}


def test_indexed_job_needs_completions() -> None:
    manifest = copy.deepcopy(JOB)
    manifest["spec"]["completionMode"] = "Indexed"
    manifest["spec"]["parallelism"] = 2
    assert invalid("batch/v1", "jobs", manifest) == [
        "spec.completions: Required value: when completion mode is Indexed"
    ]


def test_job_selector_and_template_are_immutable() -> None:
    job = create("batch/v1", "jobs", JOB)

    def new_image(new: Obj) -> None:
        new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:5.36"

    problems = causes(lambda: update("batch/v1", "jobs", job, new_image))
    assert len(problems) == 1
    assert problems[0].startswith("spec.template: Invalid value: ")
    assert problems[0].endswith(": field is immutable")

    def suspend_and_move(new: Obj) -> None:
        new["spec"]["suspend"] = True
        new["spec"]["template"]["spec"]["nodeSelector"] = {"zone": "a"}

    moved = update("batch/v1", "jobs", job, suspend_and_move)
    assert moved["spec"]["template"]["spec"]["nodeSelector"] == {"zone": "a"}


CRONJOB: Obj = {  # docs: application/job/cronjob.yaml
    "apiVersion": "batch/v1",
    "kind": "CronJob",
    "metadata": {"name": "hello"},
    "spec": {
        "schedule": "* * * * *",
        "jobTemplate": {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "hello",
                                "image": "busybox:1.28",
                                "imagePullPolicy": "IfNotPresent",
                                "command": [
                                    "/bin/sh",
                                    "-c",
                                    "date; echo Hello from the Kubernetes cluster",
                                ],
                            }
                        ],
                        "restartPolicy": "OnFailure",
                    }
                }
            }
        },
    },
}


def test_cronjob_from_the_docs() -> None:
    cj = create("batch/v1", "cronjobs", CRONJOB)
    spec = cj["spec"]
    assert {k: spec[k] for k in spec if k != "jobTemplate"} == {
        "schedule": "* * * * *",
        "concurrencyPolicy": "Allow",
        "suspend": False,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 1,
    }
    job_template = spec["jobTemplate"]
    assert job_template["metadata"] == {"creationTimestamp": None}
    assert "backoffLimit" not in job_template["spec"]  # kube defaults Jobs, not templates
    assert job_template["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert cj["status"] == {}
    assert cj["metadata"]["generation"] == 1


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("bogus", "expected exactly 5 fields, found 1: [bogus]"),
        ("61 * * * *", "end of range (61) above maximum (59): 61"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        (
            "a * * * *",
            'failed to parse int from a: strconv.Atoi: parsing "a": invalid syntax',
        ),
        ("5-2 * * * *", "beginning of range (5) beyond end of range (2): 5-2"),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ],
)
def test_cronjob_schedule_is_parsed_as_robfig_cron_does(schedule: str, message: str) -> None:
    manifest = copy.deepcopy(CRONJOB)
    manifest["spec"]["schedule"] = schedule
    assert invalid("batch/v1", "cronjobs", manifest) == [
        f'spec.schedule: Invalid value: "{schedule}": {message}'
    ]


@pytest.mark.parametrize(
    "schedule",
    [
        "*/5 * * * *",
        "0 0 1 jan,jul *",
        "0 9-17/2 * * MON-FRI",
        "@hourly",
        "@every 1h30m",
        "0 0 ? * 0",
    ],
)
def test_good_schedules(schedule: str) -> None:
    batch.parse_schedule(schedule)


def test_cronjob_time_zone_and_name() -> None:
    manifest = copy.deepcopy(CRONJOB)
    manifest["spec"]["timeZone"] = "Europe/Berlin"
    create("batch/v1", "cronjobs", manifest)
    manifest["spec"]["timeZone"] = "Mars/Olympus"
    manifest["metadata"]["name"] = "x" * 53
    assert invalid("batch/v1", "cronjobs", manifest) == [
        f'metadata.name: Invalid value: "{"x" * 53}": must be no more than 52 characters',
        'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus',
    ]
    manifest = copy.deepcopy(CRONJOB)
    manifest["spec"]["schedule"] = "TZ=UTC 0 * * * *"
    assert invalid("batch/v1", "cronjobs", manifest) == [
        'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, '
        "use timeZone field instead"
    ]


def test_cronjob_concurrency_policy_and_template_selector() -> None:
    manifest = copy.deepcopy(CRONJOB)
    manifest["spec"]["concurrencyPolicy"] = "Sometimes"
    manifest["spec"]["jobTemplate"]["spec"]["selector"] = {"matchLabels": {"a": "b"}}
    assert invalid("batch/v1", "cronjobs", manifest) == [
        'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: '
        '"Allow", "Forbid", "Replace"',
        'spec.jobTemplate.spec.selector: Invalid value: {"matchLabels":{"a":"b"}}: '
        "`selector` will be auto-generated",
    ]


# --- autoscaling ------------------------------------------------------------------------------


HPA_V2: Obj = {  # docs: tasks/run-application/horizontal-pod-autoscale-walkthrough
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "php-apache"},
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
}


def test_hpa_v2_from_the_docs() -> None:
    hpa = create("autoscaling/v2", "horizontalpodautoscalers", HPA_V2)
    assert hpa["status"] == {"desiredReplicas": 0}
    assert "generation" not in hpa["metadata"]  # kube 1.32 keeps none for HPAs


def test_hpa_v2_defaults() -> None:
    manifest = copy.deepcopy(HPA_V2)
    del manifest["spec"]["metrics"]
    del manifest["spec"]["minReplicas"]
    manifest["spec"]["behavior"] = {"scaleDown": {"stabilizationWindowSeconds": 60}}
    spec = create("autoscaling/v2", "horizontalpodautoscalers", manifest)["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80},
            },
        }
    ]
    assert spec["behavior"] == {
        "scaleUp": {
            "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ],
            "selectPolicy": "Max",
            "stabilizationWindowSeconds": 0,
        },
        "scaleDown": {
            "stabilizationWindowSeconds": 60,
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
            "selectPolicy": "Max",
        },
    }


def test_hpa_v1() -> None:
    manifest: Obj = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "php-apache"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "php-apache"},
            "maxReplicas": 10,
        },
    }
    rt = TYPES[("autoscaling", "v1", "horizontalpodautoscalers")]
    strategy = strategy_for(rt.group, rt.resource)
    obj = pipeline.prepare_create(rt, strategy, copy.deepcopy(manifest), "ns")
    assert obj["spec"]["minReplicas"] == 1
    assert obj["spec"]["targetCPUUtilizationPercentage"] == 80
    assert obj["status"] == {"currentReplicas": 0, "desiredReplicas": 0}
    assert strategy.validate(obj) == []


def test_hpa_validation() -> None:
    manifest = copy.deepcopy(HPA_V2)
    manifest["spec"]["minReplicas"] = 5
    manifest["spec"]["maxReplicas"] = 2
    del manifest["spec"]["scaleTargetRef"]["kind"]
    assert invalid("autoscaling/v2", "horizontalpodautoscalers", manifest) == [
        "spec.scaleTargetRef.kind: Required value",
        "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`",
    ]


# --- networking -------------------------------------------------------------------------------


INGRESS: Obj = {  # docs: service/networking/minimal-ingress.yaml
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {
        "name": "minimal-ingress",
        "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/"},
    },
    "spec": {
        "ingressClassName": "nginx-example",
        "rules": [
            {
                "http": {
                    "paths": [
                        {
                            "path": "/testpath",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "test", "port": {"number": 80}}},
                        }
                    ]
                }
            }
        ],
    },
}


def test_ingress_from_the_docs() -> None:
    ingress = create("networking.k8s.io/v1", "ingresses", INGRESS)
    assert ingress["status"] == {"loadBalancer": {}}
    assert ingress["metadata"]["generation"] == 1


def test_ingress_path_type_is_required() -> None:
    manifest = copy.deepcopy(INGRESS)
    path = manifest["spec"]["rules"][0]["http"]["paths"][0]
    del path["pathType"]
    assert invalid("networking.k8s.io/v1", "ingresses", manifest) == [
        "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"
    ]
    path["pathType"] = "Exact"
    path["path"] = "relative"
    path["backend"] = {"service": {"name": "test"}}
    assert invalid("networking.k8s.io/v1", "ingresses", manifest) == [
        'spec.rules[0].http.paths[0].path: Invalid value: "relative": must be an absolute path',
        "spec.rules[0].http.paths[0].backend.service.port: Required value: "
        "port name or number is required",
    ]


def test_ingress_needs_rules_or_a_default_backend() -> None:
    problems = invalid("networking.k8s.io/v1", "ingresses", {"metadata": {"name": "i"}, "spec": {}})
    assert problems == [
        "spec: Invalid value: {}: either `defaultBackend` or `rules` must be specified"
    ]


def test_network_policy_types_are_defaulted() -> None:
    policy: Obj = {
        "metadata": {"name": "test-network-policy"},
        "spec": {
            "podSelector": {"matchLabels": {"role": "db"}},
            "ingress": [
                {"from": [{"ipBlock": {"cidr": "172.17.0.0/16"}}], "ports": [{"port": 6379}]}
            ],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}], "ports": [{"port": 5978}]}],
        },
    }
    created = create("networking.k8s.io/v1", "networkpolicies", policy)
    assert created["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert created["spec"]["ingress"][0]["ports"][0]["protocol"] == "TCP"
    del policy["spec"]["egress"]
    created = create("networking.k8s.io/v1", "networkpolicies", policy)
    assert created["spec"]["policyTypes"] == ["Ingress"]
    policy["spec"]["policyTypes"] = ["Sideways"]
    assert invalid("networking.k8s.io/v1", "networkpolicies", policy) == [
        'spec.policyTypes[0]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"'
    ]


def test_ingress_class_controller() -> None:
    ic = create(
        "networking.k8s.io/v1",
        "ingressclasses",
        {
            "metadata": {"name": "external-lb"},
            "spec": {"controller": "example.com/ingress-controller"},
        },
    )

    def swap(new: Obj) -> None:
        new["spec"]["controller"] = "example.com/other"

    assert causes(lambda: update("networking.k8s.io/v1", "ingressclasses", ic, swap)) == [
        'spec.controller: Invalid value: "example.com/other": field is immutable'
    ]


# --- policy, scheduling, storage, coordination, node ---------------------------------------


def test_pdb() -> None:
    pdb = create(
        "policy/v1",
        "poddisruptionbudgets",
        {
            "metadata": {"name": "zk-pdb"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "zookeeper"}}},
        },
    )
    assert pdb["status"] == {
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    }
    assert pdb["metadata"]["generation"] == 1
    both: Obj = {"metadata": {"name": "p"}, "spec": {"minAvailable": 1, "maxUnavailable": "150%"}}
    assert invalid("policy/v1", "poddisruptionbudgets", both) == [
        'spec: Invalid value: {"minAvailable":1,"maxUnavailable":"150%"}: '
        "minAvailable and maxUnavailable cannot be both set",
        'spec.maxUnavailable: Invalid value: "150%": must not be greater than 100%',
    ]


def test_priority_class() -> None:
    pc = create(
        "scheduling.k8s.io/v1",
        "priorityclasses",
        {
            "metadata": {"name": "high-priority"},
            "value": 1000000,
            "globalDefault": False,
            "description": "This priority class should be used for XYZ service pods only.",
        },
    )
    assert pc["preemptionPolicy"] == "PreemptLowerPriority"

    def revalue(new: Obj) -> None:
        new["value"] = 5

    assert causes(lambda: update("scheduling.k8s.io/v1", "priorityclasses", pc, revalue)) == [
        "value: Forbidden: may not be changed in an update."
    ]
    assert invalid(
        "scheduling.k8s.io/v1",
        "priorityclasses",
        {"metadata": {"name": "system-mine"}, "value": 1},
    ) == [
        "metadata.name: Invalid value: \"system-mine\": priority class names with 'system-' "
        "prefix are reserved"
    ]
    assert invalid(
        "scheduling.k8s.io/v1",
        "priorityclasses",
        {"metadata": {"name": "huge"}, "value": 2000000000},
    ) == ["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]


def test_storage_class() -> None:
    sc = create(
        "storage.k8s.io/v1",
        "storageclasses",
        {
            "metadata": {"name": "standard"},
            "provisioner": "kubernetes.io/aws-ebs",
            "parameters": {"type": "gp2"},
        },
    )
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")

    def reparam(new: Obj) -> None:
        new["parameters"] = {"type": "io1"}

    assert causes(lambda: update("storage.k8s.io/v1", "storageclasses", sc, reparam)) == [
        "parameters: Forbidden: updates to parameters are forbidden."
    ]
    assert invalid("storage.k8s.io/v1", "storageclasses", {"metadata": {"name": "x"}}) == [
        "provisioner: Required value"
    ]


def test_csi_driver_defaults_and_attachments() -> None:
    driver = create(
        "storage.k8s.io/v1", "csidrivers", {"metadata": {"name": "hostpath.csi.k8s.io"}}
    )
    assert driver["spec"] == {
        "attachRequired": True,
        "podInfoOnMount": False,
        "storageCapacity": False,
        "fsGroupPolicy": "ReadWriteOnceWithFSType",
        "volumeLifecycleModes": ["Persistent"],
        "requiresRepublish": False,
        "seLinuxMount": False,
    }
    attachment = create(
        "storage.k8s.io/v1",
        "volumeattachments",
        {
            "metadata": {"name": "csi-123"},
            "spec": {
                "attacher": "hostpath.csi.k8s.io",
                "nodeName": "node-1",
                "source": {"persistentVolumeName": "pv1"},
            },
        },
    )
    assert attachment["status"] == {"attached": False}


def test_lease_and_runtime_class() -> None:
    lease = create(
        "coordination.k8s.io/v1",
        "leases",
        {"metadata": {"name": "l"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}},
    )
    assert lease["spec"]["holderIdentity"] == "a"
    assert invalid(
        "coordination.k8s.io/v1",
        "leases",
        {"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0}},
    ) == ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
    create("node.k8s.io/v1", "runtimeclasses", {"metadata": {"name": "myclass"}, "handler": "runc"})
    assert invalid("node.k8s.io/v1", "runtimeclasses", {"metadata": {"name": "x"}}) == [
        "handler: Required value"
    ]


# --- rbac ----------------------------------------------------------------------------------


def test_role_and_binding_from_the_docs() -> None:
    create(
        "rbac.authorization.k8s.io/v1",
        "roles",
        {
            "metadata": {"name": "pod-reader"},
            "rules": [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "watch", "list"]}
            ],
        },
    )
    binding = create(
        "rbac.authorization.k8s.io/v1",
        "rolebindings",
        {
            "metadata": {"name": "read-pods"},
            "subjects": [{"kind": "User", "name": "jane"}],
            "roleRef": {"kind": "Role", "name": "pod-reader"},
        },
    )
    assert binding["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io"
    assert binding["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"

    def rerole(new: Obj) -> None:
        new["roleRef"]["name"] = "admin"

    problems = causes(
        lambda: update("rbac.authorization.k8s.io/v1", "rolebindings", binding, rerole)
    )
    assert problems[0].startswith("roleRef: Invalid value: ")
    assert problems[0].endswith(": cannot change roleRef")


def test_rbac_validation() -> None:
    assert invalid(
        "rbac.authorization.k8s.io/v1",
        "roles",
        {"metadata": {"name": "r"}, "rules": [{"resources": ["pods"], "nonResourceURLs": ["/x"]}]},
    ) == [
        "rules[0].verbs: Required value: verbs must contain at least one value",
        'rules[0].nonResourceURLs: Invalid value: ["/x"]: namespaced rules cannot apply to '
        "non-resource URLs",
        'rules[0].nonResourceURLs: Invalid value: ["/x"]: rules cannot apply to both regular '
        "resources and non-resource URLs",
    ]
    assert invalid(
        "rbac.authorization.k8s.io/v1",
        "clusterrolebindings",
        {
            "metadata": {"name": "b"},
            "subjects": [{"kind": "ServiceAccount", "name": "default"}],
            "roleRef": {"kind": "Role", "name": "r"},
        },
    ) == [
        'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
        "subjects[0].namespace: Required value",
    ]


# --- events.k8s.io, discovery, admission, apiextensions, certificates, flowcontrol ---------


def test_events_v1_requires_what_kube_requires() -> None:
    """A write through events.k8s.io/v1 reaches its strategy in the stored (core v1) form,
    as the registry hands it over; kube's paths name the core fields."""
    core_events = TYPES[("", "v1", "events")]
    strategy = strategy_for("events.k8s.io", "events")

    def create_event(manifest: Obj) -> Obj:
        obj = conversion.convert(
            {"apiVersion": "events.k8s.io/v1", "kind": "Event", **copy.deepcopy(manifest)},
            kind="Event",
            from_api_version="events.k8s.io/v1",
            to_api_version="v1",
        )
        obj = pipeline.prepare_create(core_events, strategy, obj, "ns")
        pipeline.validate_create(core_events, strategy, obj)
        return obj

    assert causes(lambda: create_event({"metadata": {"name": "e"}, "type": "Odd"})) == [
        'involvedObject.namespace: Invalid value: "": does not match event.namespace',
        "eventTime: Required value",
        'type: Invalid value: "": has invalid value: Odd',
    ]
    create_event(
        {
            "metadata": {"name": "e"},
            "eventTime": "2025-01-10T11:00:00.000000Z",
            "type": "Normal",
            "reason": "Started",
            "action": "Start",
            "reportingController": "example.com/controller",
            "reportingInstance": "controller-1",
            "regarding": {"kind": "Pod", "name": "p", "namespace": "ns"},
            "note": "started",
        }
    )


def test_endpoint_slice() -> None:
    slice_ = create(
        "discovery.k8s.io/v1",
        "endpointslices",
        {
            "metadata": {
                "name": "example-abc",
                "labels": {"kubernetes.io/service-name": "example"},
            },
            "addressType": "IPv4",
            "ports": [{"name": "http", "protocol": "TCP", "port": 80}],
            "endpoints": [{"addresses": ["10.1.2.3"], "conditions": {"ready": True}}],
        },
    )
    assert slice_["metadata"]["generation"] == 1

    def relabel(new: Obj) -> None:
        new["metadata"]["labels"]["x"] = "y"

    assert (
        update("discovery.k8s.io/v1", "endpointslices", slice_, relabel)["metadata"]["generation"]
        == 2
    )
    bad = copy.deepcopy(slice_)
    bad["endpoints"][0]["addresses"] = ["fe80::1"]
    assert causes(lambda: create("discovery.k8s.io/v1", "endpointslices", bad)) == [
        'endpoints[0].addresses[0]: Invalid value: "fe80::1": must be an IPv4 address'
    ]


def test_webhook_configuration() -> None:
    config = create(
        "admissionregistration.k8s.io/v1",
        "validatingwebhookconfigurations",
        {
            "metadata": {"name": "pod-policy.example.com"},
            "webhooks": [
                {
                    "name": "pod-policy.example.com",
                    "rules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["pods"],
                        }
                    ],
                    "clientConfig": {"service": {"namespace": "example", "name": "example"}},
                    "admissionReviewVersions": ["v1"],
                    "sideEffects": "None",
                }
            ],
        },
    )
    hook = config["webhooks"][0]
    assert (hook["failurePolicy"], hook["matchPolicy"], hook["timeoutSeconds"]) == (
        "Fail",
        "Equivalent",
        10,
    )
    assert hook["rules"][0]["scope"] == "*"
    assert hook["clientConfig"]["service"]["port"] == 443
    assert config["metadata"]["generation"] == 1
    hook["name"] = "short"
    del hook["sideEffects"]
    assert causes(
        lambda: create("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations", config)
    ) == [
        'webhooks[0].name: Invalid value: "short": should be a domain with at least three '
        "segments separated by dots",
        "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
    ]


def test_custom_resource_definition() -> None:
    crd = create(
        "apiextensions.k8s.io/v1",
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
                "names": {"plural": "crontabs", "kind": "CronTab", "shortNames": ["ct"]},
            },
        },
    )
    assert crd["spec"]["names"]["singular"] == "crontab"
    assert crd["spec"]["names"]["listKind"] == "CronTabList"
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    assert crd["status"]["storedVersions"] == ["v1"]
    crd["metadata"]["name"] = "wrong"
    problems = causes(lambda: create("apiextensions.k8s.io/v1", "customresourcedefinitions", crd))
    assert problems == [
        'metadata.name: Invalid value: "wrong": must be spec.names.plural+"."+spec.group'
    ]


def test_certificate_signing_request_needs_a_csr() -> None:
    assert invalid(
        "certificates.k8s.io/v1",
        "certificatesigningrequests",
        {
            "metadata": {"name": "c"},
            "spec": {"signerName": "example.com/s", "usages": ["server auth"]},
        },
    ) == ["spec.request: Invalid value: []: PEM block type must be CERTIFICATE REQUEST"]


def test_flow_control() -> None:
    fs = create(
        "flowcontrol.apiserver.k8s.io/v1",
        "flowschemas",
        {
            "metadata": {"name": "f"},
            "spec": {"priorityLevelConfiguration": {"name": "global-default"}},
        },
    )
    assert fs["spec"]["matchingPrecedence"] == 1000
    pl = create(
        "flowcontrol.apiserver.k8s.io/v1",
        "prioritylevelconfigurations",
        {
            "metadata": {"name": "p"},
            "spec": {
                "type": "Limited",
                "limited": {"limitResponse": {"type": "Queue", "queuing": {}}},
            },
        },
    )
    assert pl["spec"]["limited"] == {
        "limitResponse": {
            "type": "Queue",
            "queuing": {"queues": 64, "handSize": 8, "queueLengthLimit": 50},
        },
        "nominalConcurrencyShares": 30,
        "lendablePercent": 0,
    }


# --- scale ---------------------------------------------------------------------------------


def test_scale_of_a_deployment() -> None:
    deployment: Obj = {
        "metadata": {
            "name": "web",
            "namespace": "ns",
            "uid": UID,
            "resourceVersion": "7",
            "creationTimestamp": "2025-01-10T11:00:00Z",
            "labels": {"app": "web"},
            "generation": 3,
        },
        "spec": {
            "replicas": 2,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}],
            },
        },
        "status": {"replicas": 1},
    }
    assert scale.to_scale(scale.CONTROLLER, deployment) == {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": "web",
            "namespace": "ns",
            "uid": UID,
            "resourceVersion": "7",
            "creationTimestamp": "2025-01-10T11:00:00Z",
        },
        "spec": {"replicas": 2},
        "status": {"replicas": 1, "selector": "app=web,tier in (a,b)"},
    }
    scaled = scale.apply(scale.CONTROLLER, deployment, {"spec": {"replicas": 5}})
    assert scaled["spec"]["replicas"] == 5
    assert deployment["spec"]["replicas"] == 2  # not mutated


def test_scale_of_a_replication_controller_and_zero() -> None:
    rc: Obj = {
        "metadata": {"name": "rc"},
        "spec": {"replicas": 0, "selector": {"b": "2", "a": "1"}},
    }
    assert scale.to_scale(scale.REPLICATION_CONTROLLER, rc) == {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": "rc"},
        "spec": {},
        "status": {"replicas": 0, "selector": "a=1,b=2"},
    }


def test_scale_validation() -> None:
    negative: Obj = {"metadata": {"name": "web", "namespace": "ns"}, "spec": {"replicas": -1}}
    assert [str(p) for p in scale.validate(negative)] == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
    ]
    with pytest.raises(errors.StatusError) as info:
        scale.desired_replicas({"spec": {"replicas": "3"}})
    assert info.value.code == 400
    with pytest.raises(errors.StatusError) as info:
        scale.check_type_meta({"kind": "Deployment"})
    assert info.value.message == (
        "the kind in the data (Deployment) does not match the expected kind (Scale)"
    )


def test_container_names_are_unique_across_init_and_regular_containers() -> None:
    manifest: Obj = {
        "metadata": {"name": "frontend"},
        "spec": {
            "selector": {"matchLabels": {"tier": "frontend"}},
            "template": {
                "metadata": {"labels": {"tier": "frontend"}},
                "spec": {
                    "initContainers": [container("app", "busybox"), {"name": "Bad_Name"}],
                    "containers": [container("app"), container("app")],
                },
            },
        },
    }
    problems = invalid("apps/v1", "replicasets", manifest)
    assert problems[:2] == [
        'spec.template.spec.containers[1].name: Duplicate value: "app"',
        'spec.template.spec.initContainers[0].name: Duplicate value: "app"',
    ]
    assert problems[2].startswith(
        'spec.template.spec.initContainers[1].name: Invalid value: "Bad_Name"'
    )
    assert problems[3] == "spec.template.spec.initContainers[1].image: Required value"


def test_deployment_generation_follows_spec_and_annotations() -> None:
    deployment = create(
        "apps/v1",
        "deployments",
        {
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": template({"app": "web"}),
            },
        },
    )

    def label(new: Obj) -> None:
        new["metadata"]["labels"] = {"a": "b"}

    assert update("apps/v1", "deployments", deployment, label)["metadata"]["generation"] == 1

    def annotate(new: Obj) -> None:
        new["metadata"]["annotations"] = {"note": "x"}

    assert update("apps/v1", "deployments", deployment, annotate)["metadata"]["generation"] == 2


def test_a_policy_without_param_kind_may_not_read_params() -> None:
    """kube compiles a policy's expressions with ``params`` declared only when it has a
    paramKind, and words the error as cel-go does: the root name, where it starts."""
    s = strategy_for("admissionregistration.k8s.io", "validatingadmissionpolicies")
    policy: dict[str, Any] = {
        "spec": {
            "matchConstraints": {},
            "validations": [{"expression": "1 == 1 && params.a.b == 2"}],
        }
    }
    (error,) = s.validate(policy)
    assert error.field == "spec.validations[0].expression"
    assert error.detail == (
        "compilation failed: ERROR: <input>:1:11: undeclared reference to 'params' "
        "(in container '')\n | 1 == 1 && params.a.b == 2\n | ..........^"
    )
    policy["spec"]["paramKind"] = {"apiVersion": "v1", "kind": "ConfigMap"}
    assert s.validate(policy) == []
