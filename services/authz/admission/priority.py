"""Priority: a pod's ``priorityClassName`` resolved to its ``priority`` and
``preemptionPolicy`` — kube's ``plugin/pkg/admission/priority``.

A pod naming no class gets the global default class (the lowest-valued one marked
``globalDefault``), or priority 0 and PreemptLowerPriority without one. A class that
does not exist is 403 ``no PriorityClass with name X was found``; a pod stating a
priority (or preemption policy) other than its class's is refused with kube's words.
"""

from __future__ import annotations

from typing import Any, Protocol

from kapi import errors
from services.authz.admission import Attributes
from services.authz.admission.validating_policy import request_name

Obj = dict[str, Any]
DEFAULT_PREEMPTION = "PreemptLowerPriority"


class PriorityClasses(Protocol):
    def get(self, namespace: str, name: str) -> Obj | None: ...

    def items(self) -> list[Obj]: ...


class Priority:
    operations = frozenset({"CREATE"})

    def __init__(self, classes: PriorityClasses) -> None:
        self.classes = classes

    def active(self) -> bool:
        return True

    def _default(self) -> tuple[str, int, str]:
        defaults = [c for c in self.classes.items() if c.get("globalDefault") is True]
        if not defaults:
            return "", 0, DEFAULT_PREEMPTION
        chosen = min(defaults, key=lambda c: int(c.get("value") or 0))
        return (
            str((chosen.get("metadata") or {}).get("name") or ""),
            int(chosen.get("value") or 0),
            str(chosen.get("preemptionPolicy") or DEFAULT_PREEMPTION),
        )

    async def admit(self, attributes: Attributes) -> None:
        if attributes.group or attributes.resource != "pods" or attributes.subresource:
            return
        spec = (attributes.object or {}).get("spec")
        if not isinstance(spec, dict):
            return
        name = spec.get("priorityClassName") or ""
        if not name:
            name, priority, preemption = self._default()
            if name:
                spec["priorityClassName"] = name
        else:
            found = self.classes.get("", str(name))
            if found is None:
                raise self._forbidden(attributes, f"no PriorityClass with name {name} was found")
            priority = int(found.get("value") or 0)
            preemption = str(found.get("preemptionPolicy") or DEFAULT_PREEMPTION)
        stated = spec.get("priority")
        if stated is not None and stated != priority:
            raise self._forbidden(
                attributes,
                f"the integer value of priority ({stated}) must not be provided in pod spec; "
                f"priority admission controller computed {priority} from the given "
                "PriorityClass name",
            )
        spec["priority"] = priority
        stated_policy = spec.get("preemptionPolicy")
        if stated_policy is not None and stated_policy != preemption:
            raise self._forbidden(
                attributes,
                f"the string value of PreemptionPolicy ({stated_policy}) must not be provided "
                f"in pod spec; priority admission controller computed {preemption} from the "
                "given PriorityClass name",
            )
        spec["preemptionPolicy"] = preemption

    def _forbidden(self, attributes: Attributes, message: str) -> errors.StatusError:
        return errors.forbidden("pods", "", request_name(attributes), message)
