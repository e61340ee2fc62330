"""``kapi up`` in the foreground: credentials, etcd, the services, supervision.

The same services that docker-compose.yml runs in containers run here as local
processes (``python -m services.<name>`` with flags), each on a loopback port the
kernel picks, so several control planes can share a machine. Start order follows the
dependencies: etcd, storage (the only etcd client), authz and registry (both read
through storage), the gateway last; each must be ready before the next starts, and
the whole is ready when the gateway's ``/readyz`` answers 200 over verified TLS.

Inside, everything is mutual TLS (``kapi.pki.ensure_internal``): each service is given
its certificate and the services CA (``--peer-*``), storage also etcd's CA and its
client certificate (``--etcd-*``), and the embedded etcd accepts nothing else.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kapi import (
    config,
    etcd_process,
    kubeconfig,
    pki,
    ports,
    probes,
    rundir,
    supervisor,
    tokens,
)
from kapi.supervisor import say

# Started in this order, each once the one before is ready; the metrics server (kube's
# metrics-server, an extension API server) registers itself once the gateway is up.
SERVICES = ("storage", "authz", "registry", "gateway", "metrics")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A component that is still running this long after its start has read its flags.
COMPONENT_SETTLE_SECONDS = 1.0


@dataclass(frozen=True)
class Component:
    """A client of the gateway beside the API server (kube-controller-manager's kind):
    its user, the CN of the client certificate it is issued. ``kapi up`` and ``kapi
    init`` write its kubeconfig (with that certificate) and the cluster CA into a
    directory of its own, ``DIR/components/NAME/{kubeconfig,ca.crt}`` (a volume of its
    own in compose)."""

    name: str
    user: str

    def directory(self, root: Path) -> Path:
        return root / "components" / self.name

    def kubeconfig(self, root: Path) -> Path:
        return self.directory(root) / "kubeconfig"

    def ca_file(self, root: Path) -> Path:
        return self.directory(root) / "ca.crt"


COMPONENTS = (
    Component("controllers", "system:kube-controller-manager"),
    Component("scheduler", "system:kube-scheduler"),
    Component("nodes", "system:kapi-node-simulator"),
)


@dataclass(frozen=True)
class Options:
    """What ``kapi up`` was asked for."""

    run_dir: rundir.RunDir
    port: int
    bind_address: str = ports.LOOPBACK
    # Empty: start the embedded etcd.
    etcd_endpoints: tuple[str, ...] = ()
    # How to reach external https:// etcd endpoints (the embedded one: our own PKI).
    etcd_tls: pki.TLSFiles | None = None
    ready_timeout: float = 60.0
    extra_sans: tuple[str, ...] = field(default=())
    # kube-controller-manager's --controllers ("*": every one on by default).
    controllers: str = "*"
    # Simulated nodes (services.nodes); 0 runs no node simulator.
    nodes: int = 1
    # The gateway's audit flags (config.AUDIT_FLAGS), as given; files made absolute.
    audit: tuple[tuple[str, str], ...] = field(default=())
    # authz's --admission-control-config-file (absolute; "" none).
    admission_control_config_file: str = ""

    @property
    def embedded_etcd(self) -> bool:
        return not self.etcd_endpoints


@dataclass(frozen=True)
class Credentials:
    """What a client and the services need to trust and recognise each other."""

    ca: pki.KeyPair
    serving: pki.KeyPair
    token: str
    kubeconfig: Path
    internal: pki.InternalPKI


@dataclass(frozen=True)
class Ports:
    """The loopback ports of one control plane's processes."""

    storage: int
    authz: int
    registry: int
    gateway: int
    metrics: int = 0
    etcd_client: int | None = None
    etcd_peer: int | None = None

    @classmethod
    def allocate(cls, *, gateway: int, embedded_etcd: bool) -> Ports:
        free = ports.free_ports(6 if embedded_etcd else 4)
        return cls(
            storage=free[0],
            authz=free[1],
            registry=free[2],
            gateway=gateway,
            metrics=free[3],
            etcd_client=free[4] if embedded_etcd else None,
            etcd_peer=free[5] if embedded_etcd else None,
        )


def server_url(bind_address: str, port: int) -> str:
    """The gateway URL a local client uses (``https://127.0.0.1:6443`` by default)."""
    return f"https://{ports.format_address(ports.connect_host(bind_address), port)}"


def prepare_credentials(
    run_dir: rundir.RunDir, *, server: str, hosts: Sequence[str]
) -> Credentials:
    """CA, serving certificate, admin token and kubeconfig: created once, then reused;
    the inside's certificates, renewed as ``kapi.pki`` says.

    The kubeconfig is rewritten every time, since the server URL may have changed.
    """
    ca = pki.ensure_ca(run_dir.pki_dir)
    serving = pki.ensure_serving_cert(run_dir.pki_dir, ca, hosts=hosts)
    internal = pki.ensure_internal(run_dir.pki_dir)
    pki.ensure_service_account_key(internal.service_dir("authz"))
    token = tokens.ensure_user(run_dir.token_file)
    client = pki.issue_client_cert(
        run_dir.pki_dir, ca, name="admin", user=tokens.ADMIN_USER, groups=tokens.ADMIN_GROUPS
    )
    admin = kubeconfig.admin(
        server=server,
        ca_pem=ca.cert_pem,
        user=tokens.ADMIN_USER,
        client_cert_pem=client.cert_pem,
        client_key_pem=client.key_path.read_bytes(),
        token=token,
    )
    kubeconfig.write(run_dir.kubeconfig, admin)
    for component in COMPONENTS:
        # kubeadm's way: a client certificate, CN the component's user, no groups
        # (a token would do too, but a certificate is what kube's components carry).
        own = pki.issue_client_cert(
            run_dir.pki_dir, ca, name=f"component-{component.name}", user=component.user
        )
        kubeconfig.write(
            component.kubeconfig(run_dir.root),
            kubeconfig.build(
                server=server,
                ca_pem=ca.cert_pem,
                user=component.user,
                client_cert_pem=own.cert_pem,
                client_key_pem=own.key_path.read_bytes(),
            ),
        )
        pki.write_atomic(component.ca_file(run_dir.root), ca.cert_pem, mode=0o644)
    return Credentials(
        ca=ca, serving=serving, token=token, kubeconfig=run_dir.kubeconfig, internal=internal
    )


def service_argv(name: str, flags: Mapping[str, str]) -> list[str]:
    """``python -m services.<name> --flag value ...`` with this interpreter."""
    argv = [sys.executable, "-m", f"services.{name}"]
    for flag, value in flags.items():
        argv += [flag, value]
    return argv


def tls_flags(flags: Sequence[str], tls: pki.TLSFiles | None) -> dict[str, str]:
    """``flags`` (CA, certificate, key) set to ``tls``' files, those it has."""
    if tls is None:
        return {}
    files = (tls.ca_file, tls.cert_file, tls.key_file)
    return {flag: str(path) for flag, path in zip(flags, files, strict=True) if path is not None}


def service_flags(
    opts: Options,
    ports_: Ports,
    creds: Credentials,
    *,
    etcd_endpoints: Sequence[str],
    etcd_tls: pki.TLSFiles | None,
) -> dict[str, dict[str, str]]:
    """Each service's flags, per the services' contract (see docker-compose.yml)."""
    loop = ports.LOOPBACK
    storage = ports.format_address(loop, ports_.storage)
    authz = ports.format_address(loop, ports_.authz)
    registry = ports.format_address(loop, ports_.registry)
    flags = {
        "storage": {
            "--listen": storage,
            "--etcd-endpoints": ",".join(etcd_endpoints),
            **tls_flags(config.ETCD_TLS_FLAGS, etcd_tls),
        },
        "authz": {
            "--listen": authz,
            "--storage": storage,
            "--registry": registry,
            "--token-file": str(opts.run_dir.token_file),
            "--client-ca-file": str(creds.ca.cert_path),
            "--service-account-signing-key-file": str(
                pki.service_account_key(creds.internal.service_dir("authz")).key_path
            ),
        },
        "registry": {
            "--listen": registry,
            "--storage": storage,
            "--authz": authz,
            # extension-apiserver-authentication: client certificates are the cluster
            # CA's; the front proxy's, the front-proxy CA's.
            "--client-ca-file": str(creds.ca.cert_path),
            "--requestheader-client-ca-file": str(creds.internal.front_proxy_ca_copy),
            "--requestheader-allowed-names": pki.FRONT_PROXY_CLIENT_NAME,
            # Extension API servers run beside a local control plane, on loopback.
            "--allow-loopback-endpoints": "true",
        },
        "gateway": {
            "--listen": ports.format_address(opts.bind_address, ports_.gateway),
            "--registry": registry,
            "--authz": authz,
            "--storage": storage,
            "--tls-cert-file": str(creds.serving.cert_path),
            "--tls-private-key-file": str(creds.serving.key_path),
            "--client-ca-file": str(creds.ca.cert_path),
            "--proxy-client-cert-file": str(creds.internal.front_proxy_client.cert_path),
            "--proxy-client-key-file": str(creds.internal.front_proxy_client.key_path),
        },
        "metrics": {
            "--listen": ports.format_address(loop, ports_.metrics),
            "--registry": registry,
            "--tls-cert-file": str(creds.internal.service("metrics").cert_file),
            "--tls-private-key-file": str(creds.internal.service("metrics").key_file),
            "--ca-bundle-file": str(creds.internal.service("metrics").ca_file),
            "--requestheader-client-ca-file": str(creds.internal.front_proxy_ca_for("metrics")),
            "--requestheader-allowed-names": pki.FRONT_PROXY_CLIENT_NAME,
        },
    }
    for name, service in flags.items():
        service.update(tls_flags(config.PEER_TLS_FLAGS, creds.internal.service(name)))
    flags["gateway"].update(audit_flags(opts))
    if opts.admission_control_config_file:
        flags["authz"]["--admission-control-config-file"] = opts.admission_control_config_file
    return flags


def component_flags(opts: Options) -> dict[str, dict[str, str]]:
    """The gateway's clients' flags: each its kubeconfig (see docker-compose.yml)."""
    root = opts.run_dir.root
    by_name = {c.name: c for c in COMPONENTS}
    flags = {
        "controllers": {
            "--kubeconfig": str(by_name["controllers"].kubeconfig(root)),
            "--controllers": opts.controllers,
            "--root-ca-file": str(by_name["controllers"].ca_file(root)),
        },
        "scheduler": {"--kubeconfig": str(by_name["scheduler"].kubeconfig(root))},
        "nodes": {
            "--kubeconfig": str(by_name["nodes"].kubeconfig(root)),
            "--nodes": str(opts.nodes),
        },
    }
    if opts.nodes <= 0:
        del flags["nodes"]
    return flags


def audit_flags(opts: Options) -> dict[str, str]:
    """The gateway's audit flags: as given, the log in ``DIR/logs/audit.log`` when a
    policy is given without one."""
    given = dict(opts.audit)
    if given.get("--audit-policy-file") and not given.get("--audit-log-path"):
        given["--audit-log-path"] = str(opts.run_dir.log("audit"))
    return given


def child_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The children's environment: ours, unbuffered, and able to import ``services``.

    The project root goes at the end of PYTHONPATH, so an installed or explicitly
    configured ``services`` package still wins.
    """
    env = dict(os.environ if base is None else base)
    env["PYTHONUNBUFFERED"] = "1"
    if (PROJECT_ROOT / "services").is_dir():
        path = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if str(PROJECT_ROOT) not in path:
            env["PYTHONPATH"] = os.pathsep.join([*path, str(PROJECT_ROOT)])
    return env


class StopFlag:
    """Set from a signal handler, polled by the main loop.

    A plain attribute, not a ``threading.Event``: setting an Event takes a lock that
    the interrupted main thread may already hold.
    """

    def __init__(self) -> None:
        self._set = False

    def set(self, *_: object) -> None:
        self._set = True

    def __call__(self) -> bool:
        return self._set


class ControlPlane:
    """One ``kapi up`` run: owns the data directory's lock until it returns."""

    def __init__(self, opts: Options, *, stop: StopFlag) -> None:
        self.opts = opts
        self.stop = stop
        self.run_dir = opts.run_dir
        self.phase = "starting"
        self.ports: Ports | None = None
        self.etcd_endpoints: list[str] = list(opts.etcd_endpoints)
        # How storage (and our probe) reach etcd: the embedded one's is set on start.
        self.etcd_tls: pki.TLSFiles | None = opts.etcd_tls
        self.supervisor = supervisor.Supervisor(on_change=self._write_state)
        self.lock: rundir.Lock | None = None
        self.lost_dir = False

    def should_stop(self) -> bool:
        """Asked to stop, or the data directory is gone (see ``dir_lost``)."""
        return self.stop() or self.dir_lost()

    def dir_lost(self) -> bool:
        """Whether the data directory was deleted, moved or replaced since we locked it.

        Then nothing can find this control plane any more (``kapi down`` looks in the
        directory, a new ``kapi up`` there would take a lock of its own and find the
        port taken), so it stops, said once.
        """
        if not self.lost_dir and self.lock is not None and not self.lock.still_held(self.run_dir):
            self.lost_dir = True
            say(f"kapi: {self.run_dir.root} was removed or replaced; stopping")
        return self.lost_dir

    def run(self) -> int:
        """Start everything, supervise until stopped; 0 on a clean stop, 1 on failure
        (or when the data directory went away)."""
        lock = rundir.Lock.try_acquire(self.run_dir)
        if lock is None:
            pid = rundir.read_pid(self.run_dir)
            say(f"kapi: already running (pid {pid}) in {self.run_dir.root}")
            return 1
        self.lock = lock
        code = 1
        try:
            rundir.write_pid(self.run_dir)
            code = self._run()
        finally:
            started = bool(self.supervisor.children)
            self.phase = "stopping"
            self._write_state()
            self.supervisor.stop()
            self.phase = "stopped"
            self._write_state()
            rundir.remove_pid(self.run_dir)
            lock.release()
            if started:
                say("kapi: stopped")
        return 1 if self.lost_dir else code

    def _run(self) -> int:
        opts = self.opts
        error = ports.bind_error(opts.bind_address, opts.port)
        if error is not None:
            say("kapi: " + ports.describe_bind_error(opts.bind_address, opts.port, error))
            return 1
        server = server_url(opts.bind_address, opts.port)
        hosts = pki.default_hosts(opts.bind_address, extra=opts.extra_sans)
        creds = prepare_credentials(self.run_dir, server=server, hosts=hosts)
        say(f"kapi: credentials in {self.run_dir.pki_dir} and {self.run_dir.token_file}")
        self.ports = Ports.allocate(gateway=opts.port, embedded_etcd=opts.embedded_etcd)
        deadline = time.monotonic() + opts.ready_timeout
        try:
            self._start_etcd(deadline, creds)
            flags = service_flags(
                opts,
                self.ports,
                creds,
                etcd_endpoints=self.etcd_endpoints,
                etcd_tls=self.etcd_tls,
            )
            env = child_env()
            for name in SERVICES:
                self._start_service(name, flags[name], env=env, creds=creds, deadline=deadline)
            for name, component in component_flags(opts).items():
                self._start_component(name, component, env=env, deadline=deadline)
        except supervisor.Interrupted:
            return 0  # 1 if the directory went: run() says so
        except supervisor.StartupError as exc:
            say(f"kapi: {exc}; the end of {exc.log_path}:")
            say(supervisor.tail(exc.log_path))
            return 1
        except TimeoutError as exc:
            say(f"kapi: {exc}")
            return 1
        self.phase = "ready"
        self._write_state()
        say(f"kapi: ready — export KUBECONFIG={creds.kubeconfig}")
        self.supervisor.supervise(self.should_stop)
        if not self.lost_dir:
            say("kapi: stopping")
        return 0

    def _start_etcd(self, deadline: float, creds: Credentials) -> None:
        assert self.ports is not None
        if not self.opts.embedded_etcd:
            url = etcd_process.wait_healthy(
                self.etcd_endpoints,
                timeout=_left(deadline),
                tls=self.etcd_tls,
                should_stop=self.should_stop,
            )
            if self.should_stop():
                raise supervisor.Interrupted("etcd")
            say(f"kapi: using etcd at {', '.join(self.etcd_endpoints)} ({url} is healthy)")
            return
        assert self.ports.etcd_client is not None and self.ports.etcd_peer is not None
        etcd = etcd_process.EtcdConfig(
            data_dir=self.run_dir.etcd_dir,
            client_port=self.ports.etcd_client,
            peer_port=self.ports.etcd_peer,
            tls=creds.internal.etcd_server,
        )
        self.etcd_endpoints = [etcd.client_url]
        self.etcd_tls = creds.internal.etcd_client
        spec = etcd_process.spec(
            etcd, log_path=self.run_dir.log("etcd"), client=creds.internal.etcd_client
        )
        self.supervisor.start(spec, timeout=_left(deadline), should_stop=self.should_stop)
        say(f"kapi: etcd ready on {etcd.client_url}")

    def _start_service(
        self,
        name: str,
        flags: Mapping[str, str],
        *,
        env: Mapping[str, str],
        creds: Credentials,
        deadline: float,
    ) -> None:
        assert self.ports is not None
        port: int = getattr(self.ports, name)
        if name == "gateway":
            url = server_url(self.opts.bind_address, port)
            address = url

            def ready() -> bool:
                return probes.http_ok(f"{url}/readyz", ca_file=creds.ca.cert_path)
        else:
            address = ports.format_address(ports.LOOPBACK, port)

            def ready() -> bool:
                return ports.tcp_open(ports.LOOPBACK, port)

        spec = supervisor.ChildSpec(
            name=name,
            argv=service_argv(name, flags),
            log_path=self.run_dir.log(name),
            env=env,
            address=address,
            ready=ready,
        )
        self.supervisor.start(spec, timeout=_left(deadline), should_stop=self.should_stop)
        say(f"kapi: {name} ready on {address}")

    def _start_component(
        self, name: str, flags: Mapping[str, str], *, env: Mapping[str, str], deadline: float
    ) -> None:
        """A client of the gateway: it serves no port, so it counts as ready once it has
        stayed up a moment (a bad flag, such as an unknown controller, makes it exit at
        once); it waits for the API itself, and campaigns for its Lease."""
        started = time.monotonic()

        def ready() -> bool:
            return time.monotonic() - started >= COMPONENT_SETTLE_SECONDS

        spec = supervisor.ChildSpec(
            name=name,
            argv=service_argv(name, flags),
            log_path=self.run_dir.log(name),
            env=env,
            ready=ready,
        )
        self.supervisor.start(spec, timeout=_left(deadline), should_stop=self.stop)
        say(f"kapi: {name} started")

    def _write_state(self) -> None:
        # Writing would create the directory anew: nobody is there to read it.
        if self.dir_lost():
            return
        opts = self.opts
        state: dict[str, Any] = {
            "pid": os.getpid(),
            "phase": self.phase,
            "data_dir": str(self.run_dir.root),
            "bind_address": opts.bind_address,
            "port": opts.port,
            "server": server_url(opts.bind_address, opts.port),
            "kubeconfig": str(self.run_dir.kubeconfig),
            "etcd": {"embedded": opts.embedded_etcd, "endpoints": self.etcd_endpoints},
            "ports": (
                {k: v for k, v in vars(self.ports).items() if v is not None} if self.ports else {}
            ),
            "children": {
                name: {**info, "argv": list(self.supervisor.child(name).spec.argv)}
                for name, info in self.supervisor.snapshot().items()
            },
        }
        rundir.write_state(self.run_dir, state)


def run(opts: Options) -> int:
    """``kapi up`` without ``--detach``: runs until SIGINT, SIGTERM or SIGHUP."""
    stop = StopFlag()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop.set)
    return ControlPlane(opts, stop=stop).run()


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())
