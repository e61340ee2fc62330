"""A custom resource's OpenAPI components, as apiextensions-apiserver publishes them.

kube names them by the reversed group, the version and the kind
(``com.example.stable.v1.CronTab``, ``...CronTabList``): the version's schema with
``apiVersion``, ``kind`` and ``metadata`` (ObjectMeta) described as every object has
them, and ``x-kubernetes-group-version-kind``; the list holds ``items`` of it under
ListMeta. ``/openapi/v3`` wraps a ``$ref`` that has siblings in ``allOf`` (OpenAPI 3.0
ignores a bare ref's siblings); ``/openapi/v2`` keeps them beside it and has no
``nullable``.
"""

from __future__ import annotations

import copy
import functools
from typing import TYPE_CHECKING, Any

from services.registry import openapi_schemas

if TYPE_CHECKING:
    from services.registry.crd.model import CustomResourceModel

Obj = dict[str, Any]

_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
OBJECT_META = _META + "ObjectMeta"
LIST_META = _META + "ListMeta"


def component_name(group: str, version: str, kind: str) -> str:
    """kube's name for a custom resource's schema: ``com.example.stable.v1.CronTab``."""
    return ".".join((*reversed(group.split(".")), version, kind))


@functools.cache
def _descriptions() -> dict[str, str]:
    """What every object's apiVersion, kind and metadata say (kube's own words, as the
    built-in definitions carry them)."""
    defs = openapi_schemas.builtin()
    return {
        "apiVersion": defs.field_description("io.k8s.api.core.v1.ConfigMap", "apiVersion"),
        "kind": defs.field_description("io.k8s.api.core.v1.ConfigMap", "kind"),
        "metadata": defs.field_description("io.k8s.api.core.v1.ConfigMap", "metadata"),
        "listMetadata": defs.field_description("io.k8s.api.core.v1.ConfigMapList", "metadata"),
    }


def _ref(name: str, description: str, *, v2: bool) -> Obj:
    if v2:
        return {"$ref": openapi_schemas.REF_PREFIX_V2 + name, "description": description}
    return {"allOf": [{"$ref": openapi_schemas.REF_PREFIX + name}], "description": description}


def _v2(node: Any) -> Any:
    """A v3 schema node as Swagger 2.0 has it: no nullable, no oneOf/anyOf/not."""
    if isinstance(node, list):
        return [_v2(v) for v in node]
    if not isinstance(node, dict):
        return node
    return {k: _v2(v) for k, v in node.items() if k not in ("nullable", "oneOf", "anyOf", "not")}


def components(model: CustomResourceModel, *, v2: bool) -> dict[str, Obj]:
    """The object and list components of one served version."""
    words = _descriptions()
    gvk = [{"group": model.group, "kind": model.kind, "version": model.version}]
    obj: Obj = copy.deepcopy(model.raw_schema) if model.raw_schema else {"type": "object"}
    if v2:
        obj = _v2(obj)
    props = dict(obj.get("properties") or {})
    props["apiVersion"] = {"description": words["apiVersion"], "type": "string"}
    props["kind"] = {"description": words["kind"], "type": "string"}
    props["metadata"] = _ref(OBJECT_META, words["metadata"], v2=v2)
    obj["properties"] = props
    obj.setdefault("type", "object")
    obj["x-kubernetes-group-version-kind"] = gvk
    name = model.definition
    list_name = component_name(model.group, model.version, model.list_kind)
    ref_prefix = openapi_schemas.REF_PREFIX_V2 if v2 else openapi_schemas.REF_PREFIX
    listed: Obj = {
        "description": f"{model.list_kind} is a list of {model.kind}",
        "properties": {
            "apiVersion": {"description": words["apiVersion"], "type": "string"},
            "items": {
                "description": (
                    f"List of {model.plural}. More info: "
                    "https://git.k8s.io/community/contributors/devel/sig-architecture/"
                    "api-conventions.md"
                ),
                "items": {"$ref": ref_prefix + name},
                "type": "array",
            },
            "kind": {"description": words["kind"], "type": "string"},
            "metadata": _ref(LIST_META, words["listMetadata"], v2=v2),
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": [
            {"group": model.group, "kind": model.list_kind, "version": model.version}
        ],
    }
    return {name: obj, list_name: listed}
