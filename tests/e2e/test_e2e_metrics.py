"""``/metrics`` over HTTPS from `kapi up`: the real kubectl makes requests and reads the
metrics (``kubectl get --raw /metrics``, as one reads kube-apiserver's), and
prometheus-client's own parser reads them."""

from __future__ import annotations

import base64
import ssl
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from kapi import kubeconfig
from tests.e2e.conftest import Cluster

pytestmark = pytest.mark.e2e

Samples = list[tuple[str, dict[str, str], float]]


def scrape(cluster: Cluster) -> Samples:
    text = cluster.kubectl("get", "--raw", "/metrics").stdout
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    found = [v for n, ls, v in samples if n == metric and labels.items() <= ls.items()]
    assert len(found) <= 1, f"{metric} {labels}: {len(found)} series"
    return found[0] if found else 0.0


def test_metrics_follow_what_kubectl_did(cluster: Cluster) -> None:
    ns = f"e2e-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "ns", ns)
    before = scrape(cluster)
    cluster.kubectl("-n", ns, "create", "configmap", "m", "--from-literal=a=1")
    cluster.kubectl("-n", ns, "get", "configmaps")
    watched = cluster.kubectl(
        "get", "--raw", f"/api/v1/namespaces/{ns}/configmaps?watch=1&timeoutSeconds=1"
    )
    assert '"ADDED"' in watched.stdout
    after = scrape(cluster)

    def delta(metric: str, **labels: str) -> float:
        return value(after, metric, **labels) - value(before, metric, **labels)

    configmaps = {
        "group": "",
        "version": "v1",
        "resource": "configmaps",
        "subresource": "",
        "component": "apiserver",
        "dry_run": "",
    }
    total = "apiserver_request_total"
    assert delta(total, **configmaps, verb="POST", scope="resource", code="201") >= 1
    assert delta(total, **configmaps, verb="LIST", scope="namespace", code="200") >= 1
    assert delta(total, **configmaps, verb="WATCH", scope="namespace", code="200") >= 1
    duration = {**configmaps, "verb": "POST", "scope": "resource"}
    assert delta("apiserver_request_duration_seconds_count", **duration) >= 1

    # Storage's view: the objects etcd holds (between a listing before and one after a
    # scrape, should something create one meanwhile), and how long etcd took to store.
    def listed() -> int:
        return len(cluster.kubectl("get", "configmaps", "-A", "--no-headers").stdout.splitlines())

    least = listed()
    stored = value(scrape(cluster), "apiserver_storage_objects", resource="configmaps")
    assert 1 <= least <= stored <= listed()
    create = {"operation": "create", "type": "configmaps"}
    assert delta("etcd_request_duration_seconds_count", **create) >= 1
    assert value(after, "etcd_request_duration_seconds_sum", **create) > 0

    # Each of the four processes reports its own runtime metrics.
    services = {ls["service"] for n, ls, _ in after if n == "process_cpu_seconds_total"}
    assert services == {"gateway", "storage", "authz", "registry"}
    pids = {ls["service"]: v for n, ls, v in after if n == "process_start_time_seconds"}
    assert len(pids) == 4


def test_metrics_over_https_need_credentials(cluster: Cluster, tmp_path: Path) -> None:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]["server"]
    ca = tmp_path / "ca.crt"
    ca.write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
    token = kubeconfig.token_of(config)
    with httpx.Client(base_url=server, verify=ssl.create_default_context(cafile=ca)) as client:
        anonymous = client.get("/metrics")  # RBAC gives /metrics to system:monitoring
        assert anonymous.status_code == 403
        assert anonymous.json()["message"] == (
            'forbidden: User "system:anonymous" cannot get path "/metrics"'
        )
        admin = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert admin.status_code == 200
    assert admin.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    names = {f.name for f in text_string_to_metric_families(admin.text)}
    assert {"apiserver_request", "apiserver_current_inflight_requests"} <= names
    assert {"etcd_request_duration_seconds", "apiserver_storage_objects"} <= names
