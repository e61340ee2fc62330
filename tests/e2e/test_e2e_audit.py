"""`kapi up --audit-policy-file`, the real kubectl, and the audit log read back: one line
per event, in kube-apiserver's audit.k8s.io/v1 Event shape, for what the policy selects.

A control plane of its own (the session's runs without a policy), started with kube's
flags: the policy, the log's rotation, the mode; the log in its default place,
``DIR/logs/audit.log``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cluster, free_port, kubectl_binary

pytestmark = pytest.mark.e2e

ADMIN = "kapi-admin"  # the kubeconfig `kapi up` writes
NAMESPACE = "audit-e2e"

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitManagedFields: true
rules:
  - level: None
    nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version", "/openapi*",
                      "/api", "/api/*", "/apis", "/apis/*"]
  - level: RequestResponse
    resources:
      - group: ""
        resources: ["configmaps"]
  - level: Metadata
    omitStages: ["RequestReceived"]
"""


def _kapi(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kapi.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).resolve().parents[2],
    )


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("kapi-audit")
    policy = root / "policy.yaml"
    policy.write_text(POLICY)
    data_dir = root / "data"
    started = _kapi(
        "up",
        "--data-dir",
        str(data_dir),
        "--port",
        str(free_port()),
        "--audit-policy-file",
        str(policy),
        "--audit-log-maxsize",
        "10",
        "--audit-log-maxbackup",
        "3",
        "--audit-log-maxage",
        "7",
        "--detach",
        timeout=180,
    )
    if started.returncode != 0:
        pytest.fail(f"kapi up failed ({started.returncode}):\n{started.stdout}\n{started.stderr}")
    try:
        yield Cluster(
            data_dir, data_dir / "kubeconfig", tmp_path_factory.mktemp("kcache"), kubectl_binary()
        )
    finally:
        stopped = _kapi("down", "--data-dir", str(data_dir), timeout=120)
        assert stopped.returncode == 0, stopped.stderr


def events(cluster: Cluster, wanted: Any, count: int = 1) -> list[dict[str, Any]]:
    """The audit log's events that ``wanted`` selects, once there are ``count``."""
    path = cluster.data_dir / "logs" / "audit.log"
    deadline = time.monotonic() + 15
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        found = [e for e in map(json.loads, lines) if wanted(e)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_the_gateway_runs_with_kubes_audit_flags(audited: Cluster) -> None:
    argv = audited.state()["children"]["gateway"]["argv"]  # type: ignore[index]
    flags = dict(zip(argv[3::2], argv[4::2], strict=False))
    assert flags["--audit-policy-file"].endswith("policy.yaml")
    assert flags["--audit-log-path"] == str(audited.data_dir / "logs" / "audit.log")
    assert (flags["--audit-log-maxsize"], flags["--audit-log-maxbackup"]) == ("10", "3")
    assert flags["--audit-log-maxage"] == "7"


def test_kubectl_create_get_and_watch_are_logged_as_kube_logs_them(audited: Cluster) -> None:
    audited.kubectl("create", "namespace", NAMESPACE)
    audited.kubectl("-n", NAMESPACE, "create", "configmap", "c", "--from-literal=a=1")
    got = json.loads(audited.kubectl("-n", NAMESPACE, "get", "configmap", "c", "-o", "json").stdout)
    audited.kubectl(
        "get", "--raw", f"/api/v1/namespaces/{NAMESPACE}/configmaps?watch=1&timeoutSeconds=1"
    )

    def configmap(verb: str) -> Any:
        # kubectl's, not the controller manager's (it publishes kube-root-ca.crt here).
        return lambda e: (
            e["verb"] == verb
            and e.get("objectRef", {}).get("namespace") == NAMESPACE
            and e.get("user", {}).get("username") == ADMIN
        )

    received, complete = events(audited, configmap("create"), 2)
    assert [received["stage"], complete["stage"]] == ["RequestReceived", "ResponseComplete"]
    assert complete["level"] == "RequestResponse"
    assert complete["user"]["username"] == ADMIN
    assert complete["userAgent"].startswith("kubectl/")
    assert complete["sourceIPs"] == ["127.0.0.1"]
    assert complete["requestURI"].startswith(f"/api/v1/namespaces/{NAMESPACE}/configmaps?")
    assert complete["objectRef"] == {
        "resource": "configmaps",
        "namespace": NAMESPACE,
        "name": "c",
        "apiVersion": "v1",
    }
    assert complete["responseStatus"] == {"metadata": {}, "code": 201}
    assert complete["requestObject"]["data"] == {"a": "1"}
    assert complete["responseObject"]["metadata"]["uid"] == got["metadata"]["uid"]
    assert "managedFields" not in complete["responseObject"]["metadata"]
    assert complete["annotations"]["authorization.k8s.io/decision"] == "allow"
    # The Audit-Id kubectl was sent back is the event's.
    assert received["auditID"] == complete["auditID"]

    gets = events(audited, configmap("get"), 2)
    assert gets[-1]["responseObject"]["metadata"]["name"] == "c"
    watch = events(audited, configmap("watch"), 3)
    assert [e["stage"] for e in watch] == ["RequestReceived", "ResponseStarted", "ResponseComplete"]
    # Namespaces are at Metadata level, RequestReceived omitted: one event, no objects.
    [namespace] = events(
        audited, lambda e: e["verb"] == "create" and e["objectRef"]["resource"] == "namespaces"
    )
    assert namespace["stage"] == "ResponseComplete" and namespace["level"] == "Metadata"
    assert "requestObject" not in namespace
    # Discovery and OpenAPI reads (kubectl makes many) are level None.
    assert events(audited, lambda e: e["requestURI"].startswith("/openapi"), 0) == []


def test_a_bad_token_and_a_forbidden_delete_are_logged(audited: Cluster) -> None:
    # The token context: the default one's client certificate would authenticate first.
    audited.kubectl_fails(
        "--context=kapi-token", "--token=not-a-token", "get", "pods", "-n", "kube-public"
    )
    [refused] = events(
        audited,
        lambda e: (
            e.get("objectRef", {}).get("namespace") == "kube-public"
            and e.get("responseStatus", {}).get("code") == 401
        ),
    )
    assert refused["stage"] == "ResponseStarted"
    assert refused["user"] == {}
    assert refused["responseStatus"]["code"] == 401
    assert refused["responseStatus"]["reason"] == "Unauthorized"

    audited.kubectl_fails("delete", "namespace", "default")
    [forbidden] = events(
        audited,
        lambda e: e["verb"] == "delete" and e.get("objectRef", {}).get("name") == "default",
    )
    assert forbidden["responseStatus"]["code"] == 403
    assert forbidden["responseStatus"]["reason"] == "Forbidden"
    assert forbidden["responseStatus"]["message"] == (
        'namespaces "default" is forbidden: this namespace may not be deleted'
    )


def test_kubectl_as_records_the_impersonated_user(audited: Cluster) -> None:
    # RBAC lets the group qa read the namespace (once authz has the binding).
    audited.kubectl(
        "create",
        "rolebinding",
        "qa-view",
        "-n",
        "kube-node-lease",
        "--clusterrole=view",
        "--group=qa",
    )
    for _ in range(50):
        allowed = audited.kubectl(
            "auth",
            "can-i",
            "list",
            "pods",
            "-n",
            "kube-node-lease",
            "--as=jane",
            "--as-group=qa",
            check=False,
        )
        if allowed.stdout.strip() == "yes":
            break
    audited.kubectl("--as=jane", "--as-group=qa", "get", "pods", "-n", "kube-node-lease")
    [event] = events(
        audited,
        lambda e: (
            e.get("objectRef", {}).get("namespace") == "kube-node-lease"
            and e["verb"] == "list"
            and "impersonatedUser" in e
        ),
    )
    assert event["user"]["username"] == ADMIN
    assert event["impersonatedUser"] == {
        "username": "jane",
        "groups": ["qa", "system:authenticated"],
    }
