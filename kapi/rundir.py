"""The data directory of one control plane, and who owns it.

``DIR`` holds everything one ``kapi up`` needs and leaves behind::

    DIR/pki/          CAs and certificates, the inside's too (kapi/pki.py; keys 0600)
    DIR/tokens.csv    static token file (authz --token-file)
    DIR/kubeconfig    admin kubeconfig
    DIR/etcd/         embedded etcd's data
    DIR/logs/         one log per child, kapi.log for a detached supervisor
    DIR/kapi.lock     held (flock) by the running supervisor for its whole life
    DIR/kapi.pid      the supervisor's pid
    DIR/state.json    phase, ports, pids, for people and for ``kapi down``

Whether a supervisor runs is decided by the lock, not by the pid file: a pid can be
reused after a crash or reboot, a lock dies with its process. So ``kapi down`` never
signals a stranger, and a stale pid file never blocks ``kapi up``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kapi import pki

UNKNOWN_PID = -1


@dataclass(frozen=True)
class RunDir:
    """Paths inside one data directory (always absolute)."""

    root: Path

    @classmethod
    def at(cls, path: str | Path) -> RunDir:
        return cls(Path(path).expanduser().absolute())

    @property
    def pki_dir(self) -> Path:
        return self.root / "pki"

    @property
    def etcd_dir(self) -> Path:
        return self.root / "etcd"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def token_file(self) -> Path:
        return self.root / "tokens.csv"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def lock_file(self) -> Path:
        return self.root / "kapi.lock"

    @property
    def pid_file(self) -> Path:
        return self.root / "kapi.pid"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    def log(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"


class Lock:
    """An exclusive ``flock`` on ``DIR/kapi.lock``, released by ``release`` or exit.

    The file is never deleted: deleting a lock file lets two processes lock two
    different files of the same name.
    """

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def try_acquire(cls, run_dir: RunDir) -> Lock | None:
        """The lock, or ``None`` if another process holds it."""
        run_dir.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(run_dir.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return cls(fd)

    def still_held(self, run_dir: RunDir) -> bool:
        """Whether ``DIR/kapi.lock`` is still the file this lock holds.

        Not so once the directory was deleted, moved away or replaced by another: then
        no ``kapi down`` can find the supervisor through it, and a new ``kapi up`` there
        would take a lock of its own.
        """
        if self._fd is None:
            return False
        try:
            now = os.stat(run_dir.lock_file)
        except OSError:
            return False
        held = os.fstat(self._fd)
        return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def unusable(path: Path, *, create: bool) -> str | None:
    """Why ``path`` cannot be a data directory, or ``None`` if it can.

    ``create``: it may not exist yet, and must then be creatable (its nearest existing
    ancestor a directory we may write in). Without, a missing one is fine: there is
    nothing in it.
    """
    if path.exists():
        if not path.is_dir():
            return "not a directory"
        if create and not os.access(path, os.W_OK | os.X_OK):
            return "not writable"
        return None
    if not create:
        return None
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot be created: {parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot be created: {parent} is not writable"
    return None


def is_locked(run_dir: RunDir) -> bool:
    """Whether a supervisor holds ``DIR/kapi.lock`` right now."""
    if not run_dir.lock_file.exists():
        return False
    lock = Lock.try_acquire(run_dir)
    if lock is None:
        return True
    lock.release()
    return False


def read_pid(run_dir: RunDir) -> int | None:
    """The pid in ``DIR/kapi.pid``, if the file holds one."""
    try:
        return int(run_dir.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def running_pid(run_dir: RunDir, *, wait: float = 2.0) -> int | None:
    """The pid of the live supervisor of ``run_dir``, or ``None`` if none runs.

    A supervisor takes the lock just before it writes its pid, so a reader that finds
    the lock held but no pid yet waits up to ``wait`` seconds for it, then answers
    ``UNKNOWN_PID``: running, but not known as whom.
    """
    deadline = time.monotonic() + wait
    while is_locked(run_dir):
        pid = read_pid(run_dir)
        if pid is not None:
            return pid
        if time.monotonic() >= deadline:
            return UNKNOWN_PID
        time.sleep(0.05)
    return None


def write_pid(run_dir: RunDir) -> None:
    pki.write_atomic(run_dir.pid_file, f"{os.getpid()}\n".encode(), mode=0o644)


def remove_pid(run_dir: RunDir) -> None:
    with contextlib.suppress(FileNotFoundError):
        run_dir.pid_file.unlink()


def write_state(run_dir: RunDir, state: dict[str, Any]) -> None:
    """Replace ``DIR/state.json`` atomically (readers never see half a file)."""
    text = json.dumps(state, indent=2, sort_keys=True) + "\n"
    pki.write_atomic(run_dir.state_file, text.encode(), mode=0o644)


def read_state(run_dir: RunDir) -> dict[str, Any] | None:
    """``DIR/state.json``, or ``None`` if absent or unreadable."""
    try:
        state = json.loads(run_dir.state_file.read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None
