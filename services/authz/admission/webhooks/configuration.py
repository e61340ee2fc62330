"""Webhook configurations (MutatingWebhookConfiguration, ValidatingWebhookConfiguration
v1) compiled for dispatch: each webhook's criteria (rules, selectors, matchPolicy), its
matchConditions in CEL, where it is and how to trust it."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from kapi.cel import admission as cel
from services.authz.admission.matching import Criteria

Obj = dict[str, Any]
DEFAULT_TIMEOUT = 10  # seconds (admissionregistration v1's default)


@dataclass(frozen=True)
class Hook:
    """One webhook of one configuration."""

    configuration: str
    name: str
    index: int  # its position in the configuration
    criteria: Criteria
    match_conditions: tuple[tuple[str, cel.Expression], ...]
    url: str  # clientConfig.url ("" when it names a service)
    service: Obj | None  # clientConfig.service
    ca_bundle: bytes
    failure_policy: str
    side_effects: str
    timeout: float
    reinvoke: bool  # reinvocationPolicy IfNeeded
    review_versions: tuple[str, ...]
    problem: str = ""  # why it cannot be called (a bad caBundle)

    @property
    def uid(self) -> tuple[str, str, int]:
        """Which webhook this is across reloads (kube: ``CONFIGURATION/NAME/INDEX``)."""
        return (self.configuration, self.name, self.index)

    @property
    def ignores_failures(self) -> bool:
        return self.failure_policy == "Ignore"


@dataclass(frozen=True)
class Configuration:
    name: str
    hooks: tuple[Hook, ...]


def compile_configuration(obj: Obj) -> Configuration:
    name = str((obj.get("metadata") or {}).get("name") or "")
    hooks = []
    webhooks = obj.get("webhooks")
    for index, hook in enumerate(webhooks if isinstance(webhooks, list) else []):
        if isinstance(hook, dict):
            hooks.append(_hook(name, index, hook))
    return Configuration(name, tuple(hooks))


def _hook(configuration: str, index: int, hook: Obj) -> Hook:
    config = hook.get("clientConfig") or {}
    problem = ""
    try:
        ca = base64.b64decode(config.get("caBundle") or "", validate=True)
    except (binascii.Error, ValueError):
        ca, problem = b"", "invalid caBundle"
    timeout = hook.get("timeoutSeconds")
    service = config.get("service")
    versions = hook.get("admissionReviewVersions")
    return Hook(
        configuration=configuration,
        name=str(hook.get("name") or ""),
        index=index,
        criteria=Criteria.build(
            rules=hook.get("rules"),
            namespace_selector=hook.get("namespaceSelector"),
            object_selector=hook.get("objectSelector"),
            match_policy=hook.get("matchPolicy"),
        ),
        match_conditions=tuple(
            (
                str(c.get("name") or ""),
                cel.compile_expression(str(c.get("expression") or ""), ("bool",)),
            )
            for c in hook.get("matchConditions") or []
            if isinstance(c, dict)
        ),
        url=str(config.get("url") or ""),
        service=service if isinstance(service, dict) else None,
        ca_bundle=ca,
        failure_policy=str(hook.get("failurePolicy") or "Fail"),
        side_effects=str(hook.get("sideEffects") or ""),
        timeout=float(timeout) if isinstance(timeout, int) and timeout > 0 else DEFAULT_TIMEOUT,
        reinvoke=hook.get("reinvocationPolicy") == "IfNeeded",
        review_versions=tuple(str(v) for v in versions) if isinstance(versions, list) else (),
        problem=problem,
    )
