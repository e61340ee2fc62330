"""How the metrics server registers itself, as metrics-server's manifests do.

``kube-system/metrics-server``: a Service on port 443, the EndpointSlice naming where this
server listens (``metrics-server-<address>``, one per replica address, kept by each), and
the APIService ``v1beta1.metrics.k8s.io`` with metrics-server's priorities (100/100) and
the CA of this server's certificate; and the RBAC objects metrics-server's manifest
ships (kubernetes-sigs/metrics-server manifests/base/rbac.yaml): its ServiceAccount,
``system:aggregated-metrics-reader`` (aggregated into admin, edit and view, so whoever
may view a namespace may ``kubectl top`` it), ``system:metrics-server`` with its binding,
and the bindings to kube's bootstrap ``system:auth-delegator`` ClusterRole and
``kube-system/extension-apiserver-authentication-reader`` Role. Written through the
registry at start and again every minute, so that a deleted one comes back; a write that
finds the object the same changes nothing.

The writes are the installer's (``INSTALLER``, privileged, as whoever applies
metrics-server's manifest); the server reads Nodes and Pods as its ServiceAccount
(``USER``), whose bindings above allow exactly that.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
from typing import Any

import orjson

from kapi import errors
from kapi_proto import common_pb2, registry_pb2
from services.registry.client import RegistryClient

log = logging.getLogger(__name__)

NAMESPACE = "kube-system"
SERVICE = "metrics-server"
APISERVICE = "v1beta1.metrics.k8s.io"
LABELS = {"k8s-app": "metrics-server"}
# metrics-server's APIService: groupPriorityMinimum 100, versionPriority 100.
GROUP_PRIORITY = 100
VERSION_PRIORITY = 100
SERVICE_ACCOUNT = "metrics-server"
USER = common_pb2.UserInfo(
    username=f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}",
    groups=[
        "system:serviceaccounts",
        f"system:serviceaccounts:{NAMESPACE}",
        "system:authenticated",
    ],
)
INSTALLER = common_pb2.UserInfo(username="system:kapi-metrics-server", groups=["system:masters"])
RBAC = "rbac.authorization.k8s.io"
READ = ["get", "list", "watch"]
# What this server's ServiceAccount reads (metrics-server's system:metrics-server role).
SERVER_ROLE = "system:metrics-server"
READER_ROLE = "system:aggregated-metrics-reader"

Obj = dict[str, Any]


def service() -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SERVICE, "namespace": NAMESPACE, "labels": LABELS},
        "spec": {
            "selector": LABELS,
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": "https"}],
        },
    }


def slice_name(address: str) -> str:
    return f"{SERVICE}-" + address.replace(".", "-").replace(":", "-").strip("-")


def endpoint_slice(address: str, port: int) -> Obj:
    kind = "IPv6" if ipaddress.ip_address(address).version == 6 else "IPv4"
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": slice_name(address),
            "namespace": NAMESPACE,
            "labels": {"kubernetes.io/service-name": SERVICE, **LABELS},
        },
        "addressType": kind,
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    }


def apiservice(ca_bundle: bytes) -> Obj:
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": APISERVICE, "labels": LABELS},
        "spec": {
            "group": "metrics.k8s.io",
            "version": "v1beta1",
            "service": {"namespace": NAMESPACE, "name": SERVICE, "port": 443},
            "caBundle": base64.b64encode(ca_bundle).decode(),
            "groupPriorityMinimum": GROUP_PRIORITY,
            "versionPriority": VERSION_PRIORITY,
        },
    }


def _subject() -> list[Obj]:
    return [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}]


def service_account() -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": SERVICE_ACCOUNT, "namespace": NAMESPACE, "labels": LABELS},
    }


def aggregated_reader() -> Obj:
    """Reading metrics.k8s.io, aggregated into admin, edit and view."""
    aggregate = {
        f"rbac.authorization.k8s.io/aggregate-to-{r}": "true" for r in ("view", "edit", "admin")
    }
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": READER_ROLE, "labels": {**LABELS, **aggregate}},
        "rules": [{"apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"], "verbs": READ}],
    }


def server_role() -> Obj:
    resources = ["pods", "nodes", "nodes/stats", "namespaces", "configmaps"]
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": SERVER_ROLE, "labels": LABELS},
        "rules": [{"apiGroups": [""], "resources": resources, "verbs": READ}],
    }


def binding(kind: str, name: str, role_kind: str, role: str, namespace: str = "") -> Obj:
    meta: Obj = {"name": name, "labels": LABELS}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role},
        "subjects": _subject(),
    }


def rbac_objects() -> list[tuple[str, str, Obj]]:
    """(group, resource, object) of metrics-server's RBAC manifest, in creation order."""
    return [
        ("", "serviceaccounts", service_account()),
        (RBAC, "clusterroles", aggregated_reader()),
        (RBAC, "clusterroles", server_role()),
        (
            RBAC,
            "clusterrolebindings",
            binding("ClusterRoleBinding", SERVER_ROLE, "ClusterRole", SERVER_ROLE),
        ),
        (
            RBAC,
            "clusterrolebindings",
            binding(
                "ClusterRoleBinding",
                "metrics-server:system:auth-delegator",
                "ClusterRole",
                "system:auth-delegator",
            ),
        ),
        (
            RBAC,
            "rolebindings",
            binding(
                "RoleBinding",
                "metrics-server-auth-reader",
                "Role",
                "extension-apiserver-authentication-reader",
                NAMESPACE,
            ),
        ),
    ]


def _target(group: str, resource: str, namespace: str = "", name: str = "") -> Any:
    version = "v1"
    return registry_pb2.RequestTarget(
        group=group,
        version=version,
        resource=resource,
        namespace=namespace,
        name=name,
        user=INSTALLER,
    )


async def ensure(registry: RegistryClient, group: str, resource: str, wanted: Obj) -> None:
    """Create ``wanted``, or bring the stored one's spec (and an EndpointSlice's endpoints
    and ports, a role's rules, a binding's subjects) to it."""
    meta = wanted["metadata"]
    namespace = meta.get("namespace", "")
    try:
        await registry.create(
            registry_pb2.WriteRequest(
                target=_target(group, resource, namespace), object=orjson.dumps(wanted)
            )
        )
        log.info("%s %s created", resource, meta["name"])
        return
    except errors.StatusError as err:
        if err.reason != "AlreadyExists":
            raise
    got = await registry.get(
        registry_pb2.ReadRequest(
            target=_target(group, resource, namespace, meta["name"]),
            rendering=registry_pb2.OBJECT,
        )
    )
    current = orjson.loads(got.object)
    same = all(current.get(k) == wanted[k] for k in KEPT if k in wanted)
    if same and _same_spec(current.get("spec"), wanted.get("spec")):
        return
    for key in KEPT:
        if key in wanted:
            current[key] = wanted[key]
    if "spec" in wanted:  # what the registry filled in (a Service's cluster IP) stays
        current["spec"] = {**(current.get("spec") or {}), **wanted["spec"]}
    await registry.update(
        registry_pb2.WriteRequest(
            target=_target(group, resource, namespace, meta["name"]),
            object=orjson.dumps(current),
        )
    )
    log.info("%s %s updated", resource, meta["name"])


# The fields besides spec brought back to what this server wants.
KEPT = ("endpoints", "ports", "addressType", "rules", "subjects")


def _same_spec(current: Any, wanted: Any) -> bool:
    """Whether every field ``wanted`` sets has that value (defaults the registry added to
    ``current`` left aside)."""
    if wanted is None:
        return True
    if not isinstance(current, dict):
        return False
    return all(current.get(key) == value for key, value in wanted.items())


async def register(registry: RegistryClient, *, address: str, port: int, ca_bundle: bytes) -> None:
    for group, resource, wanted in rbac_objects():
        await ensure(registry, group, resource, wanted)
    await ensure(registry, "", "services", service())
    await ensure(registry, "discovery.k8s.io", "endpointslices", endpoint_slice(address, port))
    await ensure(registry, "apiregistration.k8s.io", "apiservices", apiservice(ca_bundle))
