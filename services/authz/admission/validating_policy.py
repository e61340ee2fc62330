"""ValidatingAdmissionPolicy: policies in CEL, bound to requests by bindings — kube's
``admission/plugin/policy/validating`` (dispatcher.go, validator.go) and
``policy/generic`` (CollectParams).

For each policy with bindings, in name order: the request must match the policy's
``matchConstraints``, then each binding's ``matchResources``; the binding's params are
collected (``paramRef`` by name or selector; none found and
``parameterNotFoundAction: Deny`` is a configuration error); for each param the
``matchConditions`` are evaluated (any false: skip), then ``variables``, the
``validations`` and the ``auditAnnotations``. A failing validation (or an error under
``failurePolicy: Fail``) is handled per the binding's ``validationActions``: Deny
refuses the request, Warn adds a ``Warning``, Audit records the
``validation.policy.admission.k8s.io/validation_failure`` audit annotation. The first
denial is the answer: ``<resource> "<name>" is forbidden: ValidatingAdmissionPolicy
'P' with binding 'B' denied request: MESSAGE``, with the validation's reason (Invalid,
422, by default) and the message as the one cause.

Policies and bindings come from informers (every replica follows them: a change applies
as soon as its watch event arrives); each is compiled once per resourceVersion.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from kapi import errors, selectors
from kapi.cel import admission as cel
from kapi.cel.library import authz as cel_authz
from services.authz.admission import Attributes, Served, cel_authorizer
from services.authz.admission.compiled import CompiledSet, Objects
from services.authz.admission.matching import Criteria, Namespaces, exempt
from services.authz.admission.versioned import Converter, Versions

log = logging.getLogger(__name__)

Obj = dict[str, Any]
ALL_OPERATIONS = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})
VALIDATION_FAILURE_ANNOTATION = "validation.policy.admission.k8s.io/validation_failure"
MAX_AUDIT_ANNOTATION_VALUE_LENGTH = 10 * 1024
PARAM_SYNC_WAIT = 1.0  # seconds (kube waits this long for a param informer to list)
_CODES = {"Forbidden": 403, "Unauthorized": 401, "RequestEntityTooLarge": 413, "Invalid": 422}


class ParamLister(Protocol):
    namespaced: bool

    async def wait_synced(self, timeout: float) -> bool: ...

    def get(self, namespace: str, name: str) -> Obj | None: ...

    def list(self, namespace: str) -> list[Obj]: ...


class ParamSource(Protocol):
    async def lister(self, api_version: str, kind: str) -> ParamLister | None:
        """The objects of a paramKind (an informer started on first use), or None for
        a kind the API does not serve."""


class ConfigurationError(Exception):
    pass


@dataclass(frozen=True)
class Validation:
    expression: cel.Expression
    message: str
    message_expression: cel.Expression | None
    reason: str


@dataclass
class Policy:
    name: str
    criteria: Criteria
    failure_policy: str
    param_kind: tuple[str, str] | None
    match_conditions: list[tuple[str, cel.Expression]]
    variables: list[tuple[str, cel.Expression]]
    validations: list[Validation]
    audit_annotations: list[tuple[str, cel.Expression]]
    uses_authorizer: bool = False

    def __post_init__(self) -> None:
        expressions = [
            *(e for _, e in self.match_conditions),
            *(e for _, e in self.variables),
            *(v.expression for v in self.validations),
            *(v.message_expression for v in self.validations if v.message_expression),
            *(e for _, e in self.audit_annotations),
        ]
        self.uses_authorizer = any(e.uses_authorizer for e in expressions)

    @classmethod
    def compile(cls, obj: Obj) -> Policy:
        spec = obj.get("spec") or {}
        match = spec.get("matchConstraints") or {}
        kind = spec.get("paramKind")
        return cls(
            name=str((obj.get("metadata") or {}).get("name") or ""),
            criteria=Criteria.build(
                rules=match.get("resourceRules"),
                exclude=match.get("excludeResourceRules"),
                namespace_selector=match.get("namespaceSelector"),
                object_selector=match.get("objectSelector"),
                match_policy=match.get("matchPolicy"),
            ),
            failure_policy=str(spec.get("failurePolicy") or "Fail"),
            param_kind=(str(kind.get("apiVersion") or ""), str(kind.get("kind") or ""))
            if isinstance(kind, dict)
            else None,
            match_conditions=[
                (
                    str(c.get("name") or ""),
                    cel.compile_expression(str(c.get("expression") or ""), ("bool",)),
                )
                for c in _dicts(spec.get("matchConditions"))
            ],
            variables=[
                (str(v.get("name") or ""), cel.compile_expression(str(v.get("expression") or "")))
                for v in _dicts(spec.get("variables"))
            ],
            validations=[
                Validation(
                    expression=cel.compile_expression(str(v.get("expression") or ""), ("bool",)),
                    message=str(v.get("message") or ""),
                    message_expression=cel.compile_expression(
                        str(v["messageExpression"]), ("string",)
                    )
                    if v.get("messageExpression")
                    else None,
                    reason=str(v.get("reason") or ""),
                )
                for v in _dicts(spec.get("validations"))
            ],
            audit_annotations=[
                (
                    str(a.get("key") or ""),
                    cel.compile_expression(
                        str(a.get("valueExpression") or ""), ("string", "null_type")
                    ),
                )
                for a in _dicts(spec.get("auditAnnotations"))
            ],
        )


@dataclass(frozen=True)
class ParamRef:
    name: str
    namespace: str
    selector: Obj | None
    not_found_action: str


@dataclass
class Binding:
    name: str
    policy_name: str
    criteria: Criteria | None
    param_ref: ParamRef | None
    actions: tuple[str, ...]

    @classmethod
    def compile(cls, obj: Obj) -> Binding:
        spec = obj.get("spec") or {}
        match = spec.get("matchResources")
        ref = spec.get("paramRef")
        return cls(
            name=str((obj.get("metadata") or {}).get("name") or ""),
            policy_name=str(spec.get("policyName") or ""),
            criteria=Criteria.build(
                rules=match.get("resourceRules"),
                exclude=match.get("excludeResourceRules"),
                namespace_selector=match.get("namespaceSelector"),
                object_selector=match.get("objectSelector"),
                match_policy=match.get("matchPolicy"),
                all_when_no_rules=True,
            )
            if isinstance(match, dict)
            else None,
            param_ref=ParamRef(
                name=str(ref.get("name") or ""),
                namespace=str(ref.get("namespace") or ""),
                selector=ref.get("selector") if isinstance(ref.get("selector"), dict) else None,
                not_found_action=str(ref.get("parameterNotFoundAction") or ""),
            )
            if isinstance(ref, dict)
            else None,
            actions=tuple(str(a) for a in spec.get("validationActions") or ()),
        )


def _dicts(value: object) -> list[Obj]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


@dataclass(frozen=True)
class Decision:
    deny: bool
    message: str = ""
    reason: str = ""


PASSED = Decision(False)
NO_PARAMS: list[Obj | None] = [None]  # a policy without paramKind (or a binding without paramRef)


@dataclass
class _Denial:
    policy: str
    binding: str | None
    message: str
    reason: str = ""


@dataclass
class _Outcome:
    decisions: list[Decision] = field(default_factory=list)
    annotations: list[tuple[str, str]] = field(default_factory=list)
    annotation_errors: list[str] = field(default_factory=list)


class ValidatingAdmissionPolicy:
    """The validating plugin. Idle (``active()`` False) while no binding exists."""

    operations = ALL_OPERATIONS
    reads_only = True
    side_effect_free = True

    def __init__(
        self,
        *,
        policies: Objects,
        bindings: Objects,
        params: ParamSource,
        namespaces: Namespaces,
        request_object: Callable[..., Obj],
        authorize: cel_authz.Check | None = None,
        converter: Converter | None = None,
    ) -> None:
        self._policies = CompiledSet(policies, Policy.compile)
        self._bindings = CompiledSet(bindings, Binding.compile)
        self.params = params
        self.namespaces = namespaces
        self.request_object = request_object
        self.authorize = authorize
        self.converter = converter
        # The bindings by policy name, for the list of bindings ``refresh`` last gave.
        self._grouped: tuple[list[Binding], dict[str, list[Binding]]] = ([], {})

    def active(self) -> bool:
        return bool(self._bindings.refresh())

    async def admit(self, attributes: Attributes) -> None:
        bindings: list[Binding] = self._bindings.refresh()
        if not bindings or exempt(attributes):
            return
        if self._grouped[0] is not bindings:
            by_policy: dict[str, list[Binding]] = {}
            for binding in bindings:
                by_policy.setdefault(binding.policy_name, []).append(binding)
            self._grouped = (bindings, by_policy)
        by_policy = self._grouped[1]
        denials: list[_Denial] = []
        # By the resource a policy sees the request as (its own, or an equivalent
        # version under matchPolicy Equivalent: the objects converted to it).
        versions = Versions(attributes, self.converter)
        seen: dict[Served, tuple[Obj | None, Obj | None, Obj, int]] = {}
        namespace_object: Obj | None = None
        namespace_read = False
        shared: dict[tuple[int, bool, Served], cel.Activation] = {}
        for policy in self._policies.refresh():
            bound = by_policy.get(policy.name)
            if not bound:
                continue
            try:
                seen_as = await policy.criteria.select(attributes, self.namespaces)
                if seen_as is None:
                    continue
            except ValueError as exc:
                self._config_error(denials, policy, None, str(exc))
                continue
            collected: dict[str, list[str]] = {}
            for binding in bound:
                try:
                    if binding.criteria is not None and not await binding.criteria.matches(
                        attributes, self.namespaces
                    ):
                        continue
                    params = (
                        NO_PARAMS
                        if policy.param_kind is None or binding.param_ref is None
                        else await self._collect_params(policy, binding, attributes.namespace)
                    )
                except (ValueError, ConfigurationError) as exc:
                    self._config_error(denials, policy, binding, str(exc))
                    continue
                if not params:
                    continue
                if seen_as not in seen:
                    obj, old = await versions.at(seen_as)
                    request = self.request_object(attributes, seen_as=seen_as)
                    seen[seen_as] = (obj, old, request, cel.size_bound(obj, old, request))
                obj, old, request, values_bound = seen[seen_as]
                if not namespace_read:
                    namespace_read = True
                    namespace_object = await self._namespace_object(attributes)
                for param in params:
                    param_bound = (
                        max(values_bound, cel.size_bound(param)) if param else values_bound
                    )
                    # Policies without variables share one activation per param: the
                    # request's values are converted for CEL once.
                    shared_key = (id(param), policy.uses_authorizer, seen_as)
                    activation = shared.get(shared_key) if not policy.variables else None
                    if activation is None:
                        data: dict[str, Any] = {
                            "object": obj,
                            "oldObject": old,
                            "request": request,
                            "params": param,
                            "namespaceObject": namespace_object,
                            "variables": {},
                        }
                        if policy.uses_authorizer:
                            data.update(cel_authorizer.variables(attributes))
                        activation = cel.Activation(data)
                        if not policy.variables:
                            shared[shared_key] = activation
                    outcome = self._evaluate(policy, activation, param_bound)
                    self._act(attributes, policy, binding, outcome, denials)
                    for key, value in outcome.annotations:
                        values = collected.setdefault(key, [])
                        if value not in values:
                            values.append(value)
            for key, values in collected.items():
                attributes.annotate(f"{policy.name}/{key}", ", ".join(values))
        if denials:
            raise _denied(attributes, denials[0])

    def _evaluate(self, policy: Policy, activation: cel.Activation, bound: int) -> _Outcome:
        if self.authorize is None or not policy.uses_authorizer:
            return _validate(policy, activation, bound)
        with cel_authz.checking(self.authorize):
            return _validate(policy, activation, bound)

    def _config_error(
        self, denials: list[_Denial], policy: Policy, binding: Binding | None, message: str
    ) -> None:
        if policy.failure_policy == "Ignore":
            return
        if policy.failure_policy != "Fail":
            text = f"unrecognized failure policy: '{policy.failure_policy}'"
        elif binding is None:
            text = f"failed to configure policy: {message}"
        else:
            text = f"failed to configure binding: {message}"
        denials.append(_Denial(policy.name, binding.name if binding else None, text))

    def _act(
        self,
        attributes: Attributes,
        policy: Policy,
        binding: Binding,
        outcome: _Outcome,
        denials: list[_Denial],
    ) -> None:
        for index, decision in enumerate(outcome.decisions):
            if not decision.deny:
                continue
            for action in binding.actions:
                if action == "Deny":
                    denials.append(
                        _Denial(policy.name, binding.name, decision.message, decision.reason)
                    )
                elif action == "Warn":
                    attributes.warn(
                        f"Validation failed for ValidatingAdmissionPolicy '{policy.name}' "
                        f"with binding '{binding.name}': {decision.message}"
                    )
                elif action == "Audit":
                    value = orjson.dumps(
                        [
                            {
                                "message": decision.message,
                                "policy": binding.policy_name,
                                "binding": binding.name,
                                "expressionIndex": index,
                                "validationActions": list(binding.actions),
                            }
                        ]
                    ).decode()
                    attributes.annotate(VALIDATION_FAILURE_ANNOTATION, value)
        for message in outcome.annotation_errors:
            denials.append(_Denial(policy.name, binding.name, message))

    async def _namespace_object(self, attributes: Attributes) -> Obj | None:
        if not attributes.namespace or (
            attributes.group == "" and attributes.resource == "namespaces"
        ):
            return None
        namespace = await self.namespaces.get(attributes.namespace)
        if namespace is None:
            raise errors.not_found("namespaces", "", attributes.namespace)
        return cel.namespace_object(namespace)

    async def _collect_params(
        self, policy: Policy, binding: Binding, namespace: str
    ) -> list[Obj | None]:
        """CollectParams: [None] without a paramKind (or paramRef), else the params."""
        if policy.param_kind is None or binding.param_ref is None:
            return [None]
        ref = binding.param_ref
        api_version, kind = policy.param_kind
        lister = await self.params.lister(api_version, kind)
        shown = _gvk_string(api_version, kind)
        if lister is None:
            raise ConfigurationError(f"paramKind kind `{shown}` not known")
        params_namespace = ""
        if lister.namespaced:
            params_namespace = ref.namespace or namespace
            if not params_namespace:
                raise ConfigurationError(
                    "cannot use namespaced paramRef in policy binding that matches "
                    "cluster-scoped resources"
                )
        elif ref.namespace:
            raise ConfigurationError(
                "paramRef.namespace must not be provided for a cluster-scoped `paramKind`"
            )
        if not await lister.wait_synced(PARAM_SYNC_WAIT):
            raise ConfigurationError(
                f"paramKind kind `{shown}` not yet synced to use for admission"
            )
        params: list[Obj | None]
        if ref.name:
            found = lister.get(params_namespace, ref.name)
            params = [found] if found is not None else []
        elif ref.selector is not None:
            try:
                selector = selectors.from_label_selector(ref.selector)
            except errors.StatusError as err:
                raise ConfigurationError(err.message) from None
            params = [
                p
                for p in lister.list(params_namespace)
                if selector is not None and selector.matches(p)
            ]
        else:
            raise ConfigurationError("one of name or selector must be provided")
        if not params and ref.not_found_action == "Deny":
            raise ConfigurationError(
                "no params found for policy binding with `Deny` parameterNotFoundAction"
            )
        return params


def _gvk_string(api_version: str, kind: str) -> str:
    """schema.GroupVersionKind's String(): ``group/version, Kind=kind``."""
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={kind}"


def _validate(policy: Policy, activation: cel.Activation, bound: int) -> _Outcome:
    """The validator: match conditions, then validations and audit annotations."""
    error_action = policy.failure_policy != "Ignore"
    budget = cel.Budget(size_bound=bound)
    try:
        failures = []
        for _name, condition in policy.match_conditions:
            value = cel.evaluate(condition, activation, budget)
            if isinstance(value, cel.Failure):
                failures.append(value.message)
            elif value is False:
                return _Outcome()
        if failures:
            return _Outcome([Decision(error_action, _aggregate(failures))])
        variables: dict[str, Any] = {}
        variable_errors: dict[str, str] = {}
        for name, expression in policy.variables:
            # Each variable sees those before it (a fresh activation: few policies have any).
            value = cel.evaluate(
                expression, cel.Activation({**activation.data, "variables": variables}), budget
            )
            if isinstance(value, cel.Failure):
                variable_errors[name] = value.message
            else:
                variables[name] = value
        if policy.variables:
            activation = cel.Activation({**activation.data, "variables": variables})
        decisions = []
        for validation in policy.validations:
            if variable_errors:
                broken = [n for n in validation.expression.uses_variables if n in variable_errors]
                if broken:
                    decisions.append(Decision(error_action, variable_errors[broken[0]]))
                    continue
            value = cel.evaluate(validation.expression, activation, budget)
            if value is True:
                decisions.append(PASSED)
            elif isinstance(value, cel.Failure):
                decisions.append(Decision(error_action, value.message))
            else:
                message = _message(validation, activation, budget)
                decisions.append(Decision(True, message, validation.reason or "Invalid"))
    except cel.OutOfBudget as exc:
        return _Outcome([Decision(error_action, str(exc))])
    outcome = _Outcome(decisions)
    annotation_budget = cel.Budget(size_bound=bound)
    try:
        for key, expression in policy.audit_annotations:
            value = cel.evaluate(expression, activation, annotation_budget)
            if isinstance(value, cel.Failure):
                if error_action:
                    outcome.annotation_errors.append(value.message)
            elif isinstance(value, str):
                value = value.strip()
                if value:
                    outcome.annotations.append((key, value[:MAX_AUDIT_ANNOTATION_VALUE_LENGTH]))
            elif value is not None:
                outcome.annotation_errors.append(
                    f"valueExpression '{expression.source}' resulted in unsupported return "
                    f"type: {_cel_type_name(value)}. Return type must be either string or null."
                )
    except cel.OutOfBudget as exc:
        return _Outcome([Decision(error_action, str(exc))])
    return outcome


def _message(validation: Validation, activation: cel.Activation, budget: cel.Budget) -> str:
    message = ""
    if validation.message_expression is not None:
        value = cel.evaluate(validation.message_expression, activation, budget)
        if isinstance(value, str):
            value = value.strip()
            if len(value) <= cel.MAX_EVALUATED_MESSAGE_EXPRESSION_SIZE_BYTES and "\n" not in value:
                message = value
    if not message and validation.message:
        message = validation.message.strip()
    if not message:
        message = f"failed expression: {validation.expression.source.strip()}"
    return message


def _cel_type_name(value: object) -> str:
    return {bool: "bool", int: "int", float: "double", list: "list", dict: "map"}.get(
        type(value), type(value).__name__
    )


def _aggregate(messages: Sequence[str]) -> str:
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


def _denied(attributes: Attributes, denial: _Denial) -> errors.StatusError:
    if denial.binding is not None:
        message = (
            f"ValidatingAdmissionPolicy '{denial.policy}' with binding '{denial.binding}' "
            f"denied request: {denial.message}"
        )
    else:
        message = f"ValidatingAdmissionPolicy '{denial.policy}' denied request: {denial.message}"
    asked = attributes.request_as  # kube names the resource the request was made to
    err = errors.forbidden(asked.resource, asked.group, request_name(attributes), message)
    reason = denial.reason or "Invalid"
    err.reason = reason
    err.code = _CODES.get(reason, 422)
    err.details = {**(err.details or {}), "causes": [{"message": message}]}
    return err


def request_name(attributes: Attributes) -> str:
    """admission's extractResourceName: the request's name, else the object's name or
    generateName, else "Unknown"."""
    if attributes.name:
        return attributes.name
    meta = (attributes.object or {}).get("metadata") or {}
    return str(meta.get("name") or meta.get("generateName") or "Unknown")
