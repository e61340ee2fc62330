"""How the metrics server registers itself, as metrics-server's manifests do.

``kube-system/metrics-server``: a Service on port 443, the EndpointSlice naming where this
server listens (``metrics-server-<address>``, one per replica address, kept by each), and
the APIService ``v1beta1.metrics.k8s.io`` with metrics-server's priorities (100/100) and
the CA of this server's certificate. Written through the registry at start and again
every minute, so that a deleted one comes back; a write that finds the object the same
changes nothing.
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
USER = common_pb2.UserInfo(username="system:kapi-metrics-server", groups=["system:masters"])

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


def _target(group: str, resource: str, namespace: str = "", name: str = "") -> Any:
    version = "v1"
    return registry_pb2.RequestTarget(
        group=group, version=version, resource=resource, namespace=namespace, name=name, user=USER
    )


async def ensure(registry: RegistryClient, group: str, resource: str, wanted: Obj) -> None:
    """Create ``wanted``, or bring the stored one's spec (and an EndpointSlice's endpoints
    and ports) to it."""
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
    same = all(
        current.get(k) == wanted[k] for k in ("endpoints", "ports", "addressType") if k in wanted
    )
    if same and _same_spec(current.get("spec"), wanted.get("spec")):
        return
    for key in ("endpoints", "ports", "addressType"):
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


def _same_spec(current: Any, wanted: Any) -> bool:
    """Whether every field ``wanted`` sets has that value (defaults the registry added to
    ``current`` left aside)."""
    if wanted is None:
        return True
    if not isinstance(current, dict):
        return False
    return all(current.get(key) == value for key, value in wanted.items())


async def register(registry: RegistryClient, *, address: str, port: int, ca_bundle: bytes) -> None:
    await ensure(registry, "", "services", service())
    await ensure(registry, "discovery.k8s.io", "endpointslices", endpoint_slice(address, port))
    await ensure(registry, "apiregistration.k8s.io", "apiservices", apiservice(ca_bundle))
