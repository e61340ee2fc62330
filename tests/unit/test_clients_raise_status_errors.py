"""No ``grpc.RpcError`` leaves a client wrapper: an unreachable peer is a 503 Status."""

from __future__ import annotations

import socket

import pytest

from kapi import errors
from kapi_proto import registry_pb2
from services.authz.client import AuthzClient
from services.registry.client import RegistryClient
from services.storage.client import StorageClient
from services.storage.model import ResourceRef


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


async def test_registry_client_unavailable_is_503() -> None:
    client = RegistryClient(closed_port())
    try:
        with pytest.raises(errors.StatusError) as caught:
            await client.types()
        assert caught.value.code == 503 and caught.value.reason == "ServiceUnavailable"
        with pytest.raises(errors.StatusError) as caught:
            await client.open_watch(registry_pb2.ReadRequest())
        assert caught.value.code == 503
    finally:
        await client.close()


async def test_authz_client_unavailable_is_503() -> None:
    client = AuthzClient(closed_port())
    try:
        with pytest.raises(errors.StatusError) as caught:
            await client.authenticate(bearer_token="x")
        assert caught.value.code == 503
    finally:
        await client.close()


async def test_storage_client_unavailable_is_503() -> None:
    client = StorageClient(closed_port())
    ref = ResourceRef("", "configmaps", namespaced=True)
    try:
        with pytest.raises(errors.StatusError) as caught:
            await client.get(ref, "default", "x")
        assert caught.value.code == 503
    finally:
        await client.close()


async def test_the_validating_admission_call_is_skipped_when_authz_has_no_such_plugin() -> None:
    from services.registry.peers import AuthzAdmission
    from services.registry.ports import AdmissionTarget

    client = AuthzClient(closed_port())  # any call would fail with 503
    target = AdmissionTarget("CREATE", None, "", "v1", "ConfigMap", "configmaps", "", "ns", "c")
    try:
        client.validating_plugins = None  # not known yet: the call is made
        with pytest.raises(errors.StatusError):
            await AuthzAdmission(client).admit("validating", target, {"a": 1})
        client.validating_plugins = False  # authz said it runs none
        assert await AuthzAdmission(client).admit("validating", target, {"a": 1}) == ({"a": 1}, [])
        with pytest.raises(errors.StatusError):  # mutating calls are always made
            await AuthzAdmission(client).admit("mutating", target, {"a": 1})
    finally:
        await client.close()
