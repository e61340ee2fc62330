"""Clients of custom resources end to end: the official Python client's dynamic client, and
an operator written with kopf (tests/e2e/operators/schedule_operator.py) that sees its
custom resources, patches their status, adds and removes its finalizer and posts events.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cluster
from tests.e2e.test_e2e_custom_resources import crd_yaml, crontab_yaml

pytestmark = pytest.mark.e2e

OPERATOR = Path(__file__).parent / "operators" / "schedule_operator.py"
KOPF_FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"
KIND = "Schedule"  # kube's CronTab example under another name: plural "schedules"


def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def group(cluster: Cluster) -> str:
    group = f"c{uuid.uuid4().hex[:8]}.example.com"
    cluster.kubectl(
        "apply", "-f", "-", input=crd_yaml(group, kind=KIND, short="sch", open_status=True)
    )
    cluster.kubectl("wait", "--for=condition=Established", f"crd/schedules.{group}")
    return group


def test_dynamic_client(cluster: Cluster, group: str) -> None:
    from kubernetes import config, dynamic

    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    client = dynamic.DynamicClient(api_client)
    crontabs = client.resources.get(api_version=f"{group}/v1", kind=KIND)
    assert crontabs.namespaced and crontabs.short_names == ["sch"]
    body = {
        "apiVersion": f"{group}/v1",
        "kind": KIND,
        "metadata": {"name": "dynamic", "labels": {"by": "python"}},
        "spec": {"cronSpec": "0 0 * * *", "image": "img"},
    }
    created = crontabs.create(body=body, namespace="default")
    assert created.spec.replicas == 1
    got = crontabs.get(name="dynamic", namespace="default")
    assert got.metadata.uid == created.metadata.uid
    patched = crontabs.patch(
        name="dynamic",
        namespace="default",
        body={"spec": {"image": "img:2"}},
        content_type="application/merge-patch+json",
    )
    assert patched.spec.image == "img:2"
    listed = crontabs.get(namespace="default", label_selector="by=python")
    assert [item.metadata.name for item in listed.items] == ["dynamic"]
    status = client.resources.get(api_version=f"{group}/v1", kind=KIND).status
    updated = status.patch(
        name="dynamic",
        namespace="default",
        body={"status": {"replicas": 1}},
        content_type="application/merge-patch+json",
    )
    assert updated.status.replicas == 1
    crontabs.delete(name="dynamic", namespace="default")
    from kubernetes.dynamic.exceptions import NotFoundError

    with pytest.raises(NotFoundError):
        crontabs.get(name="dynamic", namespace="default")


@pytest.fixture
def operator(cluster: Cluster, group: str, tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "kopf.log"
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "OPERATOR_GROUP": group}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kopf", "run", "--standalone", "--all-namespaces",
             "--verbose", str(OPERATOR)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            yield log
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_a_kopf_operator(cluster: Cluster, group: str, operator: Path) -> None:
    cluster.kubectl("create", "-f", "-", input=crontab_yaml(group, "operated", kind=KIND))

    def handled() -> dict[str, Any] | None:
        got = json.loads(cluster.kubectl("get", "sch", "operated", "-o", "json").stdout)
        return got if (got.get("status") or {}).get("phase") == "Scheduled" else None

    try:
        crontab = eventually(handled)
    except AssertionError:
        raise AssertionError(operator.read_text()[-6000:]) from None
    assert crontab["status"]["scheduled"] == {"image": "my-awesome-cron-image"}
    assert KOPF_FINALIZER in crontab["metadata"]["finalizers"]

    def posted() -> list[dict[str, Any]]:
        events = json.loads(
            cluster.kubectl(
                "get", "events", "--field-selector=involvedObject.name=operated", "-o", "json"
            ).stdout
        )["items"]
        return [e for e in events if e.get("reason") == "Scheduled"]

    (event,) = eventually(posted)
    assert event["message"] == "runs my-awesome-cron-image at * * * * */5"
    assert event["involvedObject"]["kind"] == KIND

    cluster.kubectl("delete", "sch", "operated", timeout=60)
    gone = cluster.kubectl("get", "sch", "operated", check=False)
    assert gone.returncode != 0
    assert "unscheduled operated" in operator.read_text()
