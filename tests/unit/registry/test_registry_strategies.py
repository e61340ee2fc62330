"""Per-resource strategies: defaults as kube-apiserver 1.32 fills them, and the validation
users hit most, worded as kube's (pkg/apis/*/v1/defaults.go, pkg/apis/*/validation).
"""

from __future__ import annotations

import copy
import ipaddress
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from builtin_definitions import strategy_for

from kapi.errors import FieldError
from services.registry.strategies import apps, core
from services.registry.strategy import Strategy

Obj = dict[str, Any]

POD = strategy_for("", "pods")
DEPLOYMENT = strategy_for("apps", "deployments")
SERVICE = strategy_for("", "services")
NAMESPACE = strategy_for("", "namespaces")
SECRET = strategy_for("", "secrets")
CONFIGMAP = strategy_for("", "configmaps")
EVENT = strategy_for("", "events")
SERVICE_ACCOUNT = strategy_for("", "serviceaccounts")


def defaulted(strategy: Strategy, obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    strategy.default(out)
    return out


def created(strategy: Strategy, obj: Obj) -> Obj:
    out = defaulted(strategy, obj)
    strategy.prepare_for_create(out)
    return out


def messages(problems: list[FieldError]) -> list[str]:
    return [str(p) for p in problems]


# --- objects -----------------------------------------------------------------------------


def pod_spec(*containers: Obj, **extra: Any) -> Obj:
    return {"containers": list(containers or [{"name": "web", "image": "nginx:1.27"}]), **extra}


def pod(*containers: Obj, **extra: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": pod_spec(*containers, **extra),
    }


def deployment(template_labels: Obj | None = None, **spec: Any) -> Obj:
    labels = {"app": "web"} if template_labels is None else template_labels
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "ns"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec()},
            **spec,
        },
    }


def service(**spec: Any) -> Obj:
    body: Obj = {"ports": [{"port": 80}], **spec}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": body}


# --- Deployment defaults ------------------------------------------------------------------

POD_SPEC_DEFAULTS = {
    "restartPolicy": "Always",
    "terminationGracePeriodSeconds": 30,
    "dnsPolicy": "ClusterFirst",
    "securityContext": {},
    "schedulerName": "default-scheduler",
}
CONTAINER_DEFAULTS = {
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
    "resources": {},
}


def test_deployment_defaults() -> None:
    spec = defaulted(DEPLOYMENT, deployment())["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    template = spec["template"]
    assert template["metadata"]["creationTimestamp"] is None
    for key, value in POD_SPEC_DEFAULTS.items():
        assert template["spec"][key] == value, key
    container = template["spec"]["containers"][0]
    assert container == {
        "name": "web",
        "image": "nginx:1.27",
        "imagePullPolicy": "IfNotPresent",
        **CONTAINER_DEFAULTS,
    }


def test_deployment_template_gets_no_pod_only_defaults() -> None:
    """SetDefaults_Pod (enableServiceLinks, requests from limits) is for pods, not templates."""
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}
    template = defaulted(DEPLOYMENT, obj)["spec"]["template"]["spec"]
    assert "enableServiceLinks" not in template
    assert template["containers"][0]["resources"] == {"limits": {"cpu": "1"}}


def test_deployment_defaults_keep_what_was_given() -> None:
    obj = deployment(
        replicas=0,
        strategy={"type": "Recreate"},
        revisionHistoryLimit=2,
        progressDeadlineSeconds=60,
    )
    spec = defaulted(DEPLOYMENT, obj)["spec"]
    assert spec["replicas"] == 0
    assert spec["strategy"] == {"type": "Recreate"}
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (2, 60)


def test_deployment_rolling_update_fills_the_missing_half() -> None:
    obj = deployment(strategy={"rollingUpdate": {"maxSurge": 2}})
    assert defaulted(DEPLOYMENT, obj)["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 2, "maxUnavailable": "25%"},
    }


def test_deployment_create_starts_generation_and_empty_status() -> None:
    obj = deployment()
    obj["status"] = {"replicas": 7}
    out = created(DEPLOYMENT, obj)
    assert out["metadata"]["generation"] == 1
    assert out["status"] == {}


# --- Pod defaults --------------------------------------------------------------------------


def test_pod_defaults() -> None:
    out = created(POD, pod())
    spec = out["spec"]
    for key, value in POD_SPEC_DEFAULTS.items():
        assert spec[key] == value, key
    assert spec["enableServiceLinks"] is True
    # what kube-apiserver's default admission plugins add (Priority, DefaultTolerationSeconds)
    assert spec["priority"] == 0
    assert spec["preemptionPolicy"] == "PreemptLowerPriority"
    assert spec["tolerations"] == [
        {
            "key": "node.kubernetes.io/not-ready",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
        {
            "key": "node.kubernetes.io/unreachable",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
    ]
    assert spec["containers"][0] == {
        "name": "web",
        "image": "nginx:1.27",
        "imagePullPolicy": "IfNotPresent",
        **CONTAINER_DEFAULTS,
    }
    assert out["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


def test_pod_defaults_keep_what_was_given() -> None:
    obj = pod(
        {
            "name": "c",
            "image": "nginx",
            "imagePullPolicy": "Never",
            "terminationMessagePolicy": "FallbackToLogsOnError",
        },
        restartPolicy="Never",
        dnsPolicy="Default",
        terminationGracePeriodSeconds=0,
        schedulerName="mine",
        enableServiceLinks=False,
    )
    spec = defaulted(POD, obj)["spec"]
    assert (spec["restartPolicy"], spec["dnsPolicy"], spec["schedulerName"]) == (
        "Never",
        "Default",
        "mine",
    )
    assert spec["terminationGracePeriodSeconds"] == 0
    assert spec["enableServiceLinks"] is False
    container = spec["containers"][0]
    assert container["imagePullPolicy"] == "Never"
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("library/nginx", "Always"),
        ("registry.local:5000/team/nginx", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("registry.local:5000/team/nginx:1.27", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:1.27@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "Always"),  # ParseImageName keeps the tag
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    spec = defaulted(POD, pod({"name": "c", "image": image}))["spec"]
    assert spec["containers"][0]["imagePullPolicy"] == policy


def test_init_containers_and_probes_are_defaulted() -> None:
    probe = {"httpGet": {"port": 80}}
    obj = pod({"name": "c", "image": "nginx:1", "livenessProbe": probe})
    obj["spec"]["initContainers"] = [{"name": "init", "image": "busybox"}]
    spec = defaulted(POD, obj)["spec"]
    assert spec["initContainers"][0]["imagePullPolicy"] == "Always"
    assert spec["initContainers"][0]["terminationMessagePath"] == "/dev/termination-log"
    live = spec["containers"][0]["livenessProbe"]
    assert (live["timeoutSeconds"], live["periodSeconds"]) == (1, 10)
    assert (live["successThreshold"], live["failureThreshold"]) == (1, 3)


def test_pod_requests_default_to_limits() -> None:
    """SetDefaults_Pod: a limit without a request is the request too."""
    container = {
        "name": "c",
        "image": "nginx:1",
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}},
    }
    resources = defaulted(POD, pod(container))["spec"]["containers"][0]["resources"]
    assert resources["requests"] == {"cpu": "500m", "memory": "1Gi"}


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        ({}, "BestEffort"),
        ({"requests": {"cpu": "100m"}}, "Burstable"),
        ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
        ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}, "Burstable"),
    ],
)
def test_pod_qos_class(resources: Obj, qos: str) -> None:
    out = created(POD, pod({"name": "c", "image": "nginx:1", "resources": resources}))
    assert out["status"]["qosClass"] == qos


# --- Service defaults and cluster IPs ------------------------------------------------------


def test_service_defaults() -> None:
    spec = created(SERVICE, service(selector={"app": "web"}))["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert "externalTrafficPolicy" not in spec


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"port": 443, "targetPort": "https"}, {"port": 443, "targetPort": "https"}),
        ({"port": 443, "targetPort": 8443}, {"port": 443, "targetPort": 8443}),
        ({"port": 443, "targetPort": 0}, {"port": 443, "targetPort": 443}),
        ({"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "UDP", "targetPort": 53}),
    ],
)
def test_service_port_defaults(given: Obj, expected: Obj) -> None:
    port = defaulted(SERVICE, service(ports=[given]))["spec"]["ports"][0]
    assert port == {"protocol": "TCP", **expected}


def test_service_external_name_defaults() -> None:
    spec = defaulted(SERVICE, service(type="ExternalName", externalName="example.com", ports=[]))[
        "spec"
    ]
    assert spec["sessionAffinity"] == "None"  # SetDefaults_Service sets it for every type
    assert "internalTrafficPolicy" not in spec
    assert "externalTrafficPolicy" not in spec


@pytest.mark.parametrize(
    ("spec", "external", "allocate_node_ports"),
    [
        ({"type": "NodePort"}, "Cluster", None),
        ({"type": "LoadBalancer"}, "Cluster", True),
        ({"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False}, "Cluster", False),
        ({"type": "ClusterIP", "externalIPs": ["192.0.2.1"]}, "Cluster", None),
        ({"type": "NodePort", "externalTrafficPolicy": "Local"}, "Local", None),
    ],
)
def test_service_externally_accessible_defaults(
    spec: Obj, external: str, allocate_node_ports: bool | None
) -> None:
    out = defaulted(SERVICE, service(**spec))["spec"]
    assert out["externalTrafficPolicy"] == external
    assert out["internalTrafficPolicy"] == "Cluster"
    assert out.get("allocateLoadBalancerNodePorts") == allocate_node_ports


SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")


def allocated(obj: Obj, taken: set[str] | None = None) -> Obj:
    out = created(SERVICE, obj)
    assert isinstance(SERVICE, core.ServiceStrategy)
    SERVICE.allocate_cluster_ip(out, taken or set())
    spec: Obj = out["spec"]
    return spec


def test_cluster_ip_is_allocated_from_the_service_cidr() -> None:
    spec = allocated(service())
    address = ipaddress.ip_address(spec["clusterIP"])
    assert address in SERVICE_CIDR
    assert address != SERVICE_CIDR.network_address
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["ipFamilies"] == ["IPv4"]
    assert spec["ipFamilyPolicy"] == "SingleStack"


def test_cluster_ip_allocation_avoids_taken_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    offsets: Iterator[int] = iter([20, 20, 21, 22])
    monkeypatch.setattr(random, "randrange", lambda start, stop: next(offsets))
    base = int(SERVICE_CIDR.network_address)
    taken = {str(ipaddress.ip_address(base + 20)), str(ipaddress.ip_address(base + 21))}
    assert allocated(service(), taken)["clusterIP"] == str(ipaddress.ip_address(base + 22))


def test_cluster_ip_allocation_spreads() -> None:
    seen = {allocated(service())["clusterIP"] for _ in range(20)}
    assert len(seen) > 15


@pytest.mark.parametrize(
    ("spec", "cluster_ip", "cluster_ips"),
    [
        ({"clusterIP": "10.96.5.5"}, "10.96.5.5", ["10.96.5.5"]),
        ({"clusterIP": "None", "ports": []}, "None", ["None"]),
    ],
)
def test_requested_cluster_ip_is_kept(spec: Obj, cluster_ip: str, cluster_ips: list[str]) -> None:
    out = allocated(service(**spec))
    assert (out["clusterIP"], out["clusterIPs"]) == (cluster_ip, cluster_ips)
    assert out["ipFamilies"] == ["IPv4"]
    assert out["ipFamilyPolicy"] == "SingleStack"


def test_external_name_service_gets_no_cluster_ip() -> None:
    spec = allocated(service(type="ExternalName", externalName="example.com", ports=[]))
    for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        assert key not in spec, key


def test_service_create_has_an_empty_load_balancer_status() -> None:
    obj = service()
    obj["status"] = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}
    assert created(SERVICE, obj)["status"] == {"loadBalancer": {}}


def stored_service() -> Obj:
    old = created(SERVICE, service())
    assert isinstance(SERVICE, core.ServiceStrategy)
    SERVICE.allocate_cluster_ip(old, set())
    return old


def test_service_update_keeps_the_allocated_cluster_ip() -> None:
    """kube's patchAllocatedValues: the same manifest sent again is not a change."""
    old = stored_service()
    new = defaulted(SERVICE, service())
    SERVICE.prepare_for_update(new, old)
    for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        assert new["spec"][key] == old["spec"][key], key
    assert SERVICE.validate_update(new, old) == []


def test_service_cluster_ip_is_immutable() -> None:
    old = stored_service()
    new = defaulted(SERVICE, service(clusterIP="10.96.0.200"))
    SERVICE.prepare_for_update(new, old)
    problems = SERVICE.validate_update(new, old)
    assert [(p.type, p.field, p.detail) for p in problems] == [
        ("FieldValueInvalid", "spec.clusterIPs[0]", "may not change once set")
    ]


def test_service_can_become_external_name() -> None:
    old = stored_service()
    new = defaulted(SERVICE, service(type="ExternalName", externalName="example.com", ports=[]))
    SERVICE.prepare_for_update(new, old)
    assert "clusterIP" not in new["spec"]
    assert SERVICE.validate_update(new, old) == []


# --- Namespace, Secret, ConfigMap -----------------------------------------------------------


def test_namespace_defaults() -> None:
    obj = {"metadata": {"name": "team", "labels": {"kubernetes.io/metadata.name": "forged"}}}
    out = created(NAMESPACE, obj)
    assert out["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}
    assert out["spec"] == {"finalizers": ["kubernetes"]}
    assert out["status"] == {"phase": "Active"}


def test_namespace_keeps_other_finalizers() -> None:
    out = created(NAMESPACE, {"metadata": {"name": "t"}, "spec": {"finalizers": ["mine"]}})
    assert out["spec"]["finalizers"] == ["mine", "kubernetes"]


def test_namespace_without_a_name_gets_no_label() -> None:
    out = defaulted(NAMESPACE, {"metadata": {"generateName": "t-"}})
    assert "labels" not in out["metadata"]


def test_namespace_update_keeps_finalizers_and_status() -> None:
    """kube's namespaceStrategy.PrepareForUpdate: those change through /finalize, /status."""
    old = created(NAMESPACE, {"metadata": {"name": "team"}})
    new = defaulted(NAMESPACE, {"metadata": {"name": "team", "labels": {"a": "b"}}})
    new["status"] = {"phase": "Terminating"}
    NAMESPACE.prepare_for_update(new, old)
    assert new["spec"] == {"finalizers": ["kubernetes"]}
    assert new["status"] == {"phase": "Active"}
    assert new["metadata"]["labels"] == {"a": "b", "kubernetes.io/metadata.name": "team"}


@pytest.mark.parametrize(
    ("strategy", "valid", "invalid"),
    [
        (NAMESPACE, "team-a", "team.a"),  # a DNS-1123 label
        (SERVICE, "web", "1web"),  # a DNS-1035 label
        (CONFIGMAP, "a.b.c", "A"),  # a DNS-1123 subdomain
        (DEPLOYMENT, "web.v2", "web_v2"),
    ],
)
def test_name_rules(strategy: Strategy, valid: str, invalid: str) -> None:
    assert strategy.validate_name(valid) == []
    assert strategy.validate_name(invalid) != []


def test_secret_type_defaults_to_opaque() -> None:
    assert defaulted(SECRET, {"metadata": {"name": "s"}})["type"] == "Opaque"
    tls = {"metadata": {"name": "s"}, "type": "kubernetes.io/tls"}
    assert defaulted(SECRET, tls)["type"] == "kubernetes.io/tls"


def test_secret_type_is_immutable() -> None:
    old = defaulted(SECRET, {"metadata": {"name": "s"}})
    new = {"metadata": {"name": "s"}, "type": "example.com/custom"}
    assert messages(SECRET.validate_update(new, old)) == [
        'type: Invalid value: "example.com/custom": field is immutable'
    ]
    assert SECRET.validate_update(copy.deepcopy(old), old) == []


CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
    "'[-._a-zA-Z0-9]+')"
)


@pytest.mark.parametrize(
    ("strategy", "obj", "expected"),
    [
        (CONFIGMAP, {"data": {"ok.key": "v", "KEY_2": "v"}}, []),
        (CONFIGMAP, {"data": {"a b": "v"}}, [f'data[a b]: Invalid value: "a b": {CONFIG_KEY_MSG}']),
        (
            CONFIGMAP,
            {"binaryData": {"a/b": "AA=="}},
            [f'binaryData[a/b]: Invalid value: "a/b": {CONFIG_KEY_MSG}'],
        ),
        (
            CONFIGMAP,
            {"data": {"k": "v"}, "binaryData": {"k": "AA=="}},
            ['data[k]: Invalid value: "k": duplicate of key present in binaryData'],
        ),
        (CONFIGMAP, {"data": {"..": "v"}}, ["data[..]: Invalid value: \"..\": must not be '..'"]),
        (SECRET, {"data": {"a b": "dg=="}}, [f'data[a b]: Invalid value: "a b": {CONFIG_KEY_MSG}']),
        (SECRET, {"data": {"tls.crt": "dg=="}}, []),
    ],
)
def test_key_validation(strategy: Strategy, obj: Obj, expected: list[str]) -> None:
    assert messages(strategy.validate({"metadata": {"name": "x"}, **obj})) == expected


def test_event_needs_an_involved_object() -> None:
    assert messages(EVENT.validate({"metadata": {"name": "e"}})) == [
        "involvedObject: Required value"
    ]
    assert EVENT.validate({"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod"}}) == []


@pytest.mark.parametrize(
    ("strategy", "returns_object"),
    [
        (POD, True),
        (NAMESPACE, True),
        (SERVICE, True),
        (SERVICE_ACCOUNT, True),
        (CONFIGMAP, False),
        (SECRET, False),
        (DEPLOYMENT, False),
    ],
)
def test_delete_answer(strategy: Strategy, returns_object: bool) -> None:
    """kube's ReturnDeletedObject: pods, namespaces, services and service accounts answer a
    DELETE with the object; the others with a Status."""
    assert strategy.return_deleted_object is returns_object


# --- validation failures --------------------------------------------------------------------

Mutation = Callable[[Obj], None]


def _set(path: tuple[str, ...], value: Any) -> Mutation:
    def change(obj: Obj) -> None:
        target = obj
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _drop(path: tuple[str, ...]) -> Mutation:
    def change(obj: Obj) -> None:
        target = obj
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


RESTART_VALUES = 'supported values: "Always", "OnFailure", "Never"'


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda obj: None, []),
        (_set(("spec", "containers"), []), ["spec.containers: Required value"]),
        (_drop(("spec", "containers")), ["spec.containers: Required value"]),
        (
            _set(
                ("spec", "containers"),
                [{"name": "web", "image": "a"}, {"name": "web", "image": "b"}],
            ),
            ['spec.containers[1].name: Duplicate value: "web"'],
        ),
        (
            _set(("spec", "containers"), [{"name": "web"}]),
            ["spec.containers[0].image: Required value"],
        ),
        (
            _set(("spec", "containers"), [{"image": "a"}]),
            ["spec.containers[0].name: Required value"],
        ),
        (
            _set(("spec", "restartPolicy"), "Sometimes"),
            [f'spec.restartPolicy: Unsupported value: "Sometimes": {RESTART_VALUES}'],
        ),
        (_set(("spec", "restartPolicy"), "OnFailure"), []),
        (_drop(("spec",)), ["spec: Required value"]),
    ],
)
def test_pod_validation(change: Mutation, expected: list[str]) -> None:
    obj = defaulted(POD, pod())
    change(obj)
    problems = messages(POD.validate(obj))
    assert problems[: len(expected)] == expected
    assert len(problems) == len(expected)


def test_pod_container_names_are_dns_labels() -> None:
    obj = defaulted(POD, pod({"name": "Web_1", "image": "a"}))
    (problem,) = POD.validate(obj)
    assert problem.field == "spec.containers[0].name"
    assert problem.detail.startswith("a lowercase RFC 1123 label must consist of")


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (deployment(), []),
        (
            deployment({"app": "db"}),
            ["spec.template.metadata.labels"],
        ),
        (deployment({}), ["spec.template.metadata.labels"]),
    ],
)
def test_deployment_selector_must_match_template(obj: Obj, expected: list[str]) -> None:
    problems = DEPLOYMENT.validate(defaulted(DEPLOYMENT, obj))
    assert [p.field for p in problems] == expected
    for p in problems:
        assert (p.type, p.detail) == (
            "FieldValueInvalid",
            "`selector` does not match template `labels`",
        )


def test_deployment_match_expressions() -> None:
    obj = deployment()
    obj["spec"]["selector"] = {
        "matchExpressions": [
            {"key": "app", "operator": "In", "values": ["web", "api"]},
            {"key": "tier", "operator": "DoesNotExist"},
        ]
    }
    assert DEPLOYMENT.validate(defaulted(DEPLOYMENT, obj)) == []
    obj["spec"]["selector"]["matchExpressions"][0]["operator"] = "NotIn"
    assert [p.field for p in DEPLOYMENT.validate(defaulted(DEPLOYMENT, obj))] == [
        "spec.template.metadata.labels"
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_drop(("spec", "selector")), ["spec.selector: Required value"]),
        (
            _set(("spec", "replicas"), -1),
            ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"],
        ),
        (
            _set(("spec", "template", "spec", "containers"), []),
            ["spec.template.spec.containers: Required value"],
        ),
        (
            _set(("spec", "template", "spec", "restartPolicy"), "Never"),
            [
                'spec.template.spec.restartPolicy: Unsupported value: "Never": '
                'supported values: "Always"'
            ],
        ),
    ],
)
def test_deployment_validation(change: Mutation, expected: list[str]) -> None:
    obj = defaulted(DEPLOYMENT, deployment())
    change(obj)
    assert messages(DEPLOYMENT.validate(obj)) == expected


def test_deployment_empty_selector() -> None:
    obj = defaulted(DEPLOYMENT, deployment())
    obj["spec"]["selector"] = {"matchLabels": {}}
    (problem,) = DEPLOYMENT.validate(obj)
    assert (problem.field, problem.detail) == (
        "spec.selector",
        "empty selector is invalid for deployment",
    )


def test_deployment_selector_is_immutable() -> None:
    old = defaulted(DEPLOYMENT, deployment())
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "front"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "front"
    problems = DEPLOYMENT.validate_update(new, old)
    assert [(p.field, p.detail) for p in problems] == [("spec.selector", "field is immutable")]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, []),
        ({"ports": []}, ["spec.ports: Required value"]),
        ({"ports": [], "clusterIP": "None"}, []),  # headless
        ({"ports": [], "type": "ExternalName", "externalName": "example.com"}, []),
        (
            {"ports": [{"port": 0, "protocol": "TCP"}]},
            ["spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"],
        ),
        (
            {"ports": [{"port": 70000, "protocol": "TCP"}]},
            ["spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"],
        ),
        (
            {"ports": [{"port": 80, "protocol": "HTTP"}]},
            [
                'spec.ports[0].protocol: Unsupported value: "HTTP": '
                'supported values: "SCTP", "TCP", "UDP"'
            ],
        ),
        (
            {"ports": [{"port": 80, "protocol": "TCP"}, {"port": 81, "protocol": "TCP"}]},
            ["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"],
        ),
        (
            {
                "ports": [
                    {"name": "http", "port": 80, "protocol": "TCP"},
                    {"name": "http", "port": 81, "protocol": "TCP"},
                ]
            },
            ['spec.ports[1].name: Duplicate value: "http"'],
        ),
        (
            {"type": "Magic"},
            [
                'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", '
                '"ExternalName", "LoadBalancer", "NodePort"'
            ],
        ),
    ],
)
def test_service_validation(spec: Obj, expected: list[str]) -> None:
    obj = service()
    obj["spec"].update(spec)
    assert messages(SERVICE.validate(defaulted(SERVICE, obj))) == expected


def test_service_port_name_must_be_a_dns_label() -> None:
    obj = defaulted(SERVICE, service(ports=[{"name": "HTTP", "port": 80}]))
    (problem,) = SERVICE.validate(obj)
    assert problem.field == "spec.ports[0].name"
    assert problem.detail.startswith("a lowercase RFC 1123 label must consist of")


def test_service_without_spec() -> None:
    assert messages(SERVICE.validate({"metadata": {"name": "s"}})) == ["spec: Required value"]


def test_strategies_are_looked_up_by_group_and_resource() -> None:
    assert isinstance(strategy_for("apps", "deployments"), apps.DeploymentStrategy)
    assert isinstance(strategy_for("", "services"), core.ServiceStrategy)
    assert type(strategy_for("", "nosuchthing")) is Strategy
    assert type(strategy_for("apps", "pods")) is Strategy  # the group matters


def test_validation_does_not_mutate() -> None:
    objects = [
        (POD, defaulted(POD, pod({"name": "X", "image": ""}))),
        (DEPLOYMENT, defaulted(DEPLOYMENT, deployment({"app": "db"}))),
        (SERVICE, defaulted(SERVICE, service(ports=[{"port": 0}]))),
        (CONFIGMAP, {"metadata": {"name": "c"}, "data": {"a b": "v"}}),
    ]
    for strategy, obj in objects:
        before = copy.deepcopy(obj)
        assert strategy.validate(obj) != []
        assert obj == before
