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
  more when a later webhook changed the object after it ran.
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
from typing import Any

import orjson

from kapi import errors
from kapi.cel import admission as cel
from kapi.cel.library import authz as cel_authz
from services.authz.admission import Attributes, cel_authorizer, review
from services.authz.admission.compiled import CompiledSet, Objects
from services.authz.admission.matching import Namespaces, exempt
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
MUTATION_ANNOTATION = "mutation.webhook.admission.k8s.io/round_{}_index_{}"


class _Webhooks:
    def __init__(
        self,
        *,
        configurations: Objects,
        caller: WebhookCaller,
        namespaces: Namespaces,
        authorize: cel_authz.Check | None = None,
    ) -> None:
        self._configurations: CompiledSet[Configuration] = CompiledSet(
            configurations, compile_configuration
        )
        self.caller = caller
        self.namespaces = namespaces
        self.authorize = authorize

    operations = ALL_OPERATIONS
    mutating = False

    def hooks(self) -> list[Hook]:
        return [h for c in self._configurations.refresh() for h in c.hooks]

    def active(self) -> bool:
        return any(c.hooks for c in self._configurations.refresh())

    async def _should_call(self, hook: Hook, attributes: Attributes) -> bool:
        """ShouldCallHook; a matchConditions error under Fail raises 403."""
        try:
            if not await hook.criteria.matches(attributes, self.namespaces):
                return False
        except ValueError as exc:
            raise errors.internal(str(exc)) from None
        if not hook.match_conditions:
            return True
        request = review.request(attributes)
        activation = {
            "object": attributes.object,
            "oldObject": attributes.old_object,
            "request": request,
            "params": None,
            "namespaceObject": None,
            "variables": {},
            **cel_authorizer.variables(attributes),
        }
        budget = cel.Budget(
            size_bound=cel.size_bound(attributes.object, attributes.old_object, request)
        )
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
                        return False
        except cel.OutOfBudget as exc:
            failures.append(str(exc))
        if failures:
            if hook.ignores_failures:
                return False
            detail = failures[0] if len(failures) == 1 else "[" + ", ".join(failures) + "]"
            raise errors.forbidden(attributes.resource, attributes.group, attributes.name, detail)
        return True

    async def _call(self, hook: Hook, attributes: Attributes) -> Obj | None:
        """The webhook's response, or None when its failure is ignored; a refusal or a
        failure under Fail raises."""
        if attributes.dry_run and hook.side_effects not in ("None", "NoneOnDryRun"):
            raise errors.bad_request(
                f"admission webhook {errors.quote(hook.name)} does not support dry run"
            )
        request = review.request(attributes, with_objects=True)
        try:
            response = await self.caller.call(hook, request, mutating=self.mutating)
        except CallingError as exc:
            message = f"failed calling webhook {errors.quote(hook.name)}: {exc}"
            if hook.ignores_failures:
                log.warning("Failed calling webhook, failing open %s: %s", hook.name, message)
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
        relevant = [h for h in hooks if await self._should_call(h, attributes)]
        if not relevant:
            return
        outcomes = await asyncio.gather(
            *(self._call(h, attributes) for h in relevant), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome


class MutatingWebhooks(_Webhooks):
    """MutatingAdmissionWebhook: the matching webhooks in order, patches applied."""

    mutating = True

    async def admit(self, attributes: Attributes) -> None:
        hooks = self.hooks()
        if not hooks or exempt(attributes):
            return
        reinvocable: list[tuple[int, Hook]] = []  # IfNeeded webhooks called so far
        pending_reinvoke: set[int] = set()
        for index, hook in enumerate(hooks):
            if not await self._should_call(hook, attributes):
                continue
            changed = await self._mutate(hook, attributes, round_=0, index=index)
            if changed:
                pending_reinvoke.update(i for i, _ in reinvocable)
            if hook.reinvoke:
                reinvocable.append((index, hook))
        for index, hook in reinvocable:
            if index in pending_reinvoke and await self._should_call(hook, attributes):
                await self._mutate(hook, attributes, round_=1, index=index)

    async def _mutate(self, hook: Hook, attributes: Attributes, *, round_: int, index: int) -> bool:
        response = await self._call(hook, attributes)
        if response is None:
            return False
        changed = False
        patch = response.get("patch")
        if patch and attributes.object is not None:
            try:
                operations = orjson.loads(base64.b64decode(str(patch), validate=True))
                patched = json_patch.apply(copy.deepcopy(attributes.object), operations)
            except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
                raise errors.internal(str(exc)) from None
            except errors.StatusError as err:
                raise errors.internal(f"{err.message}") from None
            if not isinstance(patched, dict) or patched.get("kind") != attributes.object.get(
                "kind"
            ):
                raise errors.internal(
                    f"admission webhook {errors.quote(hook.name)} changed the object's kind"
                )
            changed = patched != attributes.object
            attributes.object = patched
        attributes.annotate(
            MUTATION_ANNOTATION.format(round_, index),
            orjson.dumps(
                {"configuration": hook.configuration, "webhook": hook.name, "mutated": changed}
            ).decode(),
        )
        return changed
