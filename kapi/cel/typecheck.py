"""Type checking of a ValidatingAdmissionPolicy's expressions against the kinds it
matches — kube's ``admission/plugin/policy/validating/typechecking.go``, which the
validatingadmissionpolicy-status controller runs and writes to ``status.typeChecking``.

At admission, ``object``, ``oldObject`` and ``params`` are ``dyn``: a typo such as
``object.replicas`` (for ``object.spec.replicas``) compiles and only fails, or quietly
never matches, when a request arrives. Here the same expression is checked once per kind
the policy's ``matchConstraints.resourceRules`` name exactly (no wildcards; at most
``MAX_TYPES_TO_CHECK`` kinds), with ``object``/``oldObject`` typed by that kind's schema,
``params`` by the paramKind's, ``request`` and ``namespaceObject`` by kube's hand-made
types (plugin/cel/compile.go BuildRequestType, BuildNamespaceType), and ``variables`` by
what each variable's expression yields.

As kube's TypeChecker.Check: only ``spec.validations[i].expression`` and
``spec.validations[i].messageExpression`` are reported, one ``ExpressionWarning`` per
expression with issues, its text one ``<gvk>: <issues>\\n`` per kind with issues joined
by newlines (``apps/v1, Kind=Deployment: ERROR: <input>:1:7: undefined field
'replicas'`` and cel's caret lines). Kinds whose schema is unknown are skipped, as kube
skips them.

Two passes find the issues: kapi's field check on the checked AST (``kapi.cel.fields``:
a selection of a property the schema does not declare, in cel-go's words), then, when
there is none, cel-cpp's checker in an environment whose roots are the schemas as
protobuf messages (``kapi.cel.typed_env``: ``found no matching overload for '_>_'
applied to '(int, string)'``). Where cel-cpp's checker is stricter than cel-go's in
kube's environment (comparing int, uint and double with each other) the issue is left
out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kapi.cel import admission, fields, typed_env
from kapi.cel.environment import CompileError, Environment
from kapi.cel.schema import DeclType

MAX_TYPES_TO_CHECK = 10

Obj = Mapping[str, Any]


@dataclass(frozen=True, order=True)
class GroupVersionKind:
    group: str
    version: str
    kind: str

    def __str__(self) -> str:
        """schema.GroupVersionKind's String(): ``apps/v1, Kind=Deployment``,
        ``/v1, Kind=Pod`` for the core group."""
        return f"{self.group}/{self.version}, Kind={self.kind}"


def _object(**props: DeclType) -> DeclType:
    return DeclType("object", fields=dict(props), names={k: k for k in props})


_STRING = DeclType("string")
_STRINGS = DeclType("list", elem=_STRING)
_STRING_MAP = DeclType("map", elem=_STRING)
_TIMESTAMP = DeclType("timestamp")
_INT = DeclType("int")


def request_type() -> DeclType:
    """kube's BuildRequestType: the AdmissionRequest as CEL sees it."""
    gvk = _object(group=_STRING, version=_STRING, kind=_STRING)
    gvr = _object(group=_STRING, version=_STRING, resource=_STRING)
    user = _object(
        username=_STRING,
        uid=_STRING,
        groups=_STRINGS,
        extra=DeclType("map", elem=_STRINGS),
    )
    return _object(
        kind=gvk,
        resource=gvr,
        subResource=_STRING,
        requestKind=gvk,
        requestResource=gvr,
        requestSubResource=_STRING,
        name=_STRING,
        namespace=_STRING,
        operation=_STRING,
        userInfo=user,
        dryRun=DeclType("bool"),
        options=DeclType("dyn"),
    )


def namespace_type() -> DeclType:
    """kube's BuildNamespaceType: ``namespaceObject`` (no managed fields or owners)."""
    condition = _object(
        status=_STRING,
        type=_STRING,
        lastTransitionTime=_TIMESTAMP,
        message=_STRING,
        reason=_STRING,
    )
    metadata = _object(
        name=_STRING,
        generateName=_STRING,
        namespace=_STRING,
        labels=_STRING_MAP,
        annotations=_STRING_MAP,
        UID=_STRING,
        creationTimestamp=_TIMESTAMP,
        deletionGracePeriodSeconds=_INT,
        deletionTimestamp=_TIMESTAMP,
        generation=_INT,
        resourceVersion=_STRING,
        finalizers=_STRINGS,
    )
    return _object(
        metadata=metadata,
        spec=_object(finalizers=_STRINGS),
        status=_object(conditions=DeclType("list", elem=condition), phase=_STRING),
    )


_REQUEST = request_type()
_NAMESPACE = namespace_type()


def resources_to_check(policy: Obj) -> list[tuple[str, str, str]]:
    """The (group, version, resource)s of ``matchConstraints.resourceRules`` in kube's
    order (typesToCheck): per rule, every group, version and resource, each sorted; a rule
    with a wildcard group or version is skipped, and wildcard or subresource names."""
    spec = policy.get("spec") or {}
    rules = (spec.get("matchConstraints") or {}).get("resourceRules") or []
    out: list[tuple[str, str, str]] = []
    for rule in rules:
        if not isinstance(rule, Mapping):
            continue
        groups = [str(g) for g in rule.get("apiGroups") or []]
        versions = [str(v) for v in rule.get("apiVersions") or []]
        if any("*" in g for g in groups) or any("*" in v for v in versions):
            continue
        resources = [str(r) for r in rule.get("resources") or [] if "*" not in r and "/" not in r]
        for group in sorted(groups):
            for version in sorted(versions):
                for resource in sorted(resources):
                    out.append((group, version, resource))
    return out


def kinds_to_check(
    policy: Obj, kinds_for: Callable[[str, str, str], Sequence[GroupVersionKind]]
) -> list[GroupVersionKind]:
    """The kinds to check, sorted by group, version and kind; at most
    MAX_TYPES_TO_CHECK found (kube stops collecting there)."""
    found: set[GroupVersionKind] = set()
    count = 0
    for group, version, resource in resources_to_check(policy):
        for gvk in kinds_for(group, version, resource):
            found.add(gvk)
            count += 1
            if count == MAX_TYPES_TO_CHECK:
                return sorted(found)
    return sorted(found)


def param_kind(policy: Obj) -> GroupVersionKind | None:
    kind = (policy.get("spec") or {}).get("paramKind")
    if not isinstance(kind, Mapping) or not kind.get("kind"):
        return None
    api_version = str(kind.get("apiVersion") or "")
    group, _, version = api_version.rpartition("/")
    return GroupVersionKind(group, version, str(kind["kind"]))


# cel-go compares int, uint and double with each other (kube's base environment turns
# CrossTypeNumericComparisons on); cel-cpp's checker does not: not an issue in kube.
_CROSS_NUMERIC = re.compile(
    r"found no matching overload for '_(<|<=|>|>=)_' applied to "
    r"'\((int|uint|double), (int|uint|double)\)'"
)


_UNKNOWN_TYPE = "cannot be the operand of a select operation"


def _issues(
    source: str, roots: Mapping[str, DeclType | None], typed: Environment | None = None
) -> tuple[str, DeclType | None]:
    """The expression's issues as cel prints them ("" for none) and its schema type:
    undefined fields first (kube's texts, ``kapi.cel.fields``), then, in ``typed`` (an
    environment with the roots' schema types), what cel-cpp's checker refuses."""
    compiled = admission.compile_expression(source)
    if compiled.checked is None:
        return compiled.error.removeprefix("compilation failed: "), None
    found, result = fields.check(compiled.checked, source, roots)
    if found or typed is None:
        return "\n".join(found), result
    try:
        typed.compile(source)
    except CompileError as err:
        issues = ["ERROR: " + i for i in err.detail.removeprefix("ERROR: ").split("\nERROR: ")]
        if any(_UNKNOWN_TYPE in i and typed_env.PACKAGE in i for i in issues):
            return "", result  # the schema's messages did not load: nothing to tell
        return "\n".join(i for i in issues if not _CROSS_NUMERIC.search(i)), result
    return "", result


def _roots(
    object_type: DeclType | None, params: DeclType | None, variables: Sequence[Obj]
) -> dict[str, DeclType | None]:
    roots: dict[str, DeclType | None] = {
        "object": object_type,
        "oldObject": object_type,
        "params": params,
        "request": _REQUEST,
        "namespaceObject": _NAMESPACE,
    }
    declared = DeclType("object")
    roots["variables"] = declared
    for variable in variables:
        name = str(variable.get("name") or "")
        _, result = _issues(str(variable.get("expression") or ""), roots)
        declared.fields[name] = result if result is not None else DeclType("dyn")
        declared.names[name] = name
    return roots


def check(
    policy: Obj,
    types: Sequence[tuple[GroupVersionKind, DeclType]],
    params: DeclType | None = None,
) -> list[dict[str, str]]:
    """``status.typeChecking.expressionWarnings`` for ``policy`` checked against each
    (kind, schema type) in ``types``; ``params`` types ``params`` (None: dyn)."""
    spec = policy.get("spec") or {}
    variables = [v for v in spec.get("variables") or [] if isinstance(v, Mapping)]
    per_kind = []
    for gvk, t in types:
        roots = _roots(t, params, variables)
        typed = typed_env.environment({k: v for k, v in roots.items() if k != "variables"})
        per_kind.append((gvk, roots, typed))
    warnings: list[dict[str, str]] = []
    for i, validation in enumerate(spec.get("validations") or []):
        if not isinstance(validation, Mapping):
            continue
        for field in ("expression", "messageExpression"):
            source = validation.get(field)
            if not source:
                continue
            results = []
            for gvk, roots, typed in per_kind:
                issues, _ = _issues(str(source), roots, typed)
                if issues:
                    results.append(f"{gvk}: {issues}\n")
            if results:
                warnings.append(
                    {"fieldRef": f"spec.validations[{i}].{field}", "warning": "\n".join(results)}
                )
    return warnings
