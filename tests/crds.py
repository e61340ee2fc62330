"""CustomResourceDefinitions the tests install: one served and stored version (v1)."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def simple_crd(
    group: str, plural: str, kind: str, schema: Obj, *, scope: str = "Namespaced", **names: Any
) -> Obj:
    """``plural.group`` with ``kind``, v1 only, validated by ``schema`` (``names``: more
    of spec.names, e.g. shortNames)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"plural": plural, "singular": plural[:-1], "kind": kind, **names},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }
