"""Continue tokens: kube-apiserver's format, and its defences against bad tokens."""

from __future__ import annotations

import base64

import orjson
import pytest

from kapi import errors
from services.storage import continue_token

PREFIX = "/registry/pods/"


def raw(body: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(body)).rstrip(b"=").decode()


def test_round_trip() -> None:
    token = continue_token.encode(PREFIX + "ns/web\x00", PREFIX, 42)
    assert "=" not in token
    assert orjson.loads(base64.urlsafe_b64decode(token + "==")) == {
        "v": "meta.k8s.io/v1",
        "rv": 42,
        "start": "ns/web\x00",
    }
    decoded = continue_token.decode(token, PREFIX)
    assert (decoded.start_key, decoded.revision) == (PREFIX + "ns/web\x00", 42)


def test_decodes_kube_apiserver_tokens() -> None:
    # As EncodeContinue writes it (Go escapes NUL as \u0000).
    token = (
        base64.urlsafe_b64encode(b'{"v":"meta.k8s.io/v1","rv":7,"start":"ns/a\\u0000"}')
        .rstrip(b"=")
        .decode()
    )
    decoded = continue_token.decode(token, PREFIX)
    assert (decoded.start_key, decoded.revision) == (PREFIX + "ns/a\x00", 7)


def test_latest_revision_token() -> None:
    """rv -1 (reissued after compaction by kube-apiserver) means: continue at the latest."""
    decoded = continue_token.decode(raw({"v": "meta.k8s.io/v1", "rv": -1, "start": "b"}), PREFIX)
    assert decoded.revision == -1


def test_encode_refuses_keys_outside_the_prefix() -> None:
    with pytest.raises(ValueError):
        continue_token.encode("/registry/other/x", PREFIX, 1)


@pytest.mark.parametrize(
    ("token", "detail"),
    [
        ("!!!", ": "),
        (raw([1]), ": not an object"),
        (
            raw({"v": "v9", "rv": 1, "start": "a"}),
            ": server does not recognize this encoded version v9",
        ),
        (
            raw({"v": "meta.k8s.io/v1", "rv": 0, "start": "a"}),
            ": incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        ),
        (
            raw({"v": "meta.k8s.io/v1", "rv": 3, "start": ""}),
            ": encoded start key empty (version meta.k8s.io/v1)",
        ),
        (raw({"v": "meta.k8s.io/v1", "rv": 3, "start": "../secrets/x"}), ": ../secrets/x"),
        (raw({"v": "meta.k8s.io/v1", "rv": 3, "start": "a/../../b"}), ": a/../../b"),
        (raw({"v": "meta.k8s.io/v1", "rv": 3, "start": "//b"}), ": //b"),
    ],
)
def test_rejects_bad_tokens(token: str, detail: str) -> None:
    with pytest.raises(errors.StatusError) as err:
        continue_token.decode(token, PREFIX)
    assert err.value.code == 400
    assert err.value.message.startswith(
        "invalid continue token: continue key is not valid" + detail
    )
