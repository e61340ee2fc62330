"""A CertificateSigningRequest names who asked for it (strategies/certificates.py): on create
spec.username, uid, groups and extra are the requesting user's, whatever the body says
(kube's csrStrategy.PrepareForCreate); the spec never changes afterwards. The user reaches
the domain as the transport's UserInfo, read by ``pipeline.requester``.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from builtin_definitions import strategy_for
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_registry_service import World, loads

from kapi_proto import common_pb2, registry_pb2
from services.registry import pipeline
from services.registry.grpc import convert
from services.registry.service import ReadOptions, Registry, Target
from services.registry.strategies import builtin_table

Obj = dict[str, Any]
CSRS = next(t for t in builtin_table().types if t.resource == "certificatesigningrequests")
STRATEGY = strategy_for("certificates.k8s.io", "certificatesigningrequests")


def csr_pem(common_name: str = "alice") -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode()


REQUEST = csr_pem()


def csr(**spec: Any) -> Obj:
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": "alice"},
        "spec": {
            "request": REQUEST,
            "signerName": "kubernetes.io/kube-apiserver-client",
            "usages": ["client auth"],
            **spec,
        },
    }


ADMIN = common_pb2.UserInfo(
    username="kapi-admin",
    uid="kapi-admin",
    groups=["system:masters", "system:authenticated"],
    extra={"scopes": common_pb2.StringList(values=["view", "edit"])},
)

# (case, requesting user, what the body claims, spec fields stored)
REQUESTERS: list[tuple[str, Any, Obj, Obj]] = [
    (
        "the transport's UserInfo",
        ADMIN,
        {},
        {
            "username": "kapi-admin",
            "uid": "kapi-admin",
            "groups": ["system:masters", "system:authenticated"],
            "extra": {"scopes": ["view", "edit"]},
        },
    ),
    (
        "the body's claims are replaced",
        common_pb2.UserInfo(username="bob", groups=["dev"]),
        {"username": "mallory", "uid": "1", "groups": ["system:masters"], "extra": {"a": ["b"]}},
        {"username": "bob", "groups": ["dev"]},
    ),
    (
        "empty parts are left out (omitempty)",
        common_pb2.UserInfo(username="system:anonymous"),
        {},
        {"username": "system:anonymous"},
    ),
    (
        "no user at all clears the claims",
        None,
        {"username": "mallory", "groups": ["system:masters"]},
        {},
    ),
    (
        "any object with the same attributes",
        SimpleNamespace(username="carol", uid="u-1", groups=("g",), extra={"k": ["v"]}),
        {},
        {"username": "carol", "uid": "u-1", "groups": ["g"], "extra": {"k": ["v"]}},
    ),
]


@pytest.mark.parametrize(
    ("user", "claims", "stored"), [c[1:] for c in REQUESTERS], ids=[c[0] for c in REQUESTERS]
)
def test_the_requesting_user_is_recorded(user: Any, claims: Obj, stored: Obj) -> None:
    obj = pipeline.prepare_create(CSRS, STRATEGY, csr(**claims), "", user=user)
    pipeline.validate_create(CSRS, STRATEGY, obj)
    recorded = {
        k: obj["spec"][k] for k in ("username", "uid", "groups", "extra") if k in obj["spec"]
    }
    assert recorded == stored
    assert obj["status"] == {}  # no pre-approved requests


def test_requester_reads_a_user_without_knowing_its_type() -> None:
    assert pipeline.requester(ADMIN) == pipeline.Requester(
        username="kapi-admin",
        uid="kapi-admin",
        groups=("system:masters", "system:authenticated"),
        extra={"scopes": ("view", "edit")},
    )
    assert pipeline.requester(None) == pipeline.Requester()


def test_the_grpc_adapter_passes_the_user_through() -> None:
    target = convert.target_from_pb(
        registry_pb2.RequestTarget(
            group="certificates.k8s.io", version="v1", resource="certificatesigningrequests",
            user=ADMIN,
        )
    )  # fmt: skip
    assert pipeline.requester(target.user).username == "kapi-admin"


def test_an_update_keeps_the_spec() -> None:
    old = pipeline.prepare_create(CSRS, STRATEGY, csr(), "", user=ADMIN)
    new = copy.deepcopy(old)
    new["spec"]["username"] = "mallory"
    new["spec"]["usages"] = ["server auth"]
    new["metadata"]["labels"] = {"a": "b"}
    new = pipeline.prepare_update(CSRS, STRATEGY, new, old)
    pipeline.validate_update(CSRS, STRATEGY, new, old)
    assert new["spec"] == old["spec"]
    assert new["metadata"]["labels"] == {"a": "b"}


# --- through the registry -------------------------------------------------------------------


@pytest.fixture
def registry() -> Registry:
    return World().registry


async def test_registry_records_the_target_user(registry: Registry) -> None:
    target = Target("certificates.k8s.io", "v1", "certificatesigningrequests", user=ADMIN)
    body = orjson.dumps(csr(username="mallory", groups=["system:masters"]))
    created = loads(await registry.create(target, body))
    assert created["spec"]["username"] == "kapi-admin"
    assert created["spec"]["groups"] == ["system:masters", "system:authenticated"]
    got = loads(await registry.get(dataclasses.replace(target, name="alice"), ReadOptions()))
    assert got["spec"]["extra"] == {"scopes": ["view", "edit"]}
