"""What a simulated kubelet writes (services.nodes.podstatus)."""

from __future__ import annotations

from typing import Any

import pytest

from services.nodes import podstatus

Obj = dict[str, Any]


def pod(restart: str = "Always", annotations: Obj | None = None, **resources: Any) -> Obj:
    return {
        "metadata": {"uid": "u", "annotations": annotations or {}},
        "spec": {
            "restartPolicy": restart,
            "containers": [{"name": "c", "image": "nginx", "resources": resources}],
        },
    }


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        ({}, "BestEffort"),
        ({"requests": {"cpu": "1"}}, "Burstable"),
        ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
        ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}, "Burstable"),
    ],
)
def test_qos_class(resources: Obj, qos: str) -> None:
    assert podstatus.qos_class(pod(**resources)) == qos


def test_running() -> None:
    status = podstatus.running(pod(), host_ip="10.1.0.1", pod_ip="10.244.0.2", now="t")
    assert status["phase"] == "Running"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    [c] = status["containerStatuses"]
    assert c["ready"] and c["started"] and c["state"] == {"running": {"startedAt": "t"}}
    assert c["containerID"].startswith(podstatus.CONTAINER_ID_SCHEME)
    assert (status["podIPs"], status["hostIPs"]) == ([{"ip": "10.244.0.2"}], [{"ip": "10.1.0.1"}])


@pytest.mark.parametrize(
    ("code", "phase", "reason"), [(0, "Succeeded", "Completed"), (2, "Failed", "Error")]
)
def test_finished(code: int, phase: str, reason: str) -> None:
    the_pod = pod("Never")
    the_pod["status"] = {"startTime": "t0"}
    status = podstatus.finished(the_pod, code=code, now="t1")
    assert status["phase"] == phase
    [c] = status["containerStatuses"]
    assert c["state"]["terminated"]["exitCode"] == code
    assert c["state"]["terminated"]["reason"] == reason
    assert c["state"]["terminated"]["startedAt"] == "t0"


def test_annotations_drive_the_run() -> None:
    the_pod = pod("Never", {podstatus.RUN_SECONDS: "5", podstatus.EXIT_CODE: "3"})
    assert podstatus.runs_to_completion(the_pod)
    assert (podstatus.run_seconds(the_pod), podstatus.exit_code(the_pod)) == (5.0, 3)
    assert not podstatus.runs_to_completion(pod())
    assert podstatus.run_seconds(pod("Never")) == podstatus.DEFAULT_RUN_SECONDS


def test_termination_waits_within_the_grace_period() -> None:
    the_pod = pod(annotations={podstatus.TERMINATION_SECONDS: "60"})
    the_pod["metadata"]["deletionGracePeriodSeconds"] = 30
    assert podstatus.termination_seconds(the_pod) == 30
    assert podstatus.termination_seconds(pod()) == 0
