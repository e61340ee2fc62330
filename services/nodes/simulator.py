"""Simulated nodes and the pods on them, as kwok simulates kubelets.

* **Nodes** ``PREFIX0`` … ``PREFIX{N-1}`` are registered with their capacity and
  allocatable (cpu, memory, pods, ephemeral-storage), the four kubelet conditions
  (Ready ``KubeletReady`` True; MemoryPressure, DiskPressure and PIDPressure False),
  addresses, nodeInfo, a podCIDR, and the ``kubernetes.io/hostname``, ``os`` and
  ``arch`` labels. Each keeps a Lease in ``kube-node-lease`` (holder the node, 40 s,
  owned by the Node) renewed every 10 s, as kubelets heartbeat; the node's status is
  written again every 5 minutes (``nodeStatusReportFrequency``).
* **Pods** bound to one of them start at once: phase Running, hostIP, a podIP from the
  node's podCIDR (the node's IP with hostNetwork), ready containers with ``kapi://``
  container IDs, and the kubelet's events (Pulled, Created, Started). A pod whose
  restartPolicy is Never or OnFailure runs ``nodes.kapi.dev/run-seconds`` (default 1)
  and exits with ``nodes.kapi.dev/exit-code`` (default 0): Succeeded, or Failed.
* A **deleted** pod's containers are stopped (event Killing) within its grace period —
  at once unless ``nodes.kapi.dev/termination-seconds`` asks for longer — and the pod is
  then deleted with grace period 0 (its uid as precondition), as the kubelet does; the
  API server keeps it while finalizers remain.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from dataclasses import dataclass
from typing import ClassVar

from kapi import errors
from kapi.kube.client import STRATEGIC_MERGE_PATCH
from kapi.kube.events import Recorder
from kapi.kube.informer import key_of
from kapi.kube.leaderelection import micro_time
from kapi.kube.resources import LEASES, NODES, PODS
from services.controllers import objects
from services.controllers.framework import Context, Obj, QueueController
from services.nodes import podstatus

log = logging.getLogger(__name__)

NODE_LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION = 40
STATUS_REPORT_SECONDS = 300.0
KUBELET_VERSION = "v1.32.0"


@dataclass(frozen=True)
class NodeShape:
    cpu: str = "32"
    memory: str = "256Gi"
    pods: str = "110"
    ephemeral_storage: str = "1Ti"


def node_ip(index: int) -> str:
    return str(ipaddress.ip_address("10.1.0.1") + index)


def pod_cidr(index: int) -> ipaddress.IPv4Network:
    base = int(ipaddress.ip_address("10.244.0.0")) + index * 256
    return ipaddress.IPv4Network(f"{ipaddress.IPv4Address(base)}/24")


def node_object(name: str, index: int, shape: NodeShape, now: str) -> Obj:
    resources = {
        "cpu": shape.cpu,
        "memory": shape.memory,
        "pods": shape.pods,
        "ephemeral-storage": shape.ephemeral_storage,
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
                "type": "kapi-simulated",
            },
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "nodes.kapi.dev/simulated": "true",
            },
        },
        "spec": {"podCIDR": str(pod_cidr(index)), "podCIDRs": [str(pod_cidr(index))]},
        "status": node_status(name, index, resources, now),
    }


def node_status(name: str, index: int, resources: dict[str, str], now: str) -> Obj:
    def cond(type_: str, status: str, reason: str, message: str) -> Obj:
        return {
            "type": type_,
            "status": status,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }

    return {
        "capacity": dict(resources),
        "allocatable": dict(resources),
        "conditions": [
            cond(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            cond(
                "DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"
            ),
            cond(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": [
            {"type": "InternalIP", "address": node_ip(index)},
            {"type": "Hostname", "address": name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": f"kapi-{index}",
            "systemUUID": f"kapi-{index}",
            "bootID": f"kapi-{index}",
            "kernelVersion": "6.1.0-kapi",
            "osImage": "kapi simulated node",
            "containerRuntimeVersion": "kapi://0.1.0",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
        "phase": "Running",
    }


class IPs:
    """Pod IPs of one node's podCIDR, handed out and given back."""

    def __init__(self, network: ipaddress.IPv4Network) -> None:
        self._free = [str(ip) for ip in list(network.hosts())[1:]]  # .1 is the gateway
        self._free.reverse()
        self._by_pod: dict[str, str] = {}

    def take(self, key: str, ip: str = "") -> str:
        found = self._by_pod.get(key)
        if found:
            return found
        if ip and ip in self._free:
            self._free.remove(ip)
        elif not ip:
            ip = self._free.pop() if self._free else "10.255.255.254"
        self._by_pod[key] = ip
        return ip

    def release(self, key: str) -> None:
        ip = self._by_pod.pop(key, None)
        if ip is not None:
            self._free.append(ip)


class NodeSimulator(QueueController):
    """The nodes' heartbeats and their pods' lifecycles (one queue of pod keys)."""

    name: ClassVar[str] = "node-simulator"

    def __init__(
        self,
        ctx: Context,
        *,
        names: list[str],
        shape: NodeShape,
        lease_renew_seconds: float = 10.0,
        events: bool = True,
    ) -> None:
        super().__init__(ctx)
        self.names = names
        self.index = {name: i for i, name in enumerate(names)}
        self.shape = shape
        self.lease_renew_seconds = lease_renew_seconds
        self.events = events
        self.recorders = {name: Recorder(ctx.client, "kubelet", name) for name in names}
        self.ips = {name: IPs(pod_cidr(i)) for i, name in enumerate(names)}
        self.node_uids: dict[str, str] = {}
        self.pods = self.watch(ctx.informers.informer(PODS), self.enqueue_handler(key=self._ours))

    def _ours(self, pod: Obj) -> list[str]:
        return [key_of(pod)] if objects.spec(pod).get("nodeName") in self.index else []

    # --- nodes ---------------------------------------------------------------------

    async def register(self) -> None:
        """Create the nodes (or mark existing ones Ready again) and their Leases."""
        for name in self.names:
            await self._register(name)

    async def _register(self, name: str) -> None:
        wanted = node_object(name, self.index[name], self.shape, objects.rfc3339())
        try:
            node = await self.client.create(NODES, "", wanted)
        except errors.StatusError as err:
            if err.code != 409:
                raise
            node = await self.client.get(NODES, "", name)
            node = await self.client.update(
                NODES, {**node, "status": wanted["status"]}, subresource="status"
            )
        self.node_uids[name] = objects.uid(node)
        await self._renew_lease(name)

    async def _renew_lease(self, name: str) -> None:
        now = micro_time()
        try:
            lease = await self.client.get(LEASES, NODE_LEASE_NAMESPACE, name)
        except errors.StatusError as err:
            if err.code != 404:
                raise
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": name,
                    "namespace": NODE_LEASE_NAMESPACE,
                    "ownerReferences": [
                        {
                            "apiVersion": "v1",
                            "kind": "Node",
                            "name": name,
                            "uid": self.node_uids.get(name, ""),
                        }
                    ],
                },
                "spec": {
                    "holderIdentity": name,
                    "leaseDurationSeconds": LEASE_DURATION,
                    "renewTime": now,
                },
            }
            await self.client.create(LEASES, NODE_LEASE_NAMESPACE, body)
            return
        lease["spec"] = {**(lease.get("spec") or {}), "holderIdentity": name, "renewTime": now}
        await self.client.update(LEASES, lease)

    async def _heartbeats(self) -> None:
        last_status = time.monotonic()
        while True:
            await asyncio.sleep(self.lease_renew_seconds)
            report = time.monotonic() - last_status >= STATUS_REPORT_SECONDS
            if report:
                last_status = time.monotonic()
            for name in self.names:
                try:
                    await self._renew_lease(name)
                    if report:
                        await self._report_status(name)
                except errors.StatusError as err:
                    log.info("%s: heartbeat: %s", name, err.message)

    async def _report_status(self, name: str) -> None:
        now = objects.rfc3339()
        patch = {
            "status": {
                "conditions": [
                    {"type": t, "lastHeartbeatTime": now}
                    for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")
                ]
            }
        }
        await self.client.patch(
            NODES, "", name, patch, content_type=STRATEGIC_MERGE_PATCH, subresource="status"
        )

    # --- pods ----------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        pod = self.pods.store.get(key)
        if pod is None:
            for ips in self.ips.values():
                ips.release(key)
            return
        node = str(objects.spec(pod).get("nodeName") or "")
        if node not in self.index:
            return
        phase = objects.status(pod).get("phase") or "Pending"
        pod_ip = objects.status(pod).get("podIP")
        if pod_ip and phase == "Running" and not objects.spec(pod).get("hostNetwork"):
            self.ips[node].take(key, str(pod_ip))  # known again after a restart
        if objects.deleting(pod):
            await self._terminate(key, pod, node)
            return
        if phase == "Pending":
            await self._start(key, pod, node)
        elif phase == "Running" and podstatus.runs_to_completion(pod):
            await self._maybe_finish(key, pod)
        elif phase in ("Succeeded", "Failed"):
            self.ips[node].release(key)

    async def _patch_status(self, pod: Obj, status: Obj) -> None:
        namespace, name = objects.namespace(pod), objects.name(pod)
        patch = {"metadata": {"uid": objects.uid(pod)}, "status": status}
        try:
            await self.client.patch(
                PODS,
                namespace,
                name,
                patch,
                content_type=STRATEGIC_MERGE_PATCH,
                subresource="status",
            )
        except errors.StatusError as err:
            if err.code not in (404, 409):
                raise

    async def _start(self, key: str, pod: Obj, node: str) -> None:
        host_ip = node_ip(self.index[node])
        host_network = objects.spec(pod).get("hostNetwork")
        pod_ip = host_ip if host_network else self.ips[node].take(key)
        now = objects.rfc3339()
        await self._patch_status(
            pod, podstatus.running(pod, host_ip=host_ip, pod_ip=pod_ip, now=now)
        )
        if self.events:
            recorder = self.recorders[node]
            for c in objects.spec(pod).get("containers") or []:
                image, cname = c.get("image", ""), c.get("name", "")
                recorder.normal(
                    pod, "Pulled", f'Container image "{image}" already present on machine'
                )
                recorder.normal(pod, "Created", f"Created container: {cname}")
                recorder.normal(pod, "Started", f"Started container: {cname}")
        if podstatus.runs_to_completion(pod):
            self.queue.add_after(key, podstatus.run_seconds(pod))

    async def _maybe_finish(self, key: str, pod: Obj) -> None:
        started = objects.parse_time(objects.status(pod).get("startTime"))
        due = podstatus.run_seconds(pod)
        if started is not None:
            left = started.timestamp() + due - time.time()
            if left > 0:
                self.queue.add_after(key, left)
                return
        code = podstatus.exit_code(pod)
        await self._patch_status(pod, podstatus.finished(pod, code=code, now=objects.rfc3339()))
        self.ips[str(objects.spec(pod)["nodeName"])].release(key)

    async def _terminate(self, key: str, pod: Obj, node: str) -> None:
        deadline = objects.parse_time(objects.meta(pod).get("deletionTimestamp"))
        grace = objects.meta(pod).get("deletionGracePeriodSeconds")
        wait = podstatus.termination_seconds(pod)
        if wait > 0 and deadline is not None and grace is not None:
            stopped_at = deadline.timestamp() - float(grace) + wait
            left = stopped_at - time.time()
            if left > 0:
                self.queue.add_after(key, left)
                return
        running = [
            s
            for s in objects.status(pod).get("containerStatuses") or []
            if "running" in (s.get("state") or {})
        ]
        if self.events:
            for status in running:
                self.recorders[node].normal(
                    pod, "Killing", f"Stopping container {status.get('name')}"
                )
        if objects.meta(pod).get("deletionGracePeriodSeconds") == 0 and objects.meta(pod).get(
            "finalizers"
        ):
            return  # already deleted with grace 0: the finalizers keep it
        self.ips[node].release(key)
        try:
            await self.client.delete(
                PODS,
                objects.namespace(pod),
                objects.name(pod),
                grace_period=0,
                preconditions={"uid": objects.uid(pod)},
            )
        except errors.StatusError as err:
            if err.code not in (404, 409):
                raise

    async def run(self) -> None:
        await self.register()
        heartbeats = asyncio.create_task(self._heartbeats(), name="heartbeats")
        try:
            await super().run()
        finally:
            heartbeats.cancel()
            await asyncio.gather(heartbeats, return_exceptions=True)
            for recorder in self.recorders.values():
                await recorder.close()
