"""The CRD names controller's arithmetic (services/registry/crd/controllers.py), as kube's
NamingConditionController computes accepted names and the NamesAccepted condition."""

from __future__ import annotations

from typing import Any

import pytest

from services.registry.crd.controllers import accepted_names

Obj = dict[str, Any]


def crd(
    plural: str,
    kind: str,
    *,
    short: tuple[str, ...] = (),
    accepted: bool = False,
    singular: str = "",
) -> Obj:
    names: Obj = {"plural": plural, "singular": singular or plural[:-1], "kind": kind,
                  "listKind": f"{kind}List"}  # fmt: skip
    if short:
        names["shortNames"] = list(short)
    out: Obj = {"spec": {"group": "g.io", "names": names}, "status": {}}
    if accepted:
        out["status"]["acceptedNames"] = dict(names)
    return out


CASES = [
    ("no conflicts", crd("foos", "Foo"), [], ("True", "NoConflicts", "no conflicts found")),
    ("kube says the last conflict it found", crd("foos", "Foo"), [crd("foos", "Other",
                                                                     accepted=True)],
     ("False", "SingularConflict", '"foo" is already in use')),
    ("the plural", crd("foos", "Foo"), [crd("foos", "Other", singular="other", accepted=True)],
     ("False", "PluralConflict", '"foos" is already in use')),
    ("a short name", crd("foos", "Foo", short=("f",)), [crd("fs", "F", short=("f",),
                                                            accepted=True)],
     ("False", "ShortNamesConflict", '"f" is already in use')),
    ("the kind (and so the list kind)", crd("foos", "Foo"), [crd("bars", "Foo", accepted=True)],
     ("False", "ListKindConflict", '"FooList" is already in use')),
    ("a CRD not yet accepted holds nothing", crd("foos", "Foo"), [crd("foos", "Foo")],
     ("True", "NoConflicts", "no conflicts found")),
]  # fmt: skip


@pytest.mark.parametrize(("case", "mine", "others", "want"), CASES, ids=[c[0] for c in CASES])
def test_accepted_names(case: str, mine: Obj, others: list[Obj], want: tuple[str, ...]) -> None:
    names, condition = accepted_names(mine, others)
    assert (condition["status"], condition["reason"], condition["message"]) == want
    if want[0] == "True":
        assert names == mine["spec"]["names"]


def test_names_already_accepted_stay_accepted() -> None:
    mine = crd("foos", "Foo", accepted=True)
    names, condition = accepted_names(mine, [])
    assert condition["status"] == "True"
    assert names == mine["status"]["acceptedNames"]
