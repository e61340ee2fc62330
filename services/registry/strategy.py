"""The strategy contract and the shared mechanics every resource gets.

A strategy says how one resource is defaulted, prepared and validated; the order in
which those steps run is fixed in ``services.registry.pipeline``. Validators return
field errors and never mutate; ``default`` and ``prepare_*`` mutate the object they
are given (a private copy).
"""

from __future__ import annotations

from typing import Any, ClassVar

from kapi.errors import FieldError
from services.registry import validation

Obj = dict[str, Any]


class Strategy:
    """Default behaviour: no defaults, status kept apart from spec, names are subdomains."""

    # Whether the object has a status that only the /status subresource may change (a
    # class fact for built-in types; per CRD version for custom resources).
    has_status: bool = False
    # Whether metadata.generation tracks spec changes.
    tracks_generation: ClassVar[bool] = False
    # Whether DELETE answers with the object (True) or a Status "Success" (False).
    return_deleted_object: ClassVar[bool] = False
    # Whether a finalizer without a domain must be a standard one (kube's built-in types
    # validate ObjectMeta with pkg/apis/core/validation; CRDs with the generic rules).
    kube_finalizer_names: ClassVar[bool] = True
    # rest.GarbageCollectionPolicy: which finalizer a DELETE without a propagation policy
    # leaves for the garbage collector (services.registry.deletion).
    default_gc_policy: ClassVar[str] = "DeleteDependents"

    def grace_period(self, obj: Obj, options: Obj) -> int | None:
        """CheckGracefulDelete: the seconds ``obj`` is given to terminate when deleted
        with ``options``, or ``None`` for a resource without graceful deletion."""
        return None

    def finalized(self, obj: Obj) -> bool:
        """Whether nothing but metadata.finalizers keeps ``obj`` once its deletion was
        requested (namespaces also wait for spec.finalizers: kube's
        ShouldDeleteNamespaceDuringUpdate)."""
        return True

    # Whether ``allocate`` needs the resource's other objects (a Service's cluster IP and
    # node ports are free ones among those the other services hold).
    allocates: ClassVar[bool] = False

    def validate_name(self, name: str) -> list[str]:
        """Why a name is not valid for this resource (most resources: a DNS subdomain)."""
        return validation.dns1123_subdomain(name)

    def default(self, obj: Obj) -> None:
        """Fill defaulted fields, as decoding does in kube-apiserver (create and update)."""

    def prepare_for_create(self, obj: Obj) -> None:
        if self.has_status:
            obj.pop("status", None)
        if self.tracks_generation:
            obj.setdefault("metadata", {})["generation"] = 1

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        if self.has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if self.tracks_generation:
            meta = new.setdefault("metadata", {})
            generation = old.get("metadata", {}).get("generation", 1)
            meta["generation"] = generation + 1 if _spec(new) != _spec(old) else generation

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        """Only status changes through /status: everything else is taken from ``old``."""
        status = new.get("status")
        meta = new.get("metadata", {})
        new.clear()
        new.update({k: v for k, v in old.items() if k != "status"})
        new["metadata"] = {**old.get("metadata", {})}
        for key in ("labels", "annotations"):
            if key in meta:
                new["metadata"][key] = meta[key]
        if status is not None:
            new["status"] = status

    def prepare_for_subresource_update(self, subresource: str, new: Obj, old: Obj) -> None:
        """An update through a subresource: /status changes the status only; the others a
        resource has (finalize, approval, ephemeralcontainers) override this. /scale is
        an update of the whole object, its change made by the scale machinery."""
        if subresource == "status":
            self.prepare_for_status_update(new, old)
        else:
            self.prepare_for_update(new, old)

    def validate(self, obj: Obj) -> list[FieldError]:
        """Resource-specific rules for a new object (ObjectMeta is checked separately)."""
        return []

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self.validate(new)

    def validate_subresource_update(self, subresource: str, new: Obj, old: Obj) -> list[FieldError]:
        """The rules of an update through ``subresource``; the whole object's by default."""
        return self.validate_update(new, old)

    def warnings(self, obj: Obj) -> list[str]:
        return []

    def mark_for_deletion(self, obj: Obj) -> Obj | None:
        """What a delete of ``obj`` (not yet being deleted) makes of it instead of removing
        it: a copy with the finalizers its owner's cleanup needs, or None to delete as
        usual. Kube's CRD storage adds its custom resource cleanup finalizer."""
        return None

    def allocate(self, obj: Obj, others: list[Obj]) -> list[FieldError]:
        """Assign what must be unique among the resource's objects (``others``: every
        other one, as stored), before validation; why what was asked for cannot be had.
        Runs only where ``allocates`` says so, on create and on an update of the object
        itself."""
        return []


def _spec(obj: Obj) -> Any:
    """What counts as "spec" for generation: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
