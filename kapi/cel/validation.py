"""CRD validation rules (``x-kubernetes-validations``): compile once per schema, validate
each custom resource, as apiextensions-apiserver's ``schema/cel`` package does.

``compile_rules(schema)`` walks a structural schema and compiles every rule (and
``messageExpression``) of every node once, in an environment where ``self`` (and
``oldSelf`` for transition rules) have the node's CEL type. ``CompiledSchemaRules.errors``
gives what kube reports at CRD create/update (compile errors, estimated cost over
``StaticEstimatedCostLimit`` per rule and ``StaticEstimatedCRDCostLimit`` per schema, rule
fields). ``validate(compiled, new, old)`` evaluates the rules against an object and its
old version and returns kube's field errors; ``validate_with_warnings`` also returns the
errors ratcheting turned into warnings (an unchanged value is not refused by a rule that
does not read ``oldSelf``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from cel_expr_python import cel

from kapi import errors
from kapi.cel import checked as checked_ast
from kapi.cel import cost, fields, runtime, schema
from kapi.cel.environment import CompileError, Environment
from kapi.cel.schema import DeclType

log = logging.getLogger(__name__)

# k8s.io/apiserver/pkg/apis/cel/config.go and apiextensions validation.
PER_CALL_LIMIT = 1_000_000
RUNTIME_CEL_COST_BUDGET = 10_000_000
STATIC_ESTIMATED_COST_LIMIT = 10_000_000
STATIC_ESTIMATED_CRD_COST_LIMIT = 100_000_000
MAX_EVALUATED_MESSAGE_EXPRESSION_SIZE_BYTES = 5 * 1024
SUPPORTED_REASONS = (
    "FieldValueDuplicate",
    "FieldValueForbidden",
    "FieldValueInvalid",
    "FieldValueRequired",
)
CONTRIBUTED = (
    "contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema"
)
MESSAGE_OUT_OF_BUDGET = (
    "messageExpression evaluation failed due to running out of cost budget, "
    "no further validation rules will be run"
)
CALL_COST_EXCEEDED = (
    "'operation cancelled: actual cost limit exceeded': no further validation rules "
    "will be run due to call cost exceeds limit for rule: "
)
OUT_OF_BUDGET = (
    "validation failed due to running out of cost budget, no further validation rules will be run"
)
# A rule whose static estimate is at most this is charged its estimate at run time
# instead of a cost computed from the object's sizes (see ``runtime``).
CHEAP_RULE = 1_000

# The variables that carry oldSelf into a rule with optionalOldSelf (see _OPTIONAL_WRAP).
_OLD, _HAS_OLD = "__kapi_old_self", "__kapi_has_old_self"
_OPTIONAL_WRAP = (
    "cel.bind(oldSelf, " + _HAS_OLD + " ? optional.of(" + _OLD + ") : optional.none(), (\n{}\n))"
)


# --- field paths ---------------------------------------------------------------------


def child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def key(path: str, k: str) -> str:
    return f"{path}[{k}]"


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _shown(path: str) -> str:
    """A ``field.Path`` as Go prints it: the root (nil) path is ``<nil>``."""
    return path or "<nil>"


# --- compiled rules --------------------------------------------------------------------


@dataclass
class CompiledRule:
    """One ``x-kubernetes-validations`` entry, compiled."""

    rule: dict[str, Any]
    program: cel.Expression | None = None
    error: str = ""  # compile error detail, kube's wording
    message_program: cel.Expression | None = None
    message_error: str = ""
    uses_old_self: bool = False
    max_cost: int = 0
    message_max_cost: int = 0
    checked: Any = None
    message_checked: Any = None
    field_path: str = ""  # normalized fieldPath, appended to the node's path

    @property
    def optional_old_self(self) -> bool:
        return bool(self.rule.get("optionalOldSelf"))


@dataclass
class Node:
    """The rules of one schema node and of the nodes below it."""

    schema: dict[str, Any]
    decl: DeclType | None
    path: str  # the node's path in the CRD (``...openAPIV3Schema.properties[spec]``)
    resource_root: bool = False
    cardinality: int = 1
    rules: list[CompiledRule] = field(default_factory=list)
    properties: dict[str, Node] = field(default_factory=dict)
    items: Node | None = None
    additional: Node | None = None
    uncorrelatable: str | None = None  # where oldSelf stops being usable, if it does

    def walk(self) -> Iterator[Node]:
        yield self
        for sub in self.properties.values():
            yield from sub.walk()
        if self.items is not None:
            yield from self.items.walk()
        if self.additional is not None:
            yield from self.additional.walk()

    def has_rules(self) -> bool:
        return any(n.rules for n in self.walk())


@dataclass
class CompiledSchemaRules:
    """Every rule of a structural schema, compiled: what ``validate`` evaluates."""

    root: Node | None

    def errors(self) -> list[errors.FieldError]:
        """The CRD validation errors kube gives for these rules at create/update."""
        return list(_crd_errors(self.root)) if self.root is not None else []

    def has_rules(self) -> bool:
        return self.root is not None and self.root.has_rules()


_ENVS: dict[tuple[str, ...], Environment] = {}


def _environment(decl: schema.DeclType | None, optional_old: bool) -> Environment:
    t = decl.cel_type() if decl is not None else cel.Type.DYN
    names = (t.name(), "optional" if optional_old else "")
    env = _ENVS.get(names)
    if env is None:
        if optional_old:
            env = Environment({"self": t, _OLD: t, _HAS_OLD: cel.Type.BOOL})
        else:
            env = Environment({"self": t, "oldSelf": t})
        if len(_ENVS) < 256:
            _ENVS[names] = env
    return env


def _shift_lines(detail: str) -> str:
    """Issue positions of a rule compiled inside _OPTIONAL_WRAP, moved back one line."""
    out = []
    for line in detail.split("\n"):
        if line.startswith("ERROR: <input>:"):
            rest = line[len("ERROR: <input>:") :]
            number, _, tail = rest.partition(":")
            if number.isdigit() and int(number) > 1:
                line = f"ERROR: <input>:{int(number) - 1}:{tail}"
        out.append(line)
    return "\n".join(out)


def _compile_rule(
    rule: dict[str, Any], decl: schema.DeclType | None, node_schema: dict[str, Any]
) -> CompiledRule:
    compiled = CompiledRule(rule=rule)
    source = str(rule.get("rule") or "")
    if not source.strip():
        return compiled
    roots = {"self": decl, "oldSelf": decl}
    optional_old = bool(rule.get("optionalOldSelf"))
    env = _environment(decl, optional_old)
    try:
        if optional_old:
            program = env.compile(_OPTIONAL_WRAP.format(source))
        else:
            program = env.compile(source)
    except CompileError as exc:
        detail = _shift_lines(exc.detail) if optional_old else exc.detail
        compiled.error = "compilation failed: " + detail
        return compiled
    parsed = checked_ast.parse(program.serialize())
    issues, result = fields.check(parsed, source, roots) if not optional_old else ([], None)
    if issues:
        compiled.error = "compilation failed: " + "\n".join(issues)
        return compiled
    if not _may_be(program.return_type(), result, cel.Type.BOOL, "bool"):
        compiled.error = "cel expression must evaluate to a bool"
        return compiled
    compiled.program = program
    compiled.checked = parsed
    if optional_old:
        inner = parsed.expr.comprehension_expr.result
        compiled.uses_old_self = any(
            e.WhichOneof("expr_kind") == "ident_expr" and e.ident_expr.name == "oldSelf"
            for e in checked_ast.walk(inner)
        )
    else:
        compiled.uses_old_self = checked_ast.uses_ident(parsed, "oldSelf")
    compiled.max_cost = cost.estimate(parsed, static_sizer(decl)).max
    message_source = str(rule.get("messageExpression") or "")
    if message_source.strip():
        try:
            message = _environment(decl, False).compile(message_source)
        except CompileError as exc:
            compiled.message_error = "messageExpression compilation failed: " + exc.detail
        else:
            message_checked = checked_ast.parse(message.serialize())
            _, message_result = fields.check(message_checked, message_source, roots)
            if not _may_be(message.return_type(), message_result, cel.Type.STRING, "string"):
                compiled.message_error = "messageExpression must evaluate to a string"
            else:
                compiled.message_program = message
                compiled.message_checked = message_checked
                compiled.message_max_cost = cost.estimate(
                    compiled.message_checked, static_sizer(decl)
                ).max
    path = str(rule.get("fieldPath") or "")
    if path:
        try:
            compiled.field_path = normalize_field_path(path, node_schema)
        except ValueError:
            compiled.field_path = ""
    return compiled


def _may_be(
    declared: cel.Type, schema_type: schema.DeclType | None, want: cel.Type, kind: str
) -> bool:
    """Whether a result is of the wanted type: by cel's type, or, where cel sees ``dyn``
    (a field of an object), by the schema's type of that field."""
    if declared == want:
        return True
    if declared != cel.Type.DYN:
        return False
    return schema_type is None or schema_type.kind in (kind, "dyn")


def static_sizer(decl: schema.DeclType | None) -> cost.Sizer:
    """Sizes from the schema's bounds: kube's ``sizeEstimator`` over the DeclType."""

    def sizer(path: Sequence[str]) -> cost.Estimate | None:
        if not path or path[0] not in ("self", "oldSelf"):
            return None
        node = decl
        for name in path[1:]:
            if node is None:
                return None
            if name in ("@items", "@values"):
                node = node.elem
            elif name == "@keys":
                node = schema.DeclType("string", max_elements=schema.MAX_REQUEST_SIZE_BYTES - 2)
            else:
                node = node.fields.get(name)
        if node is None:
            return None
        return cost.Estimate(0, node.max_elements)

    return sizer


def compile_rules(
    structural: dict[str, Any], *, path: str = "spec.validation.openAPIV3Schema"
) -> CompiledSchemaRules:
    """Compile every rule of a structural schema (a custom resource's root schema).

    ``path`` is where the schema sits in the CRD, for ``CompiledSchemaRules.errors``
    (``spec.versions[0].schema.openAPIV3Schema`` for a v1 CRD's first version).
    """
    decl = schema.decl_type(structural, True)
    return CompiledSchemaRules(_compile_node(structural, decl, path, True, 1, None))


def _compile_node(
    s: dict[str, Any],
    decl: schema.DeclType | None,
    path: str,
    resource_root: bool,
    cardinality: int,
    uncorrelatable: str | None,
) -> Node:
    node = Node(
        schema=s,
        decl=decl,
        path=path,
        resource_root=resource_root,
        cardinality=cardinality,
        uncorrelatable=uncorrelatable,
    )
    node.rules = [_compile_rule(r, decl, s) for r in s.get("x-kubernetes-validations") or []]
    map_type = s.get("x-kubernetes-map-type")
    for name, prop in (s.get("properties") or {}).items():
        escaped = schema.escape(name)
        if decl is not None and escaped is not None and decl.kind == "object":
            prop_decl = decl.fields.get(escaped)
        else:
            prop_decl = schema.decl_type(prop, bool(prop.get("x-kubernetes-embedded-resource")))
        sub_uncorrelatable = uncorrelatable
        if map_type not in (None, "granular", "atomic") and sub_uncorrelatable is None:
            sub_uncorrelatable = path
        node.properties[name] = _compile_node(
            prop,
            prop_decl,
            f"{path}.properties[{name}]",
            bool(prop.get("x-kubernetes-embedded-resource")),
            cardinality,
            sub_uncorrelatable,
        )
    elem = decl.elem if decl is not None else None
    bound = decl.max_elements if decl is not None else 1
    items = s.get("items")
    if isinstance(items, dict):
        sub_uncorrelatable = uncorrelatable
        if s.get("x-kubernetes-list-type") != "map" and sub_uncorrelatable is None:
            sub_uncorrelatable = path
        node.items = _compile_node(
            items,
            elem,
            f"{path}.items",
            bool(items.get("x-kubernetes-embedded-resource")),
            _mul(cardinality, bound),
            sub_uncorrelatable,
        )
    extra = s.get("additionalProperties")
    if isinstance(extra, dict):
        node.additional = _compile_node(
            extra,
            elem,
            f"{path}.additionalProperties",
            bool(extra.get("x-kubernetes-embedded-resource")),
            _mul(cardinality, bound),
            uncorrelatable,
        )
    return node


def _mul(a: int, b: int) -> int:
    return min(a * max(b, 1), cost.U64)


# --- CRD-time errors -------------------------------------------------------------------


def go_string(value: str) -> str:
    return errors.quote(value)


def go_rule(rule: dict[str, Any]) -> str:
    """``%#v`` of an ``apiextensions.ValidationRule``, as kube's field errors print it."""
    reason = rule.get("reason")
    optional = rule.get("optionalOldSelf")
    return (
        "apiextensions.ValidationRule{"
        f"Rule:{go_string(str(rule.get('rule') or ''))}, "
        f"Message:{go_string(str(rule.get('message') or ''))}, "
        f"MessageExpression:{go_string(str(rule.get('messageExpression') or ''))}, "
        "Reason:(*apiextensions.FieldValueErrorReason)"
        + ("(nil)" if reason is None else "(0xc000000000)")
        + f", FieldPath:{go_string(str(rule.get('fieldPath') or ''))}, "
        "OptionalOldSelf:(*bool)" + ("(nil)" if optional is None else "(0xc000000000)") + "}"
    )


def cost_error_message(name: str, expression_cost: int, limit: int) -> str:
    """kube's ``getCostErrorMessage``."""
    factor = expression_cost / limit
    if factor > 100.0:
        shown = "more than 100x"
    elif factor < 1.5:
        shown = f"{factor:f}x"
    else:
        shown = f"{factor:.1f}x"
    return (
        f"{name} exceeds budget by factor of {shown} (try simplifying the rule, or adding "
        "maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)"
    )


def _has_newlines(s: str) -> bool:
    return "\n" in s or "\r" in s


def _invalid_shown(path: str, shown_value: str, detail: str) -> errors.FieldError:
    """field.Invalid whose value Go prints with ``%#v`` (a struct), not as a JSON value."""
    return errors.FieldError(
        "FieldValueInvalid", path, None, f"{shown_value}: {detail}", omit_value=True
    )


def _crd_errors(root: Node) -> Iterator[errors.FieldError]:
    total: list[tuple[str, int]] = []
    schema_errors: list[errors.FieldError] = []
    cel_errors: list[errors.FieldError] = []
    for node in root.walk():
        for i, compiled in enumerate(node.rules):
            rule = compiled.rule
            base = f"{node.path}.x-kubernetes-validations[{i}]"
            source = str(rule.get("rule") or "")
            message = rule.get("message")
            if not source.strip():
                schema_errors.append(errors.required(f"{base}.rule", "rule is not specified"))
            elif message and not str(message).strip():
                schema_errors.append(
                    errors.invalid_value(
                        f"{base}.message", message, "message must be non-empty if specified"
                    )
                )
            elif message and _has_newlines(str(message).strip()):
                schema_errors.append(
                    errors.invalid_value(
                        f"{base}.message", message, "message must not contain line breaks"
                    )
                )
            elif _has_newlines(source.strip()) and not str(message or "").strip():
                schema_errors.append(
                    errors.required(
                        f"{base}.message", "message must be specified if rule contains line breaks"
                    )
                )
            message_expression = rule.get("messageExpression")
            if (
                message_expression is not None
                and message_expression != ""
                and not str(message_expression).strip()
            ):
                schema_errors.append(
                    errors.required(
                        f"{base}.messageExpression",
                        "messageExpression must be non-empty if specified",
                    )
                )
            reason = rule.get("reason")
            if reason is not None and reason not in SUPPORTED_REASONS:
                schema_errors.append(
                    errors.not_supported(f"{base}.reason", reason, SUPPORTED_REASONS)
                )
            fp = rule.get("fieldPath")
            if fp is not None and fp != "":
                if not str(fp).strip():
                    schema_errors.append(
                        errors.invalid_value(
                            f"{base}.fieldPath", fp, "fieldPath must be non-empty if specified"
                        )
                    )
                if _has_newlines(str(fp)):
                    schema_errors.append(
                        errors.invalid_value(
                            f"{base}.fieldPath", fp, "fieldPath must not contain line breaks"
                        )
                    )
                try:
                    normalize_field_path(str(fp), node.schema)
                except ValueError:
                    schema_errors.append(
                        errors.invalid_value(
                            f"{base}.fieldPath", fp, "fieldPath must be a valid path"
                        )
                    )
            rule_cost = _mul(compiled.max_cost, node.cardinality) if compiled.max_cost else 0
            if rule_cost > STATIC_ESTIMATED_COST_LIMIT:
                cel_errors.append(
                    errors.forbidden_field(
                        f"{base}.rule",
                        cost_error_message(
                            "estimated rule cost", rule_cost, STATIC_ESTIMATED_COST_LIMIT
                        ),
                    )
                )
            total.append((f"{base}.rule", rule_cost))
            if compiled.error:
                cel_errors.append(_invalid_shown(f"{base}.rule", go_rule(rule), compiled.error))
            if compiled.message_error:
                cel_errors.append(
                    _invalid_shown(
                        f"{base}.messageExpression", go_rule(rule), compiled.message_error
                    )
                )
            elif compiled.message_program is not None:
                message_cost = compiled.message_max_cost
                if message_cost > STATIC_ESTIMATED_COST_LIMIT:
                    cel_errors.append(
                        errors.forbidden_field(
                            f"{base}.messageExpression",
                            cost_error_message(
                                "estimated messageExpression cost",
                                message_cost,
                                STATIC_ESTIMATED_COST_LIMIT,
                            ),
                        )
                    )
                total.append((f"{base}.messageExpression", message_cost))
            if compiled.uses_old_self:
                if node.uncorrelatable is not None:
                    cel_errors.append(
                        errors.invalid_value(
                            f"{base}.rule",
                            source,
                            "oldSelf cannot be used on the uncorrelatable portion of the schema "
                            f"within {node.uncorrelatable}",
                        )
                    )
            elif rule.get("optionalOldSelf") is not None and compiled.program is not None:
                cel_errors.append(
                    errors.invalid_value(
                        f"{base}.optionalOldSelf",
                        rule["optionalOldSelf"],
                        "may not be set if oldSelf is not used in rule",
                    )
                )
    yield from schema_errors
    yield from cel_errors
    grand = min(sum(c for _, c in total), cost.U64)
    if grand > STATIC_ESTIMATED_CRD_COST_LIMIT:
        for where, _ in sorted((t for t in total if t[1] > 0), key=lambda t: -t[1])[:4]:
            yield errors.forbidden_field(
                where,
                CONTRIBUTED,
            )
        yield errors.forbidden_field(
            root.path,
            cost_error_message(
                "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema",
                grand,
                STATIC_ESTIMATED_CRD_COST_LIMIT,
            ),
        )


def normalize_field_path(json_path: str, s: dict[str, Any]) -> str:
    """kube's ``ValidFieldPath``: ``.a.b['c']`` → ``a.b[c]`` (or ``a.b.c`` for a property);
    ValueError where the path does not name a field of the schema."""
    out, i, node = "", 0, s
    while i < len(json_path):
        ch = json_path[i]
        if ch == ".":
            j = i + 1
            while j < len(json_path) and json_path[j] not in ".[]":
                j += 1
            name, i = json_path[i + 1 : j], j
        elif ch == "[":
            end = json_path.find("']", i)
            if not json_path.startswith("['", i) or end < 0:
                raise ValueError("expected single quoted string")
            name, i = json_path[i + 2 : end].replace("\\'", "'"), end + 2
        else:
            raise ValueError(f"expected [ or . but got: {ch}")
        if node.get("properties") is not None:
            if name not in node["properties"]:
                raise ValueError("does not refer to a valid field")
            out, node = child(out, name), node["properties"][name]
        elif isinstance(node.get("additionalProperties"), dict):
            out, node = key(out, name), node["additionalProperties"]
        else:
            raise ValueError("does not refer to a valid field")
    return out


# --- run time --------------------------------------------------------------------------


@dataclass
class _State:
    budget: int
    errors: list[errors.FieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def validate(
    compiled: CompiledSchemaRules,
    new: Any,
    old: Any = None,
    *,
    path: str = "",
    budget: int = RUNTIME_CEL_COST_BUDGET,
) -> list[errors.FieldError]:
    """The field errors of every rule on ``new`` (``old``: the stored object on update)."""
    return validate_with_warnings(compiled, new, old, path=path, budget=budget)[0]


def validate_with_warnings(
    compiled: CompiledSchemaRules,
    new: Any,
    old: Any = None,
    *,
    path: str = "",
    budget: int = RUNTIME_CEL_COST_BUDGET,
) -> tuple[list[errors.FieldError], list[str]]:
    """``validate`` plus the ratcheted errors, as warning texts."""
    state = _State(budget)
    if compiled.root is not None and compiled.root.has_rules():
        _validate_node(compiled.root, new, old, path, state, True)
    return state.errors, state.warnings


def _validate_node(
    node: Node, new: Any, old: Any, path: str, state: _State, correlated: bool
) -> None:
    if new is None or state.budget < 0:
        return
    if node.rules:
        _validate_rules(node, new, old, path, state, correlated)
        if state.budget < 0:
            return
    if isinstance(new, dict):
        old_map = old if isinstance(old, dict) else {}
        correlatable = node.schema.get("x-kubernetes-map-type") in (None, "granular", "atomic")
        for k, v in new.items():
            sub = node.properties.get(k) or node.additional
            if sub is None or not sub.has_rules():
                continue
            sub_path = child(path, k) if k in node.properties else key(path, k)
            _validate_node(
                sub,
                v,
                old_map.get(k) if correlatable else None,
                sub_path,
                state,
                correlated and correlatable,
            )
            if state.budget < 0:
                return
    elif isinstance(new, list) and node.items is not None and node.items.has_rules():
        keys = node.schema.get("x-kubernetes-list-map-keys") or []
        by_key: dict[tuple[Any, ...], Any] = {}
        if node.schema.get("x-kubernetes-list-type") == "map" and isinstance(old, list):
            for item in old:
                if isinstance(item, dict):
                    by_key[tuple(item.get(k) for k in keys)] = item
        for i, item in enumerate(new):
            old_item = (
                by_key.get(tuple(item.get(k) for k in keys))
                if by_key and isinstance(item, dict)
                else None
            )
            _validate_node(node.items, item, old_item, index(path, i), state, bool(by_key))
            if state.budget < 0:
                return


def _validate_rules(
    node: Node, new: Any, old: Any, path: str, state: _State, correlated: bool
) -> None:
    type_name = node.schema.get("type", "")
    decl = node.decl
    shown = _shown(path)
    self_value = schema.to_cel(new, decl)
    old_value = schema.to_cel(old, decl) if old is not None else None
    if state.budget <= 0:
        state.errors.append(errors.invalid_value(shown, type_name, OUT_OF_BUDGET))
        state.budget = -1
        return
    for compiled in node.rules:
        rule = compiled.rule
        if compiled.error:
            state.errors.append(
                errors.invalid_value(shown, type_name, f"rule compile error: {compiled.error}")
            )
            continue
        if compiled.program is None:
            continue
        if compiled.uses_old_self and old is None and not compiled.optional_old_self:
            continue
        data = _activation(compiled, self_value, old_value, old is not None)
        charge = runtime.charge(compiled.checked, compiled.max_cost, data, decl, CHEAP_RULE)
        if charge > PER_CALL_LIMIT:
            if state.budget < PER_CALL_LIMIT:
                state.errors.append(errors.invalid_value(shown, type_name, OUT_OF_BUDGET))
            else:
                state.errors.append(
                    errors.invalid_value(
                        shown,
                        type_name,
                        CALL_COST_EXCEEDED + _rule_error_string(rule),
                    )
                )
            state.budget = -1
            return
        if charge > state.budget:
            state.errors.append(errors.invalid_value(shown, type_name, OUT_OF_BUDGET))
            state.budget = -1
            return
        state.budget -= charge
        outcome = runtime.evaluate(compiled.program, data)
        if isinstance(outcome, runtime.EvalError):
            if outcome.no_such_overload:
                detail = (
                    f"'{outcome.message}': call arguments did not match a supported operator, "
                    f"function or macro signature for rule: {_rule_error_string(rule)}"
                )
            else:
                detail = f"{outcome.message} evaluating rule: {_rule_error_string(rule)}"
            state.errors.append(errors.invalid_value(shown, type_name, detail))
            continue
        if outcome is True:
            continue
        field_path = child(path, compiled.field_path) if compiled.field_path else path
        message = _message(compiled, node, data, state, field_path, type_name)
        if message is None:
            return
        error = _error_for_reason(_shown(field_path), type_name, message, rule.get("reason"))
        if not compiled.uses_old_self and correlated and old is not None and old == new:
            state.warnings.append(str(error))
        else:
            state.errors.append(error)


def _activation(
    compiled: CompiledRule, self_value: Any, old_value: Any, has_old: bool
) -> dict[str, Any]:
    if compiled.optional_old_self:
        return {"self": self_value, _OLD: old_value if has_old else self_value, _HAS_OLD: has_old}
    return {"self": self_value, "oldSelf": old_value if has_old else self_value}


def _message(
    compiled: CompiledRule,
    node: Node,
    data: dict[str, Any],
    state: _State,
    path: str,
    type_name: str,
) -> str | None:
    """The error's detail: the messageExpression's value, else the message or the rule;
    None when evaluating the messageExpression ran out of budget (validation stops)."""
    rule = compiled.rule
    if compiled.message_program is not None:
        message_data = {"self": data["self"], "oldSelf": data.get("oldSelf", data.get(_OLD))}
        charge = runtime.charge(
            compiled.message_checked, compiled.message_max_cost, message_data, node.decl, CHEAP_RULE
        )
        if charge > state.budget or charge > PER_CALL_LIMIT:
            if charge > state.budget:
                detail = MESSAGE_OUT_OF_BUDGET
            else:
                detail = (
                    "no further validation rules will be run due to call cost exceeds limit for "
                    f"messageExpression: {errors.quote(str(rule.get('messageExpression')))}"
                )
            state.errors.append(errors.invalid_value(_shown(path), type_name, detail))
            state.budget = -1
            return None
        state.budget -= charge
        outcome = runtime.evaluate(compiled.message_program, message_data)
        if isinstance(outcome, runtime.EvalError):
            log.debug("messageExpression evaluation failed: %s", outcome.message)
        elif isinstance(outcome, str):
            trimmed = outcome.strip()
            if (
                trimmed
                and len(trimmed) <= MAX_EVALUATED_MESSAGE_EXPRESSION_SIZE_BYTES
                and "\n" not in trimmed
            ):
                return trimmed
    message = str(rule.get("message") or "")
    if message:
        return message.strip()
    return f"failed rule: {_rule_error_string(rule)}"


def _rule_error_string(rule: dict[str, Any]) -> str:
    message = str(rule.get("message") or "")
    return message.strip() if message else str(rule.get("rule") or "").strip()


def _error_for_reason(path: str, type_name: str, detail: str, reason: Any) -> errors.FieldError:
    if reason == "FieldValueForbidden":
        return errors.forbidden_field(path, detail)
    if reason == "FieldValueRequired":
        return errors.required(path, detail)
    if reason == "FieldValueDuplicate":
        return errors.duplicate(path, type_name)
    return errors.invalid_value(path, type_name, detail)
