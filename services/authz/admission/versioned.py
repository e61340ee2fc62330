"""The request's object and old object in the version a webhook or a policy matched
(kube's ``admission.VersionedAttributes``): under ``matchPolicy: Equivalent`` a webhook
registered for another served version of the resource is sent the objects converted to
it, and a mutating webhook's patch, applied there, is converted back.

Conversion is the registry's (a CRD's conversion strategy or webhook, the built-in
conversions): admission asks it through a ``Converter`` only when a matched version is
not the request's — a request whose webhooks and policies all match its own version
converts nothing and calls nobody.
"""

from __future__ import annotations

from typing import Any, Protocol

from kapi import errors
from services.authz.admission import Attributes, Served

Obj = dict[str, Any]


class Converter(Protocol):
    async def convert(self, to: Served, objects: list[Obj]) -> list[Obj]:
        """``objects`` (each in the version its apiVersion names) in ``to``'s version,
        in order (the registry's Convert). Raises ``errors.StatusError``."""


class Versions:
    """One request's objects by version, converted at most once per version (until a
    mutation changes them)."""

    def __init__(self, attributes: Attributes, converter: Converter | None) -> None:
        self.attributes = attributes
        self.converter = converter
        self._converted: dict[str, tuple[Obj | None, Obj | None]] = {}

    def _own(self, served: Served) -> bool:
        return served.api_version == self.attributes.served.api_version

    async def _convert(self, to: Served, objects: list[Obj]) -> list[Obj]:
        if self.converter is None:
            raise errors.internal(
                f"unable to convert to {to.api_version}, Resource={to.resource}: "
                "no registry to convert with"
            )
        converted = await self.converter.convert(to, objects)
        if len(converted) != len(objects):
            raise errors.internal(f"conversion to {to.api_version} answered wrongly")
        return converted

    async def at(self, served: Served) -> tuple[Obj | None, Obj | None]:
        """(object, old object) in ``served``'s version."""
        obj, old = self.attributes.object, self.attributes.old_object
        if self._own(served):
            return obj, old
        found = self._converted.get(served.api_version)
        if found is None:
            present = [o for o in (obj, old) if o is not None]
            converted = iter(await self._convert(served, present) if present else [])
            found = (
                next(converted) if obj is not None else None,
                next(converted) if old is not None else None,
            )
            self._converted[served.api_version] = found
        return found

    async def mutated(self, served: Served, obj: Obj) -> None:
        """A webhook changed the object it was sent in ``served``'s version: the request's
        object becomes it, converted back to the request's version."""
        if self._own(served):
            self.attributes.object = obj
            self._converted.clear()
            return
        (back,) = await self._convert(self.attributes.served, [obj])
        old = self._converted.get(served.api_version, (None, None))[1]
        self.attributes.object = back
        self._converted = {served.api_version: (obj, old)}
