"""The audit log file, rotated as kube-apiserver's (gopkg.in/natefinch/lumberjack.v2,
which ``--audit-log-path`` writes through, with ``--audit-log-maxsize``,
``--audit-log-maxbackup``, ``--audit-log-maxage`` and ``--audit-log-compress``).

- The file is opened on the first write: appended to, unless that write would take it
  to ``max_size`` MB or more, in which case it is rotated first. A write that would take
  the open file past ``max_size`` MB rotates it first; one longer than ``max_size`` MB
  on its own is refused (``write length N exceeds maximum file size M``). ``max_size``
  0 means lumberjack's 100 MB.
- Rotating renames the file to ``NAME-<UTC time, 2006-01-02T15-04-05.000>.EXT`` beside
  it and starts a new one with the old one's mode (0600 for the first).
- After a rotation (and on the first open) old files are removed in the background: all
  but the ``max_backups`` newest by the time in their names (0: keep them all), and any
  older than ``max_age`` days (0: no limit); with ``compress``, the rest are gzipped.

Used from one thread (the log backend's); the cleanup runs on a thread of its own, at
most one run queued behind the one running, as lumberjack's goroutine.
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

MEGABYTE = 1024 * 1024
DEFAULT_MAX_SIZE_MB = 100  # lumberjack's default
BACKUP_TIME_FORMAT = "%Y-%m-%dT%H-%M-%S"  # and milliseconds: 2006-01-02T15-04-05.000
COMPRESS_SUFFIX = ".gz"
NEW_FILE_MODE = 0o600
DIR_MODE = 0o755


class LineWriter:
    """Where a batch of event lines goes: ``write`` returns, per line, None or the
    error that lost it."""

    def write(self, lines: Sequence[bytes]) -> list[Exception | None]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class StandardOutput(LineWriter):
    """``--audit-log-path -``: standard output, unrotated."""

    def write(self, lines: Sequence[bytes]) -> list[Exception | None]:
        try:
            _write_all(1, b"".join(lines))
        except OSError as exc:
            return [exc] * len(lines)
        return [None] * len(lines)


class RotatingFile(LineWriter):
    def __init__(
        self,
        path: str | Path,
        *,
        max_size_mb: int = 0,
        max_backups: int = 0,
        max_age_days: int = 0,
        compress: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = (max_size_mb or DEFAULT_MAX_SIZE_MB) * MEGABYTE
        self.max_backups = max_backups
        self.max_age_days = max_age_days
        self.compress = compress
        self.clock = clock
        self._fd: int | None = None
        self._size = 0
        self._mill_lock = threading.Lock()
        self._mill_queued = False
        self._mill_running = False

    # --- writing --------------------------------------------------------------------

    def write(self, lines: Sequence[bytes]) -> list[Exception | None]:
        """Each line as one lumberjack Write (the same rotations), joined into as few
        system calls as the rotations allow."""
        results: list[Exception | None] = []
        pending: list[bytes] = []
        pending_bytes = 0
        pending_at = 0  # index in results of pending's first line

        def flush() -> None:
            nonlocal pending, pending_bytes
            if not pending:
                return
            try:
                assert self._fd is not None
                _write_all(self._fd, b"".join(pending))
            except OSError as exc:
                for index in range(pending_at, pending_at + len(pending)):
                    results[index] = exc
                self._size = self._file_size()
            pending, pending_bytes = [], 0

        for line in lines:
            size = len(line)
            if size > self.max_bytes:
                results.append(
                    ValueError(f"write length {size} exceeds maximum file size {self.max_bytes}")
                )
                continue
            try:
                if self._fd is None:
                    flush()
                    self._open_existing_or_new(size)
                elif self._size + size > self.max_bytes:
                    flush()
                    self._rotate()
            except OSError as exc:
                results.append(exc)
                continue
            if not pending:
                pending_at = len(results)
            pending.append(line)
            pending_bytes += size
            self._size += size
            results.append(None)
        flush()
        return results

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def rotate(self) -> None:
        """Start a new file now (lumberjack's Rotate)."""
        self.close()
        self._rotate()

    # --- lumberjack's steps -----------------------------------------------------------

    def _open_existing_or_new(self, write_len: int) -> None:
        self._mill()
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            self._open_new()
            return
        if size + write_len >= self.max_bytes:
            self._rotate()
            return
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        except OSError:
            self._open_new()  # as lumberjack: a file it cannot reopen is replaced
            return
        self._size = size

    def _rotate(self) -> None:
        self.close()
        self._open_new()
        self._mill()

    def _open_new(self) -> None:
        self.path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        mode = NEW_FILE_MODE
        try:
            info = self.path.stat()
        except FileNotFoundError:
            pass
        else:
            mode = info.st_mode & 0o7777
            os.rename(self.path, self.backup_name())
        self._fd = os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC, mode)
        self._size = 0

    def backup_name(self) -> Path:
        now = datetime.datetime.fromtimestamp(self.clock(), tz=datetime.UTC)
        stamp = now.strftime(BACKUP_TIME_FORMAT) + f".{now.microsecond // 1000:03d}"
        prefix, ext = self._prefix_and_ext()
        return self.path.with_name(f"{prefix}{stamp}{ext}")

    def _prefix_and_ext(self) -> tuple[str, str]:
        name = self.path.name
        ext = os.path.splitext(name)[1]
        return name[: len(name) - len(ext)] + "-", ext

    def _file_size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return self._size

    # --- the cleanup (lumberjack's mill) ----------------------------------------------

    def _mill(self) -> None:
        if not (self.max_backups or self.max_age_days or self.compress):
            return
        with self._mill_lock:
            if self._mill_running:
                self._mill_queued = True
                return
            self._mill_running = True
        threading.Thread(target=self._mill_loop, name="kapi-audit-mill", daemon=True).start()

    def _mill_loop(self) -> None:
        while True:
            try:
                self.mill_once()
            except OSError as exc:
                log.warning("cleaning up old audit logs: %s", exc)
            with self._mill_lock:
                if not self._mill_queued:
                    self._mill_running = False
                    return
                self._mill_queued = False

    def backups(self) -> list[tuple[float, Path]]:
        """The rotated files beside the log, newest first, with the time in their name."""
        prefix, ext = self._prefix_and_ext()
        found = []
        for entry in self.path.parent.iterdir():
            name = entry.name
            for suffix in (ext, ext + COMPRESS_SUFFIX):
                if not (name.startswith(prefix) and name.endswith(suffix)) or entry.is_dir():
                    continue
                stamp = name[len(prefix) : len(name) - len(suffix)]
                try:
                    when = datetime.datetime.strptime(stamp, BACKUP_TIME_FORMAT + ".%f")
                except ValueError:
                    continue
                if len(stamp) != len("2006-01-02T15-04-05.000"):
                    continue
                found.append((when.replace(tzinfo=datetime.UTC).timestamp(), entry))
                break
        found.sort(key=lambda item: item[0], reverse=True)
        return found

    def mill_once(self) -> None:
        """millRunOnce: remove the backups beyond the count and age limits, compress
        the rest when asked."""
        files = self.backups()
        remove: list[Path] = []
        if self.max_backups and self.max_backups < len(files):
            kept: set[str] = set()
            remaining = []
            for when, path in files:
                kept.add(path.name.removesuffix(COMPRESS_SUFFIX))
                if len(kept) > self.max_backups:
                    remove.append(path)
                else:
                    remaining.append((when, path))
            files = remaining
        if self.max_age_days:
            cutoff = self.clock() - self.max_age_days * 86400
            remove += [path for when, path in files if when < cutoff]
            files = [(when, path) for when, path in files if when >= cutoff]
        for path in remove:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if self.compress:
            for _, path in files:
                if not path.name.endswith(COMPRESS_SUFFIX):
                    _compress(path)


def _compress(path: Path) -> None:
    target = path.with_name(path.name + COMPRESS_SUFFIX)
    mode = path.stat().st_mode & 0o7777
    try:
        with path.open("rb") as source, gzip.open(target, "wb") as sink:
            shutil.copyfileobj(source, sink)
        os.chmod(target, mode)
    except OSError:
        with contextlib.suppress(OSError):
            target.unlink()
        raise
    path.unlink()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
