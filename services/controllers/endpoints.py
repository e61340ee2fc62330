"""endpoints-controller and endpointslice-controller: a Service's backends, from its pods.

kube's ``pkg/controller/endpoint`` and ``pkg/controller/endpointslice``: for a Service
with a selector, the pods it selects that have an IP and are not terminated become its
backends — ready ones as ``addresses`` (Endpoints) or endpoints with condition
``ready: true``; not-ready ones as ``notReadyAddresses`` / ``ready: false`` (both
ready with ``publishNotReadyAddresses``); terminating ones are left out of Endpoints
(kept with ``publishNotReadyAddresses``) and kept in slices with ``terminating: true``.
Ports are the Service's, each ``targetPort`` resolved against the pod's named container
ports.

* Endpoints: named as the Service, with the ``endpoints.kubernetes.io/last-change-
  trigger-time`` annotation; deleted with the Service (a Service without selector is left
  to whoever manages its Endpoints).
* EndpointSlices: ``NAME-xxxxx`` (generateName), labelled
  ``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by:
  endpointslice-controller.k8s.io``, owned by the Service (deleted with it by the garbage
  collector), at most 100 endpoints each; a Service with no pods gets one placeholder
  slice with no endpoints. Pods whose named target ports resolve differently go to
  different slices, one per port set.
* A pod whose ``subdomain`` is the Service's name has its ``hostname`` in both.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from kapi import errors
from kapi.kube.informer import Handler, key_of, split_key
from kapi.kube.resources import ENDPOINTS, ENDPOINTSLICES, PODS, SERVICES
from services.controllers import objects
from services.controllers.framework import Context, Obj, QueueController

log = logging.getLogger(__name__)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
MAX_ENDPOINTS_PER_SLICE = 100


def _target_port(port: Obj, pod: Obj) -> int | None:
    """podutil.FindPort: a number, or a container port of that name and protocol."""
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for container in objects.spec(pod).get("containers") or []:
        for cport in container.get("ports") or []:
            if cport.get("name") == target and cport.get("protocol", "TCP") == port.get(
                "protocol", "TCP"
            ):
                return int(cport["containerPort"])
    return None


def backends(service: Obj, pods: list[Obj]) -> list[Obj]:
    """The pods a Service selects that can serve: an IP, not terminated."""
    selector = objects.spec(service).get("selector") or {}
    out = []
    for pod in pods:
        if not all(objects.labels(pod).get(k) == v for k, v in selector.items()):
            continue
        if not objects.status(pod).get("podIP"):
            continue
        if objects.status(pod).get("phase") in ("Succeeded", "Failed"):
            continue
        out.append(pod)
    return sorted(out, key=lambda p: objects.name(p))


def _ref(pod: Obj) -> Obj:
    return {
        "kind": "Pod",
        "namespace": objects.namespace(pod),
        "name": objects.name(pod),
        "uid": objects.uid(pod),
    }


def endpoints_subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    """Endpoints.subsets, one per distinct port set (repackSubsets, simplified)."""
    publish = bool(objects.spec(service).get("publishNotReadyAddresses"))
    groups: dict[tuple[Any, ...], Obj] = {}
    for pod in pods:
        # ShouldPodBeInEndpoints: terminating pods only when not-ready ones are published
        if objects.deleting(pod) and not publish:
            continue
        ports = []
        for port in objects.spec(service).get("ports") or []:
            number = _target_port(port, pod)
            if number is None:
                continue
            entry: Obj = {"port": number, "protocol": port.get("protocol", "TCP")}
            if port.get("name"):
                entry["name"] = port["name"]
            if port.get("appProtocol"):
                entry["appProtocol"] = port["appProtocol"]
            ports.append(entry)
        key = tuple(sorted((p.get("name", ""), p["port"], p["protocol"]) for p in ports))
        subset = groups.setdefault(key, {"ports": ports} if ports else {})
        address: Obj = {"ip": objects.status(pod)["podIP"]}
        if hostname := _hostname(service, pod):
            address["hostname"] = hostname
        address["targetRef"] = _ref(pod)
        if objects.spec(pod).get("nodeName"):
            address["nodeName"] = objects.spec(pod)["nodeName"]
        if objects.pod_ready(pod) or publish:
            subset.setdefault("addresses", []).append(address)
        else:
            subset.setdefault("notReadyAddresses", []).append(address)
    return [s for s in groups.values() if s.get("addresses") or s.get("notReadyAddresses")]


def _hostname(service: Obj, pod: Obj) -> str:
    """The pod's hostname when its subdomain is this Service (DNS for headless Services
    and StatefulSets): endpoints' ``hostname``."""
    spec = objects.spec(pod)
    if spec.get("hostname") and spec.get("subdomain") == objects.name(service):
        return str(spec["hostname"])
    return ""


def slice_groups(service: Obj, pods: list[Obj]) -> list[tuple[list[Obj], list[Obj]]]:
    """(ports, endpoints) of the Service's EndpointSlices: pods whose target ports resolve
    alike share a port set (kube's reconciler keys slices by it); a port a pod does not
    have is left out of its set."""
    publish = bool(objects.spec(service).get("publishNotReadyAddresses"))
    groups: dict[tuple[Any, ...], tuple[list[Obj], list[Obj]]] = {}
    for pod in pods:
        ports = []
        for port in objects.spec(service).get("ports") or []:
            number = _target_port(port, pod)
            if number is None:
                continue
            entry: Obj = {
                "name": port.get("name", ""),
                "protocol": port.get("protocol", "TCP"),
                "port": number,
            }
            if port.get("appProtocol"):
                entry["appProtocol"] = port["appProtocol"]
            ports.append(entry)
        terminating = objects.deleting(pod)
        ready = (objects.pod_ready(pod) or publish) and not terminating
        endpoint: Obj = {
            "addresses": [objects.status(pod)["podIP"]],
            "conditions": {
                "ready": ready,
                "serving": objects.pod_ready(pod) or publish,
                "terminating": terminating,
            },
        }
        if hostname := _hostname(service, pod):
            endpoint["hostname"] = hostname
        endpoint["targetRef"] = _ref(pod)
        if objects.spec(pod).get("nodeName"):
            endpoint["nodeName"] = objects.spec(pod)["nodeName"]
        key = tuple((p["name"], p["protocol"], p["port"]) for p in ports)
        groups.setdefault(key, (ports, []))[1].append(endpoint)
    return list(groups.values())


class _ServiceController(QueueController):
    """Services and the pods they select, keyed by Service."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.services = self.watch(ctx.informers.informer(SERVICES), self.enqueue_handler())
        self.pods = self.watch(
            ctx.informers.informer(PODS),
            Handler(on_add=self._pod, on_update=self._pod_updated, on_delete=self._pod),
        )

    def _pod(self, pod: Obj) -> None:
        labels = objects.labels(pod)
        for svc in self.services.store.list(objects.namespace(pod)):
            selector = objects.spec(svc).get("selector")
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                self.queue.add(key_of(svc))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if objects.meta(old).get("resourceVersion") == objects.meta(new).get("resourceVersion"):
            return
        self._pod(old)
        self._pod(new)


class EndpointsController(_ServiceController):
    name: ClassVar[str] = "endpoints-controller"
    service_account: ClassVar[str] = "endpoint-controller"
    aliases: ClassVar[tuple[str, ...]] = ("endpoint",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.endpoints = self.watch(ctx.informers.informer(ENDPOINTS), Handler())

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.services.store.get(key)
        if service is None:
            try:
                await self.client.delete(ENDPOINTS, namespace, name)
            except errors.StatusError as err:
                if err.code != 404:
                    raise
            return
        if not objects.spec(service).get("selector"):
            return
        subsets = endpoints_subsets(service, backends(service, self.pods.store.list(namespace)))
        current = self.endpoints.get(namespace, name)
        labels = dict(objects.labels(service))
        if (
            current is not None
            and (current.get("subsets") or []) == subsets
            and (objects.labels(current) == labels)
        ):
            return
        body: Obj = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": labels,
                "annotations": {TRIGGER_TIME: objects.rfc3339()},
            },
        }
        if subsets:
            body["subsets"] = subsets
        if current is None:
            try:
                await self.client.create(ENDPOINTS, namespace, body)
            except errors.StatusError as err:
                if err.code not in (403, 409):
                    raise
            return
        body["metadata"]["resourceVersion"] = objects.meta(current).get("resourceVersion")
        await self.client.update(ENDPOINTS, body)


class EndpointSliceController(_ServiceController):
    name: ClassVar[str] = "endpointslice-controller"
    service_account: ClassVar[str] = "endpointslice-controller"
    aliases: ClassVar[tuple[str, ...]] = ("endpointslice",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.slices = self.watch(
            ctx.informers.informer(
                ENDPOINTSLICES, label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY}"
            ),
            Handler(on_delete=self._slice, on_update=lambda _o, n: self._slice(n)),
        )
        # Slices created but not yet seen in the cache, per Service (kube's
        # endpointSliceTracker): a sync waits for them rather than creating twice.
        self._unseen: dict[str, set[str]] = {}

    def _slice(self, obj: Obj) -> None:
        service = objects.labels(obj).get(SERVICE_NAME_LABEL)
        if service:
            self.queue.add(f"{objects.namespace(obj)}/{service}")

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.services.store.get(key)
        mine = [
            s
            for s in self.slices.store.list(namespace)
            if objects.labels(s).get(SERVICE_NAME_LABEL) == name
        ]
        if service is None or not objects.spec(service).get("selector"):
            return  # the garbage collector removes a deleted Service's slices
        unseen = self._unseen.get(key, set()) - {objects.name(s) for s in mine}
        if unseen:
            self._unseen[key] = unseen
            self.queue.add_after(key, 0.2)
            return
        self._unseen.pop(key, None)
        groups = slice_groups(service, backends(service, self.pods.store.list(namespace)))
        chunks = [
            (ports, endpoints[i : i + MAX_ENDPOINTS_PER_SLICE])
            for ports, endpoints in groups
            for i in range(0, len(endpoints), MAX_ENDPOINTS_PER_SLICE)
        ] or [([], [])]
        labels = {**objects.labels(service), SERVICE_NAME_LABEL: name, MANAGED_BY_LABEL: MANAGED_BY}
        for i, (ports, chunk) in enumerate(chunks):
            wanted: Obj = {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "generateName": f"{name}-",
                    "namespace": namespace,
                    "labels": labels,
                    "annotations": {TRIGGER_TIME: objects.rfc3339()},
                    "ownerReferences": [
                        objects.new_controller_ref(
                            {**service, "apiVersion": "v1", "kind": "Service"}
                        )
                    ],
                },
                "addressType": "IPv4",
                "endpoints": chunk,
                "ports": ports if chunk else [],
            }
            if i < len(mine):
                current = mine[i]
                if (
                    (current.get("endpoints") or []) == chunk
                    and (current.get("ports") or []) == wanted["ports"]
                    and objects.labels(current) == labels
                ):
                    continue
                wanted["metadata"] = {
                    **objects.meta(current),
                    "labels": labels,
                    "annotations": wanted["metadata"]["annotations"],
                }
                await self.client.update(ENDPOINTSLICES, wanted)
            else:
                try:
                    created = await self.client.create(ENDPOINTSLICES, namespace, wanted)
                except errors.StatusError as err:
                    if err.code not in (403, 409):
                        raise
                else:
                    self._unseen.setdefault(key, set()).add(objects.name(created))
        for extra in mine[len(chunks) :]:
            try:
                await self.client.delete(ENDPOINTSLICES, namespace, objects.name(extra))
            except errors.StatusError as err:
                if err.code != 404:
                    raise
