"""kapi/cel/typecheck.py and schema_refs.py: a ValidatingAdmissionPolicy's expressions
type checked against the kinds it matches, with kube's warning texts
(admission/plugin/policy/validating/typechecking.go; cel/openapi/resolver/refs.go)."""

from __future__ import annotations

from typing import Any

import pytest
from cel_expr_python import cel

from kapi.cel import schema, schema_refs, typecheck, typed_env
from kapi.cel.environment import CompileError
from services.registry import openapi_schemas

Obj = dict[str, Any]
PREFIX = "#/components/schemas/"
DEPLOYMENT = typecheck.GroupVersionKind("apps", "v1", "Deployment")
POD = typecheck.GroupVersionKind("", "v1", "Pod")


def builtin(ref: str) -> Obj | None:
    try:
        return openapi_schemas.builtin().schema(ref.removeprefix(PREFIX))
    except KeyError:
        return None


def decl(definition: str) -> schema.DeclType:
    found = schema.decl_type(schema_refs.populate(builtin, PREFIX + definition), True)
    assert found is not None
    return found


def policy(*expressions: str, **spec: Any) -> Obj:
    return {"spec": {"validations": [{"expression": e} for e in expressions], **spec}}


def test_kubes_documented_example() -> None:
    """The warning kube's documentation shows for ``object.replicas > 1``."""
    warnings = typecheck.check(
        policy("object.replicas > 1"), [(DEPLOYMENT, decl("io.k8s.api.apps.v1.Deployment"))]
    )
    assert warnings == [
        {
            "fieldRef": "spec.validations[0].expression",
            "warning": "apps/v1, Kind=Deployment: ERROR: <input>:1:7: undefined field "
            "'replicas'\n | object.replicas > 1\n | ......^\n",
        }
    ]


@pytest.mark.parametrize(
    ("expression", "issues"),
    [
        ("object.spec.containers.all(c, c.image != '')", []),
        ("object.metadata.labels['app'] == 'web'", []),
        (
            "has(object.spec.nodeName) && object.spec.nodeNam == ''",
            ["1:41: undefined field 'nodeNam'"],
        ),
        # two selections of an undeclared field: two issues
        (
            "object.spec.containers.all(c, !has(c.securityContext.Privileged) || "
            "!c.securityContext.Privileged)",
            ["1:35: undefined field 'Privileged'", "1:87: undefined field 'Privileged'"],
        ),
        # Quantity has no type in OpenAPI v3: kube does not see resource maps either
        (
            "object.spec.containers.all(c, c.resources.limits['cpu'] == '1')",
            ["undefined field 'limits'"],
        ),
        # int-or-string (format in built-in schemas) is dyn
        ("object.spec.containers.all(c, c.ports.all(p, p.containerPort > 0))", []),
        (
            "request.userInfo.username == 'x' && request.userInfo.group == []",
            ["undefined field 'group'"],
        ),
        (
            "namespaceObject.metadata.labels['a'] == 'b' && namespaceObject.spec.phase == ''",
            ["undefined field 'phase'"],
        ),
        (
            "variables.names.size() > 0 && variables.spec.nodeNam == ''",
            ["undefined field 'nodeNam'"],
        ),
        ("variables.nope == 1", ["undefined field 'nope'"]),
        ("params.anything == 1", []),  # no paramKind schema: params stays dyn
    ],
)
def test_issues_on_a_pod(expression: str, issues: list[str]) -> None:
    variables = [
        {"name": "names", "expression": "object.spec.containers.map(c, c.name)"},
        {"name": "spec", "expression": "object.spec"},
    ]
    warnings = typecheck.check(
        policy(expression, variables=variables), [(POD, decl("io.k8s.api.core.v1.Pod"))]
    )
    if not issues:
        assert warnings == []
        return
    (warning,) = warnings
    text = warning["warning"]
    assert text.startswith("/v1, Kind=Pod: ERROR: <input>:")
    assert text.count("ERROR:") == len(issues)
    for issue in issues:
        assert issue in text


@pytest.mark.parametrize(
    ("expression", "issue"),
    [
        (
            "object.spec.replicas > '1'",
            "found no matching overload for '_>_' applied to '(int, string)'",
        ),
        (
            "object.spec.paused == 'yes'",
            "found no matching overload for '_==_' applied to '(bool, string)'",
        ),
        (
            "request.dryRun == 'true'",
            "found no matching overload for '_==_' applied to '(bool, string)'",
        ),
        (
            "object.spec.template.spec.containers.exists(c, c.name == 1)",
            "'_==_' applied to '(string, int)'",
        ),
        (
            "object.spec.replicas.size() > 0",
            "found no matching overload for 'size' applied to '(int)'",
        ),
        # kube's environment compares numbers across types: not an issue
        ("object.spec.replicas > 1.5", None),
        ("object.metadata.creationTimestamp < timestamp('2020-01-01T00:00:00Z')", None),
        (
            "object.spec.strategy.rollingUpdate.maxSurge == 1 || "
            "object.spec.strategy.rollingUpdate.maxSurge == '25%'",
            None,
        ),
        (
            "object.?spec.?replicas.orValue(1) > 0 && has(object.spec.paused) && "
            "!object.spec.paused",
            None,
        ),
        (
            "object.spec.selector.matchLabels.all(k, object.spec.selector.matchLabels[k] != '')",
            None,
        ),
        ("authorizer.group('apps').resource('deployments').check('get').allowed()", None),
    ],
)
def test_type_confusion(expression: str, issue: str | None) -> None:
    warnings = typecheck.check(
        policy(expression), [(DEPLOYMENT, decl("io.k8s.api.apps.v1.Deployment"))]
    )
    if issue is None:
        assert warnings == []
        return
    (warning,) = warnings
    assert warning["warning"].startswith("apps/v1, Kind=Deployment: ERROR: <input>:1:")
    assert issue in warning["warning"]


def test_message_expressions_and_params_kinds() -> None:
    params = schema.decl_type(
        {"type": "object", "properties": {"maxReplicas": {"type": "integer"}}}, True
    )
    spec = {
        "validations": [
            {
                "expression": "object.spec.replicas <= params.maxReplicas",
                "messageExpression": "'at most ' + string(params.maxReplica)",
            }
        ]
    }
    warnings = typecheck.check(
        {"spec": spec}, [(DEPLOYMENT, decl("io.k8s.api.apps.v1.Deployment"))], params
    )
    assert [w["fieldRef"] for w in warnings] == ["spec.validations[0].messageExpression"]
    assert "undefined field 'maxReplica'" in warnings[0]["warning"]


def test_kinds_to_check_follow_kubes_rules() -> None:
    rules = [
        {
            "apiGroups": ["apps"],
            "apiVersions": ["v1"],
            "resources": ["replicasets", "deployments", "deployments/scale", "*"],
        },
        {"apiGroups": ["*"], "apiVersions": ["v1"], "resources": ["pods"]},
        {"apiGroups": [""], "apiVersions": ["v1"], "resources": [f"r{i}" for i in range(20)]},
    ]
    p = {"spec": {"matchConstraints": {"resourceRules": rules}}}
    assert typecheck.resources_to_check(p)[:2] == [
        ("apps", "v1", "deployments"),
        ("apps", "v1", "replicasets"),
    ]
    kinds = typecheck.kinds_to_check(
        p, lambda g, v, r: [typecheck.GroupVersionKind(g, v, r.capitalize())]
    )
    assert len(kinds) == typecheck.MAX_TYPES_TO_CHECK
    assert kinds[0] == typecheck.GroupVersionKind("", "v1", "R0")
    assert str(kinds[-1]) == "apps/v1, Kind=Replicasets"


def test_refs_resolve_through_allof_and_cut_cycles() -> None:
    schemas = {
        "Root": {
            "type": "object",
            "properties": {
                "child": {"allOf": [{"$ref": PREFIX + "Node"}], "description": "kept out"},
                "port": {
                    "format": "int-or-string",
                    "oneOf": [{"type": "integer"}, {"type": "string"}],
                },
            },
        },
        "Node": {"type": "object", "properties": {"next": {"$ref": PREFIX + "Node"}}},
    }
    document = {"components": {"schemas": schemas}}
    resolved = schema_refs.populate(schema_refs.components(document), PREFIX + "Root")
    child = resolved["properties"]["child"]
    assert child["properties"]["next"] == {"type": "object"}
    assert resolved["properties"]["port"][schema_refs.INT_OR_STRING] is True
    with pytest.raises(schema_refs.SchemaNotFound):
        schema_refs.populate(schema_refs.components(document), PREFIX + "Missing")


def test_typed_environment_shapes() -> None:
    """Lists of lists and maps of maps check as dyn elements; a shape protobuf cannot
    declare (two map fields whose entry messages would share a name) checks as dyn."""
    strings = schema.DeclType("map", elem=schema.DeclType("string"))
    clash = schema.DeclType("object", fields={"a_b": strings, "aB": strings})
    assert typed_env.cel_type(clash) == cel.Type.DYN
    nested = schema.DeclType(
        "object",
        fields={
            "grid": schema.DeclType(
                "list", elem=schema.DeclType("list", elem=schema.DeclType("int"))
            ),
            "deep": schema.DeclType(
                "map", elem=schema.DeclType("map", elem=schema.DeclType("int"))
            ),
            "count": schema.DeclType("int"),
        },
    )
    env = typed_env.environment({"object": nested})
    env.compile("object.grid[0][0] == 1 && object.deep['a']['b'] == 2")
    with pytest.raises(CompileError, match=r"applied to '\(int, string\)'"):
        env.compile("object.count == 'x'")
