"""consul-template's ``sockaddr``: go-sockaddr's template language, for picking an address of
this host (``{{ sockaddr "GetPrivateIP" }}``, ``GetAllInterfaces | include "name" "eth0"``).

consul-template joins the arguments into ``{{ ... }}`` and renders that as a template of its
own, with go-sockaddr's functions and the host's interface addresses as the dot. The same
happens here on this engine: the sub-template is parsed and executed like any template, with
Go's built-ins plus go-sockaddr's ``Get*`` sources, ``include``/``exclude`` filters, ``sort``,
``unique``, ``limit``, ``offset``, ``attr``, ``join`` and ``math``. Their rules, error texts
and even the sort algorithm follow go-sockaddr, so the chosen address is the same as in Vault
Agent (``ifaddrs.py`` reads the host).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from s4e_secret_agent.template.funcs import FunctionTable
from s4e_secret_agent.template.funcs.ifaddrs import (
    FORWARDING_BLACKLIST,
    TYPE_IP,
    TYPE_IPV4,
    TYPE_IPV6,
    Host,
    HostError,
    IfAddr,
    IfAddrs,
    IPv4Addr,
    IPv6Addr,
    SockAddr,
    if_addr_attr,
    if_addr_math,
    ip_string,
    is_rfc,
    known_rfc,
    new_ip_addr,
)
from s4e_secret_agent.template.gofmt import format_value, go_quote
from s4e_secret_agent.template.signature import ANY, INT, STRING, VALUE, FuncError, GoFunc
from s4e_secret_agent.template.values import go_type_name

TEMPLATE_NAME = "sockaddr.Parse"
IF_ADDRS_TYPE = "sockaddr.IfAddrs"

# Comparators return -1 (first sorts first), 0 (undecided), 1 (second sorts first).
Comparator = Callable[[IfAddr, IfAddr], int]


def _quote_ascii(text: str) -> str:
    return go_quote(text, ascii_only=True)  # Go's %+q


# --------------------------------------------------------------------------------------------
# Filters (go-sockaddr's IfBy* functions): each returns (matched, remainder)


def _regexp(kind: str, pattern: str) -> Any:
    from s4e_secret_agent.template.funcs.regexp import RegexpError, compile_go_regexp

    try:
        return compile_go_regexp(pattern)
    except RegexpError as exc:
        raise FuncError(f"Unable to compile {kind} regexp {_quote_ascii(pattern)}: {exc}"
                        ) from None


def _split(items: IfAddrs, test: Callable[[IfAddr], bool]) -> tuple[IfAddrs, IfAddrs]:
    matched, rest = IfAddrs(), IfAddrs()
    for item in items:
        (matched if test(item) else rest).append(item)
    return matched, rest


def by_address(pattern: str, items: IfAddrs) -> tuple[IfAddrs, IfAddrs]:
    regexp = _regexp("address", pattern)
    return _split(items, lambda a: regexp.matches(a.addr.string()))


def by_name(pattern: str, items: IfAddrs) -> tuple[IfAddrs, IfAddrs]:
    regexp = _regexp("name", pattern)
    return _split(items, lambda a: regexp.matches(a.name))


def by_port(pattern: str, items: IfAddrs) -> tuple[IfAddrs, IfAddrs]:
    regexp = _regexp("port", pattern)
    # Every address of an interface is an IP address: none goes to the non-IP remainder.
    return _split(items, lambda a: regexp.matches(str(a.addr.port)))


def _parse_uint(text: str, bits: int) -> int | None:
    """``strconv.ParseUint(text, 10, bits)``; None for a syntax error, -1 when out of range."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value < 1 << bits else -1


def _uint_error(text: str, value: int | None) -> str:
    what = "invalid syntax" if value is None else "value out of range"
    return f"strconv.ParseUint: parsing {go_quote(text)}: {what}"


def by_rfc(selector: str, items: IfAddrs) -> tuple[IfAddrs, IfAddrs]:
    number = _parse_uint(selector, 64)
    if number is None or number < 0:
        raise FuncError(f"unable to parse RFC number {go_quote(selector)}: "
                        f"{_uint_error(selector, number)}")
    blocks = known_rfc(number)
    if blocks is None:
        raise FuncError(f"unsupported RFC {number}")
    return _split(items, lambda a: any(block.contains(a.addr) for block in blocks))


def by_rfcs(selector: str, items: IfAddrs) -> tuple[IfAddrs, IfAddrs]:
    # Several RFCs, each matched on its own: an address can end up in both lists.
    matched, rest = IfAddrs(), IfAddrs()
    for rfc in selector.split("|"):
        try:
            rfc_matched, rfc_rest = by_rfc(rfc, items)
        except FuncError as exc:
            raise FuncError(f"unable to lookup RFC number {go_quote(rfc)}: {exc}") from None
        matched.extend(rfc_matched)
        rest.extend(rfc_rest)
    return matched, rest


def by_mask_size(selector: str, items: IfAddrs) -> tuple[IfAddrs, IfAddrs]:
    size = _parse_uint(selector, 64)
    if size is None or size < 0:
        raise FuncError(f"invalid exclude size argument ({go_quote(selector)}): "
                        f"{_uint_error(selector, size)}")
    matched, rest = IfAddrs(), IfAddrs()
    for item in items:
        if isinstance(item.addr, IPv4Addr) and size > 32:
            raise FuncError(f"mask size out of bounds for IPv4 address: {size}")
        if isinstance(item.addr, IPv6Addr) and size > 128:
            raise FuncError(f"mask size out of bounds for IPv6 address: {size}")
        (matched if item.addr.maskbits() == size else rest).append(item)
    return matched, rest


def by_type(selector: str, items: IfAddrs) -> tuple[IfAddrs, IfAddrs]:
    types = selector.lower().split("|")
    for kind in types:
        if kind not in ("ip", "ipv4", "ipv6", "unix"):
            raise FuncError(f"unsupported type {go_quote(kind)} {go_quote(selector)}")
    bits = {"ip": TYPE_IP, "ipv4": TYPE_IPV4, "ipv6": TYPE_IPV6, "unix": 0x1}
    matched, rest = IfAddrs(), IfAddrs()
    # go-sockaddr files every address once per listed type.
    for item in items:
        for kind in types:
            (matched if item.addr.type_code & bits[kind] else rest).append(item)
    return matched, rest


def _ip16(addr: SockAddr) -> bytes:
    raw = addr.net_ip()
    return raw if len(raw) == 16 else b"\0" * 10 + b"\xff\xff" + raw


def _ip4(addr: SockAddr) -> bytes | None:
    raw = _ip16(addr)
    return raw[12:] if raw[:12] == b"\0" * 10 + b"\xff\xff" else None


def _is_unspecified(addr: SockAddr) -> bool:
    v4 = _ip4(addr)
    return v4 == b"\0\0\0\0" if v4 is not None else not any(_ip16(addr))


def _is_loopback(addr: SockAddr) -> bool:
    v4 = _ip4(addr)
    return v4[0] == 127 if v4 is not None else _ip16(addr) == b"\0" * 15 + b"\x01"


def _is_multicast(addr: SockAddr) -> bool:
    v4 = _ip4(addr)
    return v4[0] & 0xF0 == 0xE0 if v4 is not None else _ip16(addr)[0] == 0xFF


def _is_link_local_unicast(addr: SockAddr) -> bool:
    v4 = _ip4(addr)
    if v4 is not None:
        return v4[0] == 169 and v4[1] == 254
    raw = _ip16(addr)
    return raw[0] == 0xFE and raw[1] & 0xC0 == 0x80


def _is_link_local_multicast(addr: SockAddr) -> bool:
    v4 = _ip4(addr)
    if v4 is not None:
        return v4[0] == 224 and v4[1] == 0 and v4[2] == 0
    raw = _ip16(addr)
    return raw[0] == 0xFF and raw[1] & 0x0F == 0x02


def _is_interface_local_multicast(addr: SockAddr) -> bool:
    # Go's test needs a 16-byte address; go-sockaddr hands it 4 bytes for IPv4.
    raw = addr.net_ip()
    return len(raw) == 16 and raw[0] == 0xFF and raw[1] & 0x0F == 0x01


def _is_global_unicast(addr: SockAddr) -> bool:
    return (_ip4(addr) != b"\xff\xff\xff\xff" and not _is_unspecified(addr)
            and not _is_loopback(addr) and not _is_multicast(addr)
            and not _is_link_local_unicast(addr))


_FLAG_TESTS: dict[str, tuple[int, Callable[[SockAddr], bool] | None]] = {
    "global unicast": (0, _is_global_unicast),
    "interface-local multicast": (0, _is_interface_local_multicast),
    "link-local multicast": (0, _is_link_local_multicast),
    "link-local unicast": (0, _is_link_local_unicast),
    "unspecified": (0, _is_unspecified),
    "forwardable": (0, lambda a: not is_rfc(FORWARDING_BLACKLIST, a)),
    "loopback": (4, _is_loopback),
    "multicast": (16, _is_multicast),
    "broadcast": (2, None),
    "point-to-point": (8, None),
    "up": (1, None),
}


def by_flag(selector: str, items: IfAddrs) -> tuple[IfAddrs, IfAddrs]:
    wanted_flags = 0
    check_flags = False
    tests: list[Callable[[SockAddr], bool]] = []
    for name in selector.lower().split("|"):
        if name == "down":
            # go-sockaddr clears the "up" bit from what it looks for (so "down" matches all).
            check_flags = True
            wanted_flags &= ~1
            continue
        if name not in _FLAG_TESTS:
            raise FuncError(f"Unknown interface flag: {_quote_ascii(name)}")
        bit, test = _FLAG_TESTS[name]
        if bit:
            check_flags = True
            wanted_flags |= bit
        if test is not None:
            tests.append(test)

    def matches(item: IfAddr) -> bool:
        if check_flags and item.interface.flags & wanted_flags == wanted_flags:
            return True
        return any(test(item.addr) for test in tests)

    return _split(items, matches)


def by_network(selector: str, items: IfAddrs) -> tuple[IfAddrs, IfAddrs]:
    matched, rest = IfAddrs(), IfAddrs()
    for text in selector.split("|"):
        try:
            network = new_ip_addr(text)
        except FuncError as exc:
            raise FuncError(f"unable to create an IP address from {_quote_ascii(text)}: {exc}"
                            ) from None
        for item in items:
            (matched if network.contains(item.addr) else rest).append(item)
    return matched, rest


_SELECTORS: dict[str, Callable[[str, IfAddrs], tuple[IfAddrs, IfAddrs]]] = {
    "address": by_address, "flag": by_flag, "flags": by_flag, "name": by_name,
    "network": by_network, "port": by_port, "rfc": by_rfcs, "rfcs": by_rfcs,
    "size": by_mask_size, "type": by_type,
}


# --------------------------------------------------------------------------------------------
# Sorting (go-sockaddr's Asc*/Desc* comparators and its multi-key sorter)


def _cmp(a: Any, b: Any) -> int:
    return int(a > b) - int(a < b)


def _asc_address(p: IfAddr, q: IfAddr) -> int:
    return p.addr.cmp_address(q.addr)


def _asc_port(p: IfAddr, q: IfAddr) -> int:
    return _cmp(p.addr.port, q.addr.port)


def _asc_private(p: IfAddr, q: IfAddr) -> int:
    mine = is_rfc(6890, p.addr)
    if type(p.addr) is not type(q.addr):
        return -1 if mine else 0
    theirs = is_rfc(6890, q.addr)
    if mine == theirs:
        return 0
    return -1 if mine else 1


def _asc_size(p: IfAddr, q: IfAddr) -> int:
    if p.addr.type_code != q.addr.type_code:
        return 0
    a, b = p.addr.mask_bytes(), q.addr.mask_bytes()
    return _cmp(a, b)


def _asc_type(p: IfAddr, q: IfAddr) -> int:
    return _cmp(p.addr.type_code, q.addr.type_code)


def _asc_name(p: IfAddr, q: IfAddr) -> int:
    a, b = p.name.encode("utf-8", "surrogateescape"), q.name.encode("utf-8", "surrogateescape")
    return _cmp(a, b)


def _asc_default(host: Host) -> Comparator:
    def compare(p: IfAddr, q: IfAddr) -> int:
        name = host.default_name
        if name is None:
            return 0
        mine, theirs = p.name == name, q.name == name
        if mine and theirs:
            return 0
        return -1 if mine else (1 if theirs else 0)

    return compare


def _desc(compare: Comparator) -> Comparator:
    return lambda p, q: -compare(p, q)


def sort_by(items: list[IfAddr], comparators: list[Comparator]) -> None:
    """go-sockaddr's multiIfAddrSorter: the first comparator that decides wins."""
    from s4e_secret_agent.template.funcs.gosort import go_sort

    def less(p: IfAddr, q: IfAddr) -> bool:
        for compare in comparators[:-1]:
            result = compare(p, q)
            if result:
                return result < 0
        return comparators[-1](p, q) < 0

    go_sort(items, less)


def sort_if_by(host: Host, selector: str, items: IfAddrs) -> IfAddrs:
    """``sort``: comma-separated keys, each optionally ``+``/``-``."""
    ascending: dict[str, Comparator] = {
        "address": _asc_address, "default": _asc_default(host), "name": _asc_name,
        "port": _asc_port, "private": _asc_private, "size": _asc_size, "type": _asc_type,
    }
    comparators: list[Comparator] = []
    for clause in selector.split(","):
        key = clause.lower().strip()
        sign, name = (key[0], key[1:]) if key[:1] in ("+", "-") else ("+", key)
        if name not in ascending:
            raise FuncError(f"unknown sort type: {go_quote(clause)}")
        comparators.append(_desc(ascending[name]) if sign == "-" else ascending[name])
    out = IfAddrs(items)
    sort_by(out, comparators)
    return out


# --------------------------------------------------------------------------------------------
# The sources (Get*)


def _ip_only(items: IfAddrs) -> IfAddrs:
    return IfAddrs(i for i in items if i.addr.type_code & TYPE_IP)


def private_or_public(host: Host, private: bool) -> IfAddrs:
    """GetPrivateInterfaces / GetPublicInterfaces."""
    items = _ip_only(host.if_addrs)
    items = by_flag("forwardable", items)[0]
    items = by_flag("up", items)[0]
    if not items:
        return IfAddrs()
    sort_by(items, [_asc_default(host), _asc_type, _asc_size])
    matched, rest = by_rfc("6890", items)
    return matched if private else rest


def private_or_public_ips(host: Host, private: bool) -> str:
    """GetPrivateIPs / GetPublicIPs: every such address, default route or not."""
    items = _ip_only(host.if_addrs)
    sort_by(items, [_asc_type, _asc_size])
    matched, rest = by_rfc("6890", items)
    items = matched if private else rest
    if private:
        items = by_rfc(str(FORWARDING_BLACKLIST), items)[1]
    return " ".join(ip_string(i.addr.net_ip()) for i in items)


def default_interfaces(host: Host) -> IfAddrs:
    if host.default_name is None:
        raise FuncError("No default interface found")
    return IfAddrs(i for i in host.if_addrs if i.name == host.default_name)


def interface_ips(host: Host, pattern: str, first_only: bool) -> str:
    """GetInterfaceIP / GetInterfaceIPs (the first only forwardable)."""
    items = by_name(pattern, host.if_addrs)[0]
    if first_only:
        items = by_flag("forwardable", items)[0]
    items = sort_if_by(host, "+type,+size", items)
    if not items:
        return ""
    if first_only:
        return ip_string(items[0].addr.net_ip())
    return " ".join(ip_string(i.addr.net_ip()) for i in items)


# --------------------------------------------------------------------------------------------
# Arguments: Go checks them against go-sockaddr's parameter types before each call


def _if_addrs(state: Any, value: Any) -> IfAddrs:
    from s4e_secret_agent.template.funcs.goargs import nil_or_refused

    if isinstance(value, IfAddrs):
        return value
    nil_or_refused(state, value, IF_ADDRS_TYPE)
    return IfAddrs()


def _functions(host: Host) -> dict[str, GoFunc]:
    def include_or_exclude(include: bool) -> Callable[..., IfAddrs]:
        def call(state: Any, selector: str, param: str, items: Any) -> IfAddrs:
            selected = _SELECTORS.get(selector.lower())
            if selected is None:
                which = "include" if include else "exclude"
                raise FuncError(f"invalid {which} selector {go_quote(selector)}")
            matched, rest = selected(param, _if_addrs(state, items))
            return matched if include else rest

        return call

    def attr(selector: str, value: Any) -> str:
        name = selector.lower()
        if isinstance(value, IfAddr):
            return if_addr_attr(value, name)
        if isinstance(value, IfAddrs):
            return if_addr_attr(value[0], name) if value else ""
        shown = "<nil>" if value is None else format_value(value)
        raise FuncError(f"unable to obtain attribute {selector} from type "
                        f"{go_type_name(value)} ({shown})")

    def join(state: Any, selector: str, separator: str, items: Any) -> str:
        name = selector.lower()
        return separator.join(if_addr_attr(i, name) for i in _if_addrs(state, items))

    def limit(state: Any, count: Any, items: Any) -> IfAddrs:
        from s4e_secret_agent.template.funcs.goargs import unsigned

        lim = unsigned(state, count)
        addrs = _if_addrs(state, items)
        return IfAddrs(addrs[:lim])

    def offset(state: Any, off: int, items: Any) -> IfAddrs:
        addrs = _if_addrs(state, items)
        if abs(off) > len(addrs):
            raise FuncError("unable to seek past the end of the interface array: offset "
                            f"({abs(off)}) exceeds the number of interfaces ({len(addrs)})")
        return IfAddrs(addrs[len(addrs) + off:] if off < 0 else addrs[off:])

    def unique(state: Any, selector: str, items: Any) -> IfAddrs:
        name = selector.lower()
        if name not in ("address", "name"):
            raise FuncError(f"unsupported unique constraint {_quote_ascii(selector)}")
        out, last = IfAddrs(), ""
        for item in _if_addrs(state, items):
            key = item.addr.string() if name == "address" else item.name
            if last == "" or last != key:
                last = key
                out.append(item)
        return out

    def math(state: Any, operation: str, value: str, items: Any) -> IfAddrs:
        out = IfAddrs()
        for item in _if_addrs(state, items):
            try:
                out.append(if_addr_math(operation, value, item))
            except FuncError as exc:
                raise FuncError(f"unable to perform an IPMath operation on "
                                f"{item.go_string()}: {exc}") from None
        return out

    def sort(state: Any, selector: str, items: Any) -> IfAddrs:
        return sort_if_by(host, selector, _if_addrs(state, items))

    return {
        "GetAllInterfaces": GoFunc(lambda: IfAddrs(host.if_addrs), ()),
        "GetDefaultInterfaces": GoFunc(lambda: default_interfaces(host), ()),
        "GetPrivateInterfaces": GoFunc(lambda: private_or_public(host, True), ()),
        "GetPublicInterfaces": GoFunc(lambda: private_or_public(host, False), ()),
        "GetPrivateIP": GoFunc(lambda: _first_ip(private_or_public(host, True)), ()),
        "GetPublicIP": GoFunc(lambda: _first_ip(private_or_public(host, False)), ()),
        "GetPrivateIPs": GoFunc(lambda: private_or_public_ips(host, True), ()),
        "GetPublicIPs": GoFunc(lambda: private_or_public_ips(host, False), ()),
        "GetInterfaceIP": GoFunc(lambda name: interface_ips(host, name, True), (STRING,)),
        "GetInterfaceIPs": GoFunc(lambda name: interface_ips(host, name, False), (STRING,)),
        "sort": GoFunc(sort, (STRING, VALUE), needs_state=True),
        "include": GoFunc(include_or_exclude(True), (STRING, STRING, VALUE), needs_state=True),
        "exclude": GoFunc(include_or_exclude(False), (STRING, STRING, VALUE), needs_state=True),
        "attr": GoFunc(attr, (STRING, ANY)),
        "join": GoFunc(join, (STRING, STRING, VALUE), needs_state=True),
        "limit": GoFunc(limit, (ANY, VALUE), needs_state=True),
        "offset": GoFunc(offset, (INT, VALUE), needs_state=True),
        "unique": GoFunc(unique, (STRING, VALUE), needs_state=True),
        "math": GoFunc(math, (STRING, STRING, VALUE), needs_state=True),
    }


def _first_ip(items: IfAddrs) -> str:
    return ip_string(items[0].addr.net_ip()) if items else ""


# Every name go-sockaddr's template knows besides Go's built-ins (for the parser).
SOCKADDR_NAMES = frozenset({
    "GetAllInterfaces", "GetDefaultInterfaces", "GetPrivateInterfaces", "GetPublicInterfaces",
    "GetPrivateIP", "GetPublicIP", "GetPrivateIPs", "GetPublicIPs", "GetInterfaceIP",
    "GetInterfaceIPs", "sort", "include", "exclude", "attr", "join", "limit", "offset",
    "unique", "math",
})


class _SockaddrTable(FunctionTable):
    """go-sockaddr's FuncMap over one look at the host, then Go's built-ins."""

    __slots__ = ("table",)

    def __init__(self, table: dict[str, GoFunc]) -> None:
        self.table = table

    def get(self, name: str) -> GoFunc | None:
        if name in self.table:
            return self.table[name]
        from s4e_secret_agent.template.funcs import group_functions

        return group_functions("builtins").get(name)

    def __contains__(self, name: object) -> bool:
        from s4e_secret_agent.template.funcs import GROUPS

        return name in self.table or name in GROUPS["builtins"]


def render_sockaddr(text: str, host: Host | None = None) -> str:
    """go-sockaddr's ``template.Parse``: render ``text`` over the host's addresses."""
    from s4e_secret_agent.errors import TemplateError
    from s4e_secret_agent.template.context import DEFAULT_CONTEXT
    from s4e_secret_agent.template.execute import Executor
    from s4e_secret_agent.template.funcs import GROUPS
    from s4e_secret_agent.template.parse import parse_templates

    if host is None:
        try:
            host = Host.read()
        except HostError as exc:
            raise FuncError(f"unable to query interface addresses: route ip+net: {exc}"
                            ) from None
    try:
        trees = parse_templates(TEMPLATE_NAME, text, "{{", "}}",
                                SOCKADDR_NAMES | GROUPS["builtins"])
    except TemplateError as exc:
        raise FuncError(f"unable to parse template {_quote_ascii(text)}: {exc}") from None
    executor = Executor(trees, TEMPLATE_NAME, _SockaddrTable(_functions(host)),
                        error_on_missing_key=True, text=text, ctx=DEFAULT_CONTEXT)
    try:
        return executor.execute(TEMPLATE_NAME, IfAddrs(host.if_addrs))
    except TemplateError as exc:
        raise FuncError(f"unable to execute sockaddr input {_quote_ascii(text)}: {exc}"
                        ) from None


def sockaddr(*args: str) -> str:
    """consul-template's ``sockaddr``: the arguments, joined by spaces, as one action."""
    return render_sockaddr("{{ " + " ".join(args) + " }}")


def functions() -> dict[str, GoFunc]:
    return {"sockaddr": GoFunc(sockaddr, (), STRING)}
