"""Where the API server is and how to prove who we are: read from a kubeconfig.

A component is given a kubeconfig (``--kubeconfig``), as kube-controller-manager is; its
current context names the server, the CA to trust and the credentials: a bearer token,
a client certificate (CN the user, O the groups) or both. ``--master`` overrides the
server, as kube's flag of that name does (docker-compose.yml points the components at
``https://gateway:6443``).
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Connection:
    """An API server URL and the credentials for it (PEM bytes, not paths)."""

    server: str
    ca_pem: bytes | None = None
    token: str | None = None
    cert_pem: bytes | None = None
    key_pem: bytes | None = None
    insecure: bool = False

    def ssl_context(self) -> ssl.SSLContext | bool:
        """The TLS context for ``https://`` (``True``: the system's defaults)."""
        if not self.server.startswith("https://"):
            return False
        context = ssl.create_default_context()
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.ca_pem:
            context = ssl.create_default_context(cadata=self.ca_pem.decode())
        if self.cert_pem and self.key_pem:
            _load_chain(context, self.cert_pem, self.key_pem)
        return context

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def _load_chain(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """``load_cert_chain`` takes paths only: the PEMs go through a private temp dir."""
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
        for path, data in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        context.load_cert_chain(cert_path, key_path)


def _data(entry: dict[str, Any], key: str, base: Path) -> bytes | None:
    """``KEY-data`` (base64) or ``KEY`` (a path, relative to the kubeconfig)."""
    if entry.get(f"{key}-data"):
        return base64.b64decode(entry[f"{key}-data"])
    if entry.get(key):
        return (base / str(entry[key])).read_bytes()
    return None


def _named(items: Any, name: str, field: str) -> dict[str, Any]:
    for item in items or []:
        if isinstance(item, dict) and item.get("name") == name:
            value = item.get(field)
            return value if isinstance(value, dict) else {}
    raise ValueError(f"kubeconfig has no {field} named {name!r}")


def from_kubeconfig(path: str | Path, *, master: str = "") -> Connection:
    """The current context of the kubeconfig at ``path``; ``master`` overrides its server."""
    path = Path(path)
    config = yaml.safe_load(path.read_text())
    if not isinstance(config, dict):
        raise ValueError(f"{path}: not a kubeconfig")
    context = _named(config.get("contexts"), str(config.get("current-context") or ""), "context")
    cluster = _named(config.get("clusters"), str(context.get("cluster") or ""), "cluster")
    user = _named(config.get("users"), str(context.get("user") or ""), "user")
    base = path.parent
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = (base / str(user["tokenFile"])).read_text().strip()
    return Connection(
        server=(master or str(cluster.get("server") or "")).rstrip("/"),
        ca_pem=_data(cluster, "certificate-authority", base),
        token=str(token) if token else None,
        cert_pem=_data(user, "client-certificate", base),
        key_pem=_data(user, "client-key", base),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
    )
