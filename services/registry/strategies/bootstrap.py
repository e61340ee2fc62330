"""Objects kube-apiserver creates for itself at start-up, as a fresh 1.32 cluster has them.

- the ``kubernetes`` Service in ``default``, at the first address of the service CIDR
  (the apiserver's bootstrap controller; it points at the apiserver's secure port);
- the two system PriorityClasses (the scheduling API's post-start hook).

Each entry is (group, version, resource, namespace, body); created if absent, never
updated.
"""

from __future__ import annotations

from typing import Any

from services.registry.strategies.core import SERVICE_CIDR

KUBERNETES_SERVICE_IP = str(SERVICE_CIDR.network_address + 1)
APISERVER_SECURE_PORT = 6443

BOOTSTRAP: tuple[tuple[str, str, str, str, dict[str, Any]], ...] = (
    (
        "",
        "v1",
        "services",
        "default",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kubernetes",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "clusterIP": KUBERNETES_SERVICE_IP,
                "ports": [
                    {
                        "name": "https",
                        "port": 443,
                        "protocol": "TCP",
                        "targetPort": APISERVER_SECURE_PORT,
                    }
                ],
                "sessionAffinity": "None",
                "type": "ClusterIP",
            },
        },
    ),
    (
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
        "",
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "system-node-critical"},
            "value": 2_000_001_000,
            "description": "Used for system critical pods that must not be moved from their "
            "current node.",
        },
    ),
    (
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
        "",
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "system-cluster-critical"},
            "value": 2_000_000_000,
            "description": "Used for system critical pods that must run in the cluster, but "
            "can be moved to another node if necessary.",
        },
    ),
)
