"""Loopback ports and ``HOST:PORT`` strings for the processes ``kapi up`` starts.

Every child of ``kapi up`` gets a port the kernel hands out, so two control planes
with different data directories never collide and no fixed port range has to be free.
The kernel picks it when we bind to port 0; we release it just before the child binds
it, a window small enough for a developer tool (the supervisor reports a child that
fails to bind, and its log says why).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket

LOOPBACK = "127.0.0.1"


def _family(host: str) -> socket.AddressFamily:
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        return socket.AF_INET


def free_port(host: str = LOOPBACK) -> int:
    """A port on ``host`` that nothing listens on right now."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """``count`` distinct free ports, held open together so the kernel cannot repeat one."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(_family(host), socket.SOCK_STREAM)
            socks.append(sock)
            sock.bind((host, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


def bind_error(host: str, port: int) -> OSError | None:
    """Why a server could not listen on ``host:port`` now, or ``None`` if it could.

    SO_REUSEADDR is set as servers (uvicorn, grpc) set it, so a port held only by
    connections in TIME_WAIT counts as free, while one with a listener does not.
    """
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc
        return None


def port_available(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now (see ``bind_error``)."""
    return bind_error(host, port) is None


def describe_bind_error(host: str, port: int, error: OSError) -> str:
    """A one-line reason for the user, naming the flag to change."""
    if error.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use; choose another with --port"
    return f"cannot listen on {format_address(host, port)}: {error.strerror or error}"


def format_address(host: str, port: int) -> str:
    """``HOST:PORT``, with brackets around an IPv6 host (``[::1]:6443``)."""
    if _family(host) == socket.AF_INET6:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def connect_host(bind_address: str) -> str:
    """The address a local client uses to reach a server bound to ``bind_address``.

    A wildcard bind is reached on loopback; anything else on itself.
    """
    if bind_address in ("", "0.0.0.0"):
        return LOOPBACK
    if bind_address == "::":
        return "::1"
    return bind_address


def tcp_open(host: str, port: int, *, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False
