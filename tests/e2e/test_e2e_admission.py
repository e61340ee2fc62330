"""Admission end to end: `kapi up` and the real kubectl — a ValidatingAdmissionPolicy
with params denies with kube's text and warns with Warn."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.e2e.conftest import Cluster

pytestmark = pytest.mark.e2e

DEADLINE = 30.0  # waiting for a configuration to take effect at all, not a latency budget


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    name = f"adm-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def eventually(check: Callable[[], bool]) -> None:
    end = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < end, "the configuration did not take effect"
        time.sleep(0.2)


POLICY = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: {name}
spec:
  failurePolicy: Fail
  paramKind:
    apiVersion: v1
    kind: ConfigMap
  matchConstraints:
    resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["deployments"]
  validations:
  - expression: "object.spec.replicas <= int(params.data.maxReplicas)"
    messageExpression: "'replicas must be no greater than ' + params.data.maxReplicas"
    reason: Invalid
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: {name}-deny
spec:
  policyName: {name}
  validationActions: [Deny]
  paramRef:
    name: limits
    parameterNotFoundAction: Deny
  matchResources:
    namespaceSelector:
      matchLabels:
        kubernetes.io/metadata.name: {deny_ns}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: {name}-warn
spec:
  policyName: {name}
  validationActions: [Warn]
  paramRef:
    name: limits
    parameterNotFoundAction: Allow
  matchResources:
    namespaceSelector:
      matchLabels:
        kubernetes.io/metadata.name: {warn_ns}
"""


def test_policy_with_params_denies_and_warns(cluster: Cluster, namespace: str) -> None:
    name = f"replica-limit-{uuid.uuid4().hex[:6]}"
    warn_ns = f"{namespace}-w"
    cluster.kubectl("create", "namespace", warn_ns)
    for ns in (namespace, warn_ns):
        cluster.kubectl("-n", ns, "create", "configmap", "limits", "--from-literal=maxReplicas=3")
    manifest = POLICY.format(name=name, deny_ns=namespace, warn_ns=warn_ns)
    cluster.kubectl("apply", "-f", "-", input=manifest)
    try:

        def denied() -> bool:
            result = cluster.kubectl(
                "-n", namespace, "create", "deployment", f"probe-{uuid.uuid4().hex[:6]}",
                "--image=nginx", "--replicas=5", check=False,
            )  # fmt: skip
            return result.returncode != 0

        eventually(denied)
        err = cluster.kubectl_fails(
            "-n", namespace, "create", "deployment", "web", "--image=nginx", "--replicas=5"
        )
        assert err == (
            'error: failed to create deployment: deployments.apps "web" is forbidden: '
            f"ValidatingAdmissionPolicy '{name}' with binding '{name}-deny' denied request: "
            "replicas must be no greater than 3"
        )
        cluster.kubectl(
            "-n", namespace, "create", "deployment", "ok", "--image=nginx", "--replicas=2"
        )
        warned = cluster.kubectl(
            "-n", warn_ns, "create", "deployment", "web", "--image=nginx", "--replicas=5"
        )
        assert (
            f"Warning: Validation failed for ValidatingAdmissionPolicy '{name}' with binding "
            f"'{name}-warn': replicas must be no greater than 3"
        ) in warned.stderr
        # The param is missing in a third namespace: Allow (warn binding) admits.
        cluster.kubectl("-n", warn_ns, "delete", "configmap", "limits")

        def allowed() -> bool:
            result = cluster.kubectl(
                "-n", warn_ns, "create", "deployment", f"p-{uuid.uuid4().hex[:6]}",
                "--image=nginx", "--replicas=5", check=False,
            )  # fmt: skip
            return result.returncode == 0 and "Warning" not in result.stderr

        eventually(allowed)
    finally:
        cluster.kubectl("delete", "-f", "-", input=manifest, check=False)
        cluster.kubectl("delete", "namespace", warn_ns, "--wait=false", check=False)
