"""pods/log of a container a simulated node runs: answered by the registry itself."""

from __future__ import annotations

from typing import Any

import pytest

from kapi import errors
from services.registry import connect


def pod(state: dict[str, Any], container_id: str = "kapi://abc") -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"nodeName": "kapi-node-0", "containers": [{"name": "c", "image": "nginx"}]},
        "status": {
            "containerStatuses": [
                {"name": "c", "image": "nginx", "containerID": container_id, "state": state}
            ]
        },
    }


RUNNING = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
DONE = {
    "terminated": {
        "exitCode": 3,
        "startedAt": "2026-01-01T00:00:00Z",
        "finishedAt": "2026-01-01T00:00:05Z",
        "containerID": "kapi://abc",
    }
}


@pytest.mark.parametrize(
    ("state", "options", "expected"),
    [
        (
            RUNNING,
            {},
            b"kapi simulated container c started in pod ns/p on node kapi-node-0 (image nginx)\n",
        ),
        (
            RUNNING,
            {"timestamps": ["true"]},
            b"2026-01-01T00:00:00.000000000Z kapi simulated container c started in pod ns/p on "
            b"node kapi-node-0 (image nginx)\n",
        ),
        (DONE, {"tailLines": ["1"]}, b"kapi simulated container c exited with code 3\n"),
        (DONE, {"tailLines": ["0"]}, b""),
        (RUNNING, {"limitBytes": ["4"]}, b"kapi"),
    ],
)
def test_simulated_log(state: dict[str, Any], options: Any, expected: bytes) -> None:
    answer = connect.pod("log", pod(state), "p", options)
    assert (answer.code, answer.body) == (200, expected)


def test_a_container_no_simulated_node_runs_has_an_empty_log() -> None:
    answer = connect.pod("log", pod(RUNNING, "containerd://x"), "p", {})
    assert (answer.code, answer.body) == (200, b"")


@pytest.mark.parametrize("subresource", ["exec", "attach"])
def test_nothing_runs_in_a_simulated_container(subresource: str) -> None:
    with pytest.raises(errors.StatusError) as raised:
        connect.pod(subresource, pod(RUNNING), "p", {})
    assert (raised.value.code, raised.value.message) == (
        400,
        f'container "c" in pod "p" is simulated by kapi: no process runs in it to {subresource} to',
    )


def test_nothing_listens_in_a_simulated_pod() -> None:
    with pytest.raises(errors.StatusError) as raised:
        connect.pod("portforward", pod(RUNNING), "p", {})
    assert raised.value.code == 400
