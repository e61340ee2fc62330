"""Admission webhooks served by a kopf operator (tests/e2e/operators/webhook_operator.py)
against ``kapi up``, seen through the real kubectl: kopf registers its own
ValidatingWebhookConfiguration and MutatingWebhookConfiguration through the API (create,
then a merge patch with its webhooks and its self-signed certificate as caBundle), its
validating webhook refuses with kube's text and its mutating webhook's JSONPatch lands on
the object — also for a request at the CRD's other version (the webhooks are registered
for v1 with ``matchPolicy: Equivalent``, so they are sent the object converted to v1).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cluster
from tests.e2e.test_e2e_custom_resource_clients import eventually
from tests.e2e.test_e2e_custom_resources import crd_yaml, crontab_yaml

pytestmark = pytest.mark.e2e

OPERATOR = Path(__file__).parent / "operators" / "webhook_operator.py"
KIND = "Schedule"


@pytest.fixture(scope="module")
def group(cluster: Cluster) -> str:
    group = f"w{uuid.uuid4().hex[:8]}.example.com"
    cluster.kubectl(
        "apply", "-f", "-", input=crd_yaml(group, kind=KIND, short="wsch", open_status=True)
    )
    cluster.kubectl("wait", "--for=condition=Established", f"crd/schedules.{group}")
    return group


def configuration(cluster: Cluster, kind: str, name: str) -> dict[str, Any] | None:
    got = cluster.kubectl("get", kind, name, "-o", "json", check=False)
    if got.returncode != 0:
        return None
    obj: dict[str, Any] = json.loads(got.stdout)
    return obj if obj.get("webhooks") else None


@pytest.fixture(scope="module")
def operator(
    cluster: Cluster, group: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp("kopf-webhooks")
    log = tmp / "kopf.log"
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "OPERATOR_GROUP": group,
        "OPERATOR_CERT_DIR": str(tmp / "cert"),
    }
    name = f"kopf.{group}"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kopf", "run", "--standalone", "--all-namespaces",
             "--verbose", str(OPERATOR)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            try:
                for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
                    eventually(lambda kind=kind: configuration(cluster, kind, name), timeout=60)
            except AssertionError:
                raise AssertionError(log.read_text()[-6000:]) from None
            yield log
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
                cluster.kubectl("delete", kind, name, "--ignore-not-found", check=False)


def test_kopf_registers_its_webhooks(cluster: Cluster, group: str, operator: Path) -> None:
    name = f"kopf.{group}"
    validating = configuration(cluster, "validatingwebhookconfiguration", name)
    assert validating is not None
    (hook,) = validating["webhooks"]
    assert hook["name"] == f"check-image.{name}"
    assert hook["clientConfig"]["url"].startswith("https://127.0.0.1:")
    assert hook["clientConfig"]["caBundle"]
    assert hook["matchPolicy"] == "Equivalent"
    assert hook["rules"][0]["apiVersions"] == ["v1"]
    mutating = configuration(cluster, "mutatingwebhookconfiguration", name)
    assert mutating is not None
    (hook,) = mutating["webhooks"]
    assert hook["name"] == f"label.{name}"
    assert hook["reinvocationPolicy"] == "Never"  # kube's default, filled in


def test_kopf_validating_webhook_denies(cluster: Cluster, group: str, operator: Path) -> None:
    body = crontab_yaml(group, "forbidden", kind=KIND).replace("my-awesome-cron-image", "forbidden")
    result = cluster.kubectl("create", "-f", "-", input=body, check=False)
    assert result.returncode != 0, result.stdout
    # kopf's Status has a code (403) and no reason: kubectl says "Error from server:"
    # (kubectl/pkg/cmd/util/helpers.go StandardErrorMessage), as with kube-apiserver,
    # whose ToStatusErr (webhook/errors/statuserror.go) adds no reason either.
    assert result.stderr.strip() == (
        'Error from server: error when creating "STDIN": admission webhook '
        f"\"check-image.kopf.{group}\" denied the request: the image 'forbidden' is not allowed"
    )
    assert cluster.kubectl("get", "wsch", "forbidden", check=False).returncode != 0


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
def test_kopf_mutating_webhook_patches(
    cluster: Cluster, group: str, operator: Path, version: str
) -> None:
    name = f"mutated-{version}"
    body = crontab_yaml(group, name, kind=KIND).replace(f"{group}/v1", f"{group}/{version}")
    cluster.kubectl("create", "-f", "-", input=body)
    got = json.loads(
        cluster.kubectl("get", f"schedules.{version}.{group}", name, "-o", "json").stdout
    )
    assert got["apiVersion"] == f"{group}/{version}"
    assert got["metadata"]["labels"] == {"mutated-by": "kopf"}
    assert got["spec"]["image"] == "my-awesome-cron-image"
    shown = cluster.kubectl("get", "wsch", name, "-L", "mutated-by").stdout
    assert shown.splitlines()[1].split()[-1] == "kopf"
    cluster.kubectl("delete", "wsch", name)
