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


async def test_a_validating_verdict_given_ahead_saves_the_call_only_for_its_object() -> None:
    """The mutating reply's validating verdict (``validate_ahead``) answers the validating
    phase only for the object it was reached on: any other makes the call."""
    from services.authz.client import ValidatedAhead
    from services.registry.peers import AuthzAdmission
    from services.registry.ports import AdmissionTarget

    client = AuthzClient(closed_port())  # any call would fail with 503
    admission = AuthzAdmission(client)

    def target(ahead: ValidatedAhead | None) -> AdmissionTarget:
        t = AdmissionTarget("CREATE", None, "", "v1", "ConfigMap", "configmaps", "", "ns", "c")
        t.validated_ahead = ahead
        return t

    def verdict(error: errors.StatusError | None = None) -> ValidatedAhead:
        return ValidatedAhead(b'{"a":1}', error, ["careful"], {"policy/key": "value"})

    try:
        with pytest.raises(errors.StatusError) as caught:  # not known ahead: the call
            await admission.admit("validating", target(None), {"a": 1})
        assert caught.value.code == 503
        known = target(verdict())
        assert await admission.admit("validating", known, {"a": 1}) == ({"a": 1}, ["careful"])
        assert known.audit_annotations == {"policy/key": "value"}
        with pytest.raises(errors.StatusError) as caught:  # changed since: the call
            await admission.admit("validating", target(verdict()), {"a": 2})
        assert caught.value.code == 503
        denied = errors.forbidden("configmaps", "", "c", "no")
        with pytest.raises(errors.StatusError) as caught:
            await admission.admit("validating", target(verdict(denied)), {"a": 1})
        assert caught.value.code == 403
        with pytest.raises(errors.StatusError):  # mutating calls are always made
            await admission.admit("mutating", target(verdict()), {"a": 1})
    finally:
        await client.close()


def test_a_refusal_carries_its_audit_annotations_across_grpc() -> None:
    """What admission annotated before refusing travels beside the Status (kube records
    a refused request's annotations), and never inside the Status the client reads."""
    from kapi import rpc

    err = errors.forbidden("pods", "", "p", "no")
    err.audit_annotations = {"pod-security.kubernetes.io/enforce-policy": "restricted:latest"}
    back = rpc.status_error(rpc.kube_status(err))
    assert back.audit_annotations == err.audit_annotations
    assert back.status() == err.status()
    assert b"enforce-policy" not in back.to_json()
