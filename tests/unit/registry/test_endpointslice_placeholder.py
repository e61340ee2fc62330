"""An EndpointSlice with no endpoints is valid, as kube's ValidateEndpointSlice has it
(the endpointslice controller writes such placeholders); the OpenAPI's "required" on
``endpoints`` is not Go's."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from services.registry.service import Registry, Target
from tests.unit.registry.test_registry_service import World


@pytest.fixture
def registry() -> Registry:
    return World().registry


@pytest.mark.parametrize("endpoints", [[], None])
async def test_an_empty_endpoint_slice_is_accepted(registry: Registry, endpoints: Any) -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}
    await registry.create(Target("", "v1", "namespaces"), orjson.dumps(ns))
    body = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "s"},
        "addressType": "IPv4",
        "endpoints": endpoints,
    }
    result = await registry.create(
        Target("discovery.k8s.io", "v1", "endpointslices", namespace="ns"), orjson.dumps(body)
    )
    assert result.code == 201
