"""`kapi up --admission-control-config-file` with PodSecurity's configuration (defaults
and exemptions), the real kubectl, and the audit log read back for kube's
``pod-security.kubernetes.io/*`` annotations.

A control plane of its own (the session's runs without these flags), without nodes:
only admission is looked at.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cluster, free_port, kubectl_binary

pytestmark = pytest.mark.e2e

EXEMPT_NS = "psa-exempt"
EXEMPT_CLASS = "psa-exempt-class"
P = "pod-security.kubernetes.io/"

ADMISSION = f"""\
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults:
      enforce: baseline
      warn: restricted
    exemptions:
      namespaces: [{EXEMPT_NS}]
      runtimeClasses: [{EXEMPT_CLASS}]
"""
POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: Metadata
    resources:
      - group: ""
        resources: ["pods"]
    omitStages: ["RequestReceived"]
  - level: None
"""
POD = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  {extra}
  containers:
  - name: c
    image: nginx
    securityContext:
      privileged: {privileged}
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
def configured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("kapi-psa")
    (root / "admission.yaml").write_text(ADMISSION)
    (root / "policy.yaml").write_text(POLICY)
    data_dir = root / "data"
    started = _kapi(
        "up", "--data-dir", str(data_dir), "--port", str(free_port()),
        "--admission-control-config-file", str(root / "admission.yaml"),
        "--audit-policy-file", str(root / "policy.yaml"),
        "--nodes", "0", "--detach",
        timeout=180,
    )  # fmt: skip
    if started.returncode != 0:
        pytest.fail(f"kapi up failed ({started.returncode}):\n{started.stdout}\n{started.stderr}")
    try:
        yield Cluster(
            data_dir, data_dir / "kubeconfig", tmp_path_factory.mktemp("kcache"), kubectl_binary()
        )
    finally:
        stopped = _kapi("down", "--data-dir", str(data_dir), timeout=120)
        assert stopped.returncode == 0, stopped.stderr


def create(cluster: Cluster, ns: str, name: str, *, privileged: bool, extra: str = "") -> Any:
    manifest = POD.format(name=name, extra=extra, privileged=str(privileged).lower())
    return cluster.kubectl("-n", ns, "create", "-f", "-", input=manifest, check=False)


def annotations(cluster: Cluster, ns: str, name: str) -> dict[str, str]:
    """The audit annotations of the create of pod ``ns/name``, from the audit log."""
    path = cluster.data_dir / "logs" / "audit.log"
    deadline = time.monotonic() + 15
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        for event in map(json.loads, lines):
            ref = event.get("objectRef") or {}
            if event["verb"] == "create" and (ref.get("namespace"), ref.get("name")) == (ns, name):
                found: dict[str, str] = event.get("annotations") or {}
                return {k: v for k, v in found.items() if k.startswith(P)}
        assert time.monotonic() < deadline, f"no audit event for pod {ns}/{name}"
        time.sleep(0.1)


def test_authz_gets_the_flag(configured: Cluster) -> None:
    argv = configured.state()["children"]["authz"]["argv"]  # type: ignore[index]
    flags = dict(zip(argv[3::2], argv[4::2], strict=False))
    assert flags["--admission-control-config-file"].endswith("admission.yaml")


def test_defaults_and_exemptions(configured: Cluster) -> None:
    ns = f"psa-{uuid.uuid4().hex[:6]}"
    configured.kubectl("create", "namespace", ns)
    configured.kubectl("create", "namespace", EXEMPT_NS)
    # The configured defaults hold in a namespace without labels.
    refused = create(configured, ns, "priv", privileged=True)
    assert refused.returncode != 0
    assert refused.stderr.strip() == (
        'Error from server (Forbidden): error when creating "STDIN": pods "priv" is forbidden: '
        'violates PodSecurity "baseline:latest": privileged (container "c" must not set '
        "securityContext.privileged=true)"
    )
    plain = create(configured, ns, "plain", privileged=False)
    assert plain.returncode == 0, plain.stderr
    assert plain.stderr.startswith('Warning: would violate PodSecurity "restricted:latest": ')
    assert annotations(configured, ns, "plain") == {P + "enforce-policy": "baseline:latest"}
    # Exempt by runtime class, and by namespace: admitted, annotated, nothing warned.
    by_class = create(
        configured, ns, "by-class", privileged=True, extra=f"runtimeClassName: {EXEMPT_CLASS}"
    )
    assert (by_class.returncode, by_class.stderr) == (0, ""), by_class.stderr
    assert annotations(configured, ns, "by-class") == {P + "exempt": "runtimeClass"}
    by_ns = create(configured, EXEMPT_NS, "priv", privileged=True)
    assert (by_ns.returncode, by_ns.stderr) == (0, ""), by_ns.stderr
    assert annotations(configured, EXEMPT_NS, "priv") == {P + "exempt": "namespace"}
    # Labelling the exempt namespace: accepted, with kube's warning that it is ignored.
    labelled = configured.kubectl(
        "label", "namespace", EXEMPT_NS, "pod-security.kubernetes.io/enforce=restricted"
    )
    assert labelled.stderr.strip() == (
        f'Warning: namespace "{EXEMPT_NS}" is exempt from Pod Security, and the policy '
        "(enforce=restricted:latest) will be ignored"
    )
