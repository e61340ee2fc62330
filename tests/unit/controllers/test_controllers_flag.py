"""--controllers as kube-controller-manager reads it (IsControllerEnabled)."""

from __future__ import annotations

import pytest

from services.controllers import catalog

ALL = catalog.known()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("*", ALL),
        ("*,-deployment", [n for n in ALL if n != "deployment-controller"]),
        ("*,-deployment-controller", [n for n in ALL if n != "deployment-controller"]),
        ("replicaset", ["replicaset-controller"]),
        ("", []),
        # the first entry naming a controller decides
        ("-replicaset,replicaset,*", [n for n in ALL if n != "replicaset-controller"]),
        ("garbagecollector,namespace", ["namespace-controller", "garbage-collector-controller"]),
    ],
)
def test_enabled(spec: str, expected: list[str]) -> None:
    assert [c.name for c in catalog.enabled(catalog.parse(spec))] == expected


def test_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match='"nope" is not in the list of known controllers'):
        catalog.parse("*,-nope")
