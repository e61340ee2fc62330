"""Free-port selection and address formatting."""

from __future__ import annotations

import socket

import pytest

from kapi import ports, probes


def test_free_port_can_be_listened_on() -> None:
    port = ports.free_port()
    assert 0 < port < 65536
    with socket.create_server(("127.0.0.1", port)):
        pass


def test_free_ports_are_distinct() -> None:
    chosen = ports.free_ports(6)
    assert len(set(chosen)) == 6


def test_port_with_a_listener_is_not_available() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert not ports.port_available("127.0.0.1", port)
        assert ports.tcp_open("127.0.0.1", port)
    assert ports.port_available("127.0.0.1", port)
    assert not ports.tcp_open("127.0.0.1", port)


@pytest.mark.parametrize(
    ("host", "port", "address"),
    [
        ("127.0.0.1", 7001, "127.0.0.1:7001"),
        ("::1", 6443, "[::1]:6443"),
        ("storage", 7001, "storage:7001"),
    ],
)
def test_address_round_trip(host: str, port: int, address: str) -> None:
    assert ports.format_address(host, port) == address
    assert probes.parse_address(address) == (host, port)


@pytest.mark.parametrize(
    ("bind", "connect"),
    [("0.0.0.0", "127.0.0.1"), ("::", "::1"), ("10.0.0.5", "10.0.0.5"), ("127.0.0.1", "127.0.0.1")],
)
def test_clients_reach_a_wildcard_bind_on_loopback(bind: str, connect: str) -> None:
    assert ports.connect_host(bind) == connect


def test_probe_command_line() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert probes.main(["tcp", f"127.0.0.1:{port}"]) == 0
    assert probes.main(["tcp", f"127.0.0.1:{port}"]) == 1
    assert probes.main(["etcd", f"http://127.0.0.1:{port}"]) == 1


def test_bind_errors_are_told_apart() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        error = ports.bind_error("127.0.0.1", port)
        assert error is not None
        assert "already in use" in ports.describe_bind_error("127.0.0.1", port, error)
    # 192.0.2.0/24 is TEST-NET-1: never an address of this machine.
    error = ports.bind_error("192.0.2.1", port)
    assert error is not None
    assert "cannot listen on 192.0.2.1:" in ports.describe_bind_error("192.0.2.1", port, error)
