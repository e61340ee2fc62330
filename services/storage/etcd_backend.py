"""The etcd backend: the ``Backend`` contract on etcd v3's KV and Watch APIs (via aetcd).

Every write is one Txn guarded by a compare (create: ``create_revision == 0``; update
and conditional delete: ``mod_revision == expected``), whose failure branch reads the
key so a lost race is told apart from a missing key in the same round trip. Lists are
Range reads at a revision, so every page of a paginated list sees one snapshot.

Failing fast matters more than waiting: every unary call has a deadline, the channel
reconnects with a short backoff (etcd restarts are noticed within about a second), and
a call while etcd is down fails at once with ``Unavailable`` rather than queueing.
The stubs come from ``aetcd.rpc`` (etcd's protos); aetcd's own watcher is not used,
since it turns a compacted watch into a callback error instead of an exception.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any, NoReturn
from urllib.parse import urlsplit

import aetcd.rpc as etcd
import grpc

from kapi import batching, rpc
from kapi.pki import TLSFiles
from services.storage import storage_errors
from services.storage.backend import Event, EventType, KeyValue, Page, WatchBatch, prefix_end

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0

_CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_receive_message_length", 2 * 1024 * 1024 * 1024 - 1),
    ("grpc.max_send_message_length", 2 * 1024 * 1024 * 1024 - 1),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    # Notice a dead peer on an idle watch stream; etcd allows pings every 5 s or slower.
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.lb_policy_name", "round_robin"),
]

_PUT = 0  # mvccpb.Event.EventType
_EQUAL = etcd.Compare.CompareResult.Value("EQUAL")
_CREATE = etcd.Compare.CompareTarget.Value("CREATE")
_MOD = etcd.Compare.CompareTarget.Value("MOD")


def channel_target(endpoints: list[str]) -> str:
    """A gRPC target for etcd client URLs (``https://127.0.0.1:2379,...``).

    Several plain-http endpoints are balanced over when they are IP addresses; a host
    name is resolved by DNS (one endpoint). All must share one scheme (``uses_tls``).
    Over TLS the channel checks one name for every address, so only the first endpoint
    is used: several members are reached by a DNS name resolving to each of them, which
    every member's certificate names.
    """
    tls = uses_tls(endpoints)
    hosts: list[tuple[str, int]] = []
    for url in endpoints:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        hosts.append((parts.hostname or "127.0.0.1", parts.port or 2379))

    def is_ip(host: str) -> bool:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
        return True

    if len(hosts) > 1 and not tls and all(is_ip(h) for h, _ in hosts):
        if all(ipaddress.ip_address(h).version == 4 for h, _ in hosts):
            return "ipv4:" + ",".join(f"{h}:{p}" for h, p in hosts)
        return "ipv6:" + ",".join(f"[{h}]:{p}" for h, p in hosts)
    if len(hosts) > 1:
        log.warning(
            "several etcd endpoints (%s): using %s:%d only", ", ".join(endpoints), *hosts[0]
        )
    host, port = hosts[0]
    return f"dns:///{host}:{port}" if not is_ip(host) else f"{host}:{port}"


def uses_tls(endpoints: list[str]) -> bool:
    """Whether the endpoints are ``https://`` (all) or ``http://`` (all; or no scheme)."""
    schemes = {urlsplit(url).scheme if "://" in url else "http" for url in endpoints}
    if not schemes:
        raise ValueError("no etcd endpoints")
    if not schemes <= {"http", "https"}:
        raise ValueError(f"unsupported etcd endpoints {endpoints!r}: http:// or https:// only")
    if len(schemes) > 1:
        raise ValueError(f"etcd endpoints {endpoints!r} mix http:// and https://")
    return schemes == {"https"}


def channel_credentials(
    endpoints: list[str], tls: TLSFiles | None
) -> grpc.ChannelCredentials | None:
    """TLS credentials for ``https://`` endpoints (``tls``: the CA that signed etcd's
    certificate, None for the system's roots; our client certificate, if any); None for
    ``http://``, where TLS files are an error rather than silently unused."""
    if not uses_tls(endpoints):
        if tls is not None:
            raise ValueError("etcd TLS files given, but the etcd endpoints are http://")
        return None
    ca, key, cert = tls.read() if tls is not None else (None, None, None)
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )


def _too_large(code: Any, details: str) -> bool:
    """etcd refusing a request for its size: its own limit (``--max-request-bytes``,
    INVALID_ARGUMENT ``etcdserver: request is too large``) or its gRPC server's, a little
    above it (RESOURCE_EXHAUSTED ``grpc: received message larger than max``)."""
    if code == etcd.StatusCode.INVALID_ARGUMENT:
        return "request is too large" in details
    return code == etcd.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in details


def _raise(exc: Exception, *, revision: int = 0, key: str = "") -> NoReturn:
    """Translate an etcd RPC failure into a storage error."""
    if isinstance(exc, etcd.AioRpcError):
        code, details = exc.code(), exc.details() or ""
        if code == etcd.StatusCode.DEADLINE_EXCEEDED:
            raise storage_errors.Timeout(f"etcd did not answer in time: {details}") from None
        if code in (etcd.StatusCode.UNAVAILABLE, etcd.StatusCode.CANCELLED):
            raise storage_errors.Unavailable(f"etcd is unavailable: {details}") from None
        if code == etcd.StatusCode.OUT_OF_RANGE and "compacted" in details:
            raise storage_errors.Compacted(revision) from None
        if code == etcd.StatusCode.OUT_OF_RANGE and "future" in details:
            raise storage_errors.FutureRevision(revision) from None
        if _too_large(code, details):
            raise storage_errors.TooLarge(key) from None
        raise storage_errors.StorageError(f"etcd: {code.name}: {details}") from None
    if isinstance(exc, asyncio.TimeoutError):
        raise storage_errors.Timeout("etcd did not answer in time") from None
    raise exc


def _kv(kv: Any) -> KeyValue:
    return KeyValue(kv.key.decode(), kv.value, kv.mod_revision, kv.create_revision)


class EtcdBackend:
    """The ``Backend`` contract on an etcd v3 cluster."""

    def __init__(
        self,
        endpoints: list[str],
        *,
        tls: TLSFiles | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        trust_progress: bool | None = None,
    ) -> None:
        """``tls``: for ``https://`` endpoints (``channel_credentials``).
        ``trust_progress`` None: by the server's version (``progress_is_safe``)."""
        self._target = channel_target(endpoints)
        self._timeout = timeout
        self._trust_progress = trust_progress
        credentials = channel_credentials(endpoints, tls)
        self._channel = (
            etcd.insecure_channel(self._target, options=_CHANNEL_OPTIONS)
            if credentials is None
            else etcd.secure_channel(self._target, credentials, options=_CHANNEL_OPTIONS)
        )
        self._kv_stub = etcd.KVStub(self._channel)
        self._watch_stub = etcd.WatchStub(self._channel)
        self._maintenance = etcd.MaintenanceStub(self._channel)
        # Quorum gets that queue up go to etcd as one read-only Txn of ranges: one
        # request, and every key read at the same revision (kapi/batching.py; a batch
        # is at most 64 keys, within etcd's default --max-txn-ops of 128).
        self._gets: batching.Batcher[str, KeyValue | None] = batching.Batcher(self._get_many)

    async def close(self) -> None:
        await self._gets.close()
        await self._channel.close()

    async def ready(self, timeout: float) -> None:
        """Return once the channel to etcd is connected (writes wait only ``timeout``
        given at construction for it); ``Unavailable`` if it is not within ``timeout``."""
        if not await rpc.connected(self._channel, timeout):
            raise storage_errors.Unavailable("etcd is not connected", sent=False)

    async def _call(self, method: Any, request: Any, *, revision: int = 0, key: str = "") -> Any:
        try:
            return await method(request, timeout=self._timeout)
        except (TimeoutError, etcd.AioRpcError) as exc:
            _raise(exc, revision=revision, key=key)

    async def _txn(self, request: Any, key: str = "") -> Any:
        return await self._call(self._kv_stub.Txn, request, key=key)

    async def _write(self, request: Any, key: str = "") -> Any:
        """A write Txn, sent only on a connected channel: so a failure before it left is
        ``Unavailable(sent=False)``, and any other may have been committed."""
        if not await rpc.connected(self._channel, self._timeout):
            raise storage_errors.Unavailable("etcd is not connected", sent=False)
        return await self._txn(request, key)

    # --- reads ------------------------------------------------------------------------

    async def get(self, key: str) -> KeyValue:
        found = await self._gets.call(key)
        if found is None:
            raise storage_errors.KeyNotFound(key)
        return found

    async def _get_many(self, keys: list[str]) -> list[KeyValue | None]:
        if len(keys) == 1:
            response = await self._call(
                self._kv_stub.Range, etcd.RangeRequest(key=keys[0].encode())
            )
            return [_kv(response.kvs[0]) if response.kvs else None]
        response = await self._txn(
            etcd.TxnRequest(
                success=[
                    etcd.RequestOp(request_range=etcd.RangeRequest(key=key.encode()))
                    for key in keys
                ]
            )
        )
        return [
            _kv(op.response_range.kvs[0]) if op.response_range.kvs else None
            for op in response.responses
        ]

    async def list(
        self, prefix: str, *, revision: int = 0, start_key: str = "", limit: int = 0
    ) -> Page:
        request = etcd.RangeRequest(
            key=max(start_key, prefix).encode(),
            range_end=prefix_end(prefix).encode(),
            limit=limit,
            revision=revision,
        )
        response = await self._call(self._kv_stub.Range, request, revision=revision)
        return Page(
            items=[_kv(kv) for kv in response.kvs],
            revision=response.header.revision,
            more=response.more,
            count=response.count,
        )

    async def current_revision(self) -> int:
        request = etcd.RangeRequest(key=b"\x00", count_only=True)
        response = await self._call(self._kv_stub.Range, request)
        return int(response.header.revision)

    # --- writes -----------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> int:
        k = key.encode()
        response = await self._write(
            etcd.TxnRequest(
                compare=[etcd.Compare(key=k, target=_CREATE, result=_EQUAL, create_revision=0)],
                success=[etcd.RequestOp(request_put=etcd.PutRequest(key=k, value=value))],
            ),
            key,
        )
        if not response.succeeded:
            raise storage_errors.KeyExists(key)
        return int(response.header.revision)

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        k = key.encode()
        response = await self._write(
            etcd.TxnRequest(
                compare=[
                    etcd.Compare(key=k, target=_MOD, result=_EQUAL, mod_revision=expected_revision)
                ],
                success=[etcd.RequestOp(request_put=etcd.PutRequest(key=k, value=value))],
                failure=[etcd.RequestOp(request_range=etcd.RangeRequest(key=k))],
            ),
            key,
        )
        if not response.succeeded:
            self._raise_lost(key, expected_revision, response)
        return int(response.header.revision)

    async def delete(self, key: str, expected_revision: int | None = None) -> tuple[KeyValue, int]:
        k = key.encode()
        delete = etcd.RequestOp(request_delete_range=etcd.DeleteRangeRequest(key=k, prev_kv=True))
        if expected_revision is None:
            compare = [
                etcd.Compare(
                    key=k,
                    target=_CREATE,
                    result=etcd.Compare.CompareResult.Value("GREATER"),
                    create_revision=0,
                )
            ]
        else:
            compare = [
                etcd.Compare(key=k, target=_MOD, result=_EQUAL, mod_revision=expected_revision)
            ]
        response = await self._write(
            etcd.TxnRequest(
                compare=compare,
                success=[delete],
                failure=[etcd.RequestOp(request_range=etcd.RangeRequest(key=k))],
            )
        )
        if not response.succeeded:
            self._raise_lost(key, expected_revision or 0, response)
        prev_kvs = response.responses[0].response_delete_range.prev_kvs
        if not prev_kvs:  # deleted between compare and delete: impossible within a Txn
            raise storage_errors.KeyNotFound(key)
        return _kv(prev_kvs[0]), int(response.header.revision)

    @staticmethod
    def _raise_lost(key: str, expected: int, response: Any) -> NoReturn:
        kvs = response.responses[0].response_range.kvs
        if not kvs:
            raise storage_errors.KeyNotFound(key)
        raise storage_errors.Conflict(key, expected=expected, actual=kvs[0].mod_revision)

    async def compact(self, revision: int) -> None:
        await self._call(
            self._kv_stub.Compact, etcd.CompactionRequest(revision=revision), revision=revision
        )

    # --- watch ------------------------------------------------------------------------

    def watch(self, prefix: str, from_revision: int) -> EtcdWatch:
        """One etcd watch stream per call; cancelled by ``aclose``."""
        return EtcdWatch(self, prefix, from_revision)

    async def progress_is_safe(self) -> bool:
        """Whether this etcd's progress notifications can be trusted (asked once).

        etcd before 3.4.31 / 3.5.13 may answer a progress request with a revision whose
        events are still queued on the stream (etcd-io/etcd#15220), so a cache that
        trusted it could announce a revision it has not caught up with. kube-apiserver
        gates ``RequestWatchProgress`` on the same versions.
        """
        if self._trust_progress is None:
            try:
                status = await self._call(self._maintenance.Status, etcd.StatusRequest())
            except storage_errors.StorageError:
                return False
            self._trust_progress = progress_supported(str(status.version))
        return self._trust_progress


def progress_supported(version: str) -> bool:
    """etcd versions whose progress notifications are ordered with events."""
    try:
        major, minor, patch = (int(p) for p in version.split("-")[0].split(".")[:3])
    except ValueError:
        return False
    if (major, minor) == (3, 4):
        return patch >= 31
    if (major, minor) == (3, 5):
        return patch >= 13
    return (major, minor) > (3, 5)


class EtcdWatch:
    """A ``backend.WatchStream`` on one etcd Watch RPC (one watcher per stream).

    The stream carries the create request, then progress requests; responses are the
    "created" answer, event batches and progress notifications (no events).
    """

    def __init__(self, backend: EtcdBackend, prefix: str, from_revision: int) -> None:
        self._backend = backend
        self._prefix = prefix
        self._next = from_revision
        self._call: Any = None
        self._responses: Any = None
        self._trust_progress = False
        self._created = False  # etcd confirmed the watch: progress requests may follow
        self._progress_write: asyncio.Task[None] | None = None

    def __aiter__(self) -> EtcdWatch:
        return self

    async def _start(self) -> None:
        self._trust_progress = await self._backend.progress_is_safe()
        self._call = self._backend._watch_stub.Watch()
        self._responses = self._call.__aiter__()
        create = etcd.WatchCreateRequest(
            key=self._prefix.encode(),
            range_end=prefix_end(self._prefix).encode(),
            start_revision=self._next,
            prev_kv=False,  # the cache keeps the previous state itself
        )
        # A deadline by cancelling the call (not asyncio.wait_for: a cancelled wait on a
        # gRPC operation would wait for the operation to finish first).
        loop = asyncio.get_running_loop()
        deadline = loop.call_later(self._backend._timeout, self._call.cancel)
        try:
            await self._call.write(etcd.WatchRequest(create_request=create))
            # The "created" response, or the compaction that refuses the watch.
            response = await self._responses.__anext__()
        except StopAsyncIteration:
            raise storage_errors.Unavailable("etcd closed the watch stream") from None
        except (etcd.AioRpcError, asyncio.InvalidStateError) as exc:
            if isinstance(exc, etcd.AioRpcError):
                _raise(exc, revision=self._next)
            raise storage_errors.Unavailable(f"etcd watch: {exc}") from None
        except BaseException:
            self._call.cancel()
            raise
        finally:
            deadline.cancel()
        self._check(response)
        self._created = True

    def _check(self, response: Any) -> None:
        if response.compact_revision:
            raise storage_errors.Compacted(self._next, response.compact_revision)
        if response.canceled:
            raise storage_errors.Unavailable(f"etcd cancelled the watch: {response.cancel_reason}")

    async def __anext__(self) -> WatchBatch:
        if self._call is None:
            await self._start()
        while True:
            try:
                response = await self._responses.__anext__()
            except StopAsyncIteration:
                raise storage_errors.Unavailable("etcd closed the watch stream") from None
            except etcd.AioRpcError as exc:
                _raise(exc, revision=self._next)
            self._check(response)
            if response.events:
                events = [_event(ev) for ev in response.events]
                self._next = events[-1].revision + 1
                return WatchBatch(events, events[-1].revision)
            if self._trust_progress and not response.created:
                revision = int(response.header.revision)
                if revision >= self._next:
                    self._next = revision + 1
                    return WatchBatch([], revision)

    def request_progress(self) -> bool:
        if not self._trust_progress or not self._created:
            return False
        if self._progress_write is None or self._progress_write.done():
            self._progress_write = asyncio.create_task(self._write_progress())
        return True

    async def _write_progress(self) -> None:
        request = etcd.WatchRequest(progress_request=etcd.WatchProgressRequest())
        try:
            await self._call.write(request)
        except (etcd.AioRpcError, asyncio.InvalidStateError) as exc:
            log.debug("progress request not sent: %s", exc)

    async def aclose(self) -> None:
        if self._progress_write is not None:
            self._progress_write.cancel()
        if self._call is not None:
            self._call.cancel()


def _event(ev: Any) -> Event:
    put = ev.type == _PUT
    return Event(
        type=EventType.PUT if put else EventType.DELETE,
        key=ev.kv.key.decode(),
        value=ev.kv.value if put else b"",
        revision=ev.kv.mod_revision,
        created=put and ev.kv.create_revision == ev.kv.mod_revision,
    )
