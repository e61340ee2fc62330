"""``kapi up`` / ``kapi down`` for real: real etcd, fake services (see conftest.py).

What is checked is the CLI's job: order and readiness, files in the data directory,
supervision and restarts, clean stops, refusal to double-start, side-by-side runs.
The real services' behaviour is the end-to-end suite's job.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kapi import controlplane, pki, ports, probes, rundir

from .conftest import kapi_argv

pytestmark = pytest.mark.integration


def _until(condition: Callable[[], bool], *, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _state(data_dir: Path) -> dict[str, Any]:
    state = rundir.read_state(rundir.RunDir.at(data_dir))
    assert state is not None
    return state


class Kapi:
    """Runs ``kapi`` commands against one data directory."""

    def __init__(self, data_dir: Path, port: int, env: dict[str, str], cwd: Path) -> None:
        self.data_dir, self.port, self.env, self.cwd = data_dir, port, env, cwd

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            kapi_argv(*args, "--data-dir", str(self.data_dir)),
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=180,
        )

    def up(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self("up", "--port", str(self.port), "--detach", *extra)

    def readyz(self) -> tuple[int, bytes]:
        ca = pki.paths(self.data_dir / "pki", pki.CA_NAME).cert_path
        return probes.http_get(f"https://127.0.0.1:{self.port}/readyz", ca_file=ca)


@pytest.fixture
def make_kapi(tmp_path: Path, kapi_env: dict[str, str]) -> Iterator[Callable[[str], Kapi]]:
    made: list[Kapi] = []

    def make(name: str) -> Kapi:
        k = Kapi(tmp_path / name, ports.free_port(), kapi_env, tmp_path)
        made.append(k)
        return k

    yield make
    for k in made:
        k("down")


def test_up_detach_supervises_and_down_stops_everything(
    make_kapi: Callable[[str], Kapi],
) -> None:
    kapi = make_kapi("one")
    up = kapi.up()
    assert up.returncode == 0, up.stdout + up.stderr
    lines = up.stdout.splitlines()
    data = kapi.data_dir
    # Progress, in dependency order.
    started = [line.split()[1] for line in lines if " ready on " in line]
    assert started == ["etcd", "storage", "authz", "registry", "gateway", "metrics"]
    # Then the gateway's clients, which serve no port.
    components = [c.name for c in controlplane.COMPONENTS]
    assert [line.split()[1] for line in lines if line.endswith(" started")] == components
    assert any(line.startswith("kapi: etcd ready on https://127.0.0.1:") for line in lines)
    assert f"kapi: ready — export KUBECONFIG={data / 'kubeconfig'}" in lines

    # The data directory.
    state = _state(data)
    supervisor_pid = state["pid"]
    assert rundir.read_pid(rundir.RunDir.at(data)) == supervisor_pid
    assert state["phase"] == "ready"
    assert state["ports"]["gateway"] == kapi.port
    assert set(state["children"]) == {
        "etcd",
        "storage",
        "authz",
        "registry",
        "gateway",
        "metrics",
        *components,
    }
    assert (data / "etcd").is_dir()
    for name in state["children"]:
        assert (data / "logs" / f"{name}.log").stat().st_size > 0
    # the admin's token only: the components carry client certificates
    assert "authz: 1 tokens" in (data / "logs" / "authz.log").read_text()
    assert kapi.readyz() == (200, b"ok")

    # A dying child is restarted on the same port.
    registry = state["children"]["registry"]
    os.kill(registry["pid"], signal.SIGKILL)
    _until(lambda: _state(data)["children"]["registry"]["pid"] not in (None, registry["pid"]))
    _until(lambda: kapi.readyz()[0] == 200)
    log = (data / "logs" / "kapi.log").read_text()
    assert "kapi: registry exited with code -9; restarting" in log
    assert _state(data)["children"]["registry"]["restarts"] == 1
    assert _state(data)["children"]["registry"]["address"] == registry["address"]

    # A second supervisor on the same data directory is refused.
    again = kapi.up()
    assert again.returncode == 1
    assert f"kapi: already running (pid {supervisor_pid}) in {data}" in again.stdout

    pids = [supervisor_pid, *(c["pid"] for c in _state(data)["children"].values())]
    down = kapi("down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "kapi: stopped" in down.stdout
    assert not any(_alive(pid) for pid in pids)
    assert not (data / "kapi.pid").exists()
    assert _state(data)["phase"] == "stopped"

    assert "nothing running" in kapi("down").stdout


def test_two_instances_side_by_side_and_reuse_on_restart(
    make_kapi: Callable[[str], Kapi],
) -> None:
    one, two = make_kapi("one"), make_kapi("two")
    assert one.up().returncode == 0
    up_two = two.up()
    assert up_two.returncode == 0, up_two.stdout + up_two.stderr
    assert one.readyz()[0] == 200
    assert two.readyz()[0] == 200

    taken = make_kapi("three")
    taken.port = one.port
    refused = taken.up()
    assert refused.returncode == 1
    assert f"port {one.port} on 127.0.0.1 is already in use" in refused.stdout

    token = (one.data_dir / "tokens.csv").read_text()
    ca = (one.data_dir / "pki" / "ca.crt").read_bytes()
    assert one("down").returncode == 0
    assert two.readyz()[0] == 200  # untouched by the other's down
    assert one.up().returncode == 0
    assert (one.data_dir / "tokens.csv").read_text() == token
    assert (one.data_dir / "pki" / "ca.crt").read_bytes() == ca


def test_foreground_up_stops_cleanly_on_ctrl_c(tmp_path: Path, kapi_env: dict[str, str]) -> None:
    data, port = tmp_path / "fg", ports.free_port()
    process = subprocess.Popen(
        kapi_argv("up", "--data-dir", str(data), "--port", str(port)),
        env=kapi_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        output = []
        for line in process.stdout:
            output.append(line)
            if line.startswith("kapi: ready"):
                break
        assert output[-1].startswith("kapi: ready"), "".join(output)
        children = [c["pid"] for c in _state(data)["children"].values()]

        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)

        assert process.returncode == 0
        assert rest.splitlines()[-2:] == ["kapi: stopping", "kapi: stopped"]
        assert not any(_alive(pid) for pid in children)
        assert json.loads((data / "state.json").read_text())["phase"] == "stopped"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_up_with_external_etcd(tmp_path: Path, make_kapi: Callable[[str], Kapi]) -> None:
    """With --etcd-endpoints no etcd is started; storage gets the given URLs and the
    --etcd-cafile/--etcd-certfile/--etcd-keyfile to reach them (an etcd requiring
    client certificates: the other control plane's, with its storage's certificate)."""
    source = make_kapi("etcd-owner")
    assert source.up().returncode == 0
    etcd_url = _state(source.data_dir)["etcd"]["endpoints"][0]
    assert etcd_url.startswith("https://")
    client = pki.InternalPKI(source.data_dir / "pki").etcd_client
    etcd_flags = {
        "--etcd-cafile": str(client.ca_file),
        "--etcd-certfile": str(client.cert_file),
        "--etcd-keyfile": str(client.key_file),
    }

    kapi = make_kapi("external")
    up = kapi.up("--etcd-endpoints", etcd_url, *(x for kv in etcd_flags.items() for x in kv))
    assert up.returncode == 0, up.stdout + up.stderr
    state = _state(kapi.data_dir)
    assert "etcd" not in state["children"]
    assert state["etcd"] == {"embedded": False, "endpoints": [etcd_url]}
    assert f"kapi: using etcd at {etcd_url}" in up.stdout
    assert not (kapi.data_dir / "etcd").exists()
    argv = state["children"]["storage"]["argv"]
    assert {flag: argv[argv.index(flag) + 1] for flag in etcd_flags} == etcd_flags


def test_up_with_external_etcd_without_its_certificate_is_not_ready(
    make_kapi: Callable[[str], Kapi],
) -> None:
    """An etcd that requires client certificates, asked without one: never healthy."""
    source = make_kapi("etcd-owner")
    assert source.up().returncode == 0
    etcd_url = _state(source.data_dir)["etcd"]["endpoints"][0]
    client = pki.InternalPKI(source.data_dir / "pki").etcd_client

    kapi = make_kapi("no-cert")
    up = kapi.up(
        "--etcd-endpoints", etcd_url, "--etcd-cafile", str(client.ca_file), "--ready-timeout", "3"
    )
    assert up.returncode == 1
    assert "no healthy etcd" in up.stdout


def test_failed_start_reports_the_log_and_leaves_nothing_running(
    make_kapi: Callable[[str], Kapi],
) -> None:
    kapi = make_kapi("broken")
    # A port in the http URL where no etcd answers: storage exits, and says why.
    dead = ports.free_port()
    up = kapi.up("--etcd-endpoints", f"http://127.0.0.1:{dead}", "--ready-timeout", "3")
    assert up.returncode == 1
    assert "no healthy etcd" in up.stdout
    assert not rundir.is_locked(rundir.RunDir.at(kapi.data_dir))


def test_a_deleted_data_dir_stops_the_control_plane(
    tmp_path: Path, kapi_env: dict[str, str], make_kapi: Callable[[str], Kapi]
) -> None:
    """Deleting the data directory of a running `kapi up` stops it: nothing is left
    that `kapi down` could not find, and `kapi up` there starts afresh on the port."""
    data, port = tmp_path / "gone", ports.free_port()
    process = subprocess.Popen(
        kapi_argv("up", "--data-dir", str(data), "--port", str(port)),
        env=kapi_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        output = []
        for line in process.stdout:
            output.append(line)
            if line.startswith("kapi: ready"):
                break
        assert output[-1].startswith("kapi: ready"), "".join(output)
        children = [c["pid"] for c in _state(data)["children"].values()]

        shutil.rmtree(data)
        rest, _ = process.communicate(timeout=60)

        assert process.returncode == 1
        assert rest.splitlines() == [
            f"kapi: {data} was removed or replaced; stopping",
            "kapi: stopped",
        ]
        assert not any(_alive(pid) for pid in children)
        assert not data.exists()  # not written again on the way out
        assert ports.port_available("127.0.0.1", port)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    again = make_kapi("gone")
    again.port = port
    up = again.up()
    assert up.returncode == 0, up.stdout + up.stderr
    assert again.readyz()[0] == 200


def test_the_services_get_kapis_environment(
    make_kapi: Callable[[str], Kapi],
) -> None:
    """`KAPI_IDLE_TIMEOUT=30 kapi up`: a service flag's variable reaches the service."""
    kapi = make_kapi("env")
    kapi.env = {**kapi.env, "KAPI_IDLE_TIMEOUT": "30"}
    assert kapi.up().returncode == 0
    gateway = _state(kapi.data_dir)["children"]["gateway"]["pid"]
    environ = Path(f"/proc/{gateway}/environ").read_bytes().split(b"\0")
    assert b"KAPI_IDLE_TIMEOUT=30" in environ
