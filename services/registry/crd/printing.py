"""A custom resource's Table: its CRD version's ``additionalPrinterColumns``, as
apiextensions-apiserver's table convertor prints them.

Name first (kube's ``Name`` column), then each column in order with its type, format,
priority and description (by default "Custom resource definition column (in JSONPath
format): <path>"); a version with no columns gets kube's default, ``Age`` from
``.metadata.creationTimestamp``. A cell is the first value the column's JSONPath finds
(none: null): for a ``string`` column as client-go's JSONPath prints it (text as it is,
numbers and booleans as Go prints them, objects and lists as JSON), an ``integer``,
``number`` or ``boolean`` as that JSON type (null when it is another), a ``date`` as the
time since it ("5m", ``<invalid>`` for a string that is no timestamp).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from services.registry import openapi_schemas, printers
from services.registry.crd import jsonpath
from services.registry.patching.goformat import go_float

Obj = dict[str, Any]

META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
DEFAULT_COLUMNS: tuple[Obj, ...] = (
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)


def _text(value: Any) -> str:
    """client-go JSONPath's printing of one value."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if value is None:
        return "<nil>"
    return orjson.dumps(value).decode()


def _cell(kind: str, value: Any, now: datetime) -> Any:
    if value is None:
        return None
    if kind == "string":
        return _text(value)
    if kind == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value)
        return None
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind == "date":
        if not isinstance(value, str):
            return None
        moment = printers.parse_time(value)
        if moment is None:
            return "<invalid>"
        return printers.since(value, now)
    return None


class ColumnPrinter:
    """The printer of one CRD version (``definition.TablePrinter``)."""

    def __init__(self, columns: list[Obj]) -> None:
        given = [c for c in columns if isinstance(c, dict)] or list(DEFAULT_COLUMNS)
        defs = openapi_schemas.builtin()
        self._definitions: list[Obj] = [
            {
                "name": "Name",
                "type": "string",
                "format": "name",
                "description": defs.field_description(META, "name"),
                "priority": 0,
            }
        ]
        self._columns: list[tuple[str, jsonpath.JSONPath | None]] = []
        for column in given:
            path_text = str(column.get("jsonPath") or "")
            description = column.get("description") or (
                f"Custom resource definition column (in JSONPath format): {path_text}"
            )
            if column in DEFAULT_COLUMNS:
                description = defs.field_description(META, "creationTimestamp")
            self._definitions.append(
                {
                    "name": str(column.get("name") or ""),
                    "type": str(column.get("type") or ""),
                    "format": str(column.get("format") or ""),
                    "description": description,
                    "priority": int(column.get("priority") or 0),
                }
            )
            try:
                path: jsonpath.JSONPath | None = jsonpath.parse(path_text)
            except jsonpath.JSONPathError:
                path = None
            self._columns.append((str(column.get("type") or ""), path))

    def column_definitions(self) -> list[Obj]:
        return [dict(c) for c in self._definitions]

    def row(self, obj: Obj, now: datetime) -> tuple[list[Any], list[Obj]]:
        meta = obj.get("metadata") or {}
        cells: list[Any] = [str(meta.get("name") or "")]
        for kind, path in self._columns:
            found = path.find(obj) if path is not None else []
            cells.append(_cell(kind, found[0], now) if found else None)
        return cells, []
