"""The admin kubeconfig that ``kapi up`` and ``kapi init`` write.

One cluster named ``kapi``, with the CA embedded as ``certificate-authority-data`` so
the file works wherever it is copied, and the admin (``kapi-admin``, in
``system:masters``) twice: context ``kapi`` with a client certificate, context
``kapi-token`` with the static bearer token (kubectl sends either only over TLS, which
is why the gateway serves HTTPS).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml

from kapi import pki

CLUSTER = "kapi"
CONTEXT = "kapi"


def build(
    *,
    server: str,
    ca_pem: bytes,
    user: str,
    token: str | None = None,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
    name: str = CLUSTER,
) -> dict[str, Any]:
    """The kubeconfig as a dict (``apiVersion: v1``, ``kind: Config``)."""
    if token is None and client_cert_pem is None:
        raise ValueError("a kubeconfig user needs a token or a client certificate")
    if (client_cert_pem is None) != (client_key_pem is None):
        raise ValueError("a client certificate needs its key, and the other way round")
    credentials: dict[str, str] = {}
    if token is not None:
        credentials["token"] = token
    if client_cert_pem is not None and client_key_pem is not None:
        credentials["client-certificate-data"] = _b64(client_cert_pem)
        credentials["client-key-data"] = _b64(client_key_pem)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [
            {
                "name": name,
                "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)},
            }
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user}}],
        "current-context": name,
    }


TOKEN_SUFFIX = "-token"


def admin(
    *,
    server: str,
    ca_pem: bytes,
    user: str,
    client_cert_pem: bytes,
    client_key_pem: bytes,
    token: str,
    name: str = CLUSTER,
) -> dict[str, Any]:
    """The admin kubeconfig ``kapi up`` writes, as kind and kubeadm write theirs: the
    current context's user authenticates with a client certificate (O=system:masters);
    the static token is a second user, ``<user>-token``, with a context of its own
    (``<name>-token``), for clients that send only tokens."""
    config = build(
        server=server,
        ca_pem=ca_pem,
        user=user,
        client_cert_pem=client_cert_pem,
        client_key_pem=client_key_pem,
        name=name,
    )
    config["users"].append({"name": user + TOKEN_SUFFIX, "user": {"token": token}})
    config["contexts"].append(
        {"name": name + TOKEN_SUFFIX, "context": {"cluster": name, "user": user + TOKEN_SUFFIX}}
    )
    return config


def token_of(config: dict[str, Any]) -> str:
    """The first bearer token among a kubeconfig's users ("" if none has one)."""
    for entry in config.get("users") or []:
        token = (entry.get("user") or {}).get("token")
        if token:
            return str(token)
    return ""


def dump(config: dict[str, Any]) -> str:
    """The YAML text of a kubeconfig."""
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def write(path: Path, config: dict[str, Any]) -> None:
    """Write the kubeconfig atomically, 0600: it holds a credential."""
    pki.write_private(path, dump(config).encode())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
