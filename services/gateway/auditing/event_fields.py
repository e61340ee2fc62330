"""The audit Event's fields taken from the request itself, as kube-apiserver fills them
(k8s.io/apiserver/pkg/audit/request.go LogRequestMetadata; utilnet.SourceIPs): the user,
the request URI, the source IPs, the user agent, and metav1.MicroTime timestamps."""

from __future__ import annotations

import functools
import ipaddress
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl

MAX_USER_AGENT = 1024  # kube's maxUserAgentLength
USER_AGENT_TRUNCATED = b"...TRUNCATED"


class UserLike(Protocol):
    """What an authenticated user carries (the gateway's UserInfo, or a plain value)."""

    @property
    def username(self) -> str: ...
    @property
    def uid(self) -> str: ...
    @property
    def groups(self) -> Sequence[str]: ...
    @property
    def extra(self) -> Mapping[str, Any]: ...


def user_info(user: UserLike | None) -> dict[str, Any]:
    """authentication/v1 UserInfo as JSON: empty fields omitted (``{}`` for no user)."""
    if user is None:
        return {}
    out: dict[str, Any] = {}
    if user.username:
        out["username"] = user.username
    if user.uid:
        out["uid"] = user.uid
    if user.groups:
        out["groups"] = list(user.groups)
    if user.extra:  # a Go map: its keys sorted
        out["extra"] = {
            key: list(getattr(values, "values", values))
            for key, values in sorted(user.extra.items())
        }
    return out


_last_second: tuple[int, str] = (-1, "")


def micro_time(ns: int) -> str:
    """metav1.MicroTime as JSON: RFC 3339 in UTC with six fractional digits."""
    global _last_second
    seconds, micros = divmod(ns // 1000, 1_000_000)
    known, prefix = _last_second
    if seconds != known:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _last_second = (seconds, prefix)
    return f"{prefix}.{micros:06d}Z"


def query_value(query: bytes, key: str) -> str | None:
    """A query parameter as the gateway's handlers read it (the last of its values)."""
    if not query or key.encode() not in query:
        return None
    value = None
    for name, given in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name == key:
            value = given
    return value


def headers(scope: Mapping[str, Any]) -> tuple[bytes | None, bytes | None, bytes | None]:
    """The first User-Agent, X-Forwarded-For and X-Real-Ip (Go's Header.Get), in one pass."""
    agent = forwarded = real = None
    for key, value in scope.get("headers", ()):
        if key == b"user-agent":
            agent = value if agent is None else agent
        elif key == b"x-forwarded-for":
            forwarded = value if forwarded is None else forwarded
        elif key == b"x-real-ip":
            real = value if real is None else real
    return agent, forwarded, real


def request_uri(scope: Mapping[str, Any]) -> str:
    """Go's URL.RequestURI(): the path as sent, and the query if any."""
    raw = scope.get("raw_path") or scope.get("path", "/").encode()
    query = scope.get("query_string") or b""
    uri = bytes(raw) + (b"?" + bytes(query) if query else b"")
    return uri.decode("utf-8", "replace")


def user_agent(agent: bytes | None) -> str:
    agent = agent or b""
    if len(agent) > MAX_USER_AGENT:
        agent = agent[:MAX_USER_AGENT] + USER_AGENT_TRUNCATED
    return agent.decode("utf-8", "replace")


_SLOPPY_V4 = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}")


@functools.lru_cache(maxsize=1024)
def _ip(text: str) -> str | None:
    """netutils.ParseIPSloppy, printed as Go prints a net.IP: IPv4 (leading zeros
    allowed) or IPv6 without a zone, compressed; an IPv4-mapped IPv6 address is its IPv4
    address (Go prints and compares it so). None for anything else."""
    if _SLOPPY_V4.fullmatch(text):
        octets = [int(part) for part in text.split(".")]
        return ".".join(map(str, octets)) if all(o <= 255 for o in octets) else None
    if ":" not in text or "%" in text:
        return None
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    return str(address.ipv4_mapped or address)


def source_ips(scope: Mapping[str, Any]) -> list[str]:
    """utilnet.SourceIPs: the X-Forwarded-For addresses, X-Real-Ip when not among them,
    then the connection's address unless it is the last already."""
    _, forwarded, real = headers(scope)
    return source_ips_from(scope, forwarded, real)


def source_ips_from(
    scope: Mapping[str, Any], forwarded: bytes | None, real: bytes | None
) -> list[str]:
    ips: list[str] = []
    if forwarded:
        for part in forwarded.decode("latin-1").split(","):
            ip = _ip(part.strip())
            if ip is not None:
                ips.append(ip)
    if real:
        ip = _ip(real.decode("latin-1"))
        if ip is not None and ip not in ips:
            ips.append(ip)
    client = scope.get("client")
    remote = _ip(str(client[0])) if client else None
    if remote is not None and (not ips or ips[-1] != remote):
        ips.append(remote)
    return ips
