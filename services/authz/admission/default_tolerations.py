"""DefaultTolerationSeconds: every pod tolerates ``node.kubernetes.io/not-ready`` and
``node.kubernetes.io/unreachable`` (NoExecute) for 300 seconds unless it says otherwise —
kube's ``plugin/pkg/admission/defaulttolerationseconds``."""

from __future__ import annotations

from typing import Any

from services.authz.admission import Attributes

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_SECONDS = 300


def _tolerates(tolerations: list[Any], key: str) -> bool:
    return any(
        isinstance(t, dict)
        and t.get("key") in (key, "", None)
        and t.get("effect") in ("NoExecute", "", None)
        for t in tolerations
    )


class DefaultTolerationSeconds:
    operations = frozenset({"CREATE", "UPDATE"})

    def __init__(self, seconds: int = DEFAULT_SECONDS) -> None:
        self.seconds = seconds

    def active(self) -> bool:
        return True

    async def admit(self, attributes: Attributes) -> None:
        if attributes.group or attributes.resource != "pods" or attributes.subresource:
            return
        spec = (attributes.object or {}).get("spec")
        if not isinstance(spec, dict):
            return
        tolerations = list(spec.get("tolerations") or [])
        added = [
            {
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": self.seconds,
            }
            for key in (NOT_READY, UNREACHABLE)
            if not _tolerates(tolerations, key)
        ]
        if added:
            spec["tolerations"] = tolerations + added
