"""Admission's converter (``admission.versioned.Converter``) over the registry's
Convert: the registry owns every conversion (CRD strategies and conversion webhooks,
the built-in ones), so authz asks it rather than keeping a second copy.

The registry calls authz to admit and authz may call the registry back, so neither can
need the other to start: the channel is opened at the first conversion, to ``target``
(settable until then: in-process tests learn the registry's port after authz's).
"""

from __future__ import annotations

from typing import Any

import orjson

from kapi import errors, pki
from services.authz.admission import Served
from services.registry.client import RegistryClient

Obj = dict[str, Any]


class RegistryConversion:
    def __init__(self, target: str, *, tls: pki.TLSFiles | None = None) -> None:
        self.target = target
        self.tls = tls
        self._client: RegistryClient | None = None

    async def convert(self, to: Served, objects: list[Obj]) -> list[Obj]:
        if not self.target:
            raise errors.internal(
                f"unable to convert to {to.api_version}, Resource={to.resource}: "
                "authz was given no registry (--registry)"
            )
        if self._client is None:
            self._client = RegistryClient(self.target, tls=self.tls)
        converted = await self._client.convert(
            to.group, to.version, to.resource, [orjson.dumps(obj) for obj in objects]
        )
        return [orjson.loads(each) for each in converted]

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
