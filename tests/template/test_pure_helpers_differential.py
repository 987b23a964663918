"""Differential test of ``sockaddr``, the ``spew_*`` dumps and ``explodeMap`` against the real
``bao agent`` (OpenBao's Vault Agent) reading the same OpenBao server.

* ``sockaddr``: same bytes, and same error messages, on this host; and again inside a private
  network namespace with a richer made-up network (``netns_reference.py``), when the test
  may create one.
* ``spew_sdump`` / ``spew_sprintf``: same bytes except for what cannot be the same: pointer
  addresses (Go's differ on every run), the order of map keys (Go's is random, ours sorted)
  and values Vault makes fresh for every request (request ids, tokens). Both sides are
  brought to a canonical form for exactly those before comparing.
* ``spew_dump`` / ``spew_printf`` put nothing into the file and print to standard output.
* ``explode``, ``byKey``, ``byTag``, ``byPort`` and ``byMeta`` exist only in HashiCorp's
  consul-template (``tests/template/test_pure_helpers.py`` covers what they do here); OpenBao's
  agent refuses to parse them, which is checked as the reference's own behaviour.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from s4e_secret_agent.errors import AgentError
from s4e_secret_agent.template import RenderContext
from tests.template.differential import (
    FIXTURE_FILE,
    CorpusCase,
    http_context,
    render_ours,
    run_agent,
    run_agent_all,
    seed,
)
from tests.template.netns_reference import NETWORK_SETUP
from tests.testbed.openbao import OpenBaoServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

# go-sockaddr forms that render on any Linux host ("lo" is the only interface name assumed).
SOCKADDR_FORMS = [
    "GetAllInterfaces", "GetDefaultInterfaces", "GetPrivateInterfaces", "GetPublicInterfaces",
    "GetPrivateIP", "GetPrivateIPs", "GetPublicIP", "GetPublicIPs",
    'GetInterfaceIP "lo"', 'GetInterfaceIPs "lo"', 'GetInterfaceIP "."', 'GetInterfaceIPs "."',
    'GetInterfaceIP "no-such-interface"',
    *[f'GetAllInterfaces | join "{attr}" ","' for attr in (
        "name", "flags", "address", "network", "port", "type", "string", "host", "netmask",
        "mask_bits", "binary", "hex", "first_usable", "last_usable", "octets", "size")],
    'GetAllInterfaces | include "type" "ipv4" | join "broadcast" " "',
    'GetAllInterfaces | include "type" "ipv4" | join "uint32" " "',
    'GetAllInterfaces | include "type" "ipv6" | join "uint128" " "',
    'GetAllInterfaces | include "name" "lo"', 'GetAllInterfaces | exclude "name" "lo"',
    'GetAllInterfaces | include "type" "IPv4" | attr "address"',
    'GetAllInterfaces | include "type" "ipv6|ipv4" | join "address" " "',
    'GetAllInterfaces | include "flags" "loopback" | join "address" " "',
    'GetAllInterfaces | include "flag" "up|multicast" | join "address" " "',
    'GetAllInterfaces | include "flags" "forwardable" | join "address" " "',
    'GetAllInterfaces | include "flags" "global unicast|link-local unicast" | join "string" " "',
    'GetAllInterfaces | include "flags" "down" | len',
    'GetAllInterfaces | include "rfc" "6890" | join "address" " "',
    'GetAllInterfaces | exclude "rfcs" "1918|4193" | join "address" " "',
    'GetAllInterfaces | include "network" "127.0.0.0/8|::1" | join "address" " "',
    'GetAllInterfaces | include "type" "ipv6" | include "size" "128" | join "address" " "',
    'GetAllInterfaces | include "port" "^0$" | len',
    'GetAllInterfaces | include "address" "^127\\\\." | join "address" " "',
    *[f'GetAllInterfaces | sort "{key}" | join "string" " "' for key in (
        "address", "-address", "type,size", "-type,-size", "name,-address", "default",
        "-default,name", "private", "-private,port", "+size,+address")],
    'GetAllInterfaces | unique "name" | join "name" " "',
    'GetAllInterfaces | sort "address" | unique "address" | len',
    'GetAllInterfaces | limit 2 | join "address" " "', 'GetAllInterfaces | limit 0 | len',
    'GetAllInterfaces | offset 1 | join "address" " "',
    'GetAllInterfaces | offset -1 | join "address" " "',
    *[f'GetAllInterfaces | math "{op}" "{value}" | join "string" " "' for op, value in (
        ("address", "+1"), ("address", "-1"), ("network", "+1"), ("network", "-1"),
        ("mask", "8"), ("mask", "0"))],
    'GetAllInterfaces | attr "name"', 'index GetAllInterfaces 0', '. | len',
    'range GetAllInterfaces }}{{ .Name }}/{{ .Index }}/{{ .MTU }}/{{ .HardwareAddr }}/'
    '{{ .Flags }}/{{ .SockAddr }}/{{ .Interface }}/{{ .Attr "network" }};{{ end',
    'printf "%T %v" GetAllInterfaces (index GetAllInterfaces 0)', '"plain text"',
]
SOCKADDR_ERRORS = [
    'GetAllInterfaces | join "bogus" ","', 'GetAllInterfaces | join "path" ","',
    'GetAllInterfaces | include "bogus" "x"', 'GetAllInterfaces | include "name" "("',
    'GetAllInterfaces | include "flags" "bogus"', 'GetAllInterfaces | include "type" "bogus"',
    'GetAllInterfaces | include "rfc" "99999"', 'GetAllInterfaces | include "rfc" "x"',
    'GetAllInterfaces | include "size" "x"', 'GetAllInterfaces | include "network" "bogus"',
    'GetAllInterfaces | sort "bogus"', 'GetAllInterfaces | unique "bogus"',
    'GetAllInterfaces | offset 1000', 'GetAllInterfaces | math "address" "1"',
    'GetAllInterfaces | math "bogus" "+1"', 'GetAllInterfaces | math "mask" "x"',
    'GetAllInterfaces | reverse', 'attr "name" "x"', ".Missing", "GetInterfaceIP",
    'GetAllInterfaces | include "name"', 'join "name" "," "x"', "{{",
    'GetAllInterfaces | limit -1', 'GetAllInterfaces | limit "x"', '"x" | join "name" ","',
    'GetAllInterfaces | limit 1 | include "name" "lo" true', 'nil | len',
]

# Lists of these lengths in Vault show the capacities Go's append growth gives them.
LIST_LENGTHS = (0, 1, 2, 3, 4, 5, 8, 9, 16, 17, 32, 33, 64, 72, 100, 144, 256, 257, 304, 600,
                1100)

SPEW_DUMPS = {
    "scalars": '{{ spew_sdump 1 "a" 1.5 true nil 2i 1e6 0.000001 (parseInt "-5") '
               '(parseUint "6") (index "ab" 0) }}',
    "strings": '{{ spew_sdump "" "a\\"b" "\\u00e9\\u2713" "tab\\tnl\\n" '
               '(base64Decode "AAEC/w==") }}',
    "missing": "{{ spew_sdump .missing }}{{ spew_sdump }}",
    "kv2_secret": '{{ spew_sdump (secret "s4e/data/database") }}',
    "kv1_secret": '{{ spew_sdump (secret "kv1/app") }}',
    "odd_data": '{{ spew_sdump (secret "s4e/data/odd").Data.data }}',
    "raw_numbers": '{{ spew_sdump (secret "s4e/data/raw").Data }}',
    "metadata": '{{ spew_sdump (secret "s4e/data/database").Data.metadata }}',
    "nil_fields": '{{ with secret "s4e/data/database" }}{{ spew_sdump .Auth .WrapInfo .Warnings '
                  ".LeaseDuration .Renewable .LeaseID }}{{ end }}",
    "list_caps": '{{ range $k, $v := (secret "s4e/data/lists").Data.data }}{{ $k }} '
                 '{{ spew_sdump $v | sprig_splitList "\\n" | sprig_first }}\n{{ end }}',
    "secrets_list": '{{ spew_sdump (secrets "s4e/") (secrets "kv1/nested/") '
                    '(secrets "kv1/no-such/") }}',
    "token_auth": '{{ with secret "auth/token/create" "policies=default" "ttl=999999h" '
                  '"meta=team=s4e" }}{{ spew_sdump . }}{{ end }}',
    "auth_fields": '{{ with secret "auth/token/create" "policies=default,x" }}'
                   "{{ spew_sdump .Auth.Policies .Auth.Metadata .Warnings }}{{ end }}",
    "parse_json": '{{ spew_sdump (parseJSON `{"a":{"b":{"c":[[],{},null,"",1.5]}}}`) '
                  "(parseJSON `[]`) (parseJSON `null`) }}",
    "yaml_map": '{{ spew_sdump (parseYAML "a: 1\\n2: b") }}',
    "string_map": '{{ spew_sdump (splitToMap "," "=" "a=1,b=2") (split "," "x,y,z") '
                  '(split "," "") }}',
    "explode_map": '{{ spew_sdump (explodeMap (parseJSON `{"a/b":1,"a/c":"x"}`)) }}',
    "range_values": '{{ range $k, $v := (secret "s4e/data/odd").Data.data.map }}'
                    "{{ spew_sdump $k $v }}{{ end }}",
    "scratch": '{{ spew_sdump scratch }}{{ scratch.Set "k" (parseJSON `[1]`) }}'
               "{{ spew_sdump scratch }}",
    "channel": "{{ spew_sdump (loop 2) }}",
    "floats": '{{ spew_sdump true false 0 -1 1.0 1e21 1e-7 (parseFloat "NaN") '
              '(parseFloat "-Inf") (parseFloat "-0") }}',
    # A response-wrapped write fills WrapInfo, with its time.Time (see _wrapping_context).
    "wrap_info": '{{ with secret "sys/wrapping/wrap" "a=b" }}{{ spew_sdump .WrapInfo }}|'
                 '{{ spew_sprintf "%v|%+v|%#v" .WrapInfo .WrapInfo .WrapInfo }}{{ end }}',
}
SPEW_SPRINTFS = {
    "secret_v": '{{ spew_sprintf "%v" (secret "kv1/app") }}',
    "secret_plus": '{{ spew_sprintf "%+v" (secret "kv1/app") }}',
    "secret_sharp": '{{ spew_sprintf "%#v" (secret "kv1/app") }}',
    "secret_sharp_plus": '{{ spew_sprintf "%#+v" (secret "s4e/data/database") }}',
    "auth": '{{ with secret "auth/token/create" "policies=default" "ttl=999999h" }}'
            '{{ spew_sprintf "%v|%+v|%#v|%#+v" . .Auth .Warnings .Auth }}{{ end }}',
    "nil": '{{ spew_sprintf "%v|%+v|%#v|%#+v" nil .missing nil nil }}',
    "nil_pointer": '{{ with secret "kv1/app" }}{{ spew_sprintf "%v|%#v|%+v" .Auth .Auth '
                   ".WrapInfo }}{{ end }}",
    "data": '{{ spew_sprintf "%v|%#v" (secret "s4e/data/database").Data.data '
            '(secret "s4e/data/odd").Data.data.list }}',
    "json": '{{ spew_sprintf "%v|%#v" (parseJSON `{"a":[1,{"b":null}],"c":"x"}`) '
            '(parseJSON `{"a":[1,{"b":null}],"c":"x"}`) }}',
    "typed": '{{ spew_sprintf "%#v|%#v|%#v|%v" (split "," "a,b") (splitToMap "," "=" "a=1") '
             '(parseYAML "a: 1") (secrets "s4e/") }}',
    "numbers": '{{ spew_sprintf "%v %#v %v %#v %v" (secret "s4e/data/raw").Data.data.n5 '
               '(secret "s4e/data/raw").Data.data.n2 1.5 (parseInt "7") 2i }}',
    "other_verbs": '{{ spew_sprintf "%d|%s|%q|%x|%5v|%-5s|%T|%t|%05.1f|%e" 1 "a" "b" "c" "d" '
                   '"e" 1 true 2.25 1000.0 }}',
    "json_number_verbs": '{{ spew_sprintf "%s|%q|%d|%10.3v" '
                         '(secret "s4e/data/database").Data.metadata.version '
                         '(secret "s4e/data/database").Data.data.port '
                         '(secret "s4e/data/database").Data.data.port "abcdef" }}',
    "bad_formats": '{{ spew_sprintf "%v %v" 1 }}|{{ spew_sprintf "%v" 1 2 }}|'
                   '{{ spew_sprintf "%*d" 5 6 }}|{{ spew_sprintf "%.*d" 5 6 }}|'
                   '{{ spew_sprintf "%" 1 }}|{{ spew_sprintf "%[3]v %v" 1 2 }}|'
                   '{{ spew_sprintf "%[2]v %[1]v" 1 2 }}|{{ spew_sprintf "%!" }}|'
                   '{{ spew_sprintf "%%" }}|{{ spew_sprintf "%v" nil nil }}',
    "pointer_verbs": '{{ spew_sprintf "%p|%-8T|%8p|%w" 1 2 3 "x" }}',
    "indexes": '{{ spew_sprintf "%[]v|" 1 2 }}|{{ spew_sprintf "%[1" 1 }}|'
               '{{ spew_sprintf "%[2]5v|%v" 1 2 }}|{{ spew_sprintf "%.[2]v|" 1 2 }}|'
               '{{ spew_sprintf "%[0]v" 1 }}|{{ spew_sprintf "%[1]*d" 1 2 }}|'
               '{{ spew_sprintf "%v %[1]v %v" 1 2 }}|{{ spew_sprintf "%[2]d %[1]s" "a" 3 }}',
    "flags": '{{ spew_sprintf "%-+# 05.3x|%+q|% d|%x %X %o %b %c %U|%8.3f|%-8.2e|%é" 255 "é" 5 '
             "255 255 8 5 65 65 3.14159 1234.5 1 }}",
    "scratch": '{{ spew_sprintf "%v|%+v" scratch scratch }}{{ scratch.Set "a" 1 }}'
               '{{ spew_sprintf "%#v" scratch }}',
}
EXPLODE_MAPS = {
    "flat": '{{ explodeMap (parseJSON `{"a/b":1,"a/c":"x","d":true}`) }}',
    "deep": '{{ explodeMap (parseJSON `{"a/b/c/d":1,"a/b/e":[1,2],"x//y":2,"z/":3}`) '
            "| toJSON }}",
    "secret": '{{ explodeMap (secret "kv1/app").Data | toJSON }}',
    "empty": "{{ explodeMap (parseJSON `{}`) }}|{{ explodeMap nil }}|{{ explodeMap .missing }}",
    "values_kept": '{{ (explodeMap (secret "s4e/data/odd").Data.data).list }}',
    "into_existing_map": '{{ explodeMap (parseJSON `{"a":{"x":1},"a/b":2}`) }}',
}
EXPLODE_MAP_ERRORS = {
    "conflict": '{{ explodeMap (parseJSON `{"a":1,"a/b":2}`) }}',
    "conflict_deep": '{{ explodeMap (parseJSON `{"a/b":"x","a/b/c":2}`) }}',
    "conflict_parent_key": '{{ explodeMap (parseJSON `{"a/b/c":"s","a/b/c/d/e":1}`) }}',
    "conflict_list": '{{ explodeMap (parseJSON `{"a":[1,"x"],"a/b":2}`) }}',
    "yaml_map_value": '{{ explodeMap (sprig_dict "a" (parseYAML "{x: 1}") "a/b" 2) }}',
    "list_value": '{{ explodeMap (sprig_dict "a" (split "," "x,y") "a/b" 2) }}',
    "wrong_type": '{{ explodeMap (split "," "a,b") }}',
    "string_map": '{{ explodeMap (splitToMap "," "=" "a/b=1") }}',
}
CONSUL_ONLY = {
    "explode": "{{ explode nil }}", "byKey": "{{ byKey nil }}", "byTag": "{{ byTag nil }}",
    "byPort": "{{ byPort nil }}", "byMeta": '{{ byMeta "x" nil }}',
}
STDOUT_TEMPLATE = ('A{{ spew_dump (secret "kv1/app").Data "x" nil }}B'
                   '{{ spew_printf "%v|%d|%#v\\n" (secret "kv1/app").Data.count 5 "s" }}C')

ADDRESS = re.compile(r"0x[0-9a-f]{5,}")
TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})? \+0000 UTC")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TOKEN = re.compile(r"s\.[A-Za-z0-9]{24}( ?)([A-Za-z0-9]{24}\b)?")
ACCESSOR = re.compile(r"(Accessor: \(string\) \(len=24\) \"|Accessor:(?:\(string\))?)"
                      r"[A-Za-z0-9]{24}")
MAP_HEADER = re.compile(r"\((map\[.*?)\) (?:\(len=\d+\) )?\{$")


def _fresh_values(text: str) -> str:
    """Replace what differs between any two reads: addresses, request ids, tokens."""
    text = TIME.sub("TIME", ADDRESS.sub("0xADDR", UUID.sub("UUID", text)))
    text = TOKEN.sub(lambda m: "TOKEN" + m.group(1) + ("ACCESSOR" if m.group(2) else ""), text)
    return ACCESSOR.sub(lambda m: m.group(1) + "ACCESSOR", text)


def _dump_blocks(lines: list[str]) -> list[list[str]]:
    """Split dump lines into entries: a line, and for ``{`` the nested lines and its ``}``."""
    blocks: list[list[str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.endswith("{"):
            blocks.append([line])
            i += 1
            continue
        depth = len(line) - len(line.lstrip(" "))
        j = i + 1
        while j < len(lines) and not (len(lines[j]) - len(lines[j].lstrip(" ")) == depth
                                      and lines[j].lstrip(" ").startswith("}")):
            j += 1
        inner = _canonical_lines(lines[i + 1:j], MAP_HEADER.search(line) is not None)
        blocks.append([line, *inner, *lines[j:j + 1]])
        i = j + 1
    return blocks


def _canonical_lines(lines: list[str], is_map: bool = False) -> list[str]:
    blocks = _dump_blocks(lines)
    if is_map:
        entries = sorted([*block[:-1], block[-1].removesuffix(",")] for block in blocks)
        blocks = [[*entry[:-1], entry[-1] + ("," if k < len(entries) - 1 else "")]
                  for k, entry in enumerate(entries)]
    return [line for block in blocks for line in block]


def canonical_dump(text: str) -> str:
    """go-spew dump output with fresh values replaced and every map's entries sorted."""
    return "\n".join(_canonical_lines(_fresh_values(text).split("\n")))


def _split_entries(inner: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in inner:
        depth += (ch in "([{") - (ch in ")]}")
        if ch == " " and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current]


def canonical_inline(text: str) -> str:
    """go-spew inline output (``map[k:v ...]``) with fresh values replaced, entries sorted."""
    text = _fresh_values(text)
    out, i = [], 0
    while i < len(text):
        if not text.startswith("map[", i):
            out.append(text[i])
            i += 1
            continue
        depth, j = 0, i + 3
        while j < len(text):
            depth += (text[j] in "([{") - (text[j] in ")]}")
            if depth == 0:
                break
            j += 1
        inner = text[i + 4:j]
        entries = sorted(canonical_inline(e) for e in _split_entries(inner)) if inner else []
        out.append("map[" + " ".join(entries) + "]")
        i = j + 1
    return "".join(out)


def _sockaddr(form: str) -> str:
    return "{{ sockaddr " + json.dumps(form) + " }}"


def _go_unescape(message: str) -> str:
    return message.replace('\\"', '"').replace("\\\\", "\\")


def _as_vault_agent_reports(message: str) -> str:
    """consul-template hands every execution error to ``fmt.Errorf`` as the format (in its
    redaction step), so a ``%`` in the message, such as explodeMap's ``%!q(float64=1)``, is
    read as a verb once more. The engine's executor does not do that step; the messages of
    the functions themselves are compared here."""
    from s4e_secret_agent.template.gofmt import sprintf

    return sprintf(message, []) if "%" in message else message


@dataclass
class Reference:
    server: OpenBaoServer
    workdir: Path
    outputs: dict[str, bytes | None]
    errors: dict[str, str]
    stdout_log: str

    def context(self, strict: bool) -> RenderContext:
        return _wrapping_context(self.server, http_context(self.server, self.workdir,
                                                           error_on_missing_key=strict))

    def ours(self, case: CorpusCase) -> str:
        return render_ours(case, self.context).decode("utf-8", "surrogateescape")


def _wrapping_context(server: OpenBaoServer, context: RenderContext) -> RenderContext:
    """The test context, plus what Vault's Go client does for ``sys/wrapping/wrap``: it asks
    for a wrapped response (five minutes), so the Secret has a WrapInfo."""
    import dataclasses

    import requests

    from s4e_secret_agent.template import decode_json

    def secret(path: str, args: tuple[str, ...]) -> object:
        if path != "sys/wrapping/wrap":
            return context.secret(path, args)
        resp = requests.put(f"{server.address}/v1/{path}", timeout=10,
                            headers={"X-Vault-Token": server.root_token,
                                     "X-Vault-Wrap-TTL": "5m"},
                            json=dict(arg.split("=", 1) for arg in args))
        resp.raise_for_status()
        return decode_json(resp.text)

    return dataclasses.replace(context, secret=secret)


def _seed_lists(server: OpenBaoServer) -> None:
    lists = {f"len{n:04d}": list(range(n)) for n in LIST_LENGTHS}
    server.client().secrets.kv.v2.create_or_update_secret(path="lists", mount_point="s4e",
                                                          secret=lists)


GOOD: dict[str, str] = {
    **{f"sockaddr_{i}": _sockaddr(form) for i, form in enumerate(SOCKADDR_FORMS)},
    **{f"dump_{name}": text for name, text in SPEW_DUMPS.items()},
    **{f"sprintf_{name}": text for name, text in SPEW_SPRINTFS.items()},
    **{f"explodeMap_{name}": text for name, text in EXPLODE_MAPS.items()},
}
BAD: dict[str, str] = {
    **{f"sockaddr_err_{i}": _sockaddr(form) for i, form in enumerate(SOCKADDR_ERRORS)},
    **{f"explodeMap_err_{name}": text for name, text in EXPLODE_MAP_ERRORS.items()},
    **{f"consul_{name}": text for name, text in CONSUL_ONLY.items()},
    # Two arguments joined by a space, as consul-template joins them.
    "sockaddr_err_args": '{{ sockaddr "GetAllInterfaces |" "include \\"bogus\\" \\"x\\"" }}',
}


@pytest.fixture(scope="module")
def reference() -> Iterator[Reference]:
    # A private server: the cases mount "s4e/" and "kv1/" and must not meet other tests' data.
    with OpenBaoServer() as server:
        seed(server)
        _seed_lists(server)
        workdir = Path(tempfile.mkdtemp(prefix="tpl-pure-"))
        (workdir / FIXTURE_FILE[0]).write_text(FIXTURE_FILE[1])
        outputs, errors = run_agent_all(
            server, [CorpusCase(name, text) for name, text in GOOD.items()], workdir)

        def run_one(name: str) -> tuple[str, bytes | None, str]:
            run = run_agent(server, [CorpusCase(name, BAD[name])], workdir)
            match = re.search(r'error="(?:.*?\.tmpl: )?(.*?)" backoff', run.log)
            return name, run.outputs[name] if run.returncode == 0 else None, (
                match.group(1) if match else run.log)

        # The agent mostly waits while it shuts down after an error: run several at once.
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            for name, out, message in pool.map(run_one, BAD):
                outputs[name] = out
                errors[name] = message
        stdout_run = run_agent(server, [CorpusCase("stdout", STDOUT_TEMPLATE)], workdir)
        outputs["stdout"] = stdout_run.outputs["stdout"]
        yield Reference(server, workdir, outputs, errors, stdout_run.log)


def _reference_output(reference: Reference, name: str) -> str:
    expected = reference.outputs[name]
    assert expected is not None, f"bao agent failed: {reference.errors.get(name)}"
    return expected.decode("utf-8", "surrogateescape")


@pytest.mark.parametrize("name", [n for n in GOOD if n.startswith("sockaddr_")])
def test_sockaddr_renders_like_vault_agent(name: str, reference: Reference) -> None:
    assert reference.ours(CorpusCase(name, GOOD[name])) == _reference_output(reference, name)


@pytest.mark.parametrize("name", [n for n in BAD if n.startswith(("sockaddr_", "explodeMap_"))])
def test_fails_like_vault_agent(name: str, reference: Reference) -> None:
    assert reference.outputs[name] is None, "bao agent rendered a template expected to fail"
    with pytest.raises(AgentError) as info:
        reference.ours(CorpusCase(name, BAD[name]))
    expected = re.sub(r"^(execute|parse): ", "", _go_unescape(reference.errors[name]))
    assert _as_vault_agent_reports(str(info.value)) == expected


@pytest.mark.parametrize("name", [n for n in GOOD if n.startswith("dump_")])
def test_spew_sdump_like_vault_agent(name: str, reference: Reference) -> None:
    ours = reference.ours(CorpusCase(name, GOOD[name]))
    assert canonical_dump(ours) == canonical_dump(_reference_output(reference, name))


@pytest.mark.parametrize("name", [n for n in GOOD if n.startswith("sprintf_")])
def test_spew_sprintf_like_vault_agent(name: str, reference: Reference) -> None:
    ours = reference.ours(CorpusCase(name, GOOD[name]))
    assert canonical_inline(ours) == canonical_inline(_reference_output(reference, name))


@pytest.mark.parametrize("name", [n for n in GOOD if n.startswith("explodeMap_")])
def test_explode_map_like_vault_agent(name: str, reference: Reference) -> None:
    assert reference.ours(CorpusCase(name, GOOD[name])) == _reference_output(reference, name)


def test_list_capacities_follow_go(reference: Reference) -> None:
    # Every length in LIST_LENGTHS printed a cap=; the comparison above covers the values,
    # this makes sure that the data really exercised Go's growth (one size class, malloc
    # headers, the large-object rounding).
    text = _reference_output(reference, "dump_list_caps")
    caps = dict(re.findall(r"len(\d{4}) \(\[\]interface \{\}\) .*?cap=(\d+)", text))
    assert caps["0033"] == "71" and caps["1100"] == "1535" and len(caps) == len(LIST_LENGTHS) - 1


def test_wrapped_response_shows_go_time(reference: Reference) -> None:
    # The comparison above replaces the times; this makes sure they were Go's time.Time text.
    text = _fresh_values(_reference_output(reference, "dump_wrap_info"))
    assert "CreationTime: (time.Time) TIME,\n" in text and " TIME " in text.split("|")[1]


def test_spew_dump_and_printf_write_to_standard_output(
        reference: Reference, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    case = CorpusCase("stdout", STDOUT_TEMPLATE)
    assert reference.ours(case) == _reference_output(reference, "stdout") == "ABC"
    printed = capsysbinary.readouterr().out.decode("utf-8", "surrogateescape")
    # Vault Agent also renders once before the secret arrives (printing nil dumps then);
    # its last render prints what ours prints.
    assert printed.startswith("(map[string]interface {}) (len=3) {\n")
    assert canonical_dump(printed) in canonical_dump(reference.stdout_log)


@pytest.mark.parametrize("name", list(CONSUL_ONLY))
def test_consul_only_helpers_do_not_parse_in_openbao(name: str, reference: Reference) -> None:
    # OpenBao removed them with Consul; HashiCorp's Vault Agent (which this agent follows
    # for them) has them. See test_pure_helpers.py for their behaviour.
    assert reference.outputs[f"consul_{name}"] is None
    assert f'function \\"{name}\\" not defined' in reference.errors[f"consul_{name}"]


def _can_build_network_namespace() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "sh", "-c", "ip link add v0 type veth peer name "
                            "v1"], capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


NETNS_FORMS = [
    *SOCKADDR_FORMS,
    *[f'GetAllInterfaces | sort "{key}" | join "string" " "' for key in (
        "size", "-size", "type,-size,address", "default,name", "-default,-private,size",
        "port,name,-address")],
    'GetAllInterfaces | include "rfc" "1918" | join "string" " "',
    'GetAllInterfaces | include "rfcs" "6598|5737|2544" | join "string" " "',
    'GetAllInterfaces | include "network" "10.0.0.0/8|2001:db8::/32" | join "string" " "',
    'GetAllInterfaces | include "size" "24" | join "string" " "',
    'GetAllInterfaces | include "type" "ipv4|ipv6" | len',
    'GetAllInterfaces | sort "name" | unique "name" | join "name" " "',
    'GetAllInterfaces | exclude "type" "ipv6" | sort "-address" | join "address" " "',
    'GetInterfaceIP "v1"', 'GetInterfaceIPs "v1"', 'GetInterfaceIP "v0"', 'GetInterfaceIPs "v"',
    'GetAllInterfaces | include "name" "v1" | math "network" "+7" | join "string" " "',
    'GetAllInterfaces | include "name" "v1" | math "network" "-2" | join "string" " "',
    'GetAllInterfaces | include "name" "v0" | math "address" "-4294967296" | join "string" " "',
    'GetAllInterfaces | math "mask" "20" | join "string" " "',
    'GetAllInterfaces | include "type" "ipv6" | math "network" "+0" | join "string" " "',
    'GetAllInterfaces | include "type" "ipv6" | join "size" " "',
    'GetAllInterfaces | math "mask" "33"', 'GetAllInterfaces | join "broadcast" " "',
]


@pytest.mark.skipif(sys.platform != "linux", reason="network namespaces are Linux's")
def test_sockaddr_on_a_richer_private_network() -> None:
    if not _can_build_network_namespace():
        pytest.skip("this host does not let the test create a network namespace with veth")
    workdir = Path(tempfile.mkdtemp(prefix="tpl-netns-"))
    cases = workdir / "cases.json"
    results = workdir / "results.json"
    cases.write_text(json.dumps({f"f{i}": _sockaddr(form) for i, form in enumerate(NETNS_FORMS)}))
    script = (NETWORK_SETUP + f"\nexec {sys.executable} -m tests.template.netns_reference "
              f"{cases} {results}\n")
    subprocess.run(["unshare", "-n", "sh", "-c", script], cwd=ROOT, check=True, timeout=600)
    outcome = json.loads(results.read_text())
    for i, form in enumerate(NETNS_FORMS):
        got = outcome[f"f{i}"]
        if got["reference_error"] is None:
            assert got["ours"] == got["reference"], form
        else:
            expected = re.sub(r"^(execute|parse): ", "", _go_unescape(got["reference_error"]))
            assert _as_vault_agent_reports(got["our_error"] or "") == expected, form
    # The sorts above must have run on more than twelve addresses (Go's pdqsort, not only
    # its insertion sort).
    assert len(outcome["f0"]["reference"].split("} ")) > 12
