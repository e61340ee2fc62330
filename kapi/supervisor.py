"""Child processes kept alive: start in order, wait until ready, restart on exit, stop.

``kapi up`` is a tiny init system for one control plane: etcd, then storage, authz,
registry and the gateway, each a child process with its log in a file. A child that
dies is restarted with the same command line (so on the same port: peers find it
again where they left it) after a backoff that grows while it keeps dying and resets
once it stays up. Stopping goes in reverse start order (the gateway first, etcd last)
with SIGTERM, then SIGKILL for a child that outstays its grace period.

Each child runs in its own process group, so a Ctrl-C in the terminal reaches only
the supervisor, which then stops the children in order rather than racing them. On
Linux a child is also told to receive SIGTERM if the supervisor dies without cleaning
up (``PR_SET_PDEATHSIG``), so a killed supervisor leaves no orphans behind.

Everything is polled from one thread: no SIGCHLD handler, no threads to reason about.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Report = Callable[[str], None]
ShouldStop = Callable[[], bool]


def say(message: str) -> None:
    """Print a progress line now, even when stdout is a log file."""
    print(message, flush=True)


@dataclass(frozen=True)
class ChildSpec:
    """What to run and how to know it is ready.

    ``ready`` is polled after each start until it returns true; ``None`` means ready
    once spawned. ``address`` is only for messages and the state file.
    """

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    address: str = ""
    ready: Callable[[], bool] | None = None


@dataclass(frozen=True)
class RestartPolicy:
    """Exponential backoff between restarts of a child that keeps dying."""

    initial_delay: float = 0.5
    max_delay: float = 10.0
    factor: float = 2.0
    # A child that ran at least this long before it died is restarted after
    # initial_delay again, as if it had never failed.
    reset_after: float = 30.0

    def delay(self, failures: int) -> float:
        """Seconds to wait before restart number ``failures`` in a row (1-based)."""
        return float(min(self.max_delay, self.initial_delay * self.factor ** max(0, failures - 1)))


class StartupError(RuntimeError):
    """A child exited or stayed unready while it was being started."""

    def __init__(self, name: str, message: str, *, log_path: Path) -> None:
        super().__init__(f"{name} {message}")
        self.name = name
        self.log_path = log_path


class Interrupted(RuntimeError):
    """A stop was requested while a child was being started."""


@dataclass
class Child:
    """A child process and its restart bookkeeping."""

    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    failures: int = 0
    started_at: float = 0.0
    restart_at: float | None = None
    exit_codes: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    """Starts, watches and stops children; see the module docstring for the policy."""

    def __init__(
        self,
        *,
        policy: RestartPolicy | None = None,
        grace: float = 10.0,
        report: Report = say,
        on_change: Callable[[], None] | None = None,
        die_with_parent: bool = True,
    ) -> None:
        self.policy = policy or RestartPolicy()
        self.grace = grace
        self.report = report
        self.on_change = on_change
        # PR_SET_PDEATHSIG fires when the *thread* that forked the child exits; callers
        # that drive a Supervisor from a short-lived thread should turn it off.
        self.die_with_parent = die_with_parent and sys.platform.startswith("linux")
        self.children: list[Child] = []

    def child(self, name: str) -> Child:
        """The child called ``name``."""
        for child in self.children:
            if child.spec.name == name:
                return child
        raise KeyError(name)

    def start(
        self,
        spec: ChildSpec,
        *,
        timeout: float,
        should_stop: ShouldStop = lambda: False,
        interval: float = 0.1,
    ) -> Child:
        """Spawn ``spec`` and return once it is ready.

        Raises ``StartupError`` if it exits or is not ready within ``timeout`` seconds
        (the child is then left for ``stop`` to clean up), and ``Interrupted`` when
        ``should_stop`` turns true meanwhile.
        """
        if any(c.spec.name == spec.name for c in self.children):
            raise ValueError(f"a child called {spec.name!r} already exists")
        child = Child(spec=spec)
        self.children.append(child)
        self._spawn(child)
        deadline = time.monotonic() + timeout
        while True:
            if should_stop():
                raise Interrupted(spec.name)
            assert child.process is not None
            code = child.process.poll()
            if code is not None:
                raise StartupError(
                    spec.name,
                    f"exited with code {code} before it was ready",
                    log_path=spec.log_path,
                )
            if spec.ready is None or spec.ready():
                return child
            if time.monotonic() >= deadline:
                raise StartupError(
                    spec.name, f"was not ready after {timeout:g}s", log_path=spec.log_path
                )
            time.sleep(interval)

    def supervise(self, should_stop: ShouldStop, *, interval: float = 0.2) -> None:
        """Watch and restart children until ``should_stop()``; does not stop them."""
        while not should_stop():
            self.poll()
            time.sleep(interval)

    def poll(self) -> None:
        """One pass: notice children that exited, restart those whose backoff is over."""
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restarts += 1
                    self._spawn(child)
                    self.report(f"kapi: {child.spec.name} restarted (pid {child.pid})")
                continue
            if child.process is None:
                continue
            code = child.process.poll()
            if code is None:
                continue
            child.exit_codes.append(code)
            if now - child.started_at >= self.policy.reset_after:
                child.failures = 0
            child.failures += 1
            child.restart_at = now + self.policy.delay(child.failures)
            self.report(f"kapi: {child.spec.name} exited with code {code}; restarting")
            self._changed()

    def stop(self) -> None:
        """Stop every child, last started first: SIGTERM, then SIGKILL after ``grace``."""
        for child in reversed(self.children):
            child.restart_at = None
            if child.process is not None:
                self._terminate(child)
        self._changed()

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Per child: pid, address, restarts and log path (for ``state.json``)."""
        return {
            c.spec.name: {
                "pid": c.pid if c.running else None,
                "address": c.spec.address,
                "restarts": c.restarts,
                "log": str(c.spec.log_path),
            }
            for c in self.children
        }

    def _spawn(self, child: Child) -> None:
        spec = child.spec
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(spec.log_path, "ab") as log:
            stamp = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
            header = f"--- kapi: starting {spec.name} at {stamp}: {' '.join(spec.argv)}\n"
            log.write(header.encode())
            log.flush()
            child.process = subprocess.Popen(
                list(spec.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(spec.env) if spec.env is not None else None,
                process_group=0,
                preexec_fn=(
                    functools.partial(_die_with_parent, os.getpid())
                    if self.die_with_parent
                    else None
                ),
            )
        child.started_at = time.monotonic()
        child.restart_at = None
        self._changed()

    def _terminate(self, child: Child) -> None:
        process = child.process
        assert process is not None
        if process.poll() is not None:
            return
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(self.grace)
        except subprocess.TimeoutExpired:
            self.report(f"kapi: {child.spec.name} did not stop in {self.grace:g}s; killing it")
            _signal_group(process, signal.SIGKILL)
            process.wait()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Signal the child's process group (it leads one), so helpers it forked go too."""
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)


_PR_SET_PDEATHSIG = 1
_libc: Any = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError):
        _libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent(supervisor_pid: int) -> None:
    """In the forked child, before exec: get SIGTERM when the supervisor dies."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != supervisor_pid:  # it died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)


def tail(path: Path, *, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file, or a note that there is none."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])
