"""gRPC plumbing shared by every service: channels, servers, and errors on the wire.

Services speak mutual TLS (``kapi.pki.ensure_internal``): a server accepts only clients
presenting a certificate from the services CA, a channel presents the service's own
and verifies the server's name against it. Plaintext is only for in-process tests,
which pass ``tls=None``; every ``python -m services.NAME`` requires the files.

A ``StatusError`` crosses gRPC as a ``google.rpc.Status`` whose details hold a
``KubeStatus`` (the metav1.Status JSON), so the gateway renders exactly what the
service raised. Transport failures (a peer down, a deadline) become 503/504 Status
errors here, so no ``grpc.RpcError`` escapes a client wrapper.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar, cast

import grpc
import grpc.aio
import orjson
from google.protobuf import any_pb2
from google.rpc import code_pb2, status_pb2
from grpc_status import rpc_status

from kapi import errors, pki
from kapi_proto import common_pb2

log = logging.getLogger(__name__)

# Lists of many large objects must not hit gRPC's 4 MiB default.
MAX_MESSAGE_BYTES = 1024 * 1024 * 1024

CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.lb_policy_name", "round_robin"),
    ("grpc.enable_retries", 1),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]

SERVER_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.so_reuseport", 0),
]

_CODE_BY_HTTP = {
    400: code_pb2.INVALID_ARGUMENT,
    401: code_pb2.UNAUTHENTICATED,
    403: code_pb2.PERMISSION_DENIED,
    404: code_pb2.NOT_FOUND,
    405: code_pb2.UNIMPLEMENTED,
    409: code_pb2.ALREADY_EXISTS,
    410: code_pb2.OUT_OF_RANGE,
    413: code_pb2.RESOURCE_EXHAUSTED,
    422: code_pb2.INVALID_ARGUMENT,
    429: code_pb2.RESOURCE_EXHAUSTED,
    503: code_pb2.UNAVAILABLE,
    504: code_pb2.DEADLINE_EXCEEDED,
}


def channel(target: str, tls: pki.TLSFiles | None = None) -> grpc.aio.Channel:
    """A channel to a peer service; ``dns:///host:port`` balances over replicas.

    With ``tls`` (``mutual``): the peer must prove the target's host name with a
    certificate from ``tls.ca_file``, and we present ``tls``' certificate. ``None``:
    plaintext, which only in-process tests use.
    """
    if not target.startswith(("dns:", "unix:", "ipv4:", "ipv6:")):
        target = f"dns:///{target}"
    if tls is None:
        return grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
    return grpc.aio.secure_channel(target, channel_credentials(tls), options=CHANNEL_OPTIONS)


def server(address: str, *, tls: pki.TLSFiles | None) -> tuple[grpc.aio.Server, int]:
    """A server bound to ``address`` (port 0: any), not started; and its port.

    With ``tls``, the handshake requires a client certificate signed by ``tls.ca_file``
    (a plaintext client, or one without such a certificate, is refused before any call);
    ``None`` serves plaintext, for in-process tests only.
    """
    credentials = server_credentials(tls) if tls is not None else None
    srv = grpc.aio.server(options=SERVER_OPTIONS)
    if credentials is None:
        port = srv.add_insecure_port(address)
    else:
        port = srv.add_secure_port(address, credentials)
    if port == 0:
        raise OSError(f"cannot listen on {address}")
    return srv, port


def channel_credentials(tls: pki.TLSFiles) -> grpc.ChannelCredentials:
    """Credentials that verify a peer against ``tls.ca_file`` and present our certificate."""
    _require_mutual(tls)
    ca, key, cert = tls.read()
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )


def server_credentials(tls: pki.TLSFiles) -> grpc.ServerCredentials:
    """Our certificate, and every client required to present one from ``tls.ca_file``."""
    _require_mutual(tls)
    ca, key, cert = tls.read()
    assert key is not None and cert is not None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=True
    )


def _require_mutual(tls: pki.TLSFiles) -> None:
    if not tls.mutual:
        raise ValueError("services speak mutual TLS: a CA, a certificate and its key are needed")


def to_grpc_status(err: errors.StatusError) -> grpc.Status:
    detail = any_pb2.Any()
    detail.Pack(common_pb2.KubeStatus(json=err.to_json()))
    status = status_pb2.Status(
        code=_CODE_BY_HTTP.get(err.code, code_pb2.UNKNOWN),
        message=err.message,
        details=[detail],
    )
    return cast(grpc.Status, rpc_status.to_status(status))


def from_rpc_error(exc: grpc.RpcError, peer: str) -> errors.StatusError:
    """The Status a service raised, or a 503/504 for a transport failure."""
    call = cast(grpc.aio.AioRpcError, exc)
    try:
        trailing = call.trailing_metadata() or ()
        for key, value in trailing:
            if key == "grpc-status-details-bin":
                status = status_pb2.Status.FromString(value)
                for detail in status.details:
                    kube = common_pb2.KubeStatus()
                    if detail.Unpack(kube):
                        return errors.StatusError.from_status(orjson.loads(kube.json))
    except Exception:  # a malformed detail is a transport failure, below
        log.debug("undecodable status details from %s", peer, exc_info=True)
    code = call.code()
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return errors.timeout(f"request to the {peer} service did not complete in time", 1)
    if code == grpc.StatusCode.CANCELLED:
        return errors.service_unavailable(f"request to the {peer} service was cancelled")
    if code == grpc.StatusCode.UNAVAILABLE:
        return errors.StatusError(
            code=503,
            reason="ServiceUnavailable",
            message=f"the {peer} service is unavailable: {call.details()}",
            details={"retryAfterSeconds": 1},
            retry_after=1,
        )
    return errors.internal(f"{peer} service: {code.name}: {call.details()}")


# What a servicer method receives; generic in the stubs, opaque to us.
Context = grpc.aio.ServicerContext[Any, Any]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def unary_errors(method: F) -> F:
    """Servicer decorator: a ``StatusError`` becomes a rich gRPC status; a bug, a 500."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: Context) -> Any:
        try:
            return await method(self, request, context)
        except errors.StatusError as err:
            await context.abort_with_status(to_grpc_status(err))
        except Exception as exc:
            log.exception("unhandled error in %s", method.__qualname__)
            await context.abort_with_status(to_grpc_status(errors.internal(repr(exc))))

    return cast(F, wrapper)


S = TypeVar("S", bound=Callable[..., AsyncIterator[Any]])


def stream_errors(method: S) -> S:
    """The same for server-streaming methods."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: Context) -> Any:
        try:
            async for item in method(self, request, context):
                yield item
        except errors.StatusError as err:
            await context.abort_with_status(to_grpc_status(err))
        except Exception as exc:
            log.exception("unhandled error in %s", method.__qualname__)
            await context.abort_with_status(to_grpc_status(errors.internal(repr(exc))))

    return cast(S, wrapper)


Item = TypeVar("Item")
Reply = TypeVar("Reply")
Outcome = TypeVar("Outcome")


async def each(
    handle: Callable[[Item], Awaitable[Reply]],
    items: Iterable[Item],
    outcome: Callable[..., Outcome],
    field: str,
) -> list[Outcome]:
    """Servicer side of a batch call: the items handled concurrently, as separate calls
    would be, each answered as ``outcome(<field>=reply)`` or ``outcome(error=Status)``
    (a bug's Status is a 500)."""
    results = await asyncio.gather(*(handle(item) for item in items), return_exceptions=True)
    out: list[Outcome] = []
    for result in results:
        if isinstance(result, errors.StatusError):
            out.append(outcome(error=common_pb2.KubeStatus(json=result.to_json())))
        elif isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result  # cancellation: the whole call goes
            log.error("unhandled error in a batch item", exc_info=result)
            status = errors.internal(repr(result))
            out.append(outcome(error=common_pb2.KubeStatus(json=status.to_json())))
        else:
            out.append(outcome(**{field: result}))
    return out


def replies(outcomes: Iterable[Any], field: str) -> list[Any]:
    """Client side of a batch call: each item's reply (its ``field``), or the
    StatusError it failed with."""
    return [
        errors.StatusError.from_status(orjson.loads(o.error.json))
        if o.HasField("error")
        else getattr(o, field)
        for o in outcomes
    ]
