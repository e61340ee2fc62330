"""A CustomResourceDefinition's served versions as catalog definitions.

As kube's custom resource handler serves them: only once the CRD's names are accepted
(``NamesAccepted`` or ``Established`` true), under its ``status.acceptedNames``; every
version with ``served: true``, stored in the one with ``storage: true``
(``/registry/<group>/<plural>``); with the version's subresources (status, scale), its
``additionalPrinterColumns``, ``selectableFields`` and schema; a ``deprecated`` version
warns with its ``deprecationWarning`` or kube's default words (``<group>/<version>
<Kind> is deprecated; use <group>/<newest> <Kind>``). A terminating CRD is still served,
but no new object of it may be created.
"""

from __future__ import annotations

import logging
from typing import Any

from services.registry import types
from services.registry.catalog import version_priority
from services.registry.crd.conversion import (
    CustomResourceConverter,
    ServiceResolver,
    webhook_from,
)
from services.registry.crd.model import CustomResourceModel
from services.registry.crd.printing import ColumnPrinter
from services.registry.crd.rules import compile_rules
from services.registry.crd.strategy import CustomResourceStrategy
from services.registry.definition import Definition, ScaleFacts
from services.registry.field_selection import NOT_SUPPORTED, FieldSelection
from services.registry.strategies.apiextensions import CLEANUP_FINALIZER

log = logging.getLogger(__name__)

Obj = dict[str, Any]

__all__ = ["CLEANUP_FINALIZER", "definitions_of", "served"]


def condition(crd: Obj, kind: str) -> Obj | None:
    for found in (crd.get("status") or {}).get("conditions") or []:
        if isinstance(found, dict) and found.get("type") == kind:
            return found
    return None


def condition_true(crd: Obj, kind: str) -> bool:
    found = condition(crd, kind)
    return found is not None and found.get("status") == "True"


def served(crd: Obj) -> bool:
    """Whether kube's handler serves the CRD's resources (its names are accepted)."""
    return condition_true(crd, "NamesAccepted") or condition_true(crd, "Established")


def _path(json_path: Any) -> tuple[str, ...]:
    """``.spec.replicas`` as field names."""
    text = str(json_path or "").lstrip(".")
    return tuple(p for p in text.split(".") if p)


def _selector_at(path: tuple[str, ...]) -> Any:
    def selector(obj: Obj) -> str:
        value: Any = obj
        for key in path:
            if not isinstance(value, dict):
                return ""
            value = value.get(key)
        return value if isinstance(value, str) else ""

    return selector


def _no_selector(obj: Obj) -> str:
    return ""


def scale_facts(version: Obj) -> ScaleFacts | None:
    """Where a version's scale subresource reads and writes, if it has one."""
    facts = (version.get("subresources") or {}).get("scale")
    if not isinstance(facts, dict):
        return None
    selector_path = _path(facts.get("labelSelectorPath"))
    return ScaleFacts(
        _path(facts.get("specReplicasPath")) or ("spec", "replicas"),
        _path(facts.get("statusReplicasPath")) or ("status", "replicas"),
        _selector_at(selector_path) if selector_path else _no_selector,
    )


def deprecation_warning(spec: Obj, version: Obj) -> str:
    """A deprecated version's warning: its own, or kube's default words."""
    given = version.get("deprecationWarning")
    if isinstance(given, str):
        return given
    group, kind, name = spec.get("group"), (spec.get("names") or {}).get("kind"), version["name"]
    text = f"{group}/{name} {kind} is deprecated"
    newer = [
        v["name"]
        for v in spec.get("versions") or []
        if isinstance(v, dict)
        and v.get("served")
        and not v.get("deprecated")
        and version_priority(str(v.get("name"))) < version_priority(name)
    ]
    if newer:
        newest = min(newer, key=version_priority)
        text += f"; use {group}/{newest} {kind}"
    return text


def storage_version(spec: Obj) -> str:
    for version in spec.get("versions") or []:
        if isinstance(version, dict) and version.get("storage") is True:
            return str(version.get("name") or "")
    return ""


def definitions_of(crd: Obj, *, resolver: ServiceResolver | None = None) -> list[Definition]:
    """The definitions ``crd`` serves now (none until its names are accepted);
    ``resolver`` finds a conversion webhook addressed by ``service``."""
    if not served(crd):
        return []
    spec = crd.get("spec") or {}
    names = (crd.get("status") or {}).get("acceptedNames") or {}
    plural, kind = names.get("plural"), names.get("kind")
    group = spec.get("group")
    if not (plural and kind and isinstance(group, str) and group):
        return []
    stored = storage_version(spec)
    list_kind = names.get("listKind") or f"{kind}List"
    preserve = spec.get("preserveUnknownFields") is True
    versions = [v for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("name")]
    models: dict[str, CustomResourceModel] = {}
    for i, version in enumerate(versions):
        raw = ((version.get("schema") or {}).get("openAPIV3Schema")) or None
        rules, problems = compile_rules(raw or {}, f"spec.versions[{i}].schema.openAPIV3Schema")
        if problems:
            log.warning(
                "CRD %s: rules of %s not served: %s",
                crd["metadata"]["name"],
                version["name"],
                "; ".join(map(str, problems)),
            )
            rules = None
        models[version["name"]] = CustomResourceModel(
            group=group,
            version=version["name"],
            kind=kind,
            list_kind=list_kind,
            plural=plural,
            raw_schema=raw,
            preserve_unknown_fields=preserve,
            rules=rules,
            scale=scale_facts(version),
        )
    conversion = spec.get("conversion") or {}
    webhook, problem = (None, "")
    if conversion.get("strategy") == "Webhook":
        webhook, problem = webhook_from(conversion)
    converter = CustomResourceConverter(
        group=group,
        kind=kind,
        storage_version=stored,
        models=models,
        webhook=webhook,
        webhook_problem=problem
        if webhook is None and conversion.get("strategy") == "Webhook"
        else "",
        resolver=resolver,
    )
    terminating = condition_true(crd, "Terminating") or bool(
        (crd.get("metadata") or {}).get("deletionTimestamp")
    )
    name = str((crd.get("metadata") or {}).get("name") or "")
    out: list[Definition] = []
    for version in versions:
        if not version.get("served"):
            continue
        out.append(
            _definition(
                crd_name=name,
                spec=spec,
                version=version,
                names=names,
                model=models[version["name"]],
                converter=converter,
                stored=stored,
                terminating=terminating,
            )
        )
    return out


def _definition(
    *,
    crd_name: str,
    spec: Obj,
    version: Obj,
    names: Obj,
    model: CustomResourceModel,
    converter: CustomResourceConverter,
    stored: str,
    terminating: bool,
) -> Definition:
    group = str(spec["group"])
    subresources = version.get("subresources") or {}
    subs: list[types.Subresource] = []
    scale = model.scale
    if scale is not None:
        subs.append(types.STANDARD_SUBRESOURCES["scale"])
    has_status = isinstance(subresources.get("status"), dict)
    if has_status:
        subs.append(types.STANDARD_SUBRESOURCES["status"])
    subs.sort(key=lambda s: s.name)
    selectable = tuple(
        ".".join(_path(f.get("jsonPath")))
        for f in version.get("selectableFields") or []
        if isinstance(f, dict)
    )
    return Definition(
        group=group,
        version=str(version["name"]),
        resource=str(names["plural"]),
        kind=str(names["kind"]),
        singular=str(names.get("singular") or str(names["kind"]).lower()),
        namespaced=spec.get("scope") == "Namespaced",
        schema=model.definition,
        short_names=tuple(names.get("shortNames") or ()),
        categories=tuple(names.get("categories") or ()),
        subresources=tuple(subs),
        storage_version=f"{group}/{stored}",
        list_kind=str(names.get("listKind") or f"{names['kind']}List"),
        deprecation_warning=deprecation_warning(spec, version) if version.get("deprecated") else "",
        custom=True,
        strategy=CustomResourceStrategy(status=has_status, scale=scale, default=model.default),
        model=model,
        printer=ColumnPrinter(list(version.get("additionalPrinterColumns") or [])),
        selection=FieldSelection(selectable, unknown=NOT_SUPPORTED),
        scale=scale,
        converter=converter,
        crd=crd_name,
        terminating=terminating,
    )
