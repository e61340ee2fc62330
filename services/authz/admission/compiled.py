"""Configuration objects compiled once: a set follows an informer and compiles each
object once per resourceVersion (policies' CEL, webhooks' selectors), in name order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

Obj = dict[str, Any]
T = TypeVar("T")


class Objects(Protocol):
    """Objects kept by an informer (``kapi.informer.Informer`` is one)."""

    @property
    def changed_at(self) -> int: ...

    def items(self) -> list[Obj]: ...


class CompiledSet(Generic[T]):
    """Compiled objects of one informer, recompiled per resourceVersion."""

    def __init__(self, objects: Objects, compile: Callable[[Obj], T]) -> None:
        self.objects = objects
        self._compile = compile
        self._revision = -1
        self._by_key: dict[tuple[str, str], T] = {}
        self.current: list[T] = []

    def refresh(self) -> list[T]:
        revision = self.objects.changed_at
        if revision == self._revision:
            return self.current
        fresh: dict[tuple[str, str], T] = {}
        for obj in self.objects.items():
            meta = obj.get("metadata") or {}
            key = (str(meta.get("name") or ""), str(meta.get("resourceVersion") or ""))
            compiled = self._by_key.get(key)
            fresh[key] = compiled if compiled is not None else self._compile(obj)
        self._by_key = fresh
        self.current = [fresh[k] for k in sorted(fresh)]
        self._revision = revision
        return self.current
