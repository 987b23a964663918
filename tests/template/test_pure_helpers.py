"""Fast checks of ``sockaddr``, ``spew_*``, ``explodeMap`` and the Consul-only helpers, without
a server. The differential tests (``test_pure_helpers_differential.py``) compare them with
``bao agent``; this covers what those cannot reach: values no Vault response holds, made-up
networks, the edges of Go's sort and slice growth, and ``explode``/``byKey``/``byTag``/
``byPort``/``byMeta``, which only HashiCorp's consul-template defines (expected values here
follow its source: they take Consul results, so here only nil gets through).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

import pytest

from s4e_secret_agent.errors import TemplateError
from s4e_secret_agent.template import RenderContext, Template, decode_json
from s4e_secret_agent.template.funcs import GROUPS, group_functions
from s4e_secret_agent.template.funcs.gosort import go_sort
from s4e_secret_agent.template.funcs.ifaddrs import (
    Host,
    IfAddr,
    IfAddrs,
    Interface,
    IPv4Addr,
    IPv6Addr,
    if_addr_attr,
    new_ip_addr,
)
from s4e_secret_agent.template.funcs.sockaddr import render_sockaddr
from s4e_secret_agent.template.funcs.spew import appended_capacity, sdump, sprintf_spew
from s4e_secret_agent.template.funcs.vault import secret_from_envelope
from s4e_secret_agent.template.signature import FuncError
from s4e_secret_agent.template.values import GoStruct, NilList, NilMap, NilPointer

ENVELOPE = decode_json(
    '{"request_id": "4c5ae4ba-3c3e-8d62-3e3c-1b0a4e0f9f10", "lease_id": "", '
    '"lease_duration": 2764800, "renewable": false, "data": {"count": 3, "secret_key": "sk", '
    '"list": [1, "a", null]}, "warnings": null, "auth": null, "wrap_info": null}')


def render(text: str, ctx: RenderContext | None = None) -> str:
    return Template.parse(text).render(ctx or RenderContext(secret=lambda p, a: ENVELOPE))


def render_error(text: str) -> str:
    with pytest.raises(TemplateError) as info:
        render(text)
    return str(info.value)


def addresses_masked(text: str) -> str:
    return re.sub(r"0x[0-9a-f]{5,}", "0xADDR", text)


# --------------------------------------------------------------------------------------------
# The registry


@pytest.mark.parametrize("group", ["spew", "sockaddr", "consul_data"])
def test_groups_define_exactly_their_names(group: str) -> None:
    assert set(group_functions(group)) == GROUPS[group]
    assert not GROUPS[group] & GROUPS["unavailable"]


def test_only_consul_nomad_and_process_functions_stay_unavailable() -> None:
    for name in ("sockaddr", "spew_dump", "explodeMap", "explode", "byTag", "writeToFile",
                 "pkiCert"):
        assert name not in GROUPS["unavailable"]
    assert {"key", "service", "nomadVar", "plugin"} <= GROUPS["unavailable"]


# --------------------------------------------------------------------------------------------
# Go's slice growth and sort


def test_appended_capacity_is_go_append_growth() -> None:
    # Observed with bao agent (Go 1.27) for JSON arrays of these lengths.
    observed = {0: 0, 1: 1, 2: 2, 3: 4, 4: 4, 5: 8, 9: 16, 16: 16, 17: 32, 32: 32, 33: 71,
                64: 71, 65: 71, 100: 143, 128: 143, 200: 303, 256: 303, 300: 303, 512: 591,
                600: 1023, 1000: 1023, 1025: 1535, 2000: 2560, 5000: 5120}
    assert {n: appended_capacity(n) for n in observed} == observed


def _insertion_sorted(items: list[Any], less: Callable[[Any, Any], bool]) -> list[Any]:
    out = list(items)
    for i in range(1, len(out)):
        j = i
        while j > 0 and less(out[j], out[j - 1]):
            out[j], out[j - 1] = out[j - 1], out[j]
            j -= 1
    return out


def test_go_sort_is_insertion_sort_up_to_twelve_even_for_partial_orders() -> None:
    rng = random.Random(7)

    # Compares only values of the same parity: not a strict weak ordering, like go-sockaddr's
    # "address" comparator across IPv4 and IPv6.
    def less(a: int, b: int) -> bool:
        return a % 2 == b % 2 and a < b

    for _ in range(200):
        items = [rng.randrange(50) for _ in range(rng.randrange(13))]
        sorted_items = list(items)
        go_sort(sorted_items, less)
        assert sorted_items == _insertion_sorted(items, less)


@pytest.mark.parametrize("shape", ["random", "duplicates", "descending", "ascending", "pipe"])
def test_go_sort_sorts_longer_slices(shape: str) -> None:
    rng = random.Random(shape)
    n = 1000
    items = {
        "random": [rng.randrange(10**6) for _ in range(n)],
        "duplicates": [rng.randrange(3) for _ in range(n)],
        "descending": list(range(n, 0, -1)),
        "ascending": list(range(n)),
        "pipe": list(range(n // 2)) + list(range(n // 2, 0, -1)),
    }[shape]
    out = list(items)
    go_sort(out, lambda a, b: a < b)
    assert out == sorted(items)


# --------------------------------------------------------------------------------------------
# spew


def test_sdump_of_the_secret_struct() -> None:
    assert addresses_masked(sdump((secret_from_envelope(ENVELOPE),))) == (
        '(*dependency.Secret)(0xADDR)({\n'
        ' RequestID: (string) (len=36) "4c5ae4ba-3c3e-8d62-3e3c-1b0a4e0f9f10",\n'
        ' LeaseID: (string) "",\n'
        ' LeaseDuration: (int) 2764800,\n'
        ' Renewable: (bool) false,\n'
        ' Data: (map[string]interface {}) (len=3) {\n'
        '  (string) (len=5) "count": (json.Number) (len=1) 3,\n'
        '  (string) (len=4) "list": ([]interface {}) (len=3 cap=4) {\n'
        '   (json.Number) (len=1) 1,\n'
        '   (string) (len=1) "a",\n'
        '   (interface {}) <nil>\n'
        '  },\n'
        '  (string) (len=10) "secret_key": (string) (len=2) "sk"\n'
        ' },\n'
        ' Warnings: ([]string) <nil>,\n'
        ' Auth: (*dependency.SecretAuth)(<nil>),\n'
        ' WrapInfo: (*dependency.SecretWrapInfo)(<nil>)\n'
        '})\n')


def test_sdump_of_nil_empty_and_nested_values() -> None:
    assert sdump((None,)) == "(interface {}) <nil>\n"
    assert sdump(()) == ""
    assert sdump(([], {}, NilList(), NilMap())) == (
        "([]interface {}) {\n}\n(map[string]interface {}) {\n}\n"
        "([]interface {}) <nil>\n(map[string]interface {}) <nil>\n")
    assert sdump(({"b": [{}], "a": None},)) == (
        "(map[string]interface {}) (len=2) {\n"
        ' (string) (len=1) "a": (interface {}) <nil>,\n'
        ' (string) (len=1) "b": ([]interface {}) (len=1 cap=1) {\n'
        "  (map[string]interface {}) {\n"
        "  }\n"
        " }\n"
        "}\n")


def test_sdump_of_a_non_nil_nested_pointer_and_bytes() -> None:
    auth = GoStruct("dependency.SecretAuth", {"ClientToken": "t", "Renewable": True})
    outer = GoStruct("dependency.Secret", {"Auth": auth, "Missing": NilPointer("*x.Y")})
    assert addresses_masked(sdump((outer,))) == (
        "(*dependency.Secret)(0xADDR)({\n"
        " Auth: (*dependency.SecretAuth)(0xADDR)({\n"
        '  ClientToken: (string) (len=1) "t",\n'
        "  Renewable: (bool) true\n"
        " }),\n"
        " Missing: (*x.Y)(<nil>)\n"
        "})\n")
    # Go hex-dumps byte slices like "hexdump -C".
    assert sdump((b"hello world, 0123456789",)) == (
        "([]uint8) (len=23 cap=23) {\n"
        " 00000000  68 65 6c 6c 6f 20 77 6f  72 6c 64 2c 20 30 31 32  |hello world, 012|\n"
        " 00000010  33 34 35 36 37 38 39                              |3456789|\n"
        "}\n")


def test_sdump_of_numbers_and_strings() -> None:
    assert render('{{ spew_sdump 1.0 1e21 (parseFloat "NaN") 2i "\\x00é" (index "é" 0) }}') == (
        "(float64) 1\n(float64) 1e+21\n(float64) NaN\n(complex128) (0+2i)\n"
        '(string) (len=3) "\\x00é"\n(uint8) 195\n')


def test_same_pointer_same_address() -> None:
    out = render('{{ spew_sdump (secret "a") (secret "a") }}')
    first, second = re.findall(r"0x[0-9a-f]+", out)
    assert first == second


@pytest.mark.parametrize(("fmt", "args", "expected"), [
    ("%v", (1,), "1"),
    ("%v %v", (1,), "1 %!v(MISSING)"),
    ("%v", (1, 2), "1%!(EXTRA *spew.formatState=2)"),
    ("%v", (1, None), "1%!(EXTRA *spew.formatState=<nil>)"),
    ("%*d", (5, 6), "%!(BADWIDTH)6"),
    ("%.*d", (5, 6), "%!(BADPREC)6"),
    ("%", (1,), "%!(NOVERB)%!(EXTRA *spew.formatState=1)"),
    ("%[3]v %v", (1, 2), "%!v(BADINDEX) 1"),
    ("%[2]v %[1]v", (1, 2), "2 1"),
    ("%%|%T|%-20T|", (1, 2), "%|*spew.formatState|*spew.formatState   |"),
    ("%5v|%-5s|%05d|%x", ("a", "b", 7, "hi"), "a|b    |00007|6869"),
    ("%#v|%+v|%#+v", (None, None, None), "(interface {})<nil>|<nil>|(interface {})<nil>"),
    ("%v|%#v", ([1, "a", None], [1, "a", None]),
     "[1 a <nil>]|([]interface {})[(int)1 (string)a (interface {})<nil>]"),
])
def test_spew_sprintf_formats(fmt: str, args: tuple[Any, ...], expected: str) -> None:
    assert sprintf_spew(fmt, args) == expected


def test_spew_sprintf_of_the_secret_struct() -> None:
    secret = secret_from_envelope(ENVELOPE)
    assert sprintf_spew("%v", (secret,)) == (
        "<*>{4c5ae4ba-3c3e-8d62-3e3c-1b0a4e0f9f10  2764800 false "
        "map[count:3 list:[1 a <nil>] secret_key:sk] <nil> <nil> <nil>}")
    assert addresses_masked(sprintf_spew("%#+v", (secret,))) == (
        "(*dependency.Secret)(0xADDR){RequestID:(string)4c5ae4ba-3c3e-8d62-3e3c-1b0a4e0f9f10 "
        "LeaseID:(string) LeaseDuration:(int)2764800 Renewable:(bool)false "
        "Data:(map[string]interface {})map[count:(json.Number)3 list:([]interface {})"
        "[(json.Number)1 (string)a (interface {})<nil>] secret_key:(string)sk] "
        "Warnings:([]string)<nil> Auth:(*dependency.SecretAuth)<nil> "
        "WrapInfo:(*dependency.SecretWrapInfo)<nil>}")


def test_spew_dump_and_printf_print_and_return_nothing(
        capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert render('[{{ spew_dump "é" 1 }}{{ spew_printf "%v|%d\\n" (split "," "a,b") 2 }}]') == (
        "[]")
    assert capsysbinary.readouterr().out == (
        '(string) (len=2) "é"\n(int) 1\n[a b]|2\n'.encode())


def test_scratch_dump_shows_its_locks_and_values() -> None:
    out = render('{{ scratch.Set "k" "v" }}{{ spew_sdump scratch }}')
    assert out.endswith(' values: (map[string]interface {}) (len=1) {\n'
                        '  (string) (len=1) "k": (string) (len=1) "v"\n'
                        ' }\n})\n')
    assert render("{{ spew_sprintf \"%v\" scratch }}") == (
        "<*>{{{} {{} 0} {{} {0 0}}} {{{} {0 0}} 0 0 {{} 0} {{} 0}} <nil>}")


# --------------------------------------------------------------------------------------------
# explodeMap and the Consul-only helpers


def test_explode_map_nests_keys_in_sorted_order() -> None:
    assert render('{{ explodeMap (parseJSON `{"a/b/c":1,"a/d":"x","e":true,"f//g":2,"h/":3}`)'
                  " | toJSON }}") == '{"a":{"b":{"c":1},"d":"x"},"e":true,"f":{"":{"g":2}},"h":{}}'
    assert render("{{ explodeMap nil }} {{ explodeMap .missing }}") == "map[] map[]"


@pytest.mark.parametrize(("data", "message"), [
    ('{"a":1,"a/b":2}', 'explodeMap: not a map: "a/b": "a" already has value %!q(float64=1)'),
    ('{"a/b":"x","a/b/c":2}', 'explodeMap: not a map: "a/b/c": "b" already has value "x"'),
    ('{"a/b/c":"s","a/b/c/d/e":1}',
     'explodeMap: not a map: "b/c/d/e": "c" already has value "s"'),
])
def test_explode_map_conflicts(data: str, message: str) -> None:
    assert render_error(f"{{{{ explodeMap (parseJSON `{data}`) }}}}").endswith(
        f"error calling explodeMap: {message}")


@pytest.mark.parametrize(("call", "go_type"), [
    ("explode nil", "map[string]interface {}"),
    ("byKey nil", "map[string]map[string]*dependency.KeyPair"),
    ('byMeta "a,b|int" nil', "map[string][]*dependency.HealthService"),
    ("byTag nil", "map[string][]interface {}"),
    ("byPort nil", "map[int][]interface {}"),
    ("explode .missing", "map[string]interface {}"),
    ("byTag .missing", "map[string][]interface {}"),
])
def test_consul_helpers_turn_nil_into_empty_maps(call: str, go_type: str) -> None:
    assert render(f'{{{{ {call} }}}} {{{{ printf "%T" ({call}) }}}} {{{{ {call} | toJSON }}}}'
                  ) == f"map[] {go_type} {{}}"


@pytest.mark.parametrize(("text", "message"), [
    ('{{ $l := (secret "p").Data.list }}{{ explode $l }}',
     'executing "" at <$l>: wrong type for value; expected []*dependency.KeyPair; got '
     "[]interface {}"),
    ('{{ (secret "p").Data | byKey }}',
     "executing \"\" at <byKey>: wrong type for value; expected []*dependency.KeyPair; "
     "got map[string]interface {}"),
    ('{{ $s := secret "p" }}{{ byMeta "m" $s }}',
     'executing "" at <$s>: wrong type for value; expected []*dependency.HealthService; got '
     "*dependency.Secret"),
    ('{{ explode "x" }}',
     "executing \"\" at <\"x\">: can't handle \"x\" for arg of type []*dependency.KeyPair"),
    ('{{ range (secret "p").Data.list }}{{ explode . }}{{ end }}',
     'executing "" at <.>: wrong type for value; expected []*dependency.KeyPair; got '
     "json.Number"),
    ('{{ byTag (secret "p").Data }}',
     "error calling byTag: byTag: wrong argument type map[string]interface {}"),
    ('{{ byPort "x" }}', "error calling byPort: byPort: wrong argument type string"),
])
def test_consul_helpers_refuse_everything_else(text: str, message: str) -> None:
    assert render_error(text).endswith(message)


# --------------------------------------------------------------------------------------------
# sockaddr on a made-up host


def _host() -> Host:
    lo = Interface(1, 65536, "lo", b"", 0b100101)
    eth = Interface(2, 1500, "eth0", bytes.fromhex("020000000001"), 0b110011)
    wg = Interface(3, 1420, "wg0", b"", 0b101001)
    addrs = [
        IfAddr(new_ip_addr("127.0.0.1/8"), lo), IfAddr(new_ip_addr("::1"), lo),
        IfAddr(new_ip_addr("10.0.0.5/24"), eth), IfAddr(new_ip_addr("203.0.113.9/24"), eth),
        IfAddr(new_ip_addr("198.51.100.77/25"), eth), IfAddr(new_ip_addr("2001:db8::5/64"), eth),
        IfAddr(new_ip_addr("2a00:1450::1/64"), eth), IfAddr(new_ip_addr("fe80::1/64"), eth),
        IfAddr(new_ip_addr("100.64.0.2/10"), wg), IfAddr(new_ip_addr("8.8.8.8/32"), wg),
    ]
    return Host(IfAddrs(addrs), "eth0")


def sock(form: str, host: Host | None = None) -> str:
    return render_sockaddr("{{ " + form + " }}", host or _host())


@pytest.mark.parametrize(("form", "expected"), [
    ("GetPrivateIP", "10.0.0.5"),
    ("GetPrivateIPs", "100.64.0.2 10.0.0.5"),  # all of them, by type and network size
    ("GetPublicIP", "2a00:1450::1"),
    ("GetPublicIPs", "8.8.8.8 2a00:1450::1"),
    ('GetInterfaceIP "eth"', "10.0.0.5"),
    ('GetInterfaceIPs "^wg"', "100.64.0.2 8.8.8.8"),
    ('GetDefaultInterfaces | join "address" " "',
     "10.0.0.5 203.0.113.9 198.51.100.77 2001:db8::5 2a00:1450::1 fe80::1"),
    ('GetPrivateInterfaces | join "name" " "', "eth0 wg0"),
    ('GetAllInterfaces | include "flags" "point-to-point" | join "address" " "',
     "100.64.0.2 8.8.8.8"),
    ('GetAllInterfaces | include "flags" "forwardable" | include "type" "ipv4" '
     '| join "address" " "', "10.0.0.5 100.64.0.2 8.8.8.8"),
    ('GetAllInterfaces | include "rfc" "5737" | join "network" " "', "203.0.113.0 198.51.100.0"),
    ('GetAllInterfaces | include "network" "198.51.100.0/24" | join "broadcast" " "',
     "198.51.100.127"),
    ('GetAllInterfaces | include "name" "eth0" | sort "-size,address" | join "string" " "',
     "198.51.100.77/25 10.0.0.5/24 203.0.113.9/24 2001:db8::5/64 2a00:1450::1/64 fe80::1/64"),
    ('GetAllInterfaces | include "name" "wg0" | join "size" " "', "4194304 1"),
    ('GetAllInterfaces | include "type" "ipv6" | limit 1 | join "uint128" " "', "1"),
    ('GetAllInterfaces | include "address" "^8" | math "network" "-1" | attr "string"',
     "8.8.8.8"),
    ('GetAllInterfaces | include "name" "wg0" | math "mask" "8" | join "string" " "',
     "100.0.0.0/8 8.0.0.0/8"),
    ('GetAllInterfaces | include "type" "ipv6" | math "address" "-2" | join "address" " "',
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 2001:db8::3 2a00:144f:ffff:ffff:ffff:ffff:ffff:ffff "
     "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
])
def test_sockaddr_on_a_made_up_host(form: str, expected: str) -> None:
    assert sock(form) == expected


def test_sockaddr_without_a_default_route() -> None:
    host = Host(_host().if_addrs, None)
    with pytest.raises(FuncError, match="error calling GetDefaultInterfaces: No default "
                                        "interface found"):
        sock("GetDefaultInterfaces", host)
    # The private interfaces are then sorted by type and size only.
    assert sock('GetPrivateInterfaces | join "address" " "', host) == "100.64.0.2 10.0.0.5"


@pytest.mark.parametrize(("text", "attrs"), [
    ("192.168.1.10/24", {"network": "192.168.1.0", "first_usable": "192.168.1.1",
                         "last_usable": "192.168.1.254", "broadcast": "192.168.1.255",
                         "netmask": "255.255.255.0", "size": "256", "uint32": "3232235786",
                         "hex": "c0a8010a", "octets": "192 168 1 10", "mask_bits": "24"}),
    ("10.1.2.3:8080", {"port": "8080", "host": "10.1.2.3:8080", "string": "10.1.2.3:8080",
                       "mask_bits": "32"}),
    ("[2001:db8::1]:443", {"port": "443", "string": "[2001:db8::1]:443", "type": "IPv6"}),
    ("10.0.0.1/31", {"first_usable": "10.0.0.0", "last_usable": "10.0.0.1"}),
    ("::ffff:10.0.0.1/120", {"address": "10.0.0.1", "type": "IPv4", "string": "10.0.0.1/24"}),
    ("fd00::1/48", {"network": "fd00::", "last_usable": "fd00::ffff:ffff:ffff:ffff:ffff",
                    "netmask": "ffff:ffff:ffff::", "size": str(1 << 80)}),
])
def test_address_attributes(text: str, attrs: dict[str, str]) -> None:
    if_addr = IfAddr(new_ip_addr(text), Interface(1, 1500, "x", b"", 1))
    assert {name: if_addr_attr(if_addr, name) for name in attrs} == attrs


@pytest.mark.parametrize(("text", "expected"), [
    ("1.2.3.4", IPv4Addr(0x01020304)),
    ("1.2.3.4/00ffffff", IPv4Addr(0x01020304)),
    ("::1", IPv6Addr(1)),
    ("[::1]", IPv6Addr(1)),
])
def test_new_ip_addr(text: str, expected: object) -> None:
    assert new_ip_addr(text) == expected


@pytest.mark.parametrize("text", ["bogus", "1.2.3.4/33", "01.2.3.4", "fe80::1%eth0", "", "1.2.3"])
def test_new_ip_addr_refuses(text: str) -> None:
    with pytest.raises(Exception, match=f"invalid IPAddr {re.escape(text)}"):
        new_ip_addr(text)


@pytest.mark.parametrize(("form", "message"), [
    ('GetAllInterfaces | limit -1', "at <-1>: expected unsigned integer; found -1"),
    ('GetAllInterfaces | limit "2"', 'at <"2">: expected unsigned integer; found "2"'),
    ('GetAllInterfaces | limit 1.5', "at <1.5>: expected unsigned integer; found 1.5"),
    ('"x" | join "a" "b"', "wrong type for value; expected sockaddr.IfAddrs; got string"),
    ('GetAllInterfaces | include "type" "ipv6" | math "mask" "129"',
     'parameter for operation "mask" on ipv6 addresses must be between 0 and 64'),
    ('GetAllInterfaces | math "address" "+4294967296"',
     'unable to convert "+4294967296" to int for operation "address": strconv.ParseInt: '
     'parsing "+4294967296": value out of range'),
    ('GetAllInterfaces | include "rfc" "18446744073709551616"',
     'unable to lookup RFC number "18446744073709551616": unable to parse RFC number '
     '"18446744073709551616": strconv.ParseUint: parsing "18446744073709551616": value out '
     'of range'),
    ('GetAllInterfaces | unique "näme"', 'unsupported unique constraint "n\\u00e4me"'),
])
def test_sockaddr_errors(form: str, message: str) -> None:
    with pytest.raises(FuncError) as info:
        sock(form)
    assert str(info.value).endswith(message)


def test_sockaddr_nil_is_an_empty_list() -> None:
    assert sock('join "address" " " nil') == ""
    assert sock("len (limit 0 .)") == "0"
    # Go refuses a computed number for limit's uint; it is taken here.
    assert sock("len (limit (len .) .)") == "10"


def test_the_host_is_read_from_the_kernel() -> None:
    host = Host.read()
    loopback = [a for a in host.if_addrs if a.addr.string() == "127.0.0.1/8"]
    assert loopback and loopback[0].interface.flags & 4  # FlagLoopback
    assert render('{{ sockaddr "GetAllInterfaces | include \\"flags\\" \\"loopback\\" '
                  '| include \\"type\\" \\"ipv4\\" | attr \\"address\\"" }}') == "127.0.0.1"
