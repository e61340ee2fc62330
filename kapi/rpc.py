"""gRPC plumbing shared by every service: channels, servers, and errors on the wire.

Services speak mutual TLS (``kapi.pki.ensure_internal``): a server accepts only clients
presenting a certificate from the services CA, a channel presents the service's own
and verifies the server's name against it. Plaintext is only for in-process tests,
which pass ``tls=None``; every ``python -m services.NAME`` requires the files.

A ``StatusError`` crosses gRPC as a ``google.rpc.Status`` whose details hold a
``KubeStatus`` (the metav1.Status JSON), so the gateway renders exactly what the
service raised, whatever its size (``MAX_STATUS_BYTES``). A call that fails without
one is a transport failure, told apart by what it means for the request:

* a call that never left (the peer was not connected, ``unary(..., write=True)``
  checks before sending) or a read: 503 ServiceUnavailable with Retry-After, as a
  retry is safe;
* a write that was sent and got no answer: its outcome is unknown (the peer may have
  committed it before it died), so 504 Timeout without Retry-After, as
  kube-apiserver answers a request it could not finish: a client that retried it
  could make it twice (one ``generateName`` create, two objects).

The details of a transport failure (addresses, gRPC's words) and of a bug go to the
log of the service that met them, once, under the request's audit ID
(``kapi.audit_id``); the client gets a Status worded as kube's, naming the audit ID.
No ``grpc.RpcError`` escapes a client wrapper.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar, cast

import grpc
import grpc.aio
import orjson
from google.protobuf import any_pb2
from google.rpc import code_pb2, status_pb2
from grpc_status import rpc_status

from kapi import audit_id, errors, pki
from kapi_proto import common_pb2

log = logging.getLogger(__name__)

# Lists of many large objects must not hit gRPC's 4 MiB default.
MAX_MESSAGE_BYTES = 1024 * 1024 * 1024
# A Status travels in trailing metadata, which gRPC refuses over 8 KiB (at random) and
# 16 KiB (always) by default: a 422 quoting a 20,000-character label became a 500.
# Channels take trailers up to MAX_TRAILER_BYTES; a Status larger than
# MAX_STATUS_BYTES (only a pathological one: a 3 MiB body invalid everywhere, quoted
# twice) has its messages cut down to fit (``bounded``).
MAX_STATUS_BYTES = 16 * 1024 * 1024
MAX_TRAILER_BYTES = 2 * MAX_STATUS_BYTES
# Request metadata is small (a batch's audit IDs: 64 of at most 65 bytes).
MAX_REQUEST_METADATA_BYTES = 64 * 1024

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
    ("grpc.max_metadata_size", MAX_TRAILER_BYTES),
    ("grpc.absolute_max_metadata_size", MAX_TRAILER_BYTES),
]

SERVER_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.so_reuseport", 0),
    ("grpc.max_metadata_size", MAX_REQUEST_METADATA_BYTES),
    ("grpc.absolute_max_metadata_size", MAX_REQUEST_METADATA_BYTES),
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


# kube's words (apimachinery errors.NewGenericServerResponse, the handler finisher).
UNAVAILABLE = "the server is currently unable to handle the request"
UNKNOWN_OUTCOME = (
    "the server was unable to return a response in the time allotted, "
    "but may still be processing the request"
)
DEADLINE = "request did not complete within requested timeout - context deadline exceeded"
TRUNCATED = "...(truncated)"


def to_grpc_status(err: errors.StatusError) -> grpc.Status:
    """``err`` as a gRPC status: the Status JSON in the details, once (gRPC's own
    message is only its first words, as a hint for whoever reads the wire)."""
    data = err.to_json()
    if len(data) > MAX_STATUS_BYTES:
        data = bounded(err, MAX_STATUS_BYTES).to_json()
    detail = any_pb2.Any()
    detail.Pack(common_pb2.KubeStatus(json=data, audit_annotations=err.audit_annotations))
    status = status_pb2.Status(
        code=_CODE_BY_HTTP.get(err.code, code_pb2.UNKNOWN),
        message=f"{err.reason}: {err.message[:200]}",
        details=[detail],
    )
    return cast(grpc.Status, rpc_status.to_status(status))


def kube_status(err: errors.StatusError) -> common_pb2.KubeStatus:
    """``err`` as a batch item's or an answer's error (with its audit annotations)."""
    return common_pb2.KubeStatus(json=err.to_json(), audit_annotations=err.audit_annotations)


def status_error(kube: common_pb2.KubeStatus) -> errors.StatusError:
    """The StatusError a peer sent (``kube_status``'s inverse)."""
    err = errors.StatusError.from_status(orjson.loads(kube.json))
    err.audit_annotations = dict(kube.audit_annotations)
    return err


def bounded(err: errors.StatusError, limit: int) -> errors.StatusError:
    """A copy of ``err`` whose JSON fits in ``limit`` bytes: its message and its causes'
    messages keep their heads, marked as truncated; the causes that do not fit are
    dropped. (A character takes at most 6 bytes of JSON.)"""
    share = limit // 16
    details = dict(err.details or {})
    causes: list[Any] = []
    room = share
    for cause in details.pop("causes", None) or []:
        cut = {k: _cut(v, share // 4) if isinstance(v, str) else v for k, v in cause.items()}
        room -= sum(len(v) for v in cut.values() if isinstance(v, str)) + 40
        if room < 0:
            break
        causes.append(cut)
    if causes:
        details["causes"] = causes
    out = errors.StatusError(
        code=err.code,
        reason=err.reason,
        message=_cut(err.message, share),
        details=details,
        retry_after=err.retry_after,
        metadata=err.metadata,
    )
    if len(out.to_json()) > limit:  # a huge name or kind: keep only what the client acts on
        out.details = {"retryAfterSeconds": err.retry_after} if err.retry_after else {}
        out.metadata = None
    return out


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[: max(length - len(TRUNCATED), 0)] + TRUNCATED


def _carried_status(call: grpc.aio.AioRpcError, peer: str) -> errors.StatusError | None:
    """The Status the peer raised, if the call failed with one."""
    try:
        for key, value in call.trailing_metadata() or ():
            if key == "grpc-status-details-bin":
                status = status_pb2.Status.FromString(value)
                for detail in status.details:
                    kube = common_pb2.KubeStatus()
                    if detail.Unpack(kube):
                        return status_error(kube)
    except Exception:  # a malformed detail is a transport failure
        log.warning("undecodable status details from the %s service", peer, exc_info=True)
    return None


def _audit_ids() -> str:
    return ",".join(audit_id.all_bound()) or "-"


def from_rpc_error(exc: grpc.RpcError, peer: str, *, write: bool = False) -> errors.StatusError:
    """The Status the peer raised; for a transport failure, what it means for the
    request (see the module docstring), its details logged here."""
    call = cast(grpc.aio.AioRpcError, exc)
    carried = _carried_status(call, peer)
    if carried is not None:
        return carried
    code = call.code()
    log.warning(
        "%s to the %s service failed: %s: %s (audit ID %s)",
        "a write" if write else "a call",
        peer,
        code.name,
        call.details(),
        _audit_ids(),
    )
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return errors.timeout(DEADLINE)
    if write:
        return errors.timeout(UNKNOWN_OUTCOME)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
        return errors.service_unavailable(UNAVAILABLE, retry_after=1)
    return errors.unexpected(audit_id.current())


def not_sent(peer: str) -> errors.StatusError:
    """The 503 for a call that was not sent: the peer has no connection to send it on."""
    log.warning("the %s service is not connected: call not sent (audit ID %s)", peer, _audit_ids())
    return errors.service_unavailable(UNAVAILABLE, retry_after=1)


async def connected(ch: grpc.aio.Channel, timeout: float) -> bool:
    """Whether ``ch`` has a connection a call can go out on now. Waits while the
    channel connects (as a call would); gives up at once while it backs off after a
    failed attempt (as a call that does not wait for ready fails at once)."""
    state = ch.get_state(try_to_connect=True)
    if state == grpc.ChannelConnectivity.READY:
        return True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while state != grpc.ChannelConnectivity.READY:
        remaining = deadline - loop.time()
        if remaining <= 0 or state in (
            grpc.ChannelConnectivity.TRANSIENT_FAILURE,
            grpc.ChannelConnectivity.SHUTDOWN,
        ):
            return False
        try:
            await asyncio.wait_for(ch.wait_for_state_change(state), remaining)
        except TimeoutError:
            return False
        state = ch.get_state(try_to_connect=True)
    return True


async def unary(
    ch: grpc.aio.Channel,
    peer: str,
    method: Callable[..., Any],
    request: Any,
    *,
    timeout: float,
    write: bool = False,
) -> Any:
    """One unary call of ``method`` (a stub's, on ``ch``) to the ``peer`` service, with
    the request's audit IDs; a failure is a StatusError (``from_rpc_error``).

    A ``write`` goes out only on a connected channel, so that a failure before it left
    is known to be one (503, retry) and every other one is an unknown outcome (504)."""
    if write and not await connected(ch, timeout):
        raise not_sent(peer)
    try:
        return await method(request, timeout=timeout, metadata=audit_id.metadata())
    except grpc.RpcError as exc:
        raise from_rpc_error(exc, peer, write=write) from None


# What a servicer method receives; generic in the stubs, opaque to us.
Context = grpc.aio.ServicerContext[Any, Any]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def _serving(context: Context) -> None:
    """Bind the audit IDs the caller sent to this call's context (each call has its own)."""
    audit_id.bind(audit_id.from_metadata(context.invocation_metadata()))


def _bug(where: str) -> errors.StatusError:
    """Log the exception being handled, once, with the audit ID; the client's 500."""
    log.exception("unhandled error in %s (audit ID %s)", where, _audit_ids())
    return errors.unexpected(audit_id.current())


def unary_errors(method: F) -> F:
    """Servicer decorator: a ``StatusError`` becomes a rich gRPC status; a bug, a
    logged 500 that names only the audit ID."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: Context) -> Any:
        _serving(context)
        try:
            return await method(self, request, context)
        except errors.StatusError as err:
            await context.abort_with_status(to_grpc_status(err))
        except Exception:
            await context.abort_with_status(to_grpc_status(_bug(method.__qualname__)))

    return cast(F, wrapper)


S = TypeVar("S", bound=Callable[..., AsyncIterator[Any]])


def stream_errors(method: S) -> S:
    """The same for server-streaming methods."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: Context) -> Any:
        _serving(context)
        try:
            async for item in method(self, request, context):
                yield item
        except errors.StatusError as err:
            await context.abort_with_status(to_grpc_status(err))
        except Exception:
            await context.abort_with_status(to_grpc_status(_bug(method.__qualname__)))

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
    would be (each under its own audit ID), each answered as ``outcome(<field>=reply)``
    or ``outcome(error=Status)`` (a bug's Status is a logged 500)."""
    items = list(items)
    ids = audit_id.all_bound()
    if len(ids) != len(items):
        ids = ("",) * len(items)

    async def one(item: Item, item_id: str) -> Reply | errors.StatusError:
        audit_id.bind((item_id,) if item_id else ())  # this task's own context
        try:
            return await handle(item)
        except errors.StatusError as err:
            return err
        except Exception:
            return _bug(f"a batch item of {getattr(handle, '__qualname__', handle)}")

    results = await asyncio.gather(*(one(i, d) for i, d in zip(items, ids, strict=True)))
    return [
        outcome(error=kube_status(r))
        if isinstance(r, errors.StatusError)
        else outcome(**{field: r})
        for r in results
    ]


def replies(outcomes: Iterable[Any], field: str) -> list[Any]:
    """Client side of a batch call: each item's reply (its ``field``), or the
    StatusError it failed with."""
    return [status_error(o.error) if o.HasField("error") else getattr(o, field) for o in outcomes]


# --- asks on a long-lived stream ---------------------------------------------------------
#
# A unary grpc.aio call costs about twice a message on an open stream, in latency and in
# CPU on each side (a 20-byte echo on this machine: p50 0.43 ms against 0.23 ms, client
# CPU 0.20 against 0.13 ms). A call made once per request and waited for one at a time
# (the consistent read's revision check) goes on a stream instead: each ask carries an
# ``id`` and its requests' ``audit_ids``, each answer the ``id`` and a reply or an
# ``error`` (a KubeStatus).

Ask = TypeVar("Ask")


async def answers(
    asks: AsyncIterator[Ask],
    handle: Callable[[Ask], Awaitable[Any]],
    answer: Callable[..., Outcome],
    field: str,
) -> AsyncGenerator[Outcome, None]:
    """Servicer side of an ``AskStream``: each ask handled in its own task, under its own
    audit IDs, as a unary call would be; answered as ``answer(id=, <field>=reply)`` or
    ``answer(id=, error=Status)`` (a bug's Status is a logged 500) as soon as it is ready.
    Ends once the client has closed its side and every ask is answered."""
    ready: asyncio.Queue[Outcome | None] = asyncio.Queue()
    handling: set[asyncio.Task[None]] = set()

    async def one(ask: Any) -> None:
        audit_id.bind(tuple(ask.audit_ids))  # this task's own context
        try:
            out = answer(id=ask.id, **{field: await handle(ask)})
        except errors.StatusError as err:
            out = answer(id=ask.id, error=kube_status(err))
        except Exception:
            bug = _bug(f"an ask of {getattr(handle, '__qualname__', handle)}")
            out = answer(id=ask.id, error=kube_status(bug))
        ready.put_nowait(out)

    async def read() -> None:
        try:
            async for ask in asks:
                task = asyncio.create_task(one(ask))
                handling.add(task)
                task.add_done_callback(handling.discard)
            while handling:
                await asyncio.wait(list(handling))
        finally:
            ready.put_nowait(None)

    reader = asyncio.create_task(read())
    try:
        while (out := await ready.get()) is not None:
            yield out
        await reader  # what ended the reading, if it failed
    finally:
        reader.cancel()
        for task in list(handling):
            task.cancel()


class _OpenStream:
    """One stream of an ``AskStream``: its call, its reader, the asks it carries."""

    def __init__(self, call: Any, peer: str) -> None:
        self.call = call
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.writing = asyncio.Lock()  # grpc.aio takes one write at a time
        self.ended = False
        self.reader = asyncio.create_task(self._read(peer))

    async def _read(self, peer: str) -> None:
        failure = errors.service_unavailable(UNAVAILABLE, retry_after=1)
        try:
            async for answer in self.call:
                future = self.waiting.get(answer.id)
                if future is not None and not future.done():
                    future.set_result(answer)
            log.warning("the %s service ended a stream of asks", peer)
        except grpc.RpcError as exc:
            failure = from_rpc_error(exc, peer)
        finally:
            self.ended = True
            for future in self.waiting.values():
                if not future.done():
                    future.set_exception(failure)


class AskStream:
    """Client side: asks to a peer on one long-lived stream (``open_call()`` opens it:
    a stub's stream-stream method), opened at the first ask and again after it ended.
    ``ask`` fails as a unary read would: the peer's Status; 503 (retry) when the stream
    cannot be opened or breaks; 504 when no answer came within ``timeout``."""

    def __init__(self, open_call: Callable[[], Any], peer: str, *, timeout: float) -> None:
        self._open_call = open_call
        self._peer = peer
        self._timeout = timeout
        self._stream: _OpenStream | None = None
        self._ids = itertools.count(1)

    async def ask(self, request: Any) -> Any:
        """``request`` (a message with ``id`` and ``audit_ids``, filled in here) sent,
        its answer returned (raised, when it is an ``error``)."""
        stream = self._stream
        if stream is None or stream.ended:
            stream = self._stream = _OpenStream(self._open_call(), self._peer)
        request.id = number = next(self._ids)
        request.audit_ids[:] = audit_id.all_bound()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        stream.waiting[number] = future
        try:
            async with stream.writing:
                await stream.call.write(request)
            async with asyncio.timeout(self._timeout):
                answer = await future
        except grpc.RpcError as exc:
            raise from_rpc_error(exc, self._peer) from None
        except asyncio.InvalidStateError:  # the stream ended before the write
            raise not_sent(self._peer) from None
        except TimeoutError:
            log.warning(
                "a call to the %s service failed: no answer in %s s (audit ID %s)",
                self._peer,
                self._timeout,
                _audit_ids(),
            )
            raise errors.timeout(DEADLINE) from None
        finally:
            stream.waiting.pop(number, None)
        if answer.HasField("error"):
            raise status_error(answer.error)
        return answer

    async def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.call.cancel()
            stream.reader.cancel()
            await asyncio.gather(stream.reader, return_exceptions=True)
