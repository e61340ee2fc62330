"""CRD printer columns (services/registry/crd/printing.py, jsonpath.py): kube's table
convertor for custom resources and client-go's JSONPath."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.registry.crd import jsonpath
from services.registry.crd.printing import ColumnPrinter

NOW = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
OBJ: dict[str, Any] = {
    "metadata": {"name": "x", "creationTimestamp": "2025-01-10T11:55:00Z",
                 "labels": {"app.kubernetes.io/name": "web"}},
    "spec": {"replicas": 3, "ratio": 1.5, "on": True, "ports": [{"n": "a", "p": 1},
                                                                  {"n": "b", "p": 2}]},
    "status": {"conditions": [{"type": "Synced", "status": "False"},
                              {"type": "Ready", "status": "True", "message": "ok"}]},
}  # fmt: skip

PATHS = [
    (".spec.replicas", [3]),
    (".status.conditions[?(@.type==\"Ready\")].status", ["True"]),
    (".status.conditions[?(@.type == 'Ready')].message", ["ok"]),
    (".spec.ports[*].n", ["a", "b"]),
    (".spec.ports[-1].p", [2]),
    (".spec.ports[0:1].n", ["a"]),
    (".metadata.labels['app\\.kubernetes\\.io/name']", ["web"]),
    (".spec.missing", []),
    ("..p", [1, 2]),
    ("{.spec.on}", [True]),
]  # fmt: skip


@pytest.mark.parametrize(("path", "found"), PATHS)
def test_jsonpath(path: str, found: list[Any]) -> None:
    assert jsonpath.parse(path).find(OBJ) == found


def test_a_path_client_go_refuses() -> None:
    with pytest.raises(jsonpath.JSONPathError):
        jsonpath.parse("spec.replicas")


def test_columns_and_cells() -> None:
    printer = ColumnPrinter(
        [
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio", "format": "float"},
            {"name": "Ready", "type": "string",
             "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
            {"name": "Ports", "type": "string", "jsonPath": ".spec.ports", "priority": 1},
            {"name": "On", "type": "boolean", "jsonPath": ".spec.on"},
            {"name": "Missing", "type": "string", "jsonPath": ".spec.nothing",
             "description": "nothing here"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ]
    )  # fmt: skip
    columns = printer.column_definitions()
    assert [(c["name"], c["type"], c["format"], c["priority"]) for c in columns] == [
        ("Name", "string", "name", 0),
        ("Replicas", "integer", "", 0),
        ("Ratio", "number", "float", 0),
        ("Ready", "string", "", 0),
        ("Ports", "string", "", 1),
        ("On", "boolean", "", 0),
        ("Missing", "string", "", 0),
        ("Age", "date", "", 0),
    ]
    assert columns[1]["description"] == (
        "Custom resource definition column (in JSONPath format): .spec.replicas"
    )
    assert columns[6]["description"] == "nothing here"
    cells, conditions = printer.row(OBJ, NOW)
    assert cells == ["x", 3, 1.5, "True", '[{"n":"a","p":1},{"n":"b","p":2}]', True, None, "5m"]
    assert conditions == []


def test_default_columns() -> None:
    printer = ColumnPrinter([])
    assert [c["name"] for c in printer.column_definitions()] == ["Name", "Age"]
    assert printer.row(OBJ, NOW)[0] == ["x", "5m"]


def test_cells_of_the_wrong_type_are_null() -> None:
    printer = ColumnPrinter(
        [{"name": "N", "type": "integer", "jsonPath": ".status.conditions[0].type"},
         {"name": "D", "type": "date", "jsonPath": ".metadata.name"}]
    )  # fmt: skip
    assert printer.row(OBJ, NOW)[0] == ["x", None, "<invalid>"]
