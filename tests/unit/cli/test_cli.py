"""The ``kapi`` command line, without starting a control plane."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from kapi import cli, controlplane, rundir

from .conftest import kapi_argv


def test_down_with_nothing_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(["down", "--data-dir", str(tmp_path / "never-created")]) == 0
    assert "kapi: nothing running in" in capsys.readouterr().out
    assert not (tmp_path / "never-created").exists()


def test_down_ignores_and_removes_a_stale_pid_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The pid is alive (it is ours) but holds no lock: not a supervisor, so it must
    # not be signalled (this test would die if it were).
    run_dir = rundir.RunDir.at(tmp_path)
    run_dir.pid_file.write_text(f"{os.getpid()}\n")

    assert cli.run(["down", "--data-dir", str(tmp_path)]) == 0

    assert "nothing running" in capsys.readouterr().out
    assert not run_dir.pid_file.exists()


def test_up_refuses_when_a_supervisor_holds_the_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = rundir.RunDir.at(tmp_path)
    lock = rundir.Lock.try_acquire(run_dir)
    assert lock is not None
    run_dir.pid_file.write_text("4242\n")
    try:
        code = cli.run(["up", "--data-dir", str(tmp_path), "--port", "16443"])
    finally:
        lock.release()
    assert code == 1
    assert f"kapi: already running (pid 4242) in {tmp_path}" in capsys.readouterr().out


def test_a_stale_pid_file_does_not_block_up_checks(tmp_path: Path) -> None:
    run_dir = rundir.RunDir.at(tmp_path)
    run_dir.pid_file.write_text(f"{os.getpid()}\n")
    assert rundir.running_pid(run_dir) is None


def test_up_refuses_a_port_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        code = cli.run(["up", "--data-dir", str(tmp_path), "--port", str(port)])
    assert code == 1
    assert f"kapi: port {port} on 127.0.0.1 is already in use" in capsys.readouterr().out
    assert not (tmp_path / "pki").exists()  # refused before doing anything


@pytest.mark.parametrize(
    ("command", "port", "said"),
    [
        ("up", "0", "0 is not a port number (1-65535)"),
        ("up", "99999", "99999 is not a port number (1-65535)"),
        ("init", "70000", "70000 is not a port number (1-65535)"),
        ("up", "https", "'https' is not a port number"),
    ],
)
def test_impossible_ports_are_the_commands_usage_error(
    tmp_path: Path, command: str, port: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.run([command, "--data-dir", str(tmp_path), "--port", port])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: kapi {command} ")  # the command's usage, not kapi's
    assert err.endswith(f"kapi {command}: error: argument --port: {said}\n")


def test_a_bad_port_in_the_environment_is_a_usage_error_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAPI_PORT", "99999")
    parser = cli.build_parser()  # building it does not fail: the value is parsed later
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["up"])
    assert info.value.code == 2
    assert "kapi up: error: argument --port: 99999 is not a port number" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--ready-timeout", "--timeout"])
def test_timeouts_must_be_positive(
    tmp_path: Path, flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    command = "up" if flag == "--ready-timeout" else "down"
    with pytest.raises(SystemExit) as info:
        cli.run([command, "--data-dir", str(tmp_path), flag, "0"])
    assert info.value.code == 2
    assert f"kapi {command}: error: argument {flag}: 0 is not a positive" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["up", "down", "init"])
def test_a_data_dir_that_is_a_file(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "file"
    file.write_text("not a directory\n")
    assert cli.run([command, "--data-dir", str(file)]) == 2
    assert capsys.readouterr().out == f"kapi: --data-dir {file}: not a directory\n"
    assert file.read_text() == "not a directory\n"


@pytest.mark.parametrize("command", ["up", "init"])
def test_a_data_dir_that_cannot_be_created(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "file"
    file.write_text("")
    data_dir = file / "kapi"
    assert cli.run([command, "--data-dir", str(data_dir)]) == 2
    assert capsys.readouterr().out == (
        f"kapi: --data-dir {data_dir}: cannot be created: {file} is not a directory\n"
    )


def test_down_of_a_data_dir_under_a_file_finds_nothing_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    assert cli.run(["down", "--data-dir", str(tmp_path / "file" / "kapi")]) == 0
    assert "kapi: nothing running in" in capsys.readouterr().out


def test_a_file_system_error_is_one_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A directory we may not create in (or, as root, one the kernel refuses): either
    refused up front (exit 2) or when it is created (exit 1), in one line."""
    data_dir = Path("/proc/kapi-test-data")
    code = cli.run(["init", "--data-dir", str(data_dir)])
    out = capsys.readouterr().out
    assert code in (1, 2), out
    assert out.startswith(
        ("kapi: --data-dir /proc/kapi-test-data: ", "kapi: /proc/kapi-test-data: ")
    )
    assert out.count("\n") == 1, out


@pytest.mark.parametrize(
    ("argv0", "on_path", "expected"),
    [
        (".venv/bin/kapi", False, ".venv/bin/kapi"),  # make up
        ("/opt/kapi env/bin/kapi", False, "'/opt/kapi env/bin/kapi'"),
        ("SELF", True, "kapi"),  # this very kapi is the one on PATH
        ("/work/kapi/cli.py", False, f"{sys.executable} -m kapi.cli"),  # python -m kapi.cli
    ],
)
def test_the_commands_kapi_suggests_exist(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv0: str,
    on_path: bool,
    expected: str,
) -> None:
    script = tmp_path / "bin" / "kapi"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(script.parent) if on_path else str(tmp_path / "empty"))
    monkeypatch.setattr(sys, "argv", [str(script) if argv0 == "SELF" else argv0, "up"])
    assert cli.invocation() == expected


def test_the_down_command_names_the_data_dir_unless_it_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [".venv/bin/kapi", "up", "--detach"])
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert cli.down_command(rundir.RunDir.at(".kapi")) == ".venv/bin/kapi down"
    other = rundir.RunDir.at("other dir")
    assert cli.down_command(other) == f".venv/bin/kapi down --data-dir '{tmp_path}/other dir'"


def test_up_rejects_bad_etcd_endpoints(tmp_path: Path) -> None:
    assert cli.run(["up", "--data-dir", str(tmp_path), "--etcd-endpoints", "etcd:2379"]) == 2


@pytest.mark.parametrize(
    "flags",
    [
        ["--etcd-cafile", "ca.crt"],  # without --etcd-endpoints
        ["--etcd-endpoints", "http://127.0.0.1:2379", "--etcd-cafile", "ca.crt"],  # not https
        ["--etcd-endpoints", "https://127.0.0.1:2379", "--etcd-certfile", "c.crt"],  # no key
    ],
)
def test_up_rejects_etcd_tls_files_it_cannot_use(
    tmp_path: Path, flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.run(["up", "--data-dir", str(tmp_path), *flags]) == 2
    assert "--etcd-" in capsys.readouterr().out
    assert not (tmp_path / "pki").exists()  # refused before doing anything


def test_up_refuses_a_policy_file_that_is_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "policy.yaml"
    assert cli.run(["up", "--data-dir", str(tmp_path), "--audit-policy-file", str(missing)]) == 2
    assert f"--audit-policy-file: no such file: {missing}" in capsys.readouterr().out
    assert not (tmp_path / "pki").exists()


def test_up_refuses_an_admission_configuration_that_is_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "admission.yaml"
    argv = ["up", "--data-dir", str(tmp_path), "--admission-control-config-file", str(missing)]
    assert cli.run(argv) == 2
    assert f"--admission-control-config-file: no such file: {missing}" in capsys.readouterr().out
    assert not (tmp_path / "pki").exists()


def test_the_audit_flags_go_to_the_gateway_with_a_default_log(tmp_path: Path) -> None:
    run_dir = rundir.RunDir.at(tmp_path)
    policy = ("--audit-policy-file", "/etc/policy.yaml")
    opts = controlplane.Options(
        run_dir=run_dir, port=6443, audit=(policy, ("--audit-log-maxsize", "5"))
    )
    assert controlplane.audit_flags(opts) == {
        "--audit-policy-file": "/etc/policy.yaml",
        "--audit-log-maxsize": "5",
        "--audit-log-path": str(tmp_path.absolute() / "logs" / "audit.log"),
    }
    given = (policy, ("--audit-log-path", "-"))
    assert controlplane.audit_flags(controlplane.Options(run_dir, 6443, audit=given)) == dict(given)
    assert controlplane.audit_flags(controlplane.Options(run_dir, 6443)) == {}


def test_flags_fall_back_to_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAPI_DATA_DIR", "/somewhere")
    monkeypatch.setenv("KAPI_PORT", "7443")
    args = cli.build_parser().parse_args(["up"])
    assert (args.data_dir, args.port, args.bind_address) == ("/somewhere", 7443, "127.0.0.1")
    assert args.etcd_endpoints is None and not args.detach


def test_init_writes_credentials_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["init", "--data-dir", str(tmp_path), "--port", "7443", "--san", "gateway"]
    assert cli.run(argv) == 0
    files = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert {p.relative_to(tmp_path).as_posix() for p in files} == {
        "kubeconfig",
        "tokens.csv",
        "audit-policy.yaml",  # docker-compose.yml's gateway audits with it
        "pki/ca.crt",
        "pki/ca.key",
        "pki/gateway.crt",
        "pki/gateway.key",
        # The inside: CAs for init alone, a directory per holder (see kapi/pki.py).
        "pki/authority/services-ca.crt",
        "pki/authority/services-ca.key",
        "pki/authority/etcd-ca.crt",
        "pki/authority/etcd-ca.key",
        "pki/etcd/ca.crt",
        "pki/etcd/server.crt",
        "pki/etcd/server.key",
        *(
            f"pki/services/{name}/{file}"
            for name in ("storage", "authz", "registry", "gateway", "metrics")
            for file in ("ca.crt", "tls.crt", "tls.key")
        ),
        "pki/services/storage/etcd-ca.crt",
        "pki/services/storage/etcd-client.crt",
        "pki/services/storage/etcd-client.key",
        # The front proxy: its CA, the gateway's client certificate towards extension
        # API servers, and the CA the registry publishes for them.
        "pki/authority/front-proxy-ca.crt",
        "pki/authority/front-proxy-ca.key",
        "pki/services/gateway/front-proxy-client.crt",
        "pki/services/gateway/front-proxy-client.key",
        "pki/services/registry/front-proxy-ca.crt",
        "pki/services/metrics/front-proxy-ca.crt",
        "pki/services/authz/sa.key",
        "pki/services/authz/sa.pub",
        "pki/admin.crt",
        "pki/admin.key",
        # The gateway's clients: each a client certificate (CN its user), its
        # kubeconfig holding it, and the cluster CA.
        *(
            f"pki/component-{name}.{ext}"
            for name in ("controllers", "scheduler", "nodes")
            for ext in ("crt", "key")
        ),
        *(
            f"components/{name}/{file}"
            for name in ("controllers", "scheduler", "nodes")
            for file in ("kubeconfig", "ca.crt")
        ),
    }
    config = yaml.safe_load((tmp_path / "kubeconfig").read_text())
    assert config["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:7443"
    assert "gateway" in capsys.readouterr().out

    assert cli.run(argv) == 0
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == files


def test_init_with_an_explicit_server(tmp_path: Path) -> None:
    assert cli.run(["init", "--data-dir", str(tmp_path), "--server", "https://kapi.test:1"]) == 0
    config = yaml.safe_load((tmp_path / "kubeconfig").read_text())
    assert config["clusters"][0]["cluster"]["server"] == "https://kapi.test:1"


# A process that behaves like a supervisor as far as `kapi down` can tell.
FAKE_SUPERVISOR = textwrap.dedent("""
    import signal, sys, time
    from kapi import rundir
    run_dir = rundir.RunDir.at(sys.argv[1])
    lock = rundir.Lock.try_acquire(run_dir)
    rundir.write_pid(run_dir)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    while True:
        time.sleep(1)
""")


def test_down_stops_the_supervisor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", FAKE_SUPERVISOR, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"

        assert cli.run(["down", "--data-dir", str(tmp_path)]) == 0

        assert process.wait(30) == 0
        assert f"kapi: stopping pid {process.pid}" in capsys.readouterr().out
        assert not rundir.RunDir.at(tmp_path).pid_file.exists()
    finally:
        process.kill()
        process.wait()


def test_down_stops_children_a_dead_supervisor_left_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [sys.executable, "-c", "import time; time.sleep(600)", "orphan"]
    orphan = subprocess.Popen(argv, process_group=0)
    try:
        run_dir = rundir.RunDir.at(tmp_path)
        rundir.write_state(
            run_dir,
            {
                "children": {
                    "registry": {"pid": orphan.pid, "argv": argv},
                    # Our own pid, recorded with another command: a reused pid, left alone.
                    "authz": {"pid": os.getpid(), "argv": ["python", "-m", "services.authz"]},
                }
            },
        )

        assert cli.run(["down", "--data-dir", str(tmp_path)]) == 0

        assert orphan.wait(30) == -signal.SIGTERM
        assert f"kapi: stopping registry (pid {orphan.pid})" in capsys.readouterr().out
    finally:
        orphan.kill()
        orphan.wait()


def test_module_entry_point_prints_help() -> None:
    out = subprocess.run(
        kapi_argv("--help"), capture_output=True, text=True, check=True, timeout=60
    ).stdout
    for command in ("up", "down", "init"):
        assert command in out
