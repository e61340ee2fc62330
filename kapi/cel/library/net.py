"""kube's IP and CIDR libraries (k8s.io/apiserver/pkg/cel/library/ip.go, cidr.go) over
Go ``netip`` rules: no zones, no IPv4-mapped IPv6 addresses, canonical text as
``netip.Addr.String()``.

cel-cpp registers Python functions by parameter kind and both types are messages, so
only one of ``string(net.IP)`` / ``string(net.CIDR)`` can exist: ``string(ip)`` is
provided, ``string(cidr)`` is not (use ``cidr.ip()`` and ``cidr.prefixLength()``).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from cel_expr_python import cel

from kapi.cel import opaque
from kapi.cel.library.errors import EvalError

IPT = opaque.cel_type(opaque.IP)
CIDRT = opaque.cel_type(opaque.CIDR)
S, B, INT = cel.Type.STRING, cel.Type.BOOL, cel.Type.INT
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _addr_detail(text: str) -> str:
    if "." in text and ":" not in text:
        parts = text.split(".")
        if len(parts) > 4:
            return "IPv4 address too long"
        if len(parts) < 4:
            return "IPv4 address too short"
        if any(len(p) > 1 and p.startswith("0") for p in parts):
            return "IPv4 field has octet with leading zero"
        if any(p.isdigit() and int(p) > 255 for p in parts):
            return "IPv4 field has value >255"
    return "unable to parse IP"


def parse_addr(text: str) -> Address:
    """``netip.ParseAddr`` plus kube's refusals, with kube's error texts."""
    if "%" in text:
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            pass
        else:
            raise EvalError(f"IP address {_quote(text)} with zone value is not allowed")
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise EvalError(
            f"IP Address {_quote(text)} parse error during conversion from string: "
            f"ParseAddr({_quote(text)}): {_addr_detail(text)}"
        ) from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        raise EvalError(f"IPv4-mapped IPv6 address {_quote(text)} is not allowed")
    return addr


def parse_prefix(text: str) -> tuple[Address, int]:
    """``netip.ParsePrefix`` plus kube's refusals: the address and the prefix length."""
    addr_text, slash, bits_text = text.partition("/")
    where = f"netip.ParsePrefix({_quote(text)})"
    if not slash:
        raise EvalError(
            f"network address parse error during conversion from string: {where}: no '/'"
        )
    if "%" in addr_text:
        raise EvalError(
            f"network address parse error during conversion from string: {where}: "
            "IPv6 zones cannot be present in a prefix"
        )
    try:
        addr = ipaddress.ip_address(addr_text)
    except ValueError:
        raise EvalError(
            f"network address parse error during conversion from string: {where}: "
            f"ParseAddr({_quote(addr_text)}): {_addr_detail(addr_text)}"
        ) from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        raise EvalError(f"IPv4-mapped IPv6 address {_quote(addr_text)} is not allowed")
    if not bits_text.isdigit() or (len(bits_text) > 1 and bits_text.startswith("0")):
        raise EvalError(
            f"network address parse error during conversion from string: {where}: "
            f"bad bits after slash: {_quote(bits_text)}"
        )
    bits = int(bits_text)
    if bits > addr.max_prefixlen:
        raise EvalError(
            f"network address parse error during conversion from string: {where}: "
            "prefix length out of range"
        )
    return addr, bits


def _addr(message: Any) -> Address:
    return ipaddress.ip_address(opaque.text(message))


def _prefix(message: Any) -> tuple[Address, int]:
    addr, _, bits = opaque.text(message).partition("/")
    return ipaddress.ip_address(addr), int(bits)


def _network(addr: Address, bits: int) -> Network:
    return ipaddress.ip_network(f"{addr}/{bits}", strict=False)


def ip(text: str) -> Any:
    return opaque.new(opaque.IP, str(parse_addr(text)))


def is_ip(text: str) -> bool:
    try:
        parse_addr(text)
    except EvalError:
        return False
    return True


def is_canonical(text: str) -> bool:
    return str(parse_addr(text)) == text


def family(message: Any) -> int:
    return _addr(message).version


def is_unspecified(message: Any) -> bool:
    return _addr(message).is_unspecified


def is_loopback(message: Any) -> bool:
    return _addr(message).is_loopback


def is_link_local_multicast(message: Any) -> bool:
    a = _addr(message)
    if a.version == 4:
        return a in ipaddress.ip_network("224.0.0.0/24")
    return a in ipaddress.ip_network("ff02::/16")


def is_link_local_unicast(message: Any) -> bool:
    a = _addr(message)
    net = "169.254.0.0/16" if a.version == 4 else "fe80::/10"
    return a in ipaddress.ip_network(net)


def is_global_unicast(message: Any) -> bool:
    """Go's ``Addr.IsGlobalUnicast``: private ranges count as global."""
    a = _addr(message)
    if a.version == 4 and a == ipaddress.IPv4Address("255.255.255.255"):
        return False
    return not (
        a.is_unspecified or a.is_loopback or a.is_multicast or is_link_local_unicast(message)
    )


def ip_to_string(message: Any) -> str:
    return opaque.text(message)


def cidr(text: str) -> Any:
    addr, bits = parse_prefix(text)
    return opaque.new(opaque.CIDR, f"{addr}/{bits}")


def is_cidr(text: str) -> bool:
    try:
        parse_prefix(text)
    except EvalError:
        return False
    return True


def contains_ip(message: Any, other: Any) -> bool:
    addr, bits = _prefix(message)
    target = _addr(other)
    return target.version == addr.version and target in _network(addr, bits)


def contains_ip_string(message: Any, text: str) -> bool:
    return contains_ip(message, ip(text))


def contains_cidr(message: Any, other: Any) -> bool:
    addr, bits = _prefix(message)
    other_addr, other_bits = _prefix(other)
    return (
        other_addr.version == addr.version
        and bits <= other_bits
        and other_addr in _network(addr, bits)
    )


def contains_cidr_string(message: Any, text: str) -> bool:
    return contains_cidr(message, cidr(text))


def cidr_ip(message: Any) -> Any:
    return opaque.new(opaque.IP, str(_prefix(message)[0]))


def masked(message: Any) -> Any:
    addr, bits = _prefix(message)
    return opaque.new(opaque.CIDR, f"{_network(addr, bits).network_address}/{bits}")


def prefix_length(message: Any) -> int:
    return _prefix(message)[1]


def _member(name: str, *overloads: tuple[str, cel.Type, list[cel.Type], Any]) -> Any:
    return cel.FunctionDecl(
        name, [cel.Overload(o, r, p, is_member=True, impl=i) for o, r, p, i in overloads]
    )


DECLS = [
    cel.FunctionDecl(
        "ip",
        [
            cel.Overload("string_to_ip", IPT, [S], impl=ip),
            cel.Overload("cidr_ip", IPT, [CIDRT], is_member=True, impl=cidr_ip),
        ],
    ),
    cel.FunctionDecl("isIP", [cel.Overload("is_ip", B, [S], impl=is_ip)]),
    cel.FunctionDecl(
        "ip.isCanonical", [cel.Overload("ip_is_canonical", B, [S], impl=is_canonical)]
    ),
    _member("family", ("ip_family", INT, [IPT], family)),
    _member("isUnspecified", ("ip_is_unspecified", B, [IPT], is_unspecified)),
    _member("isLoopback", ("ip_is_loopback", B, [IPT], is_loopback)),
    _member(
        "isLinkLocalMulticast", ("ip_is_link_local_multicast", B, [IPT], is_link_local_multicast)
    ),
    _member("isLinkLocalUnicast", ("ip_is_link_local_unicast", B, [IPT], is_link_local_unicast)),
    _member("isGlobalUnicast", ("ip_is_global_unicast", B, [IPT], is_global_unicast)),
    cel.FunctionDecl("string", [cel.Overload("ip_to_string", S, [IPT], impl=ip_to_string)]),
    cel.FunctionDecl("cidr", [cel.Overload("string_to_cidr", CIDRT, [S], impl=cidr)]),
    cel.FunctionDecl("isCIDR", [cel.Overload("is_cidr", B, [S], impl=is_cidr)]),
    _member(
        "containsIP",
        ("cidr_contains_ip_ip", B, [CIDRT, IPT], contains_ip),
        ("cidr_contains_ip_string", B, [CIDRT, S], contains_ip_string),
    ),
    _member(
        "containsCIDR",
        ("cidr_contains_cidr", B, [CIDRT, CIDRT], contains_cidr),
        ("cidr_contains_cidr_string", B, [CIDRT, S], contains_cidr_string),
    ),
    _member("masked", ("cidr_masked", CIDRT, [CIDRT], masked)),
    _member("prefixLength", ("cidr_prefix_length", INT, [CIDRT], prefix_length)),
]
