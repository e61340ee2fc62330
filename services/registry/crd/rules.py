"""``x-kubernetes-validations``: a CRD version's CEL rules, compiled once, evaluated on
every write with ``self`` the new object and ``oldSelf`` the stored one.

The evaluator is ``kapi.cel`` (shared with ValidatingAdmissionPolicy): its
``compile_rules`` checks the rules against the structural schema with kube's cost limits
(the errors it finds refuse the CRD itself, ``validation``), its ``validate`` answers
kube's field errors (``spec: Invalid value: "object": failed rule: ...``). Where a
version's schema has no rule nothing is compiled and nothing runs per write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kapi.cel import validation as cel
from kapi.errors import FieldError

Obj = dict[str, Any]


def has_rules(schema: Any) -> bool:
    """Whether a schema holds any ``x-kubernetes-validations`` rule."""
    if isinstance(schema, dict):
        if schema.get("x-kubernetes-validations"):
            return True
        return any(has_rules(v) for v in schema.values())
    if isinstance(schema, list):
        return any(has_rules(v) for v in schema)
    return False


@dataclass(frozen=True)
class Rules:
    """One version's compiled rules."""

    compiled: cel.CompiledSchemaRules

    def validate(self, new: Obj, old: Obj | None) -> list[FieldError]:
        return cel.validate(self.compiled, new, old)


def compile_rules(schema: Obj, path: str) -> tuple[Rules | None, list[FieldError]]:
    """A version's rules, compiled, and what is wrong with them (``path``: the schema's
    place in the CRD, for the errors). None when the schema has no rule."""
    if not has_rules(schema):
        return None, []
    compiled = cel.compile_rules(schema, path=path)
    problems: list[FieldError] = list(compiled.errors())
    return Rules(compiled), problems
