"""A CRD the size of prometheus-operator's Prometheus (tests/huge_crd.py: ~15,000 lines of
YAML, half a megabyte of JSON) through the real kubectl: a client-side apply refused as
kube refuses it (its last-applied annotation is over 256 KiB), a server-side apply
taken, objects created, printed, explained and scaled."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import Cluster
from tests.huge_crd import example, prometheus_like

pytestmark = pytest.mark.e2e

GROUP = "monitoring.example.com"


@pytest.fixture(scope="module")
def crd_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("huge") / "prometheuses.yaml"
    path.write_text(yaml.safe_dump(prometheus_like(copies=1, group=GROUP)))
    return path


@pytest.fixture(scope="module")
def installed(cluster: Cluster, crd_file: Path) -> Iterator[str]:
    applied = cluster.kubectl("apply", "--server-side", "-f", str(crd_file), timeout=120)
    name = f"prometheuses.{GROUP}"
    assert applied.stdout.strip() == (
        f"customresourcedefinition.apiextensions.k8s.io/{name} serverside-applied"
    )
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")
    yield name


def test_client_side_apply_is_refused_as_kube_refuses_it(kube: Cluster, crd_file: Path) -> None:
    group = f"c{uuid.uuid4().hex[:6]}.example.com"
    other = crd_file.with_name(f"{group}.yaml")
    other.write_text(yaml.safe_dump(prometheus_like(copies=1, group=group)))
    error = kube.kubectl_fails("apply", "-f", str(other), timeout=120)
    assert error == (
        f'The CustomResourceDefinition "prometheuses.{group}" is invalid: '
        "metadata.annotations: Too long: may not be more than 262144 bytes"
    )


def test_objects_of_a_huge_crd(kube: Cluster, installed: str) -> None:
    name = f"k8s-{uuid.uuid4().hex[:5]}"
    created = kube.kubectl("create", "-f", "-", input=json.dumps(example(name, group=GROUP)))
    assert created.stdout.strip() == f"prometheus.{GROUP}/{name} created"
    table = kube.kubectl("get", "prom", name).stdout.splitlines()
    assert table[0].split() == ["NAME", "VERSION", "DESIRED", "READY", "AGE"]
    assert table[1].split()[:3] == [name, "v3.5.0", "2"]
    scaled = kube.kubectl("scale", "prometheus", name, "--replicas=3")
    assert scaled.stdout.strip() == f"prometheus.{GROUP}/{name} scaled"
    got = json.loads(kube.kubectl("get", "prom", name, "-o", "json").stdout)
    assert got["spec"]["replicas"] == 3
    assert got["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] == "reloader-web"
    explained = kube.kubectl(
        "explain", "prometheus.spec.containers.livenessProbe.httpGet.port"
    ).stdout
    # kubectl's typeGuess has no int-or-string case: a CRD's shows as <Object> on kube too
    assert "FIELD: port <Object>" in explained
    assert "Name or number of the port to access on the container." in explained
    bad = example(f"bad-{name}", group=GROUP)
    bad["spec"]["containers"][0]["ports"] = [{"containerPort": "web"}]
    result = kube.kubectl("create", "-f", "-", input=json.dumps(bad), check=False)
    assert result.returncode != 0
    assert result.stderr.strip() == (
        f'The Prometheus "bad-{name}" is invalid: spec.containers[0].ports[0].containerPort: '
        'Invalid value: "string": spec.containers[0].ports[0].containerPort in body must be '
        'of type integer: "string"'
    )
