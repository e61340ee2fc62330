"""The MutatingAdmissionWebhook and ValidatingAdmissionWebhook plugins, as kube's
``admission/plugin/webhook/{mutating,validating}/dispatcher.go`` and
``generic/webhook.go`` (ShouldCallHook) run them.

Configurations are taken in name order, their webhooks in order. A webhook is called
when a rule matches (exactly, or with ``matchPolicy: Equivalent`` another version of
the resource), the namespace and object selectors match, and every ``matchConditions``
expression is true (an error: 403 under ``failurePolicy: Fail``, skipped under
Ignore). Requests on the admission configuration objects themselves are never sent.

- Mutating webhooks run one after the other; each JSONPatch answer is applied before
  the next is called. A webhook with ``reinvocationPolicy: IfNeeded`` is called once
  more, in a second round of the whole mutating chain, when a later webhook changed the
  object after it ran (``MutatingWebhooks``). Each call is annotated for audit:
  ``mutation.webhook.admission.k8s.io/round_R_index_I`` (configuration, webhook,
  mutated), ``patch.webhook.admission.k8s.io/round_R_index_I`` with an applied patch
  (recorded at level Request and above), ``failed-open.*`` when a failure is ignored.
- Validating webhooks run concurrently; the first refusal (in configuration order) is
  the answer.
- A webhook that cannot be called or answers badly: ignored under Ignore, else 500
  ``Internal error occurred: failed calling webhook "NAME": ...``. A refusal is the
  webhook's Status: ``admission webhook "NAME" denied the request: MESSAGE``, code at
  least 400. A dry run is refused (400) by a webhook whose sideEffects are not None or
  NoneOnDryRun. Warnings become ``Warning`` headers; audit annotations are recorded as
  ``NAME/KEY``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson

from kapi import errors
from kapi.cel import admission as cel
from kapi.cel.library import authz as cel_authz
from services.authz.admission import Attributes, Served, cel_authorizer, review
from services.authz.admission.compiled import CompiledSet, Objects
from services.authz.admission.matching import Namespaces, exempt
from services.authz.admission.versioned import Converter, Versions
from services.authz.admission.webhooks.caller import CallingError, WebhookCaller
from services.authz.admission.webhooks.configuration import (
    Configuration,
    Hook,
    compile_configuration,
)
from services.registry.patching import json_patch

log = logging.getLogger(__name__)

Obj = dict[str, Any]
ALL_OPERATIONS = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})
PLUGIN_NAME = "MutatingAdmissionWebhook"
# kube's mutating/dispatcher.go and validating/dispatcher.go audit annotation keys; the
# patch one is recorded only at audit level Request and above (the gateway's recorder
# knows the prefix).
MUTATION_ANNOTATION = "mutation.webhook.admission.k8s.io/round_{}_index_{}"
PATCH_ANNOTATION = "patch.webhook.admission.k8s.io/round_{}_index_{}"
MUTATION_FAILED_OPEN = "failed-open.mutation.webhook.admission.k8s.io/round_{}_index_{}"
VALIDATING_FAILED_OPEN = "failed-open.validating.webhook.admission.k8s.io/round_0_index_{}"
_GO_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


class _Webhooks:
    def __init__(
        self,
        *,
        configurations: Objects,
        caller: WebhookCaller,
        namespaces: Namespaces,
        authorize: cel_authz.Check | None = None,
        converter: Converter | None = None,
    ) -> None:
        self._configurations: CompiledSet[Configuration] = CompiledSet(
            configurations, compile_configuration
        )
        self.caller = caller
        self.namespaces = namespaces
        self.authorize = authorize
        self.converter = converter

    operations = ALL_OPERATIONS
    mutating = False

    def hooks(self) -> list[Hook]:
        return [h for c in self._configurations.refresh() for h in c.hooks]

    def active(self) -> bool:
        return any(c.hooks for c in self._configurations.refresh())

    async def _should_call(
        self, hook: Hook, attributes: Attributes, versions: Versions
    ) -> Served | None:
        """ShouldCallHook: the resource the webhook sees the request as (None: not
        called); matchConditions read the objects in its version. A matchConditions
        error under Fail raises 403."""
        try:
            seen_as = await hook.criteria.select(attributes, self.namespaces)
        except ValueError as exc:
            raise errors.internal(str(exc)) from None
        if seen_as is None or not hook.match_conditions:
            return seen_as
        obj, old = await versions.at(seen_as)
        request = review.request(attributes, seen_as=seen_as)
        activation = {
            "object": obj,
            "oldObject": old,
            "request": request,
            "params": None,
            "namespaceObject": None,
            "variables": {},
            **cel_authorizer.variables(attributes),
        }
        budget = cel.Budget(size_bound=cel.size_bound(obj, old, request))
        failures: list[str] = []
        checking = (
            cel_authz.checking(self.authorize)
            if self.authorize is not None
            else contextlib.nullcontext()
        )
        try:
            with checking:
                for _name, condition in hook.match_conditions:
                    value = cel.evaluate(condition, activation, budget)
                    if isinstance(value, cel.Failure):
                        failures.append(value.message)
                    elif value is False:
                        return None
        except cel.OutOfBudget as exc:
            failures.append(str(exc))
        if failures:
            if hook.ignores_failures:
                return None
            detail = failures[0] if len(failures) == 1 else "[" + ", ".join(failures) + "]"
            asked = attributes.request_as
            raise errors.forbidden(asked.resource, asked.group, attributes.name, detail)
        return seen_as

    async def _call(
        self,
        hook: Hook,
        attributes: Attributes,
        *,
        seen_as: Served,
        objects: tuple[Obj | None, Obj | None],
        failed_open_key: str,
    ) -> Obj | None:
        """The webhook's response, or None when its failure is ignored (then annotated
        ``failed_open_key``: the webhook's name); a refusal or a failure under Fail
        raises."""
        if attributes.dry_run and hook.side_effects not in ("None", "NoneOnDryRun"):
            raise errors.bad_request(
                f"admission webhook {errors.quote(hook.name)} does not support dry run"
            )
        request = review.request(attributes, with_objects=True, seen_as=seen_as, objects=objects)
        try:
            response = await self.caller.call(hook, request, mutating=self.mutating)
        except CallingError as exc:
            message = f"failed calling webhook {errors.quote(hook.name)}: {exc}"
            if hook.ignores_failures:
                log.warning("Failed calling webhook, failing open %s: %s", hook.name, message)
                attributes.annotate(failed_open_key, hook.name)
                return None
            log.warning("Failed calling webhook, failing closed %s: %s", hook.name, message)
            raise errors.internal(message) from None
        annotations = response.get("auditAnnotations")
        if isinstance(annotations, dict):
            for key, value in annotations.items():
                attributes.annotate(f"{hook.name}/{key}", str(value))
        for warning in response.get("warnings") or []:
            attributes.warn(str(warning))
        if response.get("allowed") is not True:
            raise refusal(hook.name, response.get("status"))
        return response


def refusal(name: str, result: object) -> errors.StatusError:
    """ToStatusErr: the webhook's Status, at least 400, its message prefixed."""
    status = result if isinstance(result, dict) else {}
    denied = f"admission webhook {errors.quote(name)} denied the request"
    message = str(status.get("message") or "")
    reason = str(status.get("reason") or "")
    if message:
        text = f"{denied}: {message}"
    elif reason:
        text = f"{denied}: {reason}"
    else:
        text = f"{denied} without explanation"
    code = status.get("code")
    code = code if isinstance(code, int) and code >= 400 else 400
    details = status.get("details")
    return errors.StatusError(
        code=code,
        reason=reason,
        message=text,
        details=details if isinstance(details, dict) else None,
    )


class ValidatingWebhooks(_Webhooks):
    """ValidatingAdmissionWebhook: the matching webhooks, called concurrently."""

    reads_only = True

    def may_act(self, attributes: Attributes) -> bool:
        """Whether any webhook's rules select the request (selectors and conditions are
        looked at only when it is called)."""
        return not exempt(attributes) and any(
            hook.criteria.selects(attributes) for hook in self.hooks()
        )

    async def admit(self, attributes: Attributes) -> None:
        hooks = self.hooks()
        if not hooks or exempt(attributes):
            return
        versions = Versions(attributes, self.converter)
        relevant: list[tuple[Hook, Served, tuple[Obj | None, Obj | None]]] = []
        for hook in hooks:
            seen_as = await self._should_call(hook, attributes, versions)
            if seen_as is not None:
                relevant.append((hook, seen_as, await versions.at(seen_as)))
        if not relevant:
            return
        outcomes = await asyncio.gather(
            *(
                self._call(
                    hook,
                    attributes,
                    seen_as=seen_as,
                    objects=objects,
                    failed_open_key=VALIDATING_FAILED_OPEN.format(i),
                )
                for i, (hook, seen_as, objects) in enumerate(relevant)
            ),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome


@dataclass
class _Reinvocations:
    """kube's webhookReinvokeContext (mutating/reinvocationcontext.go): the IfNeeded
    webhooks called since the object last changed, the ones to call again in the second
    round, and the object as the webhooks last left it."""

    previously_invoked: set[tuple[str, str, int]] = field(default_factory=set)
    to_reinvoke: set[tuple[str, str, int]] = field(default_factory=set)
    last_output: Obj | None = None

    def require_reinvoking(self) -> None:
        self.to_reinvoke |= self.previously_invoked
        self.previously_invoked = set()


class MutatingWebhooks(_Webhooks):
    """MutatingAdmissionWebhook: the matching webhooks in order, patches applied.

    A webhook whose patch changed the object makes every IfNeeded webhook called before
    it due for the second round, and asks the chain for that round (which reinvokes the
    built-in plugins too); the second round calls only those webhooks, and also every
    IfNeeded one called in the first if the built-in plugins changed the object since.
    A webhook first skipped is never called in the second round."""

    mutating = True

    async def admit(self, attributes: Attributes) -> None:
        hooks = self.hooks()
        if not hooks or exempt(attributes):
            return
        context = attributes.reinvocation
        state = context.values.get(PLUGIN_NAME)
        if state is None:
            state = context.values[PLUGIN_NAME] = _Reinvocations()
        round_ = 1 if context.is_reinvoke else 0
        if round_ and state.last_output != attributes.object:
            state.require_reinvoking()
        versions = Versions(attributes, self.converter)
        for index, hook in enumerate(hooks):
            seen_as = await self._should_call(hook, attributes, versions)
            if seen_as is None:
                continue
            if round_ and hook.uid not in state.to_reinvoke:
                continue
            changed = await self._mutate(
                hook, attributes, versions, seen_as, round_=round_, index=index
            )
            if changed:
                state.require_reinvoking()
                context.should_reinvoke = True
            if hook.reinvoke:
                state.previously_invoked.add(hook.uid)
        if context.should_reinvoke and not round_:
            # Only the second round reads it: copied only when there will be one.
            state.last_output = copy.deepcopy(attributes.object)

    async def _mutate(
        self,
        hook: Hook,
        attributes: Attributes,
        versions: Versions,
        seen_as: Served,
        *,
        round_: int,
        index: int,
    ) -> bool:
        """Call the webhook and apply its patch to the object in the version it saw (then
        converted back): whether the object changed. Annotated whatever the outcome
        (kube: the mutation annotation is deferred)."""
        changed = False
        try:
            objects = await versions.at(seen_as)
            response = await self._call(
                hook,
                attributes,
                seen_as=seen_as,
                objects=objects,
                failed_open_key=MUTATION_FAILED_OPEN.format(round_, index),
            )
            if response is None or not response.get("patch"):
                return False
            try:
                operations = orjson.loads(base64.b64decode(str(response["patch"]), validate=True))
            except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
                # kube: a calling error, under the failure policy
                message = (
                    f"failed calling webhook {errors.quote(hook.name)}: received undecodable "
                    f"patch in webhook response: {exc}"
                )
                if hook.ignores_failures:
                    attributes.annotate(MUTATION_FAILED_OPEN.format(round_, index), hook.name)
                    return False
                raise errors.internal(message) from None
            if not operations:
                return False
            current = objects[0]
            if current is None:
                raise errors.internal(
                    f"admission webhook {errors.quote(hook.name)} attempted to modify the "
                    "object, which is not supported for this operation"
                )
            # The patch as sent, before applying shares its values with the object.
            patch_annotation = go_json(
                {
                    "configuration": hook.configuration,
                    "webhook": hook.name,
                    "patch": [
                        dict(sorted(op.items())) if isinstance(op, dict) else op
                        for op in operations
                    ],
                    "patchType": "JSONPatch",
                }
            )
            try:
                patched = json_patch.apply(copy.deepcopy(current), operations)
            except errors.StatusError as err:
                raise errors.internal(f"{err.message}") from None
            if not isinstance(patched, dict) or patched.get("kind") != current.get("kind"):
                raise errors.internal(
                    f"admission webhook {errors.quote(hook.name)} changed the object's kind"
                )
            changed = patched != current
            attributes.annotate(PATCH_ANNOTATION.format(round_, index), patch_annotation)
            await versions.mutated(seen_as, patched)
            return changed
        finally:
            attributes.annotate(
                MUTATION_ANNOTATION.format(round_, index),
                go_json(
                    {"configuration": hook.configuration, "webhook": hook.name, "mutated": changed}
                ),
            )


def go_json(value: object) -> str:
    """JSON as Go's encoding/json writes it where kube marshals an annotation's value:
    compact, ``<``, ``>``, ``&``, U+2028 and U+2029 escaped (maps' keys sorted: the
    caller sorts the ones that are Go maps)."""
    text = orjson.dumps(value).decode()
    for char, escaped in _GO_ESCAPES:
        text = text.replace(char, escaped)
    return text
