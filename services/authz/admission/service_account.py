"""ServiceAccount admission (the part that needs no token controller): pods run as
``default`` unless they name another service account."""

from __future__ import annotations

from services.authz.admission import Attributes


class ServiceAccount:
    operations = frozenset({"CREATE"})

    def active(self) -> bool:
        return True

    async def admit(self, attributes: Attributes) -> None:
        if attributes.group or attributes.resource != "pods" or attributes.subresource:
            return
        spec = (attributes.object or {}).get("spec")
        if not isinstance(spec, dict):
            return
        name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        spec["serviceAccountName"] = name
        spec["serviceAccount"] = name
