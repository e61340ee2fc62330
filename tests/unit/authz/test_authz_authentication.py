"""Authenticators of the authz service (services/authz/authentication), with
k8s.io/apiserver's contracts: authenticated, not applicable (None) or failed; a union
tries each in turn; the whole chain adds system:authenticated, and only a request
nobody recognised is anonymous. ServiceAccount tokens as pkg/serviceaccount issues and
validates them.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
from pathlib import Path
from typing import Any

import jwt
import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kapi import pki
from kapi.user import UserInfo
from services.authz.authentication import (
    Authenticated,
    BearerTokens,
    Credentials,
    Failed,
    RequestAuthenticator,
    Union,
)
from services.authz.authentication.service_accounts import (
    Bound,
    ServiceAccountTokens,
    TokenIssuer,
)
from services.authz.authentication.signing_keys import SigningKey, load_public_keys
from services.authz.authentication.token_file import TokenFile
from services.authz.authentication.x509 import ClientCertificates

AUTHENTICATED = "system:authenticated"
ISSUER = "https://kubernetes.default.svc.cluster.local"

TOKENS = """\
# token,user,uid,"groups"
tok-alice,alice,uid-a
tok-bob,bob,uid-b,"dev,ops"
tok-carol,carol,uid-c,""
too,short
tok-dan,dan,uid-d,"system:authenticated,dev"
"""


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.csv"
    path.write_text(TOKENS)
    return path


def bearer(token: str, *audiences: str) -> Credentials:
    return Credentials(bearer_token=token, audiences=audiences)


def chain(*authenticators: Any) -> RequestAuthenticator:
    return RequestAuthenticator(Union(list(authenticators)))


# --- TokenFile ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "user"),
    [
        ("tok-alice", UserInfo("alice", "uid-a")),
        ("tok-bob", UserInfo("bob", "uid-b", ("dev", "ops"))),
        ("tok-carol", UserInfo("carol", "uid-c")),
        ("tok-dan", UserInfo("dan", "uid-d", (AUTHENTICATED, "dev"))),
    ],
)
async def test_token_file_users(token_file: Path, token: str, user: UserInfo) -> None:
    assert await TokenFile(token_file).authenticate(bearer(token)) == Authenticated(user)


@pytest.mark.parametrize(
    "credentials",
    [
        bearer("nope"),
        bearer(""),
        bearer("tok-alice "),  # exact match only
        bearer("# token"),  # comments are not tokens
        bearer("too"),  # a row with too few columns is skipped
        bearer("éé"),  # non-ASCII: compare_digest refuses such a str (was a 500)
        bearer("\udce9"),  # a lone surrogate
        Credentials(client_certificates=(b"x",)),
    ],
)
async def test_token_file_does_not_judge_other_credentials(
    token_file: Path, credentials: Credentials
) -> None:
    assert await TokenFile(token_file).authenticate(credentials) is None


async def test_token_file_is_audience_agnostic(token_file: Path) -> None:
    tokens = TokenFile(token_file, api_audiences=(ISSUER,))
    assert await tokens.authenticate(bearer("tok-alice")) == Authenticated(
        UserInfo("alice", "uid-a"), (ISSUER,)
    )
    assert await tokens.authenticate(bearer("tok-alice", "vault")) is None
    found = await tokens.authenticate(bearer("tok-alice", "vault", ISSUER))
    assert isinstance(found, Authenticated) and found.audiences == (ISSUER,)


async def test_token_file_reloads_when_the_file_changes(token_file: Path) -> None:
    tokens = TokenFile(token_file)
    token_file.write_text("tok-erin,erin,uid-e\n")
    os.utime(token_file, (1, 1))
    tokens._checked = 0.0  # past the recheck interval
    assert await tokens.authenticate(bearer("tok-alice")) is None
    assert await tokens.authenticate(bearer("tok-erin")) == Authenticated(UserInfo("erin", "uid-e"))


# --- the chain -------------------------------------------------------------------------------


async def test_the_chain_adds_system_authenticated_once(token_file: Path) -> None:
    authenticate = chain(BearerTokens(Union([TokenFile(token_file)]))).authenticate
    bob = await authenticate(bearer("tok-bob"))
    assert isinstance(bob, Authenticated)
    assert bob.user.groups == ("dev", "ops", AUTHENTICATED)
    dan = await authenticate(bearer("tok-dan"))
    assert isinstance(dan, Authenticated) and dan.user.groups == (AUTHENTICATED, "dev")


async def test_no_credentials_are_anonymous(token_file: Path) -> None:
    outcome = await chain(BearerTokens(Union([TokenFile(token_file)]))).authenticate(Credentials())
    assert outcome == Authenticated(UserInfo("system:anonymous", "", ("system:unauthenticated",)))


async def test_an_unknown_token_is_a_failure_never_anonymous(token_file: Path) -> None:
    outcome = await chain(BearerTokens(Union([TokenFile(token_file)]))).authenticate(bearer("nope"))
    assert outcome == Failed("invalid bearer token")


async def test_without_anonymous_nobody_is_not_authenticated() -> None:
    authenticator = RequestAuthenticator(Union([]), anonymous_allowed=False)
    assert await authenticator.authenticate(Credentials()) is None


async def test_union_reports_every_failure() -> None:
    class Failing:
        def __init__(self, reason: str) -> None:
            self.reason = reason

        async def authenticate(self, credentials: Credentials) -> Failed:
            return Failed(self.reason)

    union = Union([Failing("a"), Failing("b"), Failing("a")])
    assert await union.authenticate(bearer("t")) == Failed("[a, b]")
    assert await Union([Failing("only")]).authenticate(bearer("t")) == Failed("only")


# --- client certificates ---------------------------------------------------------------------


@pytest.fixture
def ca(tmp_path: Path) -> pki.KeyPair:
    return pki.ensure_ca(tmp_path / "pki")


def der(pair: pki.KeyPair) -> bytes:
    return pair.load_cert().public_bytes(serialization.Encoding.DER)


async def test_a_certificate_is_its_cn_and_organizations(ca: pki.KeyPair, tmp_path: Path) -> None:
    client = pki.issue_client_cert(
        tmp_path / "pki", ca, name="admin", user="kapi-admin", groups=("system:masters", "ops")
    )
    certificates = ClientCertificates.from_pem(ca.cert_pem)
    outcome = await certificates.authenticate(Credentials(client_certificates=(der(client),)))
    fingerprint = hashlib.sha256(der(client)).hexdigest()
    assert outcome == Authenticated(
        UserInfo(
            "kapi-admin",
            "",
            ("system:masters", "ops"),
            {"authentication.kubernetes.io/credential-id": (f"X509SHA256={fingerprint}",)},
        )
    )


async def test_a_certificate_of_another_ca_fails(ca: pki.KeyPair, tmp_path: Path) -> None:
    other = pki.ensure_ca(tmp_path / "other")
    client = pki.issue_client_cert(tmp_path / "other", other, name="c", user="mallory")
    outcome = await ClientCertificates.from_pem(ca.cert_pem).authenticate(
        Credentials(client_certificates=(der(client),))
    )
    assert isinstance(outcome, Failed)
    assert "x509: certificate signed by unknown authority" in outcome.reason


def _leaf(ca: pki.KeyPair, *, common_name: str, usage: Any, days: int = 1) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else []
    names.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, "o"))
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(names))
        .issuer_name(ca.load_cert().subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=2))
        .not_valid_after(now + datetime.timedelta(days=days))
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(ca.load_key(), hashes.SHA256()).public_bytes(serialization.Encoding.DER)


async def test_certificates_must_be_for_clients_and_current(ca: pki.KeyPair) -> None:
    certificates = ClientCertificates.from_pem(ca.cert_pem)
    server_only = _leaf(ca, common_name="x", usage=ExtendedKeyUsageOID.SERVER_AUTH)
    expired = _leaf(ca, common_name="x", usage=ExtendedKeyUsageOID.CLIENT_AUTH, days=-1)
    for leaf in (server_only, expired):
        assert isinstance(
            await certificates.authenticate(Credentials(client_certificates=(leaf,))), Failed
        )
    no_usage = _leaf(ca, common_name="x", usage=None)  # Go accepts a leaf with no EKU
    assert isinstance(
        await certificates.authenticate(Credentials(client_certificates=(no_usage,))),
        Authenticated,
    )
    no_name = _leaf(ca, common_name="", usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    assert await certificates.authenticate(Credentials(client_certificates=(no_name,))) is None
    assert await certificates.authenticate(Credentials()) is None


# --- ServiceAccount tokens -------------------------------------------------------------------


class Objects:
    """What token validation looks up, from dicts a test changes."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}

    def put(self, kind: str, namespace: str, name: str, uid: str, **meta: Any) -> None:
        self.objects[(kind, namespace, name)] = {
            "metadata": {"name": name, "namespace": namespace, "uid": uid, **meta}
        }

    async def service_account(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get(("sa", namespace, name))

    async def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get(("secret", namespace, name))

    async def pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get(("pod", namespace, name))

    async def node(self, name: str) -> dict[str, Any] | None:
        return self.objects.get(("node", "", name))


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    pair = pki.ensure_service_account_key(tmp_path_factory.mktemp("sa"))
    return SigningKey.load(pair.key_path)


@pytest.fixture
def objects() -> Objects:
    found = Objects()
    found.put("sa", "ns", "robot", "uid-robot")
    return found


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def authenticator(
    key: SigningKey, objects: Objects, clock: Clock | None = None
) -> ServiceAccountTokens:
    return ServiceAccountTokens(
        issuers=[ISSUER],
        keys=[key.verifying],
        api_audiences=[ISSUER],
        objects=objects,
        clock=clock or Clock(),
    )


def issue(key: SigningKey, *, audiences: tuple[str, ...] = (ISSUER,), **kw: Any) -> str:
    issued = TokenIssuer(key, ISSUER).issue(
        namespace=kw.pop("namespace", "ns"),
        name=kw.pop("name", "robot"),
        uid=kw.pop("uid", "uid-robot"),
        audiences=audiences,
        expiration_seconds=kw.pop("expiration_seconds", 3600),
        now=kw.pop("now", Clock().now),
        **kw,
    )
    return issued.token


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_tokens_carry_kubes_claims(signing_key: SigningKey) -> None:
    token = issue(signing_key, bound=Bound(pod=("web-0", "uid-pod"), node=("n1", "uid-n1")))
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "kid": signing_key.verifying.kid}
    body = claims(token)
    assert list(body) == sorted(body)  # go-jose writes the claims sorted
    now = int(Clock().now)
    assert body["aud"] == [ISSUER] and body["iss"] == ISSUER
    assert (body["iat"], body["nbf"], body["exp"]) == (now, now, now + 3600)
    assert body["sub"] == "system:serviceaccount:ns:robot"
    assert body["kubernetes.io"] == {
        "namespace": "ns",
        "node": {"name": "n1", "uid": "uid-n1"},
        "pod": {"name": "web-0", "uid": "uid-pod"},
        "serviceaccount": {"name": "robot", "uid": "uid-robot"},
    }
    assert len(body["jti"]) == 36


async def test_a_token_is_its_service_account(signing_key: SigningKey, objects: Objects) -> None:
    token = issue(signing_key)
    outcome = await authenticator(signing_key, objects).authenticate(bearer(token))
    assert isinstance(outcome, Authenticated)
    assert outcome.audiences == (ISSUER,)
    user = outcome.user
    assert (user.username, user.uid, user.groups) == (
        "system:serviceaccount:ns:robot",
        "uid-robot",
        ("system:serviceaccounts", "system:serviceaccounts:ns"),
    )
    assert user.extra == {
        "authentication.kubernetes.io/credential-id": (f"JTI={claims(token)['jti']}",)
    }


async def test_a_pod_bound_token_names_its_pod_and_node(
    signing_key: SigningKey, objects: Objects
) -> None:
    objects.put("pod", "ns", "web-0", "uid-pod")
    token = issue(signing_key, bound=Bound(pod=("web-0", "uid-pod"), node=("n1", "uid-n1")))
    outcome = await authenticator(signing_key, objects).authenticate(bearer(token))
    assert isinstance(outcome, Authenticated)
    extra = outcome.user.extra
    assert extra["authentication.kubernetes.io/pod-name"] == ("web-0",)
    assert extra["authentication.kubernetes.io/pod-uid"] == ("uid-pod",)
    assert extra["authentication.kubernetes.io/node-name"] == ("n1",)
    assert extra["authentication.kubernetes.io/node-uid"] == ("uid-n1",)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda o: o.objects.pop(("sa", "ns", "robot")), 'serviceaccounts "robot" not found'),
        (
            lambda o: o.put("sa", "ns", "robot", "uid-new"),
            "service account UID (uid-new) does not match claim (uid-robot)",
        ),
        (
            lambda o: o.put(
                "sa", "ns", "robot", "uid-robot", deletionTimestamp="2020-01-01T00:00:00Z"
            ),
            "service account ns/robot has been deleted",
        ),
    ],
)
async def test_a_token_of_a_gone_service_account_fails(
    signing_key: SigningKey, objects: Objects, change: Any, reason: str
) -> None:
    token = issue(signing_key)
    change(objects)
    assert await authenticator(signing_key, objects).authenticate(bearer(token)) == Failed(reason)


async def test_a_bound_token_fails_once_its_object_is_gone(
    signing_key: SigningKey, objects: Objects
) -> None:
    objects.put("secret", "ns", "s", "uid-s")
    token = issue(signing_key, bound=Bound(secret=("s", "uid-s")))
    check = authenticator(signing_key, objects)
    assert isinstance(await check.authenticate(bearer(token)), Authenticated)
    objects.put("secret", "ns", "s", "uid-other")
    assert await check.authenticate(bearer(token)) == Failed(
        "secret UID (uid-other) does not match service account secret ref claim (uid-s)"
    )
    del objects.objects[("secret", "ns", "s")]
    assert await check.authenticate(bearer(token)) == Failed(
        "service account token has been invalidated"
    )


async def test_times_are_checked_with_a_minute_of_leeway(
    signing_key: SigningKey, objects: Objects
) -> None:
    clock = Clock()
    token = issue(signing_key, expiration_seconds=600)
    check = authenticator(signing_key, objects, clock)
    clock.now += 600 + 60
    assert isinstance(await check.authenticate(bearer(token)), Authenticated)
    clock.now += 1
    assert await check.authenticate(bearer(token)) == Failed("service account token has expired")
    early = issue(signing_key, now=Clock().now + 120)
    clock.now = Clock().now
    assert await check.authenticate(bearer(early)) == Failed(
        "service account token is not valid yet"
    )


async def test_audiences_must_meet(signing_key: SigningKey, objects: Objects) -> None:
    token = issue(signing_key, audiences=("vault",))
    check = authenticator(signing_key, objects)
    assert await check.authenticate(bearer(token)) == Failed(
        'token audiences ["vault"] is invalid for the target audiences '
        '["https://kubernetes.default.svc.cluster.local"]'
    )
    outcome = await check.authenticate(bearer(token, "vault", "other"))
    assert isinstance(outcome, Authenticated) and outcome.audiences == ("vault",)


async def test_other_issuers_and_non_jwts_are_not_judged(
    signing_key: SigningKey, objects: Objects
) -> None:
    check = authenticator(signing_key, objects)
    foreign = TokenIssuer(signing_key, "https://elsewhere").issue(
        namespace="ns", name="robot", uid="uid-robot", audiences=[ISSUER], expiration_seconds=600
    )
    for token in (foreign.token, "tok-alice", "a.b.c", '{"iss":"x"}'):
        assert await check.authenticate(bearer(token)) is None


async def test_a_token_signed_by_another_key_fails(
    signing_key: SigningKey, objects: Objects, tmp_path: Path
) -> None:
    other = SigningKey.load(pki.ensure_service_account_key(tmp_path).key_path)
    token = issue(other)
    outcome = await authenticator(signing_key, objects).authenticate(bearer(token))
    assert isinstance(outcome, Failed)


def test_verifying_keys_are_read_from_any_pem(tmp_path: Path) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "keys.pem"
    path.write_bytes(
        rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        + ec_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    keys = load_public_keys([path])
    assert [k.algorithm for k in keys] == ["RS256", "ES256"]
    assert keys[1].jwk()["crv"] == "P-256" and keys[1].jwk()["kty"] == "EC"
    assert set(keys[0].jwk()) == {"use", "kty", "kid", "alg", "n", "e"}
