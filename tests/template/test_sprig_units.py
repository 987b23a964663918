"""Sprig functions without a server: what the differential test cannot check (sha512sum,
the render context's clock and environment, time zones, lazy loading, this agent's size
bounds) and Go behaviour pinned with vectors produced by Vault Agent itself.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from s4e_secret_agent.template import RenderContext, Template, TemplateError
from s4e_secret_agent.template.funcs import GROUPS
from s4e_secret_agent.template.funcs.sprig.timeval import (
    GoTimeValue,
    Location,
    TimeParseError,
    format_duration,
    load_location,
    parse_duration,
    parse_time,
)
from s4e_secret_agent.template.signature import FuncError

ROOT = Path(__file__).resolve().parents[2]


def render(text: str, **ctx: object) -> str:
    return Template.parse(text, name="t").render(RenderContext(**ctx))  # type: ignore[arg-type]


def sprig_groups() -> dict[str, frozenset[str]]:
    return {g: names for g, names in GROUPS.items() if g.startswith("sprig.")}


# ------------------------------------------------------------------------------------------
# the registry


def test_every_sprig_name_is_registered_and_implemented() -> None:
    names: set[str] = set()
    for group, members in sprig_groups().items():
        module = importlib.import_module(f"s4e_secret_agent.template.funcs.{group}")
        assert set(module.functions()) == members, group
        assert not names & members
        names |= members
    # Sprig v3.2.3's TxtFuncMap (210 names) plus sha512sum from v3.3.0.
    assert len(names) == 211
    assert {"sprig_mulf", "sprig_sha512sum", "sprig_must_date_modify", "sprig_tuple"} <= names


def _modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=ROOT, timeout=60).stdout
    return set(out.split())


def test_a_string_function_loads_no_date_crypto_or_certificate_code() -> None:
    loaded = _modules_after("from s4e_secret_agent.template import Template\n"
                            "print(Template.parse('{{ sprig_upper \"x\" }}').render())")
    assert "s4e_secret_agent.template.funcs.sprig.strings" in loaded
    for heavy in ("s4e_secret_agent.template.funcs.sprig.dates",
                  "s4e_secret_agent.template.funcs.sprig.certs",
                  "s4e_secret_agent.template.funcs.sprig.crypto", "cryptography", "bcrypt",
                  "zoneinfo"):
        assert heavy not in loaded


@pytest.mark.parametrize("group", sorted(sprig_groups()))
def test_importing_a_group_stays_cheap(group: str) -> None:
    loaded = _modules_after(f"import s4e_secret_agent.template.funcs.{group}")
    assert not {"cryptography", "bcrypt", "zoneinfo", "decimal", "fractions", "hashlib",
                "secrets", "socket", "uuid"} & loaded


# ------------------------------------------------------------------------------------------
# hashes and crypto (vectors from OpenBao's agent)


def test_sha512sum_is_sprig_3_3() -> None:
    assert render('{{ sprig_sha512sum "abc" }}') == hashlib.sha512(b"abc").hexdigest()
    assert render('{{ "" | sprig_sha512sum }}') == hashlib.sha512(b"").hexdigest()


def test_derive_password_matches_vault_agent() -> None:
    out = render('{{ sprig_derivePassword 7 "long" "correct horse" "alice" "vault.example" }} '
                 '{{ sprig_derivePassword 1 "maximum" "correct horse" "alice" "vault.example" }} '
                 '{{ sprig_derivePassword 3 "pin" "pw" "bob" "db" }}')
    assert out == "GupoWarj6?Quqi Rw@Lv^S$6y%tVWQ(6D5- 6631"


def test_decrypts_what_vault_agent_encrypted() -> None:
    assert render('{{ sprig_decryptAES "k3y" "qyAwSkG1LISplsIt683FTjBafhUDjO1aYJdH87quCIb51ny8'
                  'hrwoSjkZq99mqRR6" }}') == "db-password: s3cr3t!"
    # Sprig cuts a password longer than 32 bytes.
    assert render('{{ sprig_decryptAES "a key that is longer than thirty-two bytes" '
                  '"EuPU44xZ+iCxVA+9Br/f2QbzNpMXem97AAEeQ0i/rtg=" }}') == "x"
    assert render('{{ sprig_decryptAES "a key that is longer than thirty-two bytesXXX" '
                  '"EuPU44xZ+iCxVA+9Br/f2QbzNpMXem97AAEeQ0i/rtg=" }}') == "x"


def test_encrypt_aes_form_and_round_trip() -> None:
    cipher = render('{{ sprig_encryptAES "pw" "sixteen bytes!!!" }}')
    assert len(base64.b64decode(cipher)) == 16 + 32  # IV, then a whole block of padding
    assert render(f'{{{{ sprig_decryptAES "pw" "{cipher}" }}}}') == "sixteen bytes!!!"
    assert render('{{ sprig_encryptAES "pw" "" }}') == ""


def test_bcrypt_accepts_vault_agent_hashes_and_makes_go_ones() -> None:
    import bcrypt

    assert bcrypt.checkpw(b"hunter2",
                          b"$2a$10$Fdv5QntK5bOHN3rY2aIW.OQkZvwnvqqezyIFWYCb9OylaJ8UHeQd2")
    hashed = render('{{ sprig_bcrypt "hunter2" }}')
    assert re.fullmatch(r"\$2a\$10\$[./A-Za-z0-9]{53}", hashed)
    assert bcrypt.checkpw(b"hunter2", hashed.encode())
    assert render('{{ sprig_htpasswd "a:b" "x" }}') == "invalid username: a:b"


def _openssl(*args: str, data: str) -> str:
    return subprocess.run(["openssl", *args], input=data, capture_output=True, text=True,
                          check=True, timeout=60).stdout


def test_generated_ca_and_signed_certificate_verify(tmp_path: Path) -> None:
    out = render('{{ $k := sprig_genPrivateKey "ecdsa" }}{{ $ca := sprig_genCAWithKey "ca" 2 $k }}'
                 '{{ $c := sprig_genSignedCert "svc" (sprig_list "10.1.2.3") '
                 '(sprig_list "svc.local") 1 $ca }}{{ $ca.Cert }}{{ $c.Cert }}{{ $c.Key }}')
    ca, leaf, key = re.findall(r"-----BEGIN [A-Z ]+-----\n.*?-----END [A-Z ]+-----\n", out,
                               re.S)
    assert key.startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    assert "Key is valid" in _openssl("pkey", "-check", "-noout", data=key)
    (tmp_path / "ca.pem").write_text(ca)
    assert "OK" in _openssl("verify", "-CAfile", str(tmp_path / "ca.pem"), data=leaf)
    text = _openssl("x509", "-noout", "-text", data=leaf)
    assert "DNS:svc.local, IP Address:10.1.2.3" in text
    assert "TLS Web Server Authentication, TLS Web Client Authentication" in text
    assert "ecdsa-with-SHA256" in text


@pytest.mark.parametrize(("kind", "block"), [("ecdsa", "EC PRIVATE KEY"),
                                             ("ed25519", "PRIVATE KEY")])
def test_private_key_blocks(kind: str, block: str) -> None:
    pem = render(f'{{{{ sprig_genPrivateKey "{kind}" }}}}')
    assert pem.startswith(f"-----BEGIN {block}-----\n")
    assert pem.endswith(f"-----END {block}-----\n")
    assert "Key is valid" in _openssl("pkey", "-check", "-noout", data=pem)


# ------------------------------------------------------------------------------------------
# the render context: environment and clock


def test_env_and_expandenv_read_the_render_context() -> None:
    env = {"HOME_DIR": "/home/x", "EMPTY": ""}
    out = render('{{ sprig_env "HOME_DIR" }}|{{ sprig_env "NOPE" }}|'
                 '{{ sprig_expandenv "$HOME_DIR/${HOME_DIR}:$NOPE:$EMPTY:$$:${}:$" }}',
                 env=env.get)
    # "$$" is the shell variable "$", "${}" bad syntax Go drops, a final "$" stays.
    assert out == "/home/x||/home/x//home/x:::::$"


def test_now_comes_from_the_render_context() -> None:
    ctx = {"now": lambda: 1700000000.25}
    assert render('{{ sprig_dateInZone "2006-01-02 15:04:05.000 MST" sprig_now "UTC" }}',
                  **ctx) == "2023-11-14 22:13:20.250 UTC"
    assert render("{{ sprig_ago 1699999000 }}", **ctx) == "16m40s"
    assert render('{{ sprig_durationRound (sprig_toDate "2006" "2023") }}', **ctx) == "10mo"


def test_local_time_zone_follows_tz() -> None:
    code = ("from s4e_secret_agent.template import Template\n"
            "print(Template.parse('{{ sprig_date \"15:04 MST\" 1700000000 }}').render())")

    def local(tz: str | None) -> str:
        env = {k: v for k, v in os.environ.items() if k != "TZ"}
        if tz is not None:
            env["TZ"] = tz
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, cwd=ROOT, env=env, timeout=60).stdout.strip()

    assert local("America/New_York") == "17:13 EST"
    assert local("") == "22:13 UTC"
    assert local("No/Such_Zone") == "22:13 UTC"


# ------------------------------------------------------------------------------------------
# Go's time package


def _utc(sec: int, nsec: int = 0) -> GoTimeValue:
    return GoTimeValue(sec, nsec, Location("UTC"))


@pytest.mark.parametrize(("layout", "expected"), [
    ("2006-01-02T15:04:05Z07:00", "2023-11-14T22:13:20Z"),
    ("Mon Jan _2 15:04:05 2006", "Tue Nov 14 22:13:20 2023"),
    ("02/01/06 03:04:05.000000 PM", "14/11/23 10:13:20.123456 PM"),
    ("15:04:05.999999999", "22:13:20.123456789"),
    (".9 ,000 .99999", ".1 ,123 .12345"),
    ("January Monday __2 002", "November Tuesday 318 318"),
    ("Janet Month", "Janet Month"),
])
def test_go_layouts(layout: str, expected: str) -> None:
    assert _utc(1700000000, 123456789).format(layout) == expected


def test_time_string_and_zones() -> None:
    new_york = load_location("America/New_York")
    assert new_york is not None
    t = GoTimeValue(1700000000, 5, new_york, mono=1_500_000_000)
    assert t.go_string() == "2023-11-14 17:13:20.000000005 -0500 EST m=+1.500000000"
    assert load_location("../etc/passwd") is None
    assert load_location("Not/AZone") is None


def test_parse_time() -> None:
    utc = Location("UTC")
    t = parse_time("2006-01-02 15:04:05 -07:00", "2020-02-29 12:30:00 +05:30", utc)
    assert t.go_string() == "2020-02-29 12:30:00 +0530 +0530"
    assert t.sec == 1582959600
    with pytest.raises(TimeParseError, match=r'parsing time "2020-02-30": day out of range'):
        parse_time("2006-01-02", "2020-02-30", utc)
    with pytest.raises(TimeParseError, match=r'cannot parse "x" as "01"'):
        parse_time("2006-01-02", "2020-x", utc)


@pytest.mark.parametrize(("text", "ns", "string"), [
    ("1h30m", 5400 * 10**9, "1h30m0s"),
    ("1.5µs", 1500, "1.5µs"),
    ("-2.25ms", -2_250_000, "-2.25ms"),
    ("300ns", 300, "300ns"),
    ("0", 0, "0s"),
    ("2562047h47m16.854775807s", 2**63 - 1, "2562047h47m16.854775807s"),
])
def test_durations(text: str, ns: int, string: str) -> None:
    assert parse_duration(text) == ns
    assert format_duration(ns) == string


@pytest.mark.parametrize(("text", "message"), [
    ("", 'time: invalid duration ""'),
    ("5", 'time: missing unit in duration "5"'),
    ("5y", 'time: unknown unit "y" in duration "5y"'),
    ("9999999999h", 'time: invalid duration "9999999999h"'),
])
def test_duration_errors(text: str, message: str) -> None:
    with pytest.raises(FuncError) as info:
        parse_duration(text)
    assert str(info.value) == message


# ------------------------------------------------------------------------------------------
# Go semantics worth pinning


def test_set_and_merge_change_the_map_they_are_given() -> None:
    out = render('{{ $d := sprig_dict "a" 1 }}{{ $_ := sprig_set $d "b" 2 }}'
                 '{{ $_ := sprig_merge $d (sprig_dict "c" 3 "a" 9) }}{{ $d }}')
    assert out == "map[a:1 b:2 c:3]"


def test_keys_and_values_follow_the_sorted_keys() -> None:
    assert render('{{ sprig_keys (sprig_dict "b" 1 "a" 2 "c" 3) }}') == "[a b c]"
    assert render('{{ sprig_values (sprig_dict "b" 1 "a" 2 "c" 3) }}') == "[2 1 3]"


def test_json_of_sprig_values() -> None:
    out = render('{{ sprig_toJson (sprig_list (sprig_semver "v1.2.3") (sprig_toDate "2006" "2020")'
                 ' (sprig_until 2) (sprig_rest (sprig_list))) }}')
    assert json.loads(out) == ["1.2.3", "2020-01-01T00:00:00Z", [0, 1], None]


@pytest.mark.parametrize("text", [
    '{{ sprig_repeat 100000000 "abc" }}',
    "{{ sprig_until 100000000 }}",
    '{{ sprig_seq 1 100000000 }}',
    "{{ sprig_randAlpha 100000000 }}",
])
def test_huge_results_are_refused(text: str) -> None:
    with pytest.raises(TemplateError):
        render(text)
