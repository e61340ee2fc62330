"""Storage errors: the backend's failures in revision vocabulary.

The tier below the API errors (``kapi.errors``): backends raise these, knowing nothing of
resources or HTTP; the gRPC adapter translates each into a Kubernetes Status once, with
the resource and name of the request (conventions §11).
"""

from __future__ import annotations


class StorageError(Exception):
    """Any storage failure; one not listed below is a 500 at the API."""


class KeyNotFound(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class KeyExists(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class Conflict(StorageError):
    """A compare-and-swap lost: the key's revision is no longer the expected one."""

    def __init__(self, key: str, *, expected: int, actual: int) -> None:
        super().__init__(f"revision conflict on {key}: expected {expected}, found {actual}")
        self.key = key
        self.expected = expected
        self.actual = actual


class Compacted(StorageError):
    """The requested revision is older than the oldest one kept.

    ``compacted_revision`` is the compaction point when the backend knows it (a watch
    does; an etcd read does not say).
    """

    def __init__(self, revision: int, compacted_revision: int = 0) -> None:
        detail = f" (compacted at {compacted_revision})" if compacted_revision else ""
        super().__init__(f"revision {revision} has been compacted{detail}")
        self.revision = revision
        self.compacted_revision = compacted_revision


class ContinueExpired(Compacted):
    """A continue token's snapshot has been compacted.

    ``continue_token`` resumes the same list at the latest revision instead: an
    inconsistent list, which the client may choose (kube-apiserver's 410 with a token).
    """

    def __init__(self, revision: int, continue_token: str) -> None:
        super().__init__(revision)
        self.continue_token = continue_token


class PreconditionFailed(StorageError):
    """A write's uid or resourceVersion precondition does not hold (a 409 at the API)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


class FutureRevision(StorageError):
    """A read at a revision the store has not reached yet."""

    def __init__(self, revision: int, current: int = 0) -> None:
        super().__init__(f"revision {revision} is in the future (current {current})")
        self.revision = revision
        self.current = current


# What one write may store: etcd takes requests up to 1.5 MiB by default
# (``--max-request-bytes``; kapi runs etcd with the default), key and value together.
MAX_VALUE_BYTES = 1536 * 1024


class TooLarge(StorageError):
    """A value larger than the backend takes in one write (etcd's request size limit).

    Raised before a larger value is sent (``MAX_VALUE_BYTES``), and for etcd's own
    refusal of one near the limit (``etcdserver: request is too large``, or its gRPC
    server's ``received message larger than max``): a 413 at the API, never a 500.
    """

    def __init__(self, key: str, limit: int = MAX_VALUE_BYTES) -> None:
        super().__init__(f"value too large for {key or 'the backend'}: limit is {limit}")
        self.key = key
        self.limit = limit


class Unavailable(StorageError):
    """The backend cannot be reached (etcd down, no leader, connection refused).

    ``sent``: whether the request may have reached the backend; a write that did has
    an unknown outcome (it may have been committed before the connection was lost).
    """

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


class Timeout(Unavailable):
    """The backend did not answer within the deadline."""
