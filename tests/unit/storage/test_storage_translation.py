"""The servicer's single translation point: storage errors → Kubernetes Status errors."""

from __future__ import annotations

import pytest

from kapi import errors, rpc
from services.storage import storage_errors
from services.storage.grpc.servicer import LIST_EXPIRED, translated
from services.storage.model import ResourceRef

CONFIGMAPS = ResourceRef("", "configmaps", True)
DEPLOYMENTS = ResourceRef("apps", "deployments", True)


@pytest.mark.parametrize(
    ("ref", "raised", "expected"),
    [
        (
            CONFIGMAPS,
            storage_errors.KeyExists("/k"),
            (409, "AlreadyExists", 'configmaps "c" already exists'),
        ),
        (
            DEPLOYMENTS,
            storage_errors.KeyNotFound("/k"),
            (404, "NotFound", 'deployments.apps "c" not found'),
        ),
        (
            CONFIGMAPS,
            storage_errors.Conflict("/k", expected=1, actual=2),
            (
                409,
                "Conflict",
                f'Operation cannot be fulfilled on configmaps "c": {errors.OBJECT_MODIFIED}',
            ),
        ),
        (
            CONFIGMAPS,
            storage_errors.Compacted(4, 10),
            (410, "Expired", "too old resource version: 4 (9)"),
        ),
        (
            CONFIGMAPS,
            storage_errors.FutureRevision(100, 7),
            (504, "Timeout", "Timeout: Too large resource version: 100, current: 7"),
        ),
        (
            CONFIGMAPS,
            storage_errors.Timeout("etcd did not answer in time"),
            (504, "Timeout", f"Timeout: {rpc.DEADLINE}"),
        ),
        (
            CONFIGMAPS,
            storage_errors.Unavailable("etcd is unavailable: ipv4:127.0.0.1:2379: refused"),
            (503, "ServiceUnavailable", rpc.UNAVAILABLE),
        ),
        (
            CONFIGMAPS,
            storage_errors.TooLarge("/k"),
            (413, "RequestEntityTooLarge", "Request entity too large: limit is 1572864"),
        ),
        (
            CONFIGMAPS,
            storage_errors.StorageError("etcd: INTERNAL: boom"),
            (500, "InternalError", errors.unexpected("").message),
        ),
    ],
)
def test_translated(ref: ResourceRef, raised: Exception, expected: tuple[int, str, str]) -> None:
    with pytest.raises(errors.StatusError) as err, translated(ref, "c"):
        raise raised
    assert (err.value.code, err.value.reason, err.value.message) == expected


@pytest.mark.parametrize(
    ("raised", "write", "expected"),
    [
        # A write that may have reached etcd has an unknown outcome: 504, no retry.
        (storage_errors.Unavailable("etcd: Socket closed"), True, (504, None)),
        (storage_errors.Timeout("etcd did not answer in time"), True, (504, None)),
        # One that certainly did not, or a read: 503 (504 for a deadline), retry.
        (storage_errors.Unavailable("etcd is not connected", sent=False), True, (503, 1)),
        (storage_errors.Unavailable("etcd: Socket closed"), False, (503, 1)),
        (storage_errors.Timeout("etcd did not answer in time"), False, (504, 1)),
    ],
)
def test_a_lost_write_is_an_unknown_outcome(
    raised: Exception, write: bool, expected: tuple[int, int | None]
) -> None:
    with pytest.raises(errors.StatusError) as err, translated(CONFIGMAPS, "c", write=write):
        raise raised
    assert (err.value.code, err.value.retry_after) == expected
    assert "etcd" not in err.value.to_json().decode()
    if expected[0] == 504 and write:
        assert err.value.message == f"Timeout: {rpc.UNKNOWN_OUTCOME}"
        assert "retryAfterSeconds" not in (err.value.details or {})


def test_list_expiry_has_its_own_words() -> None:
    with (
        pytest.raises(errors.StatusError) as err,
        translated(CONFIGMAPS, expired_message=LIST_EXPIRED),
    ):
        raise storage_errors.Compacted(4)
    assert (err.value.code, err.value.message) == (410, LIST_EXPIRED)


def test_too_large_resource_version_cause() -> None:
    with pytest.raises(errors.StatusError) as err, translated(CONFIGMAPS):
        raise storage_errors.FutureRevision(100, 7)
    assert err.value.details == {
        "retryAfterSeconds": 1,
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
    }


def test_status_errors_pass_through() -> None:
    with pytest.raises(errors.StatusError) as err, translated(CONFIGMAPS):
        raise errors.bad_request("nope")
    assert err.value.code == 400
