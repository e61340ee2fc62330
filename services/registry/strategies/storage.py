"""storage.k8s.io/v1: StorageClasses, CSIDrivers, CSINodes, VolumeAttachments and
CSIStorageCapacities (``pkg/apis/storage/v1/defaults.go``, ``pkg/apis/storage/validation``)."""

from __future__ import annotations

from kapi import errors
from kapi.errors import FieldError
from services.registry import types, validation
from services.registry.definition import Definition, grouped
from services.registry.strategies import common
from services.registry.strategies.common import StatusStrategy, spec_of
from services.registry.strategy import Obj, Strategy


class StorageClassStrategy(Strategy):
    def default(self, obj: Obj) -> None:
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")

    def validate(self, obj: Obj) -> list[FieldError]:
        out: list[FieldError] = []
        provisioner = obj.get("provisioner")
        if not provisioner:
            out.append(errors.required("provisioner"))
        elif isinstance(provisioner, str):
            if len(provisioner) > 63:
                out.append(errors.too_long("provisioner", 63))
            out.extend(
                errors.invalid_value("provisioner", provisioner, m)
                for m in validation.qualified_name(provisioner.lower())
            )
        out += common.one_of(obj.get("reclaimPolicy"), "reclaimPolicy", ("Delete", "Retain"))
        out += common.one_of(
            obj.get("volumeBindingMode"), "volumeBindingMode", ("Immediate", "WaitForFirstConsumer")
        )
        parameters = obj.get("parameters") or {}
        if isinstance(parameters, dict) and len(parameters) > 512:
            out.append(
                errors.FieldError(
                    "FieldValueTooMany",
                    "parameters",
                    len(parameters),
                    "must have at most 512 items",
                )
            )
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        out = self.validate(new)
        for key in ("parameters", "provisioner", "reclaimPolicy"):
            if new.get(key) != old.get(key):
                out.append(errors.forbidden_field(key, f"updates to {key} are forbidden."))
        out += common.immutable(
            new.get("volumeBindingMode"), old.get("volumeBindingMode"), "volumeBindingMode"
        )
        return out


class CSIDriverStrategy(Strategy):
    def default(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        spec.setdefault("attachRequired", True)
        spec.setdefault("podInfoOnMount", False)
        spec.setdefault("storageCapacity", False)
        spec.setdefault("fsGroupPolicy", "ReadWriteOnceWithFSType")
        if not spec.get("volumeLifecycleModes"):
            spec["volumeLifecycleModes"] = ["Persistent"]
        spec.setdefault("requiresRepublish", False)
        spec.setdefault("seLinuxMount", False)

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = spec_of(obj)
        out = common.one_of(
            spec.get("fsGroupPolicy"),
            "spec.fsGroupPolicy",
            ("File", "None", "ReadWriteOnceWithFSType"),
        )
        for mode in spec.get("volumeLifecycleModes") or []:
            out += common.one_of(mode, "spec.volumeLifecycleModes", ("Ephemeral", "Persistent"))
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        out = self.validate(new)
        for key in ("attachRequired", "podInfoOnMount", "fsGroupPolicy", "volumeLifecycleModes"):
            out += common.immutable(spec_of(new).get(key), spec_of(old).get(key), f"spec.{key}")
        return out


class CSINodeStrategy(Strategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        out: list[FieldError] = []
        seen: set[str] = set()
        for i, driver in enumerate(common.dicts(spec_of(obj).get("drivers"))):
            name = driver.get("name")
            if not name:
                out.append(errors.required(f"spec.drivers[{i}].name"))
            elif name in seen:
                out.append(errors.duplicate(f"spec.drivers[{i}].name", name))
            else:
                seen.add(str(name))
            if not driver.get("nodeID"):
                out.append(errors.required(f"spec.drivers[{i}].nodeID"))
        return out


class VolumeAttachmentStrategy(StatusStrategy):
    def initial_status(self, obj: Obj) -> Obj:
        return {"attached": False}  # VolumeAttachmentStatus.attached is not omitempty

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = spec_of(obj)
        out: list[FieldError] = []
        if not spec.get("attacher"):
            out.append(errors.required("spec.attacher"))
        if not spec.get("nodeName"):
            out.append(errors.required("spec.nodeName"))
        source = spec.get("source")
        if not isinstance(source, dict) or (
            source.get("persistentVolumeName") is None and source.get("inlineVolumeSpec") is None
        ):
            out.append(
                errors.required(
                    "spec.source",
                    "must specify exactly one of inlineVolumeSpec and persistentVolumeName",
                )
            )
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        out = self.validate(new)
        if spec_of(new) != spec_of(old):
            out.append(errors.invalid_value("spec", spec_of(new), common.IMMUTABLE))
        return out


class CSIStorageCapacityStrategy(Strategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        out: list[FieldError] = []
        name = obj.get("storageClassName")
        if not name:
            out.append(errors.required("storageClassName"))
        elif isinstance(name, str):
            out.extend(
                errors.invalid_value("storageClassName", name, m)
                for m in validation.dns1123_subdomain(name)
            )
        for key in ("capacity", "maximumVolumeSize"):
            value = obj.get(key)
            problem = common.quantity_problem(value) if value is not None else None
            if problem is not None:
                out.append(errors.invalid_value(key, value, problem))
        out += common.validate_label_selector(obj.get("nodeTopology"), "nodeTopology")
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self.validate(new) + common.immutable(
            new.get("storageClassName"), old.get("storageClassName"), "storageClassName"
        )


DEFINITIONS: tuple[Definition, ...] = (
    grouped(
        "storage.k8s.io", "v1", "csidrivers", "CSIDriver", CSIDriverStrategy(),
        schema_group="storage", namespaced=False,
    ),
    grouped(
        "storage.k8s.io", "v1", "csinodes", "CSINode", CSINodeStrategy(),
        schema_group="storage", namespaced=False,
    ),
    grouped(
        "storage.k8s.io", "v1", "csistoragecapacities", "CSIStorageCapacity",
        CSIStorageCapacityStrategy(), schema_group="storage",
    ),
    grouped(
        "storage.k8s.io", "v1", "storageclasses", "StorageClass", StorageClassStrategy(),
        schema_group="storage", namespaced=False, short_names=("sc",),
    ),
    grouped(
        "storage.k8s.io", "v1", "volumeattachments", "VolumeAttachment",
        VolumeAttachmentStrategy(), schema_group="storage", namespaced=False,
        subresources=types.STATUS,
    ),
)  # fmt: skip
