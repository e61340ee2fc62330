"""OIDC discovery of the ServiceAccount token issuer, as kube-apiserver serves it
(``pkg/serviceaccount/openidmetadata.go``, ``pkg/routes/openidmetadata.go``), so that
other systems can verify kapi's tokens: ``/.well-known/openid-configuration`` and the
keys at ``/openid/v1/jwks``. RBAC's ``system:service-account-issuer-discovery`` lets
ServiceAccounts read both.
"""

from __future__ import annotations

import orjson

CONFIGURATION_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/openid/v1/jwks"
CACHE_CONTROL = "public, max-age=3600"
JWKS_MEDIA_TYPE = "application/jwk-set+json"


def configuration(issuer: str, jwks_uri: str, algorithms: list[str]) -> bytes:
    """The provider configuration: only the fields kube fills in, in its order."""
    return orjson.dumps(
        {
            "issuer": issuer,
            "jwks_uri": jwks_uri,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algorithms,
        }
    )


def default_jwks_uri(server_address: str) -> str:
    """kube's default: the keys on this server (its external address)."""
    host, _, port = server_address.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):
        host = "127.0.0.1"
    return f"https://{host}:{port}{JWKS_PATH}"
