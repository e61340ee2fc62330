"""ControllerExpectations (``pkg/controller/controller_utils.go``): after a controller
creates or deletes N pods it waits until its informer has seen them before it counts pods
again, so a cache that lags the writes never makes it create twice. Expectations expire
after 5 minutes (``ExpectationsTimeout``), so a lost event cannot wedge a controller."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

EXPECTATIONS_TIMEOUT = 300.0


@dataclass
class _Expected:
    add: int = 0
    delete: int = 0
    deleted_keys: set[str] = field(default_factory=set)
    at: float = field(default_factory=time.monotonic)


class Expectations:
    def __init__(self) -> None:
        self._by_key: dict[str, _Expected] = {}

    def satisfied(self, key: str) -> bool:
        found = self._by_key.get(key)
        if found is None:
            return True
        if found.add <= 0 and found.delete <= 0:
            return True
        return time.monotonic() - found.at > EXPECTATIONS_TIMEOUT

    def expect(self, key: str, *, adds: int = 0, deleted_keys: tuple[str, ...] = ()) -> None:
        self._by_key[key] = _Expected(
            add=adds, delete=len(deleted_keys), deleted_keys=set(deleted_keys)
        )

    def creation_observed(self, key: str) -> None:
        found = self._by_key.get(key)
        if found is not None:
            found.add -= 1

    def creation_failed(self, key: str) -> None:
        self.creation_observed(key)

    def deletion_observed(self, key: str, pod_key: str) -> None:
        found = self._by_key.get(key)
        if found is not None and pod_key in found.deleted_keys:
            found.deleted_keys.discard(pod_key)
            found.delete -= 1

    def forget(self, key: str) -> None:
        self._by_key.pop(key, None)
