"""docker-compose.yml agrees with the code: flags, addresses, ports, files, image.

No Docker needed: the file is parsed (and interpolated, as Compose does, see
tests/compose_file.py) and held against each service's own
``build_parser()`` (the source of truth for which ``KAPI_*`` variables exist), against
the ports the services listen on, and against the files ``kapi init`` writes. A
service whose ``__main__`` does not exist yet is checked against the written contract
only.
"""

from __future__ import annotations

import argparse
import importlib
import ipaddress
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from cryptography import x509

from kapi import cli, config, controlplane, pki, rundir
from tests import compose_file

ROOT = compose_file.ROOT
COMPOSE = compose_file.COMPOSE
# The variables of the shell running compose that the file reads, all with defaults.
PUBLISH = {
    "KAPI_PUBLISH_ADDRESS": "127.0.0.1",
    "KAPI_PUBLISH_PORT": "6444",
    "KAPI_PUBLISH_HOST": "127.0.0.1",
}

KAPI_SERVICES = ("storage", "authz", "registry", "gateway", "metrics")
# The gateway's clients: no port, a kubeconfig of their own, the gateway as --master.
COMPONENTS = ("controllers", "scheduler", "nodes")
LISTEN_PORT = {"storage": 7001, "authz": 7002, "registry": 7003, "gateway": 6443, "metrics": 4443}
ETCD_CLIENT_PORT = 2379

# The contract: the flags each service needs to start (all of them addresses or files).
PEER_TLS = ["--peer-ca-file", "--peer-cert-file", "--peer-key-file"]
ETCD_TLS = ["--etcd-cafile", "--etcd-certfile", "--etcd-keyfile"]
REQUIRED = {
    "storage": ["--listen", "--etcd-endpoints", *ETCD_TLS, *PEER_TLS],
    "authz": ["--listen", "--storage", "--token-file", *PEER_TLS],
    "registry": ["--listen", "--storage", "--authz", *PEER_TLS],
    "gateway": [
        "--listen",
        "--registry",
        "--authz",
        "--storage",
        "--tls-cert-file",
        "--tls-private-key-file",
        *PEER_TLS,
    ],
    "metrics": [
        "--listen",
        "--registry",
        "--tls-cert-file",
        "--tls-private-key-file",
        "--ca-bundle-file",
        "--requestheader-client-ca-file",
        *PEER_TLS,
    ],
    "controllers": ["--kubeconfig", "--master", "--root-ca-file"],
    "scheduler": ["--kubeconfig", "--master"],
    "nodes": ["--kubeconfig", "--master", "--nodes"],
}
PEER_FLAGS = ("--storage", "--authz", "--registry")
# Peers dialed only when first needed, which may start after the service: authz calls
# the registry only to convert objects for admission (matchPolicy Equivalent), and the
# registry depends on authz (a cycle compose could not start).
LAZY_PEERS = {("authz", "registry")}
FILE_FLAGS = (
    "--token-file",
    "--tls-cert-file",
    "--tls-private-key-file",
    "--root-ca-file",
    "--client-ca-file",
    "--requestheader-client-ca-file",
    "--proxy-client-cert-file",
    "--proxy-client-key-file",
    "--ca-bundle-file",
    "--kubeconfig",
    *PEER_TLS,
    *ETCD_TLS,
)
# etcd's flags that name its certificate files (kapi.etcd_process.tls_flags).
ETCD_FILE_FLAGS = (
    "--trusted-ca-file",
    "--cert-file",
    "--key-file",
    "--peer-trusted-ca-file",
    "--peer-cert-file",
    "--peer-key-file",
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return compose_file.load()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the KEY=VALUE form
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    assert host and port.isdigit(), f"not HOST:PORT: {address!r}"
    return host, int(port)


def _parser(name: str) -> argparse.ArgumentParser | None:
    try:
        module = importlib.import_module(f"services.{name}.__main__")
    except ModuleNotFoundError as exc:
        if exc.name in (f"services.{name}", f"services.{name}.__main__"):
            return None
        raise
    assert hasattr(module, "build_parser"), (
        f"services.{name}.__main__ must expose build_parser() -> ArgumentParser (the contract)"
    )
    parser = module.build_parser()
    assert isinstance(parser, argparse.ArgumentParser)
    return parser


def _flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {opt: a for a in parser._actions for opt in a.option_strings if opt.startswith("--")}


def _volume_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> named volume."""
    mounts = {}
    for volume in service.get("volumes") or []:
        source, _, rest = str(volume).partition(":")
        mounts[rest.split(":")[0]] = source
    return mounts


def _init_data_dir(services: dict[str, dict[str, Any]]) -> str:
    command = services["init"]["command"]
    args = cli.build_parser().parse_args(command[3:])
    assert args.command == "init"
    return str(args.data_dir)


def test_the_expected_services_exist(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {"etcd", "init", *KAPI_SERVICES, *COMPONENTS}


@pytest.mark.parametrize("name", [*KAPI_SERVICES, *COMPONENTS])
def test_command_runs_the_service_module(services: dict[str, Any], name: str) -> None:
    assert services[name]["command"] == ["python", "-m", f"services.{name}"]


def test_one_image_from_the_one_dockerfile(services: dict[str, dict[str, Any]]) -> None:
    images = {
        (repr(services[n].get("build")), services[n].get("image")) for n in ("init", *KAPI_SERVICES)
    }
    assert len(images) == 1
    build = services["gateway"]["build"]
    context = ROOT / (build["context"] if isinstance(build, dict) else build)
    dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
    assert (context / dockerfile).resolve() == ROOT / "Dockerfile"


def test_dockerfile_installs_the_project() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert re.search(r"^COPY \. \.", text, re.M)
    assert re.search(r"pip install (--no-deps )?\.(\s|$)", text)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv"} <= set(ignored)
    assert "kapi" not in ignored and "services" not in ignored


@pytest.mark.parametrize("name", [*KAPI_SERVICES, *COMPONENTS])
def test_environment_sets_every_required_flag(services: dict[str, Any], name: str) -> None:
    env = _env(services[name])
    for flag in REQUIRED[name]:
        assert config.env_name(flag) in env, f"{name}: {flag} not set"
    assert all(k.startswith("KAPI_") for k in env)


@pytest.mark.parametrize("name", [*KAPI_SERVICES, *COMPONENTS])
def test_environment_matches_the_services_own_parser(
    services: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    parser = _parser(name)
    assert parser is not None, f"services.{name}.__main__ has no build_parser()"
    flags = _flags(parser)
    env = _env(services[name])
    by_env = {config.env_name(f): f for f in flags}
    for var in env:
        assert var in by_env, f"{name}: {var} matches no flag of services.{name}"
    for flag in REQUIRED[name]:
        assert flag in flags, f"services.{name} has no {flag} flag"
    for flag, action in flags.items():
        if action.required:
            assert config.env_name(flag) in env, f"{name}: required {flag} not set"

    # The parser, fed only compose's environment, gets compose's values.
    for var in list(os.environ):
        if var.startswith("KAPI_"):
            monkeypatch.delenv(var)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    args = importlib.import_module(f"services.{name}.__main__").build_parser().parse_args([])
    for var, value in env.items():
        assert str(getattr(args, flags[by_env[var]].dest)) == value


@pytest.mark.parametrize("name", KAPI_SERVICES)
def test_listen_port_matches_healthcheck(services: dict[str, Any], name: str) -> None:
    host, port = _split(_env(services[name])["KAPI_LISTEN"])
    assert (host, port) == ("0.0.0.0", LISTEN_PORT[name])
    test = services[name]["healthcheck"]["test"]
    assert test[:4] == ["CMD", "python", "-m", "kapi.probes"]
    assert any(f"127.0.0.1:{port}" in part for part in test)


@pytest.mark.parametrize("name", KAPI_SERVICES)
def test_peer_addresses_point_at_services_on_their_listen_ports(
    services: dict[str, Any], name: str
) -> None:
    env = _env(services[name])
    for flag in PEER_FLAGS:
        var = config.env_name(flag)
        if var not in env:
            continue
        host, port = _split(env[var])
        assert host == flag[2:], f"{name}: {var} should name the {flag[2:]} service"
        assert host in services
        assert port == _split(_env(services[host])["KAPI_LISTEN"])[1]
        if (name, host) in LAZY_PEERS:
            assert host not in services[name].get("depends_on", {})
            continue
        # Started after what it dials, once that is healthy.
        assert services[name]["depends_on"][host]["condition"] == "service_healthy"
        assert "healthcheck" in services[host]


def test_etcd_endpoints_point_at_the_etcd_service(services: dict[str, Any]) -> None:
    endpoints = _env(services["storage"])["KAPI_ETCD_ENDPOINTS"].split(",")
    command = services["etcd"]["command"]
    listen = next(a for a in command if a.startswith("--listen-client-urls="))
    assert urlsplit(listen.split("=", 1)[1]).port == ETCD_CLIENT_PORT
    for url in endpoints:
        parts = urlsplit(url)
        assert (parts.scheme, parts.hostname, parts.port) == ("https", "etcd", ETCD_CLIENT_PORT)
    assert services["storage"]["depends_on"]["etcd"]["condition"] == "service_healthy"
    assert re.fullmatch(
        r"(quay\.io/coreos|gcr\.io/etcd-development)/etcd:v3\.5\.\d+", services["etcd"]["image"]
    )


def _deepest(mounts: dict[str, str], path: str) -> str | None:
    """The mount point ``path`` lies under (the deepest: nested volumes shadow)."""
    under = [m for m in mounts if path == m or path.startswith(m.rstrip("/") + "/")]
    return max(under, key=len) if under else None


def _written_by_init(services: dict[str, Any], out: Path) -> dict[str, tuple[str, str]]:
    """Container path -> (volume, path inside it) of each file ``kapi init`` writes, run
    for real into ``out`` as compose's init command runs it."""
    data_dir = _init_data_dir(services)
    argv = [str(a) for a in services["init"]["command"][3:]]
    argv[argv.index("--data-dir") + 1] = str(out)
    assert cli.run(argv) == 0
    mounts = _volume_mounts(services["init"])
    written = {}
    for file in out.rglob("*"):
        if file.is_file():
            path = f"{data_dir}/{file.relative_to(out).as_posix()}"
            mount = _deepest(mounts, path)
            assert mount is not None, f"init writes {path} outside its volumes"
            written[path] = (mounts[mount], path[len(mount.rstrip("/")) :])
    return written


def _visible(service: dict[str, Any], written: dict[str, tuple[str, str]]) -> set[str]:
    """The paths of init's files that ``service``'s container sees through its volumes."""
    mounts = _volume_mounts(service)
    seen = set()
    for mount, volume in mounts.items():
        for source, inside in written.values():
            where = mount.rstrip("/") + inside
            if source == volume and _deepest(mounts, where) == mount:
                seen.add(where)
    return seen


def _named_files(service: dict[str, Any], data_dir: str) -> list[str]:
    """Every path under ``data_dir`` a container is given: in its environment, command
    or health check, as a value or as ``--flag=PATH``."""
    test = (service.get("healthcheck") or {}).get("test") or []
    values = [*_env(service).values(), *(service.get("command") or []), *test]
    paths = [str(v).split("=", 1)[-1] if str(v).startswith("--") else str(v) for v in values]
    return [p for p in paths if p.startswith(data_dir.rstrip("/") + "/")]


@pytest.mark.parametrize("name", ["etcd", *KAPI_SERVICES, *COMPONENTS])
def test_credential_files_come_from_init_through_the_volumes(
    services: dict[str, Any], name: str, tmp_path: Path
) -> None:
    """Each file a container is given is one ``kapi init`` writes, in a volume init
    mounts at the same place; the container waits for init to have written it."""
    data_dir = _init_data_dir(services)
    init_mounts = _volume_mounts(services["init"])
    for mount, volume in _volume_mounts(services[name]).items():
        if mount.startswith(data_dir):
            assert init_mounts.get(mount) == volume, f"{name}: {volume} at {mount}"
    assert services[name]["depends_on"]["init"]["condition"] == "service_completed_successfully"

    seen = _visible(services[name], _written_by_init(services, tmp_path))
    named = _named_files(services[name], data_dir)
    assert named, f"{name} is given no credentials"
    for path in named:
        assert path in seen, f"{name}: {path} is not in its volumes as kapi init writes them"
    env = _env(services[name])
    for flag in FILE_FLAGS:
        var = config.env_name(flag)
        assert var not in env or env[var] in named, var
    layout = pki.InternalPKI(Path(data_dir) / "pki")
    expected = {
        "KAPI_TOKEN_FILE": rundir.RunDir(Path(data_dir)).token_file,
        "KAPI_TLS_CERT_FILE": pki.paths(Path(data_dir) / "pki", pki.SERVING_NAME).cert_path,
        "KAPI_TLS_PRIVATE_KEY_FILE": pki.paths(Path(data_dir) / "pki", pki.SERVING_NAME).key_path,
        "KAPI_ROOT_CA_FILE": pki.paths(Path(data_dir) / "pki", pki.CA_NAME).cert_path,
    }
    if name in COMPONENTS:
        component = {c.name: c for c in controlplane.COMPONENTS}[name]
        expected |= {
            "KAPI_KUBECONFIG": component.kubeconfig(Path(data_dir)),
            "KAPI_ROOT_CA_FILE": component.ca_file(Path(data_dir)),
        }
    if name in KAPI_SERVICES:
        own = layout.service(name)
        expected |= {
            "KAPI_PEER_CA_FILE": own.ca_file,
            "KAPI_PEER_CERT_FILE": own.cert_file,
            "KAPI_PEER_KEY_FILE": own.key_file,
        }
    if name == "storage":
        etcd = layout.etcd_client
        expected |= {
            "KAPI_ETCD_CAFILE": etcd.ca_file,
            "KAPI_ETCD_CERTFILE": etcd.cert_file,
            "KAPI_ETCD_KEYFILE": etcd.key_file,
        }
    if name == "metrics":  # it serves with its own services certificate, and says its CA
        own = layout.service(name)
        expected |= {
            "KAPI_TLS_CERT_FILE": own.cert_file,
            "KAPI_TLS_PRIVATE_KEY_FILE": own.key_file,
            "KAPI_CA_BUNDLE_FILE": own.ca_file,
            "KAPI_REQUESTHEADER_CLIENT_CA_FILE": layout.front_proxy_ca_for(name),
        }
    if name == "gateway":
        expected |= {
            "KAPI_PROXY_CLIENT_CERT_FILE": layout.front_proxy_client.cert_path,
            "KAPI_PROXY_CLIENT_KEY_FILE": layout.front_proxy_client.key_path,
        }
    for var, path in expected.items():
        if var in env:
            assert Path(env[var]) == path, var


def test_only_its_holder_sees_a_key(services: dict[str, Any], tmp_path: Path) -> None:
    """storage alone sees etcd's client key, etcd alone its server key, each service
    only its own key, and no container but init either CA's key."""
    written = _written_by_init(services, tmp_path)
    layout = pki.InternalPKI(Path(_init_data_dir(services)) / "pki")
    holders: dict[str, set[str]] = {
        str(layout.etcd_client.key_file): {"storage"},
        str(layout.etcd_server.key_file): {"etcd"},
        str(layout.services_ca.key_path): set(),
        str(layout.etcd_ca.key_path): set(),
        str(layout.front_proxy_ca.key_path): set(),
        str(layout.front_proxy_client.key_path): {"gateway"},
    }
    for name in KAPI_SERVICES:
        holders[str(layout.service(name).key_file)] = {name}
    # The key that signs ServiceAccount tokens: authz's alone.
    holders[str(pki.service_account_key(layout.service_dir("authz")).key_path)] = {"authz"}
    # A component's kubeconfig holds its token: its container alone sees it.
    for component in controlplane.COMPONENTS:
        holders[str(component.kubeconfig(Path(_init_data_dir(services))))] = {component.name}
    for key, expected in holders.items():
        assert key in written, f"kapi init writes no {key}"
        seen_by = {n for n in services if n != "init" and key in _visible(services[n], written)}
        assert seen_by == expected, key


def test_etcd_requires_client_certificates(services: dict[str, Any]) -> None:
    command = services["etcd"]["command"]
    assert "--client-cert-auth" in command and "--peer-client-cert-auth" in command
    flags = dict(a.split("=", 1) for a in command if "=" in a)
    for flag in ETCD_FILE_FLAGS:
        assert flag in flags, f"etcd: no {flag}"
    for flag in ("--listen-client-urls", "--advertise-client-urls", "--listen-peer-urls"):
        assert all(urlsplit(u).scheme == "https" for u in flags[flag].split(",")), flag
    assert flags["--initial-cluster"].split("=", 1)[1].startswith("https://")
    test = services["etcd"]["healthcheck"]["test"]
    assert any(part.startswith("--endpoints=https://") for part in test)
    assert {"--cacert", "--cert", "--key"} <= {p.split("=", 1)[0] for p in test}


@pytest.mark.parametrize("name", COMPONENTS)
def test_components_reach_the_gateway_after_it_is_healthy(
    services: dict[str, Any], name: str
) -> None:
    """A client of the API goes through the gateway's HTTPS port, never to a gRPC peer."""
    master = urlsplit(_env(services[name])["KAPI_MASTER"])
    assert (master.scheme, master.hostname, master.port) == (
        "https",
        "gateway",
        LISTEN_PORT["gateway"],
    )
    assert services[name]["depends_on"]["gateway"]["condition"] == "service_healthy"
    assert "ports" not in services[name]


def test_serving_certificate_names_the_gateway_service(services: dict[str, Any]) -> None:
    args = cli.build_parser().parse_args(services["init"]["command"][3:])
    assert "gateway" in args.san
    assert services["init"].get("restart") == "no"


def _publishing(services: dict[str, Any]) -> tuple[str, int, int]:
    """(host address, host port, container port) of the one port compose publishes."""
    published = {n: s["ports"] for n, s in services.items() if s.get("ports")}
    assert list(published) == ["gateway"]
    [mapping] = published["gateway"]
    address, host_port, container_port = str(mapping).rsplit(":", 2)
    return address, int(host_port), int(container_port)


def _kubeconfig_and_certificate(services: dict[str, Any], out: Path) -> tuple[str, list[str]]:
    """The server URL of the kubeconfig compose's init writes, and the names and IPs
    of the serving certificate it writes (init run for real into ``out``)."""
    _written_by_init(services, out)
    server = yaml.safe_load((out / "kubeconfig").read_text())["clusters"][0]["cluster"]["server"]
    pem = pki.paths(out / "pki", pki.SERVING_NAME).cert_path.read_bytes()
    names = x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    return str(server), [str(getattr(n, "value", n)) for n in names.value]


def test_only_the_gateway_publishes_a_port(services: dict[str, Any]) -> None:
    address, host_port, container_port = _publishing(services)
    assert container_port == LISTEN_PORT["gateway"]
    # Loopback only: the API is not exposed to the network unless asked for, and
    # `make up` (kapi up's default port) can run beside it.
    assert ipaddress.ip_address(address).is_loopback
    assert host_port != cli.DEFAULT_PORT


def test_the_kubeconfig_names_the_published_address(
    services: dict[str, Any], tmp_path: Path
) -> None:
    _, host_port, _ = _publishing(services)
    server, names = _kubeconfig_and_certificate(services, tmp_path)
    assert server == f"https://127.0.0.1:{host_port}"
    assert {"127.0.0.1", "gateway"} <= set(names)


def test_the_publish_variables_move_address_port_kubeconfig_and_certificate(
    tmp_path: Path,
) -> None:
    env = {
        "KAPI_PUBLISH_ADDRESS": "0.0.0.0",
        "KAPI_PUBLISH_PORT": "7443",
        "KAPI_PUBLISH_HOST": "kapi.example.test",
    }
    services = compose_file.load(env)["services"]
    assert _publishing(services) == ("0.0.0.0", 7443, LISTEN_PORT["gateway"])
    server, names = _kubeconfig_and_certificate(services, tmp_path)
    assert server == "https://kapi.example.test:7443"
    assert {"kapi.example.test", "gateway", "127.0.0.1"} <= set(names)


def test_every_variable_the_file_reads_is_documented_and_has_a_default() -> None:
    text = COMPOSE.read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    substitutions = re.findall(r"\$\{(\w+)([^}]*)\}", body)
    used = {name for name, _ in substitutions}
    assert used == set(PUBLISH)
    for name, rest in substitutions:
        assert rest.startswith(":-"), f"${{{name}{rest}}} has no default"
    for name in used:
        assert name in text.split("name: kapi")[0], f"{name} is not described at the top"
    assert compose_file.load() == compose_file.load(PUBLISH)  # the defaults are these
    readme = (ROOT / "README.md").read_text()
    for name in used:
        assert name in readme, f"the README does not say what {name} does"


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A:-x}", {}, "x"),
        ("${A:-x}", {"A": ""}, "x"),
        ("${A-x}", {"A": ""}, ""),
        ("${A-x}", {}, "x"),
        ("${A:-x}:${B:-6444}:6443", {"A": "0.0.0.0"}, "0.0.0.0:6444:6443"),
        ("$A/${B}", {"A": "a", "B": "b"}, "a/b"),
        ("${A:+on}|${B:+on}", {"A": "1", "B": ""}, "on|"),
        ("$$HOME", {"HOME": "/root"}, "$HOME"),
        ("${A}", {}, ""),
    ],
)
def test_interpolation_as_compose_does_it(text: str, env: dict[str, str], expected: str) -> None:
    assert compose_file.interpolate_text(text, env) == expected


@pytest.mark.parametrize(("text", "env"), [("${A:?say A}", {"A": ""}), ("${A?}", {}), ("$", {})])
def test_interpolation_errors(text: str, env: dict[str, str]) -> None:
    with pytest.raises(compose_file.InterpolationError):
        compose_file.interpolate_text(text, env)


def test_nothing_pins_a_replica(services: dict[str, Any]) -> None:
    for name, service in services.items():
        assert "container_name" not in service, name
        assert "hostname" not in service, name
        assert "replicas" not in (service.get("deploy") or {}), name


def test_every_dependency_is_a_defined_service(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert condition["condition"] in (
                "service_healthy",
                "service_completed_successfully",
            )
