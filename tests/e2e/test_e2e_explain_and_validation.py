"""The real kubectl 1.32 against `kapi up`: explain, server-side field validation
(--validate=strict|warn|false), schema errors, and a HorizontalPodAutoscaler written in
one version and read in the other — each printing what a 1.32 cluster prints."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster

pytestmark = pytest.mark.e2e

# kubectl 1.32 against kube-apiserver 1.32, byte for byte (tabs after field names).
EXPLAIN_DEPLOYMENT_STRATEGY = """\
GROUP:      apps
KIND:       Deployment
VERSION:    v1

FIELD: strategy <DeploymentStrategy>


DESCRIPTION:
    The deployment strategy to use to replace existing pods with new ones.
    DeploymentStrategy describes how to replace existing pods with new ones.
{indent}
FIELDS:
  rollingUpdate\t<RollingUpdateDeployment>
    Rolling update config params. Present only if DeploymentStrategyType =
    RollingUpdate.

  type\t<string>
  enum: Recreate, RollingUpdate
    Type of deployment. Can be "Recreate" or "RollingUpdate". Default is
    RollingUpdate.
{indent}
    Possible enum values:
     - `"Recreate"` Kill all existing pods before creating new ones.
     - `"RollingUpdate"` Replace the old ReplicaSets by new one using rolling
    update i.e gradually scale down the old ReplicaSets and scale up the new
    one.


""".format(indent="    ")

CONFIGMAP_WITH_BOGUS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
bogus: 1
data:
  a: b
"""

HPA_V1 = """\
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: {name}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}
  minReplicas: 1
  maxReplicas: 4
  targetCPUUtilizationPercentage: 55
"""


@pytest.fixture
def ns(cluster: Cluster) -> str:
    name = f"e2e-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "ns", name)
    return name


def manifest(tmp_path: Path, text: str, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_explain_deployment_strategy_as_on_1_32(cluster: Cluster) -> None:
    out = cluster.kubectl("explain", "deployment.spec.strategy").stdout
    assert out == EXPLAIN_DEPLOYMENT_STRATEGY


@pytest.mark.parametrize(
    "resource",
    [
        "pods.spec.containers",
        "services.spec",
        "configmaps",
        "jobs.spec.template",
        "cronjobs.spec",
        "ingresses.spec.rules",
        "horizontalpodautoscalers.spec.metrics",
        "customresourcedefinitions.spec.versions",
    ],
)
def test_explain_works_for_every_kind_of_type(cluster: Cluster, resource: str) -> None:
    out = cluster.kubectl("explain", resource).stdout
    assert out.startswith(("GROUP:", "KIND:"))
    assert "DESCRIPTION:" in out


def test_create_with_an_unknown_field_is_refused_by_default(
    cluster: Cluster, ns: str, tmp_path: Path
) -> None:
    path = manifest(tmp_path, CONFIGMAP_WITH_BOGUS.format(name="strict"), "x.yaml")
    error = cluster.kubectl_fails("-n", ns, "create", "-f", str(path))
    assert error == (
        f'Error from server (BadRequest): error when creating "{path}": ConfigMap in version '
        '"v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus"'
    )
    assert cluster.kubectl_fails("-n", ns, "get", "cm", "strict") == (
        'Error from server (NotFound): configmaps "strict" not found'
    )


def test_validate_warn_creates_and_warns(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    path = manifest(tmp_path, CONFIGMAP_WITH_BOGUS.format(name="warned"))
    result = cluster.kubectl("-n", ns, "create", "-f", str(path), "--validate=warn")
    assert result.stderr.strip() == 'Warning: unknown field "bogus"'
    assert result.stdout.strip() == "configmap/warned created"
    stored = json.loads(cluster.kubectl("-n", ns, "get", "cm", "warned", "-o", "json").stdout)
    assert "bogus" not in stored and stored["data"] == {"a": "b"}


def test_validate_false_creates_without_the_field(
    cluster: Cluster, ns: str, tmp_path: Path
) -> None:
    path = manifest(tmp_path, CONFIGMAP_WITH_BOGUS.format(name="ignored"))
    result = cluster.kubectl("-n", ns, "create", "-f", str(path), "--validate=false")
    assert result.stderr == ""
    assert result.stdout.strip() == "configmap/ignored created"
    stored = json.loads(cluster.kubectl("-n", ns, "get", "cm", "ignored", "-o", "json").stdout)
    assert "bogus" not in stored


def test_wrong_type_and_unsupported_value(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    deployment = manifest(
        tmp_path,
        """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: typed}
spec:
  replicas: "2"
  selector: {matchLabels: {app: typed}}
  template:
    metadata: {labels: {app: typed}}
    spec:
      containers: [{name: c, image: nginx}]
""",
        "d.yaml",
    )
    assert cluster.kubectl_fails("-n", ns, "create", "-f", str(deployment)) == (
        f'Error from server (BadRequest): error when creating "{deployment}": Deployment in '
        'version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into '
        "Go struct field DeploymentSpec.spec.replicas of type int32"
    )
    service = manifest(
        tmp_path,
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: Foo\n"
        "  ports: [{port: 80}]\n",
        "s.yaml",
    )
    assert cluster.kubectl_fails("-n", ns, "create", "-f", str(service)) == (
        'The Service "s" is invalid: spec.type: Unsupported value: "Foo": supported values: '
        '"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'
    )


def test_hpa_created_as_v1_reads_as_v2_and_back(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    path = manifest(tmp_path, HPA_V1.format(name="web"), "hpa.yaml")
    created = cluster.kubectl("-n", ns, "create", "-f", str(path))
    assert created.stdout.strip() == "horizontalpodautoscaler.autoscaling/web created"

    as_v2 = json.loads(cluster.kubectl("-n", ns, "get", "hpa", "web", "-o", "json").stdout)
    assert as_v2["apiVersion"] == "autoscaling/v2"
    assert as_v2["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 55},
            },
        }
    ]
    v1_name = "horizontalpodautoscalers.v1.autoscaling"
    as_v1 = json.loads(cluster.kubectl("-n", ns, "get", v1_name, "web", "-o", "json").stdout)
    assert as_v1["apiVersion"] == "autoscaling/v1"
    assert as_v1["spec"]["targetCPUUtilizationPercentage"] == 55

    # a v1 read-modify-write keeps what only v2 can say
    as_v2["spec"]["metrics"].append(
        {
            "type": "Resource",
            "resource": {
                "name": "memory",
                "target": {"type": "AverageValue", "averageValue": "100Mi"},
            },
        }
    )
    cluster.kubectl("-n", ns, "replace", "-f", "-", input=json.dumps(as_v2))
    as_v1 = json.loads(cluster.kubectl("-n", ns, "get", v1_name, "web", "-o", "json").stdout)
    assert "autoscaling.alpha.kubernetes.io/metrics" in as_v1["metadata"]["annotations"]
    as_v1["spec"]["maxReplicas"] = 6
    cluster.kubectl("-n", ns, "replace", "-f", "-", input=json.dumps(as_v1))
    final = json.loads(cluster.kubectl("-n", ns, "get", "hpa", "web", "-o", "json").stdout)
    assert final["spec"]["maxReplicas"] == 6
    assert [m["resource"]["name"] for m in final["spec"]["metrics"]] == ["memory", "cpu"]
    assert "annotations" not in final["metadata"]


def test_explain_hpa_in_v1(cluster: Cluster) -> None:
    out = cluster.kubectl("explain", "hpa.spec", "--api-version=autoscaling/v1").stdout
    assert out.splitlines()[:3] == [
        "GROUP:      autoscaling",
        "KIND:       HorizontalPodAutoscaler",
        "VERSION:    v1",
    ]
    assert "targetCPUUtilizationPercentage\t<integer>" in out
