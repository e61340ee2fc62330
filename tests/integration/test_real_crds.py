"""Real projects' CRDs (tests/data/crds): installed, Established, and objects of them
created, validated, defaulted and printed as kube does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.integration.conftest import ControlPlane
from tests.integration.test_custom_resources import CRDS, condition, wait_for

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data" / "crds"
Obj = dict[str, Any]


def load(name: str) -> Obj:
    found: Obj = yaml.safe_load((DATA / name).read_text())
    return found


async def ensure(api: httpx.AsyncClient, crd: Obj) -> Obj:
    """Install ``crd`` (once: the session's etcd keeps it) and wait until Established."""
    name = crd["metadata"]["name"]
    created = await api.post(CRDS, json=crd)
    assert created.status_code in (201, 409), created.text

    async def established() -> Obj | None:
        got = (await api.get(f"{CRDS}/{name}")).json()
        found = condition(got, "Established")
        return got if found and found["status"] == "True" else None

    return dict(await wait_for(established))


async def test_cert_manager_certificate(control_plane: ControlPlane) -> None:
    api, ns = control_plane.api, control_plane.namespace
    await ensure(api, load("cert-manager.io_certificates.yaml"))
    base = f"/apis/cert-manager.io/v1/namespaces/{ns}/certificates"
    certificate = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "example-com"},
        "spec": {
            "secretName": "example-com-tls",
            "duration": "2160h",
            "renewBefore": "360h",
            "subject": {"organizations": ["jetstack"]},
            "privateKey": {"algorithm": "RSA", "encoding": "PKCS1", "size": 2048},
            "usages": ["server auth", "client auth"],
            "dnsNames": ["example.com", "www.example.com"],
            "issuerRef": {"name": "ca-issuer", "kind": "Issuer", "group": "cert-manager.io"},
        },
    }
    created = await api.post(base, json=certificate)
    assert created.status_code == 201, created.text
    status = {
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "Ready", "message": "up to date",
             "lastTransitionTime": "2025-01-01T00:00:00Z"}
        ]
    }  # fmt: skip
    written = await api.put(f"{base}/example-com/status", json={**created.json(), "status": status})
    assert written.status_code == 200, written.text
    table = (
        await api.get(base, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    ).json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Ready", "Secret", "Issuer", "Status", "Age",
    ]  # fmt: skip
    assert table["rows"][0]["cells"][:5] == [
        "example-com", "True", "example-com-tls", "ca-issuer", "up to date",
    ]  # fmt: skip
    bad = {**certificate, "metadata": {"name": "bad"}}
    bad["spec"] = {**certificate["spec"], "usages": ["bogus"], "privateKey": {"algorithm": "DSA"}}
    del bad["spec"]["secretName"]
    refused = await api.post(base, json=bad)
    assert refused.status_code == 422
    assert refused.json()["details"]["causes"] == [
        {"reason": "FieldValueNotSupported",
         "message": 'Unsupported value: "DSA": supported values: "RSA", "ECDSA", "Ed25519"',
         "field": "spec.privateKey.algorithm"},
        {"reason": "FieldValueNotSupported",
         "message": 'Unsupported value: "bogus": supported values: "signing", '
         '"digital signature", "content commitment", "key encipherment", "key agreement", '
         '"data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", '
         '"any", "server auth", "client auth", "code signing", "email protection", "s/mime", '
         '"ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing", '
         '"microsoft sgc", "netscape sgc"',
         "field": "spec.usages[0]"},
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.secretName"},
    ]  # fmt: skip
    by_short_name = (await api.get("/apis/cert-manager.io/v1")).json()
    (resource,) = [r for r in by_short_name["resources"] if r["name"] == "certificates"]
    assert (resource["shortNames"], resource["categories"]) == (["cert", "certs"], ["cert-manager"])


async def test_gateway_api_gateway_class(control_plane: ControlPlane) -> None:
    api = control_plane.api
    crd = await ensure(api, load("gateway.networking.k8s.io_gatewayclasses.yaml"))
    assert crd["status"]["storedVersions"] == ["v1"]
    base = "/apis/gateway.networking.k8s.io/v1/gatewayclasses"
    name = f"example-{control_plane.namespace}"
    body = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": name},
        "spec": {"controllerName": "example.net/gateway-controller", "description": "ours"},
    }
    created = await api.post(base, json=body)
    assert created.status_code == 201, created.text
    # The status a new class starts with is the schema's default, as kube reads it back.
    (pending,) = created.json()["status"]["conditions"]
    assert (pending["type"], pending["reason"], pending["message"]) == (
        "Accepted",
        "Pending",
        "Waiting for controller",
    )
    beta = await api.get(f"/apis/gateway.networking.k8s.io/v1beta1/gatewayclasses/{name}")
    assert beta.json()["apiVersion"] == "gateway.networking.k8s.io/v1beta1"
    changed = {**created.json(), "spec": {"controllerName": "example.net/other"}}
    immutable = await api.put(f"{base}/{name}", json=changed)
    assert immutable.status_code == 422
    assert immutable.json()["details"]["causes"] == [
        {"reason": "FieldValueInvalid", "message": 'Invalid value: "string": Value is immutable',
         "field": "spec.controllerName"}
    ]  # fmt: skip
    bad = {**body, "metadata": {"name": f"bad-{name}"}, "spec": {"controllerName": "no-slash"}}
    refused = await api.post(base, json=bad)
    assert refused.status_code == 422
    message = refused.json()["details"]["causes"][0]["message"]
    assert message.startswith('Invalid value: "no-slash": spec.controllerName in body should match')
    assert (await api.delete(f"{base}/{name}")).status_code == 200


async def test_prometheus_operator_rules_and_service_monitors(
    control_plane: ControlPlane,
) -> None:
    api, ns = control_plane.api, control_plane.namespace
    await ensure(api, load("monitoring.coreos.com_prometheusrules.yaml"))
    await ensure(api, load("monitoring.coreos.com_servicemonitors.yaml"))
    rules = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "example", "labels": {"prometheus": "example"}},
        "spec": {
            "groups": [
                {
                    "name": "example.rules",
                    "partial_response_strategy": "WARN",  # the pattern's (?i) in Go
                    "rules": [
                        {"alert": "HighRequestLatency", "expr": "job:latency:mean5m > 0.5",
                         "for": "10m", "labels": {"severity": "page"}},
                        {"record": "job:up:sum", "expr": 1},
                    ],
                }
            ]
        },
    }  # fmt: skip
    created = await api.post(
        f"/apis/monitoring.coreos.com/v1/namespaces/{ns}/prometheusrules", json=rules
    )
    assert created.status_code == 201, created.text
    duplicate = {**rules, "metadata": {"name": "twice"}}
    duplicate["spec"] = {"groups": [{"name": "a", "rules": []}, {"name": "a", "rules": []}]}
    refused = await api.post(
        f"/apis/monitoring.coreos.com/v1/namespaces/{ns}/prometheusrules", json=duplicate
    )
    assert refused.status_code == 422
    assert refused.json()["details"]["causes"] == [
        {"reason": "FieldValueDuplicate", "message": 'Duplicate value: {"name":"a"}',
         "field": "spec.groups[1]"}
    ]  # fmt: skip
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "example-app"},
        "spec": {
            "selector": {"matchLabels": {"app": "example-app"}},
            "endpoints": [
                {"port": "web", "interval": "30s", "targetPort": 8080,
                 "relabelings": [{"sourceLabels": ["__meta_kubernetes_pod_name"],
                                  "targetLabel": "pod"}]},
            ],
        },
    }  # fmt: skip
    path = f"/apis/monitoring.coreos.com/v1/namespaces/{ns}/servicemonitors"
    created = await api.post(path, json=monitor)
    assert created.status_code == 201, created.text
    relabeling = created.json()["spec"]["endpoints"][0]["relabelings"][0]
    assert relabeling["action"] == "replace"  # defaulted
    listed = (await api.get(path)).json()
    assert [i["metadata"]["name"] for i in listed["items"]] == ["example-app"]


async def test_gateway_api_reference_grant(control_plane: ControlPlane) -> None:
    """Two served versions, the stored one not the preferred one (None conversion), a
    short name and a category, atomic lists with lower bounds."""
    api, ns = control_plane.api, control_plane.namespace
    crd = await ensure(api, load("gateway.networking.k8s.io_referencegrants.yaml"))
    assert crd["status"]["storedVersions"] == ["v1beta1"]
    group = (await api.get("/apis/gateway.networking.k8s.io")).json()
    assert group["preferredVersion"]["version"] == "v1"
    grant = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "ReferenceGrant",
        "metadata": {"name": "allow-routes"},
        "spec": {
            "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                      "namespace": "frontend"}],
            "to": [{"group": "", "kind": "Service"}],
        },
    }  # fmt: skip
    path = f"/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/referencegrants"
    created = await api.post(path, json=grant)
    assert created.status_code == 201, created.text
    beta = f"/apis/gateway.networking.k8s.io/v1beta1/namespaces/{ns}/referencegrants/allow-routes"
    read = (await api.get(beta)).json()
    assert (read["apiVersion"], read["spec"]) == (
        "gateway.networking.k8s.io/v1beta1",
        grant["spec"],
    )
    empty = {
        **grant,
        "metadata": {"name": "empty"},
        "spec": {"from": [], "to": grant["spec"]["to"]},
    }
    refused = await api.post(path, json=empty)
    assert refused.status_code == 422
    assert refused.json()["message"] == (
        'ReferenceGrant.gateway.networking.k8s.io "empty" is invalid: spec.from: Invalid value: '
        "0: spec.from in body should have at least 1 items"
    )
    resources = (await api.get("/apis/gateway.networking.k8s.io/v1")).json()["resources"]
    (resource,) = [r for r in resources if r["name"] == "referencegrants"]
    assert (resource["shortNames"], resource["categories"]) == (["refgrant"], ["gateway-api"])
