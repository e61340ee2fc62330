"""The revisions this storage process wrote, and to which keys.

A consistent read from a watch cache needs to know that the cache has every change up
to etcd's current revision. etcd's progress notifications tell a cache so, but kapi
trusts them only from etcd 3.4.31 / 3.5.13 on (etcd#15220), and the etcd wheel kapi
runs is 3.5.1. This is the other way to know: etcd gives each write transaction the
next revision, one by one, so when every revision between the cache's and etcd's is a
write this process made — to other keys — nothing in between touched the cache's
resource. With one storage replica and no other writer that is the common case; any
revision it did not write (another replica, another client, a write whose answer it
never saw) leaves the question open, and the read goes to etcd.
"""

from __future__ import annotations

import collections

CAPACITY = 4096  # revisions remembered; a wider gap is not worth walking


class WriteLog:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._keys: dict[int, str] = {}
        self._order: collections.deque[int] = collections.deque()

    def record(self, revision: int, key: str) -> None:
        """This process's write of ``key`` was given ``revision``."""
        self._keys[revision] = key
        self._order.append(revision)
        while len(self._order) > self._capacity:
            self._keys.pop(self._order.popleft(), None)

    def only_elsewhere(self, after: int, upto: int, root: str) -> bool:
        """Whether every revision in ``(after, upto]`` is a write of this process to a
        key outside ``root`` (so none of them changed anything under it)."""
        if upto - after > self._capacity:
            return False
        keys = self._keys
        for revision in range(after + 1, upto + 1):
            key = keys.get(revision)
            if key is None or key.startswith(root):
                return False
        return True
