"""``kube-system/extension-apiserver-authentication``: how extension API servers learn
to trust this control plane.

kube-apiserver's cluster-authentication-trust controller
(``pkg/controlplane/controller/clusterauthenticationtrust``) keeps this ConfigMap: the CA
of ordinary clients' certificates (``client-ca-file``), and for requests the aggregator
proxies, the front proxy's CA, the names its client certificate may carry and the
headers that carry the user (``requestheader-*``; lists as JSON arrays). An extension
API server (k8s.io/apiserver's delegated authentication, the sample-apiserver,
metrics-server) reads it to accept ``X-Remote-User`` from the gateway alone. The
registry writes it when it starts and again whenever it differs (every minute, as kube).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from kapi import errors
from services.registry.service import ReadOptions, Target

if TYPE_CHECKING:
    from services.registry.service import Registry

NAMESPACE = "kube-system"
NAME = "extension-apiserver-authentication"
# kube-apiserver's (and kubeadm's) request header names.
USERNAME_HEADERS = ("X-Remote-User",)
GROUP_HEADERS = ("X-Remote-Group",)
EXTRA_HEADERS_PREFIXES = ("X-Remote-Extra-",)


@dataclass(frozen=True)
class AuthenticationTrust:
    """What the ConfigMap publishes: PEM bundles ("" for none) and names."""

    client_ca: str = ""
    requestheader_ca: str = ""
    allowed_names: tuple[str, ...] = ()
    username_headers: tuple[str, ...] = USERNAME_HEADERS
    group_headers: tuple[str, ...] = GROUP_HEADERS
    extra_headers_prefixes: tuple[str, ...] = EXTRA_HEADERS_PREFIXES

    def data(self) -> dict[str, str]:
        """The ConfigMap's data, as kube's getConfigMapDataFor: the request header keys
        only with a request header CA."""
        data: dict[str, str] = {}
        if self.client_ca:
            data["client-ca-file"] = self.client_ca
        if not self.requestheader_ca:
            return data
        data["requestheader-username-headers"] = _json_list(self.username_headers)
        data["requestheader-group-headers"] = _json_list(self.group_headers)
        data["requestheader-extra-headers-prefix"] = _json_list(self.extra_headers_prefixes)
        data["requestheader-client-ca-file"] = self.requestheader_ca
        data["requestheader-allowed-names"] = _json_list(self.allowed_names)
        return data

    def config_map(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": NAME, "namespace": NAMESPACE},
            "data": self.data(),
        }


def _json_list(values: tuple[str, ...]) -> str:
    """Go's json.Marshal of a []string: compact."""
    return json.dumps(list(values), separators=(",", ":"))


async def publish(registry: Registry, trust: AuthenticationTrust, user: Any) -> bool:
    """Create the ConfigMap, or update it where its data differs; whether it wrote."""
    target = Target("", "v1", "configmaps", namespace=NAMESPACE, name=NAME, user=user)
    wanted = trust.config_map()
    try:
        current = orjson.loads((await registry.get(target, ReadOptions())).body)
    except errors.StatusError as err:
        if err.reason != "NotFound":
            raise
        create = Target("", "v1", "configmaps", namespace=NAMESPACE, user=user)
        await registry.create(create, orjson.dumps(wanted))
        return True
    if current.get("data") == wanted["data"]:
        return False
    current["data"] = wanted["data"]
    await registry.update(target, orjson.dumps(current))
    return True
