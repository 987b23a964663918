"""The host's interface addresses as go-sockaddr sees them: ``IfAddr`` values, their attributes
and arithmetic, and the RFC address blocks go-sockaddr knows.

consul-template's ``sockaddr`` function runs go-sockaddr's template language over this data,
so its order and text decide what a rendered ``bind_addr`` is: interfaces and addresses come
from the kernel over rtnetlink in the order Go's ``net.Interfaces`` and ``Addrs`` get them, the
default interface from the main routing table (``/proc/net/route``; go-sockaddr asks
``ip route`` for the same table), and addresses print like Go's ``net.IP``. Python's stdlib
is enough (an ``AF_NETLINK`` socket), so nothing new is installed.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import cache
from typing import Any, ClassVar

from s4e_secret_agent.template.signature import FuncError
from s4e_secret_agent.template.values import GoMethodValue

TYPE_IPV4 = 0x2
TYPE_IPV6 = 0x4
TYPE_IP = TYPE_IPV4 | TYPE_IPV6
_V4_ALL = (1 << 32) - 1
_V6_ALL = (1 << 128) - 1

# net.Flags bits and their names, in Go's order.
FLAG_UP, FLAG_BROADCAST, FLAG_LOOPBACK, FLAG_POINT_TO_POINT, FLAG_MULTICAST, FLAG_RUNNING = (
    1, 2, 4, 8, 16, 32)
_FLAG_NAMES = ("up", "broadcast", "loopback", "pointtopoint", "multicast", "running")


def flags_string(flags: int) -> str:
    """``net.Flags.String``."""
    names = [name for bit, name in enumerate(_FLAG_NAMES) if flags & (1 << bit)]
    return "|".join(names) if names else "0"


# --------------------------------------------------------------------------------------------
# Addresses


def _mask_bits(mask: int, width: int) -> int:
    """``net.IPMask.Size`` (ones): 0 for a mask that is not ones followed by zeros."""
    ones = bin(mask).count("1")
    return ones if mask == ((1 << width) - 1) ^ ((1 << (width - ones)) - 1) else 0


def _v6_bytes(value: int) -> bytes:
    """go-sockaddr's bigIntToNetIPv6: the big-endian bytes of |value| in 16 bytes (left-padded,
    or the first 16 when longer)."""
    raw = abs(value).to_bytes(max(1, (abs(value).bit_length() + 7) // 8), "big")
    if value == 0:
        raw = b""
    return raw.rjust(16, b"\0")[:16]


def ip_string(raw: bytes) -> str:
    """``net.IP.String`` of a 4- or 16-byte address."""
    if len(raw) == 16 and raw[:10] == b"\0" * 10 and raw[10:12] == b"\xff\xff":
        raw = raw[12:]
    if len(raw) == 4:
        return ".".join(str(b) for b in raw)
    import ipaddress

    return str(ipaddress.IPv6Address(raw))


class _Numbers:
    """An address, its mask and its port as numbers (a value: equal when they are)."""

    __slots__ = ("address", "mask", "port")

    def __init__(self, address: int, mask: int, port: int = 0) -> None:
        self.address = address
        self.mask = mask
        self.port = port

    def __eq__(self, other: object) -> bool:
        return (type(other) is type(self) and isinstance(other, _Numbers)
                and (other.address, other.mask, other.port)
                == (self.address, self.mask, self.port))

    def __hash__(self) -> int:
        return hash((type(self), self.address, self.mask, self.port))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address:#x}, {self.mask:#x}, {self.port})"


class IPv4Addr(_Numbers):
    """go-sockaddr's IPv4Addr: address, mask and port as numbers."""

    __slots__ = ()
    type_code: ClassVar[int] = TYPE_IPV4
    type_name: ClassVar[str] = "IPv4"
    width: ClassVar[int] = 32

    def __init__(self, address: int, mask: int = _V4_ALL, port: int = 0) -> None:
        super().__init__(address, mask, port)

    def net_ip(self) -> bytes:
        return self.address.to_bytes(4, "big")

    def mask_bytes(self) -> bytes:
        return self.mask.to_bytes(4, "big")

    def maskbits(self) -> int:
        return _mask_bits(self.mask, 32)

    def network_address(self) -> int:
        return self.address & self.mask

    def broadcast_address(self) -> int:
        return (self.address & self.mask) | (~self.mask & _V4_ALL)

    def string(self) -> str:
        ip = ip_string(self.net_ip())
        if self.port:
            return f"{ip}:{self.port}"
        bits = self.maskbits()
        return ip if bits == 32 else f"{ip}/{bits}"

    def network(self) -> IPv4Addr:
        return IPv4Addr(self.network_address(), self.mask)

    def host(self) -> IPv4Addr:
        return IPv4Addr(self.address, _V4_ALL, self.port)

    def first_usable(self) -> IPv4Addr:
        addr = self.network_address()
        if self.maskbits() < 31:
            addr += 1
        return IPv4Addr(addr & _V4_ALL)

    def last_usable(self) -> IPv4Addr:
        addr = self.broadcast_address()
        if self.maskbits() < 31:
            addr -= 1
        return IPv4Addr(addr & _V4_ALL)

    def contains(self, other: SockAddr) -> bool:
        if not isinstance(other, IPv4Addr):
            return False
        return (self.network_address() <= other.network_address()
                and self.broadcast_address() >= other.broadcast_address())

    def cmp_address(self, other: SockAddr) -> int:
        if not isinstance(other, IPv4Addr) or self.address == other.address:
            return 0
        return -1 if self.address < other.address else 1

    def octets(self) -> list[int]:
        return list(self.net_ip())

    def binary(self) -> str:
        return format(self.address, "b").rjust(32, "0")

    def hex(self) -> str:
        return format(self.address, "x").rjust(8, "0")

    def size(self) -> str:
        return str(1 << (32 - self.maskbits()))


class IPv6Addr(_Numbers):
    """go-sockaddr's IPv6Addr (address and mask are big integers in Go)."""

    __slots__ = ()
    type_code: ClassVar[int] = TYPE_IPV6
    type_name: ClassVar[str] = "IPv6"
    width: ClassVar[int] = 128

    def __init__(self, address: int, mask: int = _V6_ALL, port: int = 0) -> None:
        super().__init__(address, mask, port)

    def net_ip(self) -> bytes:
        return _v6_bytes(self.address)

    def mask_bytes(self) -> bytes:
        # go-sockaddr copies the mask's minimal big-endian bytes to the front of 16 bytes.
        raw = self.mask.to_bytes((self.mask.bit_length() + 7) // 8, "big") if self.mask else b""
        return raw[:16].ljust(16, b"\0")

    def maskbits(self) -> int:
        return _mask_bits(int.from_bytes(self.mask_bytes(), "big"), 128)

    def network_address(self) -> int:
        return int.from_bytes(self.net_ip(), "big") & int.from_bytes(self.mask_bytes(), "big")

    def string(self) -> str:
        ip = ip_string(self.net_ip())
        if self.port:
            return f"[{ip}]:{self.port}"
        bits = self.maskbits()
        return ip if bits == 128 else f"{ip}/{bits}"

    def network(self) -> IPv6Addr:
        return IPv6Addr(self.network_address(), self.mask)

    def host(self) -> IPv6Addr:
        return IPv6Addr(self.address, _V6_ALL, self.port)

    def first_usable(self) -> IPv6Addr:
        return IPv6Addr(self.network_address())

    def last_usable(self) -> IPv6Addr:
        return IPv6Addr((self.address & self.mask) | (_V6_ALL ^ self.mask))

    def contains(self, other: SockAddr) -> bool:
        if not isinstance(other, IPv6Addr):
            return False
        return (self.first_usable().address <= other.first_usable().address
                and self.last_usable().address >= other.last_usable().address)

    def cmp_address(self, other: SockAddr) -> int:
        if not isinstance(other, IPv6Addr) or self.address == other.address:
            return 0
        return -1 if self.address < other.address else 1

    def octets(self) -> list[int]:
        return list(self.net_ip())

    def binary(self) -> str:
        return format(self.address, "b").rjust(128, "0")

    def hex(self) -> str:
        return format(self.address, "x").rjust(32, "0")

    def size(self) -> str:
        return str(1 << (128 - self.maskbits()))


SockAddr = IPv4Addr | IPv6Addr


def _parse_cidr(text: str) -> tuple[bytes, bytes] | None:
    """``net.ParseCIDR``: the address (4 or 16 bytes, as parsed) and the mask bytes."""
    addr, sep, prefix = text.partition("/")
    raw = _parse_ip(addr) if sep else None
    digits = len(prefix) - len(prefix.lstrip("0123456789"))
    if raw is None or digits == 0 or digits != len(prefix) or int(prefix) > len(raw) * 8:
        return None
    width = len(raw) * 8
    return raw, _cidr(int(prefix), width).to_bytes(width // 8, "big")


def _split_host_port(text: str) -> tuple[str, int] | None:
    """``net.SplitHostPort`` with a numeric port (host names are not resolved here)."""
    if text.startswith("["):
        close = text.find("]")
        host, rest = text[1:close], text[close + 1:] if close > 0 else ""
        if close < 0 or not rest.startswith(":"):
            return None
        port = rest[1:]
    else:
        host, colon, port = text.rpartition(":")
        if not colon or ":" in host:
            return None
    if not port.isascii() or not port.isdigit() or int(port) > 65535:
        return None
    return host, int(port)


def new_ipv4(text: str) -> IPv4Addr | None:
    """go-sockaddr's NewIPv4Addr for literals: a CIDR, ``addr:port`` or a plain address."""
    import re

    text = re.sub(r"/[0f]{8}$", "", text)
    cidr = _parse_cidr(text)
    if cidr is not None:
        raw, mask = cidr
        v4 = _to4(raw)
        if v4 is None:
            return None
        prefix = int(text.rsplit("/", 1)[1])
        if prefix > 128:
            return None
        if prefix >= 96:
            mask = _cidr(prefix - 96, 32).to_bytes(4, "big")
        return IPv4Addr(int.from_bytes(v4, "big"), int.from_bytes(mask[:4], "big"))
    host_port = _split_host_port(text)
    if host_port is not None:
        host = _parse_ip(host_port[0])
        host4 = _to4(host) if host is not None else None
        return IPv4Addr(int.from_bytes(host4, "big"), _V4_ALL, host_port[1]) if host4 else None
    plain = _parse_ip(text)
    plain4 = _to4(plain) if plain is not None else None
    return IPv4Addr(int.from_bytes(plain4, "big")) if plain4 is not None else None


def new_ipv6(text: str) -> IPv6Addr | None:
    """go-sockaddr's NewIPv6Addr for literals: ``[addr]:port``, a plain address or a CIDR."""
    if next((c for c in text if c in ".:"), "") != ":":
        return None  # "appears to be an IPv4 address"
    host_port = _split_host_port(text)
    if host_port is not None:
        raw = _parse_ip(host_port[0])
        if raw is not None:
            return IPv6Addr(int.from_bytes(_to16(raw), "big"), _V6_ALL, host_port[1])
    plain = text[1:-1] if len(text) > 2 and text[0] == "[" and text[-1] == "]" else text
    raw = _parse_ip(plain)
    if raw is not None:
        return IPv6Addr(int.from_bytes(_to16(raw), "big"))
    cidr = _parse_cidr(text)
    if cidr is None:
        return None
    return IPv6Addr(int.from_bytes(_to16(cidr[0]), "big"), int.from_bytes(cidr[1], "big"))


def new_ip_addr(text: str) -> SockAddr:
    """go-sockaddr's NewIPAddr."""
    addr: SockAddr | None = new_ipv4(text)
    if addr is None:
        addr = new_ipv6(text)
    if addr is None:
        raise FuncError(f"invalid IPAddr {text}")
    return addr


def _cidr(bits: int, width: int) -> int:
    return ((1 << width) - 1) ^ ((1 << (width - bits)) - 1)


def _parse_ip(text: str) -> bytes | None:
    """``net.ParseIP``: 4 bytes for IPv4, 16 for IPv6; None if it is not an address."""
    import ipaddress

    if "%" in text or not text.isascii():
        return None
    try:
        if ":" in text:
            return ipaddress.IPv6Address(text).packed
        return ipaddress.IPv4Address(text).packed
    except ValueError:
        return None


def _to4(raw: bytes) -> bytes | None:
    if len(raw) == 4:
        return raw
    if raw[:10] == b"\0" * 10 and raw[10:12] == b"\xff\xff":
        return raw[12:]
    return None


def _to16(raw: bytes) -> bytes:
    return raw if len(raw) == 16 else b"\0" * 10 + b"\xff\xff" + raw


# --------------------------------------------------------------------------------------------
# RFC blocks (go-sockaddr's KnownRFCs, rfc.go)

FORWARDING_BLACKLIST = 4294967295

_RFC_TEXT: dict[int, str] = {
    919: "255.255.255.255/32",
    1122: "0.0.0.0/8 127.0.0.0/8",
    1112: "224.0.0.0/4",
    1918: "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16",
    2544: "198.18.0.0/15",
    2765: "0:0:0:0:0:ffff:0:0/96",
    2928: "2001::/16",
    3056: "2002::/16",
    3068: "192.88.99.0/24 2002:c058:6301::/120",
    3171: "224.0.0.0/4",
    3330: "0.0.0.0/8 10.0.0.0/8 127.0.0.0/8 169.254.0.0/16 172.16.0.0/12 192.0.2.0/24 "
          "192.88.99.0/24 192.168.0.0/16 198.18.0.0/15 224.0.0.0/4 240.0.0.0/4",
    3849: "2001:db8::/32",
    3927: "169.254.0.0/16",
    4038: "0:0:0:0:0:ffff::/96",
    4193: "fc00::/7",
    4291: "::/128 ::1/128 ::/96 ::ffff:0:0/96 fe80::/10 fec0::/10 ff00::/8",
    4380: "2001:0000::/32",
    4773: "2001:0000::/23",
    4843: "2001:10::/28",
    5180: "2001:0200::/48",
    5735: "192.0.2.0/24 198.51.100.0/24 203.0.113.0/24 198.18.0.0/15",
    5737: "192.0.2.0/24 198.51.100.0/24 203.0.113.0/24",
    6052: "64:ff9b::/96",
    6333: "192.0.0.0/29",
    6598: "100.64.0.0/10",
    6666: "0100::/64",
    6890: "0.0.0.0/8 10.0.0.0/8 100.64.0.0/10 127.0.0.0/8 169.254.0.0/16 172.16.0.0/12 "
          "192.0.0.0/24 192.0.0.0/29 192.0.2.0/24 192.88.99.0/24 192.168.0.0/16 "
          "198.18.0.0/15 198.51.100.0/24 203.0.113.0/24 240.0.0.0/4 255.255.255.255/32 "
          "::1/128 ::/128 64:ff9b::/96 ::ffff:0:0/96 100::/64 2001::/16 2002::/16 fc00::/7 "
          "fe80::/10",
    7335: "192.0.0.0/29",
    FORWARDING_BLACKLIST: "0.0.0.0/8 127.0.0.0/8 169.254.0.0/16 192.0.0.0/24 192.0.2.0/24 "
                          "198.51.100.0/24 203.0.113.0/24 240.0.0.0/4 255.255.255.255/32 "
                          "::1/128 ::/128 ::ffff:0:0/96 2001:db8::/32 2001:10::/28 fe80::/10",
}


@cache
def known_rfc(number: int) -> tuple[SockAddr, ...] | None:
    """The address blocks of an RFC go-sockaddr knows (None for an unknown number)."""
    text = _RFC_TEXT.get(number)
    if text is None:
        return None
    # rfc.go builds each block with MustIPv4Addr or MustIPv6Addr, never by guessing.
    blocks: list[SockAddr | None] = [new_ipv6(b) if ":" in b else new_ipv4(b)
                                     for b in text.split()]
    return tuple(b for b in blocks if b is not None)


def is_rfc(number: int, addr: SockAddr) -> bool:
    return any(block.contains(addr) for block in known_rfc(number) or ())


# --------------------------------------------------------------------------------------------
# Interfaces


class Interface:
    """Go's ``net.Interface``."""

    __slots__ = ("flags", "hardware_addr", "index", "mtu", "name")

    def __init__(self, index: int, mtu: int, name: str, hardware_addr: bytes,
                 flags: int) -> None:
        self.index = index
        self.mtu = mtu
        self.name = name
        self.hardware_addr = hardware_addr
        self.flags = flags

    def string(self) -> str:
        return (f"{{{self.index} {self.mtu} {self.name} {hardware_string(self.hardware_addr)} "
                f"{flags_string(self.flags)}}}")


def hardware_string(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


class GoText(GoMethodValue):
    """A Go value that templates see only through its String method (net.Flags, ...)."""

    def __init__(self, type_name: str, text: str) -> None:
        self.go_type_name = type_name
        self.text = text

    def go_string(self) -> str:
        return self.text


class IfAddr(GoMethodValue):
    """go-sockaddr's ``IfAddr``: an address and the interface it is on.

    Templates can use its promoted fields (``.Name``, ``.Index``, ``.MTU``, ``.HardwareAddr``,
    ``.Flags``), ``.SockAddr``, ``.Interface`` and the ``Attr``/``String`` methods.
    """

    go_type_name = "sockaddr.IfAddr"

    def __init__(self, addr: SockAddr, interface: Interface) -> None:
        self.addr = addr
        self.interface = interface

    @property
    def name(self) -> str:
        return self.interface.name

    def go_string(self) -> str:
        return f"{self.addr.string()} {self.interface.string()}"

    def go_method(self, name: str) -> Any:
        from s4e_secret_agent.template.signature import STRING, GoFunc

        intf = self.interface
        fields: dict[str, Callable[[], Any]] = {
            "Name": lambda: intf.name,
            "Index": lambda: intf.index,
            "MTU": lambda: intf.mtu,
            "HardwareAddr": lambda: GoText("net.HardwareAddr",
                                           hardware_string(intf.hardware_addr)),
            "Flags": lambda: GoText("net.Flags", flags_string(intf.flags)),
            "SockAddr": lambda: GoText(f"sockaddr.{self.addr.type_name}Addr",
                                       self.addr.string()),
            "Interface": lambda: GoText("net.Interface", intf.string()),
            "String": self.go_string,
        }
        if name in fields:
            return GoFunc(fields[name], ())
        if name == "Attr":
            return GoFunc(lambda attr: if_addr_attr(self, attr), (STRING,))
        return None


class IfAddrs(list[IfAddr]):
    """go-sockaddr's ``IfAddrs`` (the template's dot and what its filters return)."""

    go_type_name: ClassVar[str] = "sockaddr.IfAddrs"


def if_addr_attr(if_addr: IfAddr, name: str) -> str:
    """``IfAddr.Attr``: an interface attribute, else one of the address."""
    if name == "flags":
        return flags_string(if_addr.interface.flags)
    if name == "name" and if_addr.interface.name:
        return if_addr.interface.name
    return sock_addr_attr(if_addr.addr, name)


_IP_ATTRS: dict[str, Callable[[Any], str]] = {
    "address": lambda ip: ip_string(ip.net_ip()),
    "binary": lambda ip: ip.binary(),
    "first_usable": lambda ip: ip.first_usable().string(),
    "hex": lambda ip: ip.hex(),
    "host": lambda ip: ip.host().string(),
    "last_usable": lambda ip: ip.last_usable().string(),
    "mask_bits": lambda ip: str(ip.maskbits()),
    "netmask": lambda ip: type(ip)(ip.mask).string(),
    "network": lambda ip: ip_string(ip.network().net_ip()),
    "octets": lambda ip: " ".join(str(o) for o in ip.octets()),
    "port": lambda ip: str(ip.port),
}

_IPV4_ATTRS: dict[str, Callable[[IPv4Addr], str]] = {
    "broadcast": lambda ip: IPv4Addr(ip.broadcast_address()).string(),
    "size": lambda ip: ip.size(),
    "uint32": lambda ip: str(ip.address),
}

_IPV6_ATTRS: dict[str, Callable[[IPv6Addr], str]] = {
    "size": lambda ip: ip.size(),
    "uint128": lambda ip: str(ip.address),
}


def sock_addr_attr(addr: SockAddr, name: str) -> str:
    """go-sockaddr's ``Attr(SockAddr, name)``."""
    from s4e_secret_agent.template.gofmt import go_quote

    if name in _IP_ATTRS:
        return _IP_ATTRS[name](addr)
    if isinstance(addr, IPv4Addr) and name in _IPV4_ATTRS:
        return _IPV4_ATTRS[name](addr)
    if isinstance(addr, IPv6Addr) and name in _IPV6_ATTRS:
        return _IPV6_ATTRS[name](addr)
    if name == "string":
        return addr.string()
    if name == "type":
        return addr.type_name
    raise FuncError(f"unsupported attribute name {go_quote(name)}")


def _parse_int(text: str, bits: int) -> int:
    """``strconv.ParseInt(text, 10, bits)``, raising Go's error text."""
    from s4e_secret_agent.template.gofmt import go_quote

    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"strconv.ParseInt: parsing {go_quote(text)}: invalid syntax")
    value = int(text)
    if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        raise ValueError(f"strconv.ParseInt: parsing {go_quote(text)}: value out of range")
    return value


def _parse_uint32(text: str) -> int:
    from s4e_secret_agent.template.gofmt import go_quote

    if not text or not text.isascii() or not text.isdigit():
        raise ValueError(f"strconv.ParseUint: parsing {go_quote(text)}: invalid syntax")
    if int(text) >= 1 << 32:
        raise ValueError(f"strconv.ParseUint: parsing {go_quote(text)}: value out of range")
    return int(text)


def if_addr_math(operation: str, value: str, if_addr: IfAddr) -> IfAddr:
    """go-sockaddr's IfAddrMath: ``address`` and ``network`` offsets, ``mask`` prefixes."""
    import re

    from s4e_secret_agent.template.gofmt import go_quote

    op = operation.lower()
    addr = if_addr.addr
    if op not in ("address", "network", "mask"):
        raise FuncError(f"unsupported math operation: {go_quote(operation)}")
    if op != "mask" and not re.match(r"[\s]*[+-]", value):
        raise FuncError(f"sign (+/-) is required for operation {go_quote(operation)}")
    try:
        if op == "mask":
            bits = _parse_uint32(value)
        else:
            offset = _parse_int(value, 33 if isinstance(addr, IPv4Addr) else 64)
    except ValueError as exc:
        raise FuncError(f"unable to convert {go_quote(value)} to int for operation "
                        f"{go_quote(operation)}: {exc}") from None
    new: SockAddr
    if isinstance(addr, IPv4Addr):
        if op == "address":
            new = IPv4Addr((addr.address + offset) & _V4_ALL, addr.mask)
        elif op == "network":
            # Negative offsets count back from the end of the network (-1: broadcast).
            wrapped = offset if offset >= 0 else 1 + offset + (~addr.mask & _V4_ALL)
            new = IPv4Addr((addr.network_address() + ((wrapped & _V4_ALL) & ~addr.mask))
                           & _V4_ALL, addr.mask)
        else:
            if bits > 32:
                raise FuncError(f"parameter for operation {go_quote(operation)} on ipv4 "
                                "addresses must be between 0 and 32")
            mask = _cidr(bits, 32)
            new = IPv4Addr(addr.address & mask, min(mask, addr.mask))
    else:
        if op == "address":
            new = IPv6Addr((addr.address + offset) & _V6_ALL, addr.mask)
        elif op == "network":
            if offset > 0:
                new = IPv6Addr(addr.network_address() + (offset & ~addr.mask), addr.mask)
            else:
                wrapped = (-offset - 1) & ~addr.mask
                new = IPv6Addr(addr.last_usable().address - wrapped, addr.mask)
        else:
            if bits > 128:
                # (go-sockaddr's message says 64)
                raise FuncError(f"parameter for operation {go_quote(operation)} on ipv6 "
                                "addresses must be between 0 and 64")
            mask = _cidr(bits, 128)
            new = IPv6Addr(int.from_bytes(addr.net_ip(), "big") & mask, min(mask, addr.mask))
    return IfAddr(new, if_addr.interface)


# --------------------------------------------------------------------------------------------
# The host: rtnetlink dumps, as Go's net package reads them

_RTM_GETLINK, _RTM_NEWLINK, _RTM_GETADDR, _RTM_NEWADDR = 18, 16, 22, 20
_NLMSG_DONE, _NLMSG_ERROR = 3, 2
_NLM_F_REQUEST, _NLM_F_DUMP = 1, 0x300
_IFLA_ADDRESS, _IFLA_IFNAME, _IFLA_MTU = 1, 3, 4
_IFA_ADDRESS, _IFA_LOCAL = 1, 2
_IFF_FLAGS = ((0x1, FLAG_UP), (0x40, FLAG_RUNNING), (0x2, FLAG_BROADCAST),
              (0x8, FLAG_LOOPBACK), (0x10, FLAG_POINT_TO_POINT), (0x1000, FLAG_MULTICAST))
# Tunnel devices whose "hardware address" is an IP address, which Go does not report.
_TUNNEL_V4 = frozenset({768, 776, 778})  # ipip, sit, gre
_TUNNEL_V6 = frozenset({769, 823})  # ip6tnl, ip6gre


class HostError(Exception):
    """The kernel did not answer the way Go's net package needs (Go's message)."""


def _netlink_dump(request_type: int) -> list[tuple[int, bytes]]:
    """One NetlinkRIB dump: (message type, payload) until NLMSG_DONE."""
    import socket

    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    except OSError as exc:
        raise HostError(_syscall_error("socket", exc)) from None
    with sock:
        try:
            sock.bind((0, 0))
            pid = sock.getsockname()[0]
            # nlmsghdr + rtgenmsg (family AF_UNSPEC), 17 bytes as Go sends them.
            sock.send(struct.pack("=IHHII", 17, request_type, _NLM_F_DUMP | _NLM_F_REQUEST,
                                  1, 0) + b"\0")
            messages: list[tuple[int, bytes]] = []
            while True:
                data = sock.recv(1 << 16)
                offset = 0
                while offset + 16 <= len(data):
                    length, msg_type, _flags, seq, msg_pid = struct.unpack_from(
                        "=IHHII", data, offset)
                    if length < 16 or offset + length > len(data):
                        raise HostError("netlinkrib: invalid argument")
                    if seq != 1 or msg_pid != pid:
                        raise HostError("netlinkrib: invalid argument")
                    if msg_type == _NLMSG_DONE:
                        return messages
                    if msg_type == _NLMSG_ERROR:
                        raise HostError("netlinkrib: invalid argument")
                    messages.append((msg_type, data[offset + 16:offset + length]))
                    offset += (length + 3) & ~3
        except OSError as exc:
            raise HostError(_syscall_error("netlinkrib", exc)) from None


def _syscall_error(call: str, exc: OSError) -> str:
    import os

    text = os.strerror(exc.errno) if exc.errno else str(exc)
    return f"{call}: {text[:1].lower()}{text[1:]}"


def _route_attrs(payload: bytes, header: int) -> list[tuple[int, bytes]]:
    attrs = []
    offset = header
    while offset + 4 <= len(payload):
        length, attr_type = struct.unpack_from("=HH", payload, offset)
        if length < 4 or offset + length > len(payload):
            break
        attrs.append((attr_type, payload[offset + 4:offset + length]))
        offset += (length + 3) & ~3
    return attrs


def _interfaces() -> list[Interface]:
    """``net.Interfaces()``."""
    out = []
    for msg_type, payload in _netlink_dump(_RTM_GETLINK):
        if msg_type != _RTM_NEWLINK or len(payload) < 16:
            continue
        _family, _pad, dev_type, index, raw_flags, _change = struct.unpack_from(
            "=BBHiII", payload)
        name, mtu, hardware = "", 0, b""
        for attr_type, value in _route_attrs(payload, 16):
            if attr_type == _IFLA_ADDRESS:
                if (len(value) == 4 and dev_type in _TUNNEL_V4) or (
                        len(value) == 16 and dev_type in _TUNNEL_V6):
                    continue
                if any(value):
                    hardware = value
            elif attr_type == _IFLA_IFNAME:
                name = value[:-1].decode("utf-8", "surrogateescape")
            elif attr_type == _IFLA_MTU and len(value) >= 4:
                mtu = struct.unpack_from("=I", value)[0]
        flags = 0
        for iff, bit in _IFF_FLAGS:
            if raw_flags & iff:
                flags |= bit
        out.append(Interface(index, mtu, name, hardware, flags))
    return out


def _addresses() -> list[tuple[int, SockAddr]]:
    """Every address of the host with its interface index, in the kernel's dump order."""
    from socket import AF_INET, AF_INET6

    out: list[tuple[int, SockAddr]] = []
    for msg_type, payload in _netlink_dump(_RTM_GETADDR):
        if msg_type != _RTM_NEWADDR or len(payload) < 8:
            continue
        family, prefix_len, _flags, _scope, index = struct.unpack_from("=BBBBI", payload)
        attrs = _route_attrs(payload, 8)
        point_to_point = any(attr_type == _IFA_LOCAL for attr_type, _ in attrs)
        for attr_type, value in attrs:
            if point_to_point and attr_type == _IFA_ADDRESS:
                continue
            # Go takes the first other attribute as the address (IFA_LOCAL in practice).
            if family == AF_INET and len(value) >= 4:
                out.append((index, IPv4Addr(int.from_bytes(value[:4], "big"),
                                            _cidr(min(prefix_len, 32), 32))))
            elif family == AF_INET6 and len(value) >= 16:
                out.append((index, IPv6Addr(int.from_bytes(value[:16], "big"),
                                            _cidr(min(prefix_len, 128), 128))))
            break
    return out


def _default_interface_name() -> str | None:
    """The interface of the first default route with a gateway in the main table (what
    go-sockaddr takes from ``default via GW dev IF`` in ``ip route``)."""
    try:
        with open("/proc/net/route", encoding="ascii") as routes:
            lines = routes.read().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        name, destination, _gateway, flags_hex, *_rest = fields
        mask = fields[7]
        try:
            flags = int(flags_hex, 16)
        except ValueError:
            continue
        if destination == "00000000" and mask == "00000000" and flags & 0x1 and flags & 0x2:
            return name
    return None


class Host:
    """One look at the host's interfaces, shared by everything one ``sockaddr`` call does."""

    __slots__ = ("default_name", "if_addrs")

    def __init__(self, if_addrs: IfAddrs, default_name: str | None) -> None:
        self.if_addrs = if_addrs
        self.default_name = default_name

    @classmethod
    def read(cls) -> Host:
        interfaces = _interfaces()
        addresses = _addresses()
        if_addrs = IfAddrs()
        for intf in interfaces:
            for index, addr in addresses:
                if index == intf.index:
                    if_addrs.append(IfAddr(addr, intf))
        return cls(if_addrs, _default_interface_name())


__all__ = ["FORWARDING_BLACKLIST", "TYPE_IP", "TYPE_IPV4", "TYPE_IPV6", "GoText", "Host",
           "HostError", "IPv4Addr", "IPv6Addr", "IfAddr", "IfAddrs", "Interface", "SockAddr",
           "flags_string", "if_addr_attr", "if_addr_math", "ip_string", "is_rfc", "known_rfc",
           "new_ip_addr", "sock_addr_attr"]
