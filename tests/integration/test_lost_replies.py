"""A write whose reply is lost: storage dies between etcd's commit and its answer.

kapi answered 503 with Retry-After: 1; client-go retried, and one ``generateName``
create was stored twice. kube-apiserver answers a request it could not finish with 504
Timeout and no Retry-After (apiserver endpoints/handlers/finisher), which clients do
not retry; only a call that provably never left may say 503 + Retry-After (kapi/rpc.py).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kapi import rpc
from tests.conftest import EtcdProcess
from tests.integration import storage_that_dies
from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def storage_addr(etcd: EtcdProcess) -> AsyncIterator[str]:
    """This module's control plane runs on a storage service that dies right after etcd
    commits a create of ``doomed-…`` (tests/integration/storage_that_dies.py)."""
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.storage_that_dies",
            etcd.endpoint,
            str(etcd.pki.pki_dir),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            port = int(await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30))
            yield f"127.0.0.1:{port}"
            assert process.poll() in (None, storage_that_dies.EXIT_CODE)
        finally:
            process.kill()


async def test_a_create_whose_reply_was_lost_is_504_without_retry_after(
    control_plane: ControlPlane, etcd: EtcdProcess
) -> None:
    response = await control_plane.api.post(
        f"/api/v1/namespaces/{control_plane.namespace}/configmaps",
        json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "doomed-"}},
    )
    assert response.status_code == 504, response.text
    assert "retry-after" not in response.headers
    status = response.json()
    assert (status["reason"], status["message"]) == ("Timeout", f"Timeout: {rpc.UNKNOWN_OUTCOME}")
    assert "retryAfterSeconds" not in status.get("details", {})
    assert "127.0.0.1" not in response.text
    backend = etcd.backend()
    try:
        page = await backend.list(f"/registry/configmaps/{control_plane.namespace}/")
    finally:
        await backend.close()
    assert [kv.key.rsplit("/", 1)[1][:7] for kv in page.items] == ["doomed-"]  # made once
