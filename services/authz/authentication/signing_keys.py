"""The key that signs ServiceAccount tokens, and the public keys that verify them.

kube-apiserver's ``--service-account-signing-key-file`` (a private key: RSA, or ECDSA
P-256/384/521) and ``--service-account-key-file`` (public keys, or private keys whose
public half is used; the signing key's is always among them). Each key is known by its
``kid``: the unpadded base64url SHA-256 of its DER SubjectPublicKeyInfo, as
``pkg/serviceaccount/jwt.go`` keyIDFromPublicKey computes it, so a token names the key
that signed it and verifiers (``/openid/v1/jwks``) find it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_CURVE_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return _b64(value.to_bytes(size, "big"))


def algorithm_of(key: PublicKey) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    algorithm = _CURVE_ALGORITHMS.get(key.curve.name)
    if algorithm is None:
        raise ValueError(f"unsupported elliptic curve {key.curve.name}")
    return algorithm


def key_id(key: PublicKey) -> str:
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _b64(hashlib.sha256(der).digest())


@dataclass(frozen=True)
class VerifyingKey:
    public_key: PublicKey
    kid: str
    algorithm: str

    @classmethod
    def of(cls, key: PublicKey) -> VerifyingKey:
        return cls(key, key_id(key), algorithm_of(key))

    def jwk(self) -> dict[str, Any]:
        """The key as a JSON Web Key, in go-jose's field order (use, kty, kid, crv, alg,
        n/x, e/y)."""
        if isinstance(self.public_key, rsa.RSAPublicKey):
            numbers = self.public_key.public_numbers()
            return {
                "use": "sig",
                "kty": "RSA",
                "kid": self.kid,
                "alg": self.algorithm,
                "n": _int_b64(numbers.n),
                "e": _int_b64(numbers.e),
            }
        point = self.public_key.public_numbers()
        size = (self.public_key.curve.key_size + 7) // 8
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[
            self.public_key.curve.name
        ]
        return {
            "use": "sig",
            "kty": "EC",
            "kid": self.kid,
            "crv": crv,
            "alg": self.algorithm,
            "x": _int_b64(point.x, size),
            "y": _int_b64(point.y, size),
        }


@dataclass(frozen=True)
class SigningKey:
    private_key: PrivateKey
    verifying: VerifyingKey

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path}: a service account signing key is RSA or ECDSA")
        return cls(key, VerifyingKey.of(key.public_key()))


def load_public_keys(paths: Iterable[Path]) -> list[VerifyingKey]:
    """Every public key in the PEM files (public keys, private keys, certificates), as
    ``--service-account-key-file`` reads them."""
    found: list[VerifyingKey] = []
    for path in paths:
        data = path.read_bytes()
        for block in _pem_blocks(data):
            key = _public_key(block)
            if key is not None:
                found.append(VerifyingKey.of(key))
    return found


def _pem_blocks(data: bytes) -> list[bytes]:
    blocks: list[bytes] = []
    start = 0
    while True:
        begin = data.find(b"-----BEGIN ", start)
        if begin < 0:
            return blocks
        end_marker = data.find(b"-----END ", begin)
        if end_marker < 0:
            return blocks
        end = data.find(b"-----", end_marker + 9)
        if end < 0:
            return blocks
        blocks.append(data[begin : end + 5])
        start = end + 5


def _public_key(block: bytes) -> PublicKey | None:
    try:
        if b"CERTIFICATE" in block.split(b"\n", 1)[0]:
            key: Any = x509.load_pem_x509_certificate(block).public_key()
        elif b"PRIVATE KEY" in block.split(b"\n", 1)[0]:
            key = serialization.load_pem_private_key(block, password=None).public_key()
        else:
            key = serialization.load_pem_public_key(block)
    except (ValueError, TypeError):
        return None
    return key if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey) else None
