"""Authenticators and authorizers of the authz service (services/authz/authentication.py,
authorization.py), with k8s.io/apiserver's contracts: an authenticator says yes, "not
mine" (None) or fails; a union tries each in turn and answers 401 when none accepts; the
zero value of a decision denies.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path

import pytest

from kapi import errors
from services.authz import authentication, authorization
from services.authz.authentication import ClientCertificate, Credentials, TokenFile, Union, User

AUTHENTICATED = "system:authenticated"

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


def bearer(token: str) -> Credentials:
    return Credentials(bearer_token=token)


# --- TokenFile ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "user"),
    [
        ("tok-alice", User("alice", "uid-a", (AUTHENTICATED,))),
        ("tok-bob", User("bob", "uid-b", ("dev", "ops", AUTHENTICATED))),
        ("tok-carol", User("carol", "uid-c", (AUTHENTICATED,))),
        ("tok-dan", User("dan", "uid-d", (AUTHENTICATED, "dev"))),  # not added twice
    ],
)
def test_token_file_users(token_file: Path, token: str, user: User) -> None:
    assert TokenFile(token_file).authenticate(bearer(token)) == user


@pytest.mark.parametrize(
    "credentials",
    [
        bearer("nope"),
        bearer(""),
        bearer("tok-alice "),  # exact match only
        bearer("# token"),  # comments are not tokens
        bearer("too"),  # a row with too few columns is skipped
        Credentials(cert_common_name="alice"),
        bearer("éé"),  # non-ASCII: compare_digest refuses such a str (was a 500)
        bearer("tok-alicé"),
        bearer("\udce9"),  # a lone surrogate (as latin-1 bytes decoded with surrogateescape)
    ],
)
def test_token_file_does_not_judge_other_credentials(
    token_file: Path, credentials: Credentials
) -> None:
    assert TokenFile(token_file).authenticate(credentials) is None


def test_token_file_reloads_when_the_file_changes(token_file: Path) -> None:
    authenticator = TokenFile(token_file)
    assert authenticator.authenticate(bearer("tok-alice")) is not None
    token_file.write_text("tok-new,newbie,uid-n,admins\n")
    stat = token_file.stat()
    os.utime(token_file, (stat.st_atime, stat.st_mtime + 5))  # a visible mtime change
    assert authenticator.authenticate(bearer("tok-alice")) is None
    assert authenticator.authenticate(bearer("tok-new")) == User(
        "newbie", "uid-n", ("admins", AUTHENTICATED)
    )


def test_token_file_keeps_its_tokens_while_the_file_is_unchanged(token_file: Path) -> None:
    authenticator = TokenFile(token_file)
    stat = token_file.stat()
    token_file.write_text("other,x,y\n")
    os.utime(token_file, (stat.st_atime, stat.st_mtime))  # same mtime: not re-read
    assert authenticator.authenticate(bearer("tok-alice")) is not None


def test_token_file_without_a_file_knows_no_tokens(tmp_path: Path) -> None:
    authenticator = TokenFile(tmp_path / "missing.csv")
    assert authenticator.authenticate(bearer("tok-alice")) is None


def test_token_file_compares_in_constant_time(
    token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert TokenFile(token_file).authenticate(bearer("tok-bob")) is not None
    assert (b"tok-bob", b"tok-bob") in compared
    assert all(b == b"tok-bob" for _, b in compared)


def test_a_non_ascii_token_in_the_file_is_matched(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text("tök-ünï,unicode,uid-u\n", encoding="utf-8")
    assert TokenFile(path).authenticate(bearer("tök-ünï")) == User(
        "unicode", "uid-u", (AUTHENTICATED,)
    )


def test_union_is_401_for_a_non_ascii_token(token_file: Path) -> None:
    with pytest.raises(errors.StatusError) as info:
        Union(TokenFile(token_file), ClientCertificate()).authenticate(bearer("éé"))
    assert (info.value.code, info.value.reason) == (401, "Unauthorized")


# --- ClientCertificate / Union ------------------------------------------------------------


def test_client_certificate_user() -> None:
    credentials = Credentials(cert_common_name="admin", cert_organizations=("system:masters",))
    assert ClientCertificate().authenticate(credentials) == User(
        "admin", "", ("system:masters", AUTHENTICATED)
    )


def test_client_certificate_without_one() -> None:
    assert ClientCertificate().authenticate(bearer("tok-alice")) is None


def test_union_tries_each_in_order(token_file: Path) -> None:
    union = Union(TokenFile(token_file), ClientCertificate())
    assert union.authenticate(bearer("tok-alice")).name == "alice"
    assert union.authenticate(Credentials(cert_common_name="admin")).name == "admin"
    both = Credentials(bearer_token="tok-alice", cert_common_name="admin")
    assert union.authenticate(both).name == "alice"  # the first that accepts decides


@pytest.mark.parametrize("credentials", [Credentials(), bearer("wrong")])
def test_union_is_401_when_nobody_accepts(token_file: Path, credentials: Credentials) -> None:
    union = Union(TokenFile(token_file), ClientCertificate())
    with pytest.raises(errors.StatusError) as info:
        union.authenticate(credentials)
    err = info.value
    assert (err.code, err.reason, err.message) == (401, "Unauthorized", "Unauthorized")
    assert err.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "details": {},
        "code": 401,
    }


def test_empty_union_accepts_nobody() -> None:
    with pytest.raises(errors.StatusError):
        Union().authenticate(Credentials(cert_common_name="admin"))


# --- authorizers ----------------------------------------------------------------------------

ATTRIBUTES = authorization.Attributes(
    user=User("bob"), verb="list", resource="configmaps", namespace="ns"
)


class Fixed:
    def __init__(self, decision: authorization.Decision, reason: str = "") -> None:
        self.decision = decision
        self.reason = reason
        self.calls = 0

    def authorize(self, attributes: authorization.Attributes) -> tuple[authorization.Decision, str]:
        self.calls += 1
        return self.decision, self.reason


def test_the_zero_decision_denies() -> None:
    assert authorization.Decision(0) is authorization.Decision.DENY


def test_always_allow() -> None:
    assert authorization.AlwaysAllow().authorize(ATTRIBUTES) == (
        authorization.Decision.ALLOW,
        "",
    )


def test_chain_without_authorizers_denies() -> None:
    assert authorization.Chain().authorize(ATTRIBUTES) == (authorization.Decision.DENY, "")


def test_chain_first_opinion_decides() -> None:
    Decision = authorization.Decision
    later = Fixed(Decision.ALLOW)
    chain = authorization.Chain(Fixed(Decision.NO_OPINION), Fixed(Decision.DENY, "no"), later)
    assert chain.authorize(ATTRIBUTES) == (Decision.DENY, "no")
    assert later.calls == 0


def test_chain_of_no_opinions_denies_with_their_reasons() -> None:
    Decision = authorization.Decision
    chain = authorization.Chain(
        Fixed(Decision.NO_OPINION, "rbac: no rule"), Fixed(Decision.NO_OPINION, "abac: none")
    )
    assert chain.authorize(ATTRIBUTES) == (Decision.DENY, "rbac: no rule; abac: none")


def test_chain_allows_after_no_opinion() -> None:
    Decision = authorization.Decision
    chain = authorization.Chain(Fixed(Decision.NO_OPINION), authorization.AlwaysAllow())
    assert chain.authorize(ATTRIBUTES)[0] is Decision.ALLOW


def test_authenticator_protocol_is_satisfied() -> None:
    authenticators: list[authentication.Authenticator] = [ClientCertificate()]
    assert Union(*authenticators).authenticators == (authenticators[0],)
