"""``kapi``: run a whole control plane on this machine, or prepare one for containers.

    kapi up   [--data-dir DIR] [--port PORT] [--bind-address ADDR]
              [--etcd-endpoints URLS [--etcd-cafile F] [--etcd-certfile F --etcd-keyfile F]]
              [--audit-policy-file F [--audit-log-path F] [--audit-log-maxage DAYS]
               [--audit-log-maxbackup N] [--audit-log-maxsize MB] [--audit-log-mode M]]
              [--admission-control-config-file F]
              [--controllers LIST] [--nodes N] [--detach] [--ready-timeout SECONDS]
              [--san NAME ...]
    kapi down [--data-dir DIR] [--timeout SECONDS]
    kapi init [--data-dir DIR] [--port PORT] [--bind-address ADDR] [--server URL]
              [--san NAME ...]

``up`` runs in the foreground until Ctrl-C, or with ``--detach`` as a background
supervisor that ``down`` stops; either stops by itself if its data directory is
deleted. ``init`` only writes credentials (CA, serving
certificate, token file, kubeconfig, and the certificates the services and etcd use
among themselves) and a default audit policy: docker-compose.yml's one-shot ``init``
service runs it into the volumes the other containers mount. Flags fall back to
``KAPI_*`` environment variables, as every kapi service's flags do.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from kapi import audit_policy, config, controlplane, pki, ports, probes, rundir, supervisor
from kapi.etcd_process import split_endpoints
from kapi.supervisor import say

DEFAULT_DATA_DIR = ".kapi"
DEFAULT_PORT = 6443
# A detached supervisor gets this long beyond its own --ready-timeout to report.
DETACH_SLACK = 15.0
# Exit codes: 1 a failure, 2 a usage error (argparse's, too).
FAILED, USAGE = 1, 2


def port_number(text: str | int) -> int:
    """An argparse type: a TCP port a server can listen on."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1-65535)")
    return port


def seconds(text: str | float) -> float:
    """An argparse type: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``kapi`` command line (exposed for tests and documentation)."""
    parser = argparse.ArgumentParser(
        prog="kapi", description="A Kubernetes API server in Python, run locally."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # No abbreviated flags: the detached supervisor is handed the same argv, less --detach.
    _up_flags(
        commands.add_parser(
            "up", help="start etcd and the four services, supervised", allow_abbrev=False
        )
    )
    _down_flags(commands.add_parser("down", help="stop what `kapi up --detach` started"))
    _init_flags(
        commands.add_parser(
            "init", help="only write the CA, serving certificate, token file and kubeconfig"
        )
    )
    return parser


def _up_flags(up: argparse.ArgumentParser) -> None:
    _data_dir(up)
    _listen(up)
    config.add(
        up,
        "--etcd-endpoints",
        help="comma-separated etcd client URLs to use instead of an embedded etcd",
    )
    config.add_etcd_tls(up)
    config.add_audit(up)
    config.add(
        up,
        "--admission-control-config-file",
        default="",
        help="an AdmissionConfiguration for the admission plugins (kube-apiserver's flag; "
        "PodSecurity's defaults and exemptions)",
    )
    up.add_argument(
        "--detach",
        action="store_true",
        help="run in the background; return once the API server is ready",
    )
    up.add_argument(
        "--ready-timeout",
        type=seconds,
        default=60.0,
        help="seconds to wait for readiness before giving up (default 60)",
    )
    _san(up)
    config.add(
        up,
        "--controllers",
        default="*",
        help="controllers to run, as kube-controller-manager's flag: '*' every one on by "
        "default, 'foo' on, '-foo' off (e.g. '*,-job'); '' none",
    )
    config.add(
        up,
        "--nodes",
        default=1,
        type=int,
        help="simulated nodes to run pods on (default 1; 0 for none)",
    )


def _down_flags(down: argparse.ArgumentParser) -> None:
    _data_dir(down)
    down.add_argument(
        "--timeout",
        type=seconds,
        default=60.0,
        help="seconds to wait for a clean stop before SIGKILL (default 60)",
    )


def _init_flags(init: argparse.ArgumentParser) -> None:
    _data_dir(init)
    _listen(init)
    init.add_argument(
        "--server", help="API server URL for the kubeconfig (default https://127.0.0.1:PORT)"
    )
    _san(init)


def _data_dir(parser: argparse.ArgumentParser) -> None:
    config.add(
        parser,
        "--data-dir",
        default=DEFAULT_DATA_DIR,
        help=f"data directory (default {DEFAULT_DATA_DIR})",
    )


def _listen(parser: argparse.ArgumentParser) -> None:
    config.add(
        parser,
        "--port",
        default=DEFAULT_PORT,
        type=port_number,
        help=f"HTTPS port of the API server (default {DEFAULT_PORT})",
    )
    config.add(
        parser,
        "--bind-address",
        default=ports.LOOPBACK,
        help=f"address the API server listens on (default {ports.LOOPBACK})",
    )


def _san(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--san",
        action="append",
        default=[],
        metavar="NAME",
        help="another DNS name or IP for the serving certificate (repeatable)",
    )


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``kapi``)."""
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit code.

    Usage errors exit 2 with the command's own usage (argparse); a data directory that
    cannot be one, or a file-system error on the way, is one line and no traceback.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    run_dir = rundir.RunDir.at(args.data_dir)
    problem = rundir.unusable(run_dir.root, create=args.command != "down")
    if problem is not None:
        say(f"kapi: --data-dir {run_dir.root}: {problem}")
        return USAGE
    try:
        return COMMANDS[args.command](args, argv)
    except OSError as exc:
        if exc.filename is None:
            raise
        say(f"kapi: {exc.filename}: {exc.strerror or exc}")
        return FAILED


def cmd_init(args: argparse.Namespace, argv: list[str]) -> int:
    """Write credentials only (reused if present) and say where they are."""
    run_dir = rundir.RunDir.at(args.data_dir)
    server = args.server or controlplane.server_url(args.bind_address, args.port)
    hosts = pki.default_hosts(args.bind_address, extra=args.san)
    creds = controlplane.prepare_credentials(run_dir, server=server, hosts=hosts)
    say(f"kapi: CA {creds.ca.cert_path}")
    say(f"kapi: serving certificate {creds.serving.cert_path} for {', '.join(hosts)}")
    say(f"kapi: token file {run_dir.token_file}")
    say(f"kapi: kubeconfig {creds.kubeconfig} (server {server})")
    say(f"kapi: the services' and etcd's certificates under {run_dir.pki_dir}")
    say(f"kapi: audit policy {audit_policy.ensure(run_dir.root)} (docker-compose.yml's gateway)")
    return 0


def _absolute(path: str | None) -> str | None:
    """A flag's file, made absolute: the services may run elsewhere."""
    return str(Path(path).expanduser().absolute()) if path else None


def cmd_up(args: argparse.Namespace, argv: list[str]) -> int:
    """Refuse if already running or the port is taken; else run, here or detached."""
    run_dir = rundir.RunDir.at(args.data_dir)
    if args.nodes < 0:
        say("kapi: --nodes must be 0 or more")
        return 2
    try:
        endpoints = tuple(split_endpoints(args.etcd_endpoints or ""))
    except ValueError as exc:
        say(f"kapi: --etcd-endpoints: {exc}")
        return USAGE
    try:
        etcd_tls = pki.TLSFiles.from_flags(
            _absolute(args.etcd_cafile), _absolute(args.etcd_certfile), _absolute(args.etcd_keyfile)
        )
    except ValueError:
        say("kapi: --etcd-certfile and --etcd-keyfile go together")
        return USAGE
    if etcd_tls is not None and not (
        endpoints and all(e.startswith("https://") for e in endpoints)
    ):
        say("kapi: --etcd-cafile/--etcd-certfile/--etcd-keyfile need https:// --etcd-endpoints")
        return USAGE
    audit = _audit_flags(args)
    policy = dict(audit).get("--audit-policy-file")
    if policy and not Path(policy).is_file():
        say(f"kapi: --audit-policy-file: no such file: {policy}")
        return USAGE
    admission_config = _absolute(args.admission_control_config_file) or ""
    if admission_config and not Path(admission_config).is_file():
        say(f"kapi: --admission-control-config-file: no such file: {admission_config}")
        return USAGE
    pid = rundir.running_pid(run_dir)
    if pid is not None:
        shown = pid if pid != rundir.UNKNOWN_PID else "unknown"
        say(f"kapi: already running (pid {shown}) in {run_dir.root}")
        return FAILED
    error = ports.bind_error(args.bind_address, args.port)
    if error is not None:
        say("kapi: " + ports.describe_bind_error(args.bind_address, args.port, error))
        return FAILED
    opts = controlplane.Options(
        run_dir=run_dir,
        port=args.port,
        bind_address=args.bind_address,
        etcd_endpoints=endpoints,
        etcd_tls=etcd_tls,
        ready_timeout=args.ready_timeout,
        extra_sans=tuple(args.san),
        controllers=args.controllers,
        nodes=args.nodes,
        audit=audit,
        admission_control_config_file=admission_config,
    )
    if args.detach:
        return detach(opts, [a for a in argv if a != "--detach"])
    return controlplane.run(opts)


def _audit_flags(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    """The audit flags given, their files made absolute."""
    given = []
    for flag in config.AUDIT_FLAGS:
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value:
            absolute = flag in config.AUDIT_FILE_FLAGS and value != "-"
            given.append((flag, (_absolute(value) or "") if absolute else value))
    return tuple(given)


def invocation() -> str:
    """How to run this program again, for the commands kapi suggests.

    ``kapi`` when that is this program on PATH; else the path it was run by (from
    ``make up``: ``.venv/bin/kapi``); ``python -m kapi.cli`` with this interpreter when
    run as a module.
    """
    argv0 = sys.argv[0] if sys.argv else ""
    if Path(argv0).name == "kapi":
        found = shutil.which("kapi")
        if found and Path(found).resolve() == Path(argv0).resolve():
            return "kapi"
        return shlex.quote(argv0)
    return f"{shlex.quote(sys.executable)} -m kapi.cli"


def down_command(run_dir: rundir.RunDir) -> str:
    """The command that stops the control plane in ``run_dir``, as the user would type it."""
    command = f"{invocation()} down"
    if run_dir.root != rundir.RunDir.at(DEFAULT_DATA_DIR).root:
        command += f" --data-dir {shlex.quote(str(run_dir.root))}"
    return command


def detach(opts: controlplane.Options, up_argv: list[str]) -> int:
    """Run ``kapi up`` with ``up_argv`` (``--detach`` removed) in a new session; return
    once it is ready.

    The background supervisor gets the same flags, environment and working directory,
    so it sees what this process saw (a flag added to ``kapi up`` needs nothing here).
    It writes to ``DIR/logs/kapi.log``; its lines are echoed here while we wait, so the
    user sees the same progress as in the foreground. It counts as ready when
    ``state.json`` says so for its pid and ``/readyz`` answers 200 to us too, verified
    with the CA.
    """
    run_dir = opts.run_dir
    log_path = run_dir.log("kapi")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "kapi.cli", *up_argv]
    with open(log_path, "ab") as log:
        offset = log.tell()
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=controlplane.child_env(),
        )
    echo = _LogEcho(log_path, offset)
    deadline = time.monotonic() + opts.ready_timeout + DETACH_SLACK
    url = controlplane.server_url(opts.bind_address, opts.port) + "/readyz"
    while True:
        echo.poll()
        code = process.poll()
        if code is not None:
            echo.poll()
            say(f"kapi: the background supervisor exited with code {code}; see {log_path}")
            return FAILED
        state = rundir.read_state(run_dir) or {}
        if (
            state.get("pid") == process.pid
            and state.get("phase") == "ready"
            and probes.http_ok(url, ca_file=pki.paths(run_dir.pki_dir, pki.CA_NAME).cert_path)
        ):
            echo.poll()
            say(
                f"kapi: running in the background (pid {process.pid}); "
                f"stop it with: {down_command(run_dir)}"
            )
            return 0
        if time.monotonic() >= deadline:
            say(f"kapi: not ready after {opts.ready_timeout + DETACH_SLACK:g}s; stopping it")
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
            say(f"kapi: the end of {log_path}:")
            say(supervisor.tail(log_path))
            return FAILED
        time.sleep(0.2)


class _LogEcho:
    """Prints the complete lines appended to a file since ``offset``."""

    def __init__(self, path: Path, offset: int) -> None:
        self.path = path
        self.offset = offset

    def poll(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return
        end = data.rfind(b"\n") + 1
        if end:
            sys.stdout.write(data[:end].decode(errors="replace"))
            sys.stdout.flush()
            self.offset += end


def cmd_down(args: argparse.Namespace, argv: list[str]) -> int:
    """SIGTERM the supervisor, wait for it to let go of the lock, tidy up."""
    run_dir = rundir.RunDir.at(args.data_dir)
    if not run_dir.root.is_dir():
        say(f"kapi: nothing running in {run_dir.root}")
        return 0
    pid = rundir.running_pid(run_dir)
    if pid is None or pid == rundir.UNKNOWN_PID:
        orphans = _stop_orphans(run_dir)
        if pid is None:
            rundir.remove_pid(run_dir)
            if not orphans:
                say(f"kapi: nothing running in {run_dir.root}")
            return 0
        say(f"kapi: {run_dir.lock_file} is held but {run_dir.pid_file} names no process")
        return FAILED
    say(f"kapi: stopping pid {pid} in {run_dir.root}")
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGTERM)
    if not _wait_unlocked(run_dir, timeout=args.timeout):
        say(f"kapi: pid {pid} did not stop in {args.timeout:g}s; killing it")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
        _wait_unlocked(run_dir, timeout=10.0)
        _stop_orphans(run_dir)
    # The lock goes a moment before the process: "stopped" means the process is gone.
    _wait_exited(pid, timeout=10.0)
    rundir.remove_pid(run_dir)
    say("kapi: stopped")
    return 0


def _wait_exited(pid: int, *, timeout: float) -> bool:
    """Whether ``pid`` ended (or is only a zombie) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _wait_unlocked(run_dir: rundir.RunDir, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while rundir.is_locked(run_dir):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _stop_orphans(run_dir: rundir.RunDir, *, grace: float = 10.0) -> list[str]:
    """Stop children a dead supervisor left running (state.json lists them).

    A pid is only signalled if ``/proc/PID/cmdline`` is still the recorded command,
    so a reused pid is left alone. Returns the names of those stopped.
    """
    state = rundir.read_state(run_dir) or {}
    children = state.get("children")
    found: list[tuple[str, int]] = []
    if isinstance(children, dict):
        for name, info in children.items():
            if not isinstance(info, dict):
                continue
            pid, argv = info.get("pid"), info.get("argv")
            if isinstance(pid, int) and isinstance(argv, list) and _cmdline(pid) == argv:
                found.append((name, pid))
    for name, pid in found:
        say(f"kapi: stopping {name} (pid {pid}) left behind by a dead supervisor")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for _name, pid in found:
        while _cmdline(pid) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        if _cmdline(pid) is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
    return [name for name, _ in found]


def _cmdline(pid: int) -> list[str] | None:
    """The argv of a live (non-zombie) process, or ``None``."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if not raw:  # a zombie has an empty cmdline
        return None
    return raw.rstrip(b"\0").decode(errors="replace").split("\0")


COMMANDS: dict[str, Callable[[argparse.Namespace, list[str]], int]] = {
    "up": cmd_up,
    "down": cmd_down,
    "init": cmd_init,
}


if __name__ == "__main__":
    main()
