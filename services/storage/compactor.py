"""Periodic compaction, as kube-apiserver's ``etcd3/compact.go`` does it.

Every interval (default 5 minutes, ``--compaction-interval``) the history older than
the revision seen one interval earlier is compacted away, so etcd does not grow without
bound while clients keep at least one interval of history for watches and paginated
lists. Several storage replicas on one etcd coordinate through a compare-and-swap on
``compact_rev_key`` (the key kube-apiserver uses): within an interval only the replica
that wins the swap compacts; the others learn the revision it wrote and try next time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.storage import storage_errors
from services.storage.backend import Backend

log = logging.getLogger(__name__)

COMPACT_REV_KEY = "compact_rev_key"
DEFAULT_INTERVAL = 300.0


class Compactor:
    """Compacts ``backend`` every ``interval`` seconds from ``start()`` to ``close()``."""

    def __init__(self, backend: Backend, interval: float = DEFAULT_INTERVAL) -> None:
        self._backend = backend
        self._interval = interval
        self._seen = 0  # compact_rev_key's mod revision when we last read or wrote it
        self._pending = 0  # the revision to compact to at the next successful swap
        self._task: asyncio.Task[None] | None = None
        self.compacted = 0  # the last revision this compactor compacted to

    def start(self) -> None:
        if self._task is None and self._interval > 0:
            self._task = asyncio.create_task(self._run(), name="compactor")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.compact_once()
            except storage_errors.StorageError as exc:
                log.warning("compaction failed: %s", exc)

    async def compact_once(self) -> int:
        """One interval's step; the revision compacted to (0 if none this time).

        Wins the swap on ``compact_rev_key`` (its mod revision unchanged since we last
        saw it) → compacts to the revision remembered from the previous step, and
        remembers the swap's own revision for the next. Loses it → another replica
        compacted in this interval: remember where it stands, and try next time.
        """
        value = str(self._pending).encode()
        try:
            if self._seen == 0:
                written = await self._backend.create(COMPACT_REV_KEY, value)
            else:
                written = await self._backend.update(COMPACT_REV_KEY, value, self._seen)
        except (storage_errors.KeyExists, storage_errors.Conflict, storage_errors.KeyNotFound):
            try:
                current = await self._backend.get(COMPACT_REV_KEY)
                self._seen = current.mod_revision
            except storage_errors.KeyNotFound:
                self._seen = 0
            self._pending = await self._backend.current_revision()
            return 0
        target, self._seen, self._pending = self._pending, written, written
        if target <= 0:
            return 0  # the first step only records where we are (no compaction at boot)
        try:
            await self._backend.compact(target)
        except storage_errors.Compacted:
            return 0  # already compacted at least that far
        self.compacted = target
        log.info("compacted history before revision %d", target)
        return target
