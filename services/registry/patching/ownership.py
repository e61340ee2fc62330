"""Field ownership across managers: structured-merge-diff's ``merge.Updater``.

Two entry points, run on every write:

- ``update``: a create, update or non-apply patch by ``manager``. Fields it changes move
  to it (taken from whoever held them, with no conflict: updaters always win); fields
  it removes leave every owner.
- ``apply``: an applied configuration. It is merged into the live object; the applier
  then owns exactly the configuration's fields. A field another manager owns and the
  configuration changes is a conflict, unless ``force`` takes it. A field the applier
  owned last time and no longer applies is removed from the object when nobody else owns
  it ("pruning").

Managers are keyed by an opaque identity (kube encodes manager, operation, version and
subresource in it); each holds a ``VersionedSet``. Everything is one API version here:
all sets are compared in the version of the object at hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.registry.patching import fieldpath
from services.registry.patching.fieldpath import EMPTY, FieldSet, Path
from services.registry.patching.typed import Comparison, Typed, TypeRef, json_equal


@dataclass(frozen=True)
class VersionedSet:
    fields: FieldSet
    api_version: str
    applied: bool


Managers = dict[str, VersionedSet]


@dataclass(frozen=True)
class Conflict:
    manager: str
    path: Path


class ConflictsError(Exception):
    """Fields another manager owns that an apply would change."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__(f"{len(conflicts)} conflicts")
        self.conflicts = conflicts


def conflicts_from(sets: dict[str, FieldSet]) -> list[Conflict]:
    return [Conflict(manager, path) for manager in sorted(sets) for path in sets[manager].paths()]


class Updater:
    """Ownership bookkeeping for objects of one type.

    ``ignored`` are the fields the strategy resets (``status`` on the main resource,
    everything but ``status`` on ``/status``): nobody gains or loses them here.
    """

    def __init__(self, typed: Typed, root: TypeRef, ignored: FieldSet | None = None) -> None:
        self.typed = typed
        self.root = root
        self.ignored = ignored or EMPTY

    def _update(
        self,
        old: Any,
        new: Any,
        version: str,
        managers: Managers,
        workflow: str,
        *,
        force: bool,
    ) -> tuple[Managers, Comparison]:
        compare = self.typed.compare(old, new, self.root).filtered(self.ignored)
        changed = compare.modified.union(compare.added)
        conflicts: dict[str, FieldSet] = {}
        for manager, owned in managers.items():
            if manager == workflow:
                continue
            clash = owned.fields.intersection(changed)
            if not clash.empty():
                conflicts[manager] = clash
        if conflicts and not force:
            raise ConflictsError(conflicts_from(conflicts))
        out: Managers = {}
        for manager, owned in managers.items():
            fields = owned.fields
            if manager != workflow:
                if manager in conflicts:
                    fields = fields.difference(conflicts[manager])
                fields = fields.difference(compare.removed)
            if not fields.empty():
                out[manager] = VersionedSet(fields, owned.api_version, owned.applied)
        return out, compare

    def update(
        self, live: Any, new: Any, version: str, managers: Managers, manager: str
    ) -> Managers:
        """The owners after ``manager`` turned ``live`` into ``new`` (no conflicts)."""
        managers, compare = self._update(live, new, version, managers, manager, force=True)
        previous = managers.get(manager)
        fields = EMPTY if previous is None else previous.fields
        fields = (
            fields.difference(compare.removed)
            .union(compare.modified)
            .union(compare.added)
            .recursive_difference(self.ignored)
        )
        if fields.empty():
            managers.pop(manager, None)
        else:
            managers[manager] = VersionedSet(fields, version, False)
        return managers

    def apply(
        self,
        live: Any,
        config: Any,
        version: str,
        managers: Managers,
        manager: str,
        *,
        force: bool,
    ) -> tuple[Any, Managers]:
        """The object after applying ``config``, ``None`` if it does not change, and the
        owners; raises ``ConflictsError``."""
        merged = self.typed.merge(live, config, self.root)
        last = managers.get(manager)
        applied = self.typed.to_field_set(config, self.root).recursive_difference(self.ignored)
        managers = {**managers, manager: VersionedSet(applied, version, True)}
        merged = self._prune(merged, managers, manager, last)
        if merged is None:  # everything pruned: an empty object, not "no change"
            merged = {}
        managers, _ = self._update(live, merged, version, managers, manager, force=force)
        if json_equal(live, merged):
            return None, managers
        return merged, managers

    # --- pruning: remove what the applier stopped applying and nobody else owns ------

    def _named(self, fields: FieldSet) -> FieldSet:
        return self.typed.ensure_named_fields_are_members(fields, self.root)

    def _prune(
        self, merged: Any, managers: Managers, applier: str, last: VersionedSet | None
    ) -> Any:
        if last is None or last.fields.empty():
            return merged
        last_fields = self._named(last.fields)
        pruned = self.typed.remove_items(merged, last_fields, self.root)
        pruned = self._add_back_owned(merged, pruned, managers)
        return self._add_back_dangling(merged, pruned, last_fields)

    def _add_back_owned(self, merged: Any, pruned: Any, managers: Managers) -> Any:
        """Put back what pruning removed but some manager (the applier included) owns."""
        owned = EMPTY
        for versioned in managers.values():
            owned = owned.union(versioned.fields)
        merged_set = self._named(self.typed.to_field_set(merged, self.root))
        pruned_set = self._named(self.typed.to_field_set(pruned, self.root))
        remove = merged_set.difference(pruned_set.union(self._named(owned)))
        return self.typed.remove_items(merged, remove, self.root)

    def _add_back_dangling(self, merged: Any, pruned: Any, last: FieldSet) -> Any:
        """Only what the applier owned last time goes: unowned fields stay."""
        merged_set = self._named(self.typed.to_field_set(merged, self.root))
        pruned_set = self._named(self.typed.to_field_set(pruned, self.root))
        remove = merged_set.difference(pruned_set).intersection(last)
        return self.typed.remove_items(merged, remove, self.root)


def conflict_paths(conflicts: list[Conflict]) -> FieldSet:
    return FieldSet.of(*(c.path for c in conflicts))


__all__ = [
    "Conflict",
    "ConflictsError",
    "Managers",
    "Updater",
    "VersionedSet",
    "conflict_paths",
    "conflicts_from",
    "fieldpath",
]
