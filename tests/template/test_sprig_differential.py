"""Sprig differential test: every ``sprig_*`` function rendered by ``bao agent`` and by our
engine against the same live OpenBao, with the same bytes expected.

The corpus (``sprig_corpus.txt``) exercises each function with its types (``typeOf``),
number formatting, edge cases and errors. What cannot be identical bytes (random values, keys
and certificates, bcrypt salts, the current time) is checked for Sprig's form and validity
instead: regular expressions, ``openssl``, AES decryption in both directions, bcrypt
verification.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from s4e_secret_agent.errors import AgentError, TemplateError
from s4e_secret_agent.template import RenderContext
from s4e_secret_agent.template.funcs import GROUPS
from tests.template.differential import (
    FIXTURE_FILE,
    CorpusCase,
    http_context,
    render_ours,
    run_agent,
    run_agent_all,
    seed,
)
from tests.testbed.openbao import OpenBaoServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CORPUS = Path(__file__).with_name("sprig_corpus.txt")


def load_sprig_corpus() -> list[CorpusCase]:
    cases = []
    for block in CORPUS.read_text(encoding="utf-8").split("\n#### ")[1:]:
        name, _, text = block.partition("\n")
        cases.append(CorpusCase(f"sprig_{name.strip()}", text.removesuffix("\n")))
    return cases


CASES = load_sprig_corpus()
GOOD = [c for c in CASES if not c.expect_error]
BAD = [c for c in CASES if c.expect_error]

# Templates whose output is random or depends on the clock: checked by form, not bytes.
FORM_TEMPLATES = {
    "now": "{{ sprig_now }}",
    "now_date": '{{ sprig_date "2006-01-02T15:04:05Z07:00" sprig_now }}',
    "date_json_number": '{{ with secret "s4e/data/odd" }}{{ sprig_date "2006" .Data.data.int }}'
                        "{{ end }}",
    "ago": "{{ sprig_ago 0 }}",
    "shuffle": '{{ sprig_shuffle "abcdef" }}',
    "rand": "{{ sprig_randAlphaNum 16 }} {{ sprig_randAlpha 8 }} {{ sprig_randNumeric 6 }} "
            "{{ sprig_randAscii 12 }} {{ sprig_randBytes 9 }} {{ sprig_randInt 10 20 }} "
            "{{ sprig_uuidv4 }}",
    "bcrypt": '{{ sprig_bcrypt "s3cret pw" }}',
    "htpasswd": '{{ sprig_htpasswd "alice" "pässword" }}',
    "aes": '{{ sprig_encryptAES "k3y" "the plaintext, with unicode: é" }}',
    "rsa_key": "{{ sprig_genPrivateKey \"rsa\" }}",
    "ecdsa_key": '{{ sprig_genPrivateKey "ecdsa" }}',
    "ed25519_key": '{{ sprig_genPrivateKey "ed25519" }}',
    "dsa_key": '{{ sprig_genPrivateKey "dsa" }}',
    "ca": '{{ $ca := sprig_genCA "my-ca" 365 }}{{ $ca.Cert }}{{ $ca.Key }}',
    "self_signed": '{{ $c := sprig_genSelfSignedCert "foo.example" (sprig_list "10.0.0.1" "::1" '
                   '"::ffff:1.2.3.4") (sprig_list "foo.example" "*.foo.example") 30 }}'
                   "{{ $c.Cert }}{{ $c.Key }}",
    "self_signed_no_cn": '{{ $c := sprig_genSelfSignedCert "" nil (sprig_list "a.example") 3 }}'
                         "{{ $c.Cert }}",
    "signed": '{{ $ca := sprig_genCA "the-ca" 365 }}{{ $c := sprig_genSignedCert "leaf" nil '
              '(sprig_list "leaf.local") 10 $ca }}{{ $c.Cert }}{{ $ca.Cert }}{{ $c.Key }}',
    "signed_same_cn": '{{ $ca := sprig_genCA "same" 365 }}{{ $c := sprig_genSignedCert "same" '
                      "nil nil 10 $ca }}{{ $c.Cert }}{{ $ca.Cert }}",
    "ec_ca": '{{ $k := sprig_genPrivateKey "ecdsa" }}{{ $ca := sprig_genCAWithKey "ec-ca" 5 $k }}'
             "{{ $ca.Cert }}{{ $ca.Key }}",
    "ed25519_self_signed": '{{ $k := sprig_genPrivateKey "ed25519" }}{{ $c := '
                           'sprig_genSelfSignedCertWithKey "ed" nil nil 5 $k }}{{ $c.Cert }}'
                           "{{ $c.Key }}",
    "signed_with_key": '{{ $ca := sprig_genCA "ca" 5 }}{{ $k := sprig_genPrivateKey "ecdsa" }}'
                       '{{ $c := sprig_genSignedCertWithKey "svc" (sprig_list "127.0.0.1") nil 5 '
                       "$ca $k }}{{ $c.Cert }}{{ $ca.Cert }}{{ $c.Key }}",
    "unicode_cn": '{{ $ca := sprig_genCA "Ünïcode & co*" 5 }}{{ $ca.Cert }}',
}
# Every Sprig name is rendered by the corpus or by a form check above (sha512sum is Sprig
# 3.3.0's, which OpenBao's agent does not have: tests/template/test_sprig_units.py checks it).
NOT_IN_OPENBAO = {"sprig_sha512sum"}


@dataclass
class Reference:
    server: OpenBaoServer
    workdir: Path
    outputs: dict[str, bytes | None]
    errors: dict[str, str]

    def context(self, error_on_missing_key: bool) -> RenderContext:
        return http_context(self.server, self.workdir, error_on_missing_key=error_on_missing_key)

    def ours(self, text: str) -> str:
        return render_ours(CorpusCase("x_ours", text), self.context).decode("utf-8")


def _form_cases() -> list[CorpusCase]:
    return [CorpusCase(f"form_{name}", text) for name, text in FORM_TEMPLATES.items()]


@pytest.fixture(scope="module")
def reference() -> Iterator[Reference]:
    # A private server: the corpus mounts "s4e/" and "kv1/" and must not meet other tests' data.
    with OpenBaoServer() as server:
        seed(server)
        workdir = Path(tempfile.mkdtemp(prefix="sprig-diff-"))
        (workdir / FIXTURE_FILE[0]).write_text(FIXTURE_FILE[1])

        def run_one(case: CorpusCase) -> tuple[str, bytes | None, str]:
            run = run_agent(server, [case], workdir)
            match = re.search(r'error="(?:template server: )?(?:.*?\.tmpl: )?(.*?)" '
                              r"(?:backoff|exitCode)", run.log)
            message = match.group(1) if match else run.log
            return case.name, run.outputs[case.name] if run.returncode == 0 else None, message

        # One process renders all the good templates; the agent stops at the first failing
        # template, so each error case has its own process. They run side by side (an agent
        # mostly waits while it shuts down after an error).
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            good = pool.submit(run_agent_all, server, [*GOOD, *_form_cases()], workdir)
            failures = list(pool.map(run_one, BAD))
            outputs, errors = good.result()
        for name, out, message in failures:
            outputs[name] = out
            errors[name] = message
        yield Reference(server, workdir, outputs, errors)


def _go_unescape(message: str) -> str:
    """The error as the agent's log line has it: only its double quotes are escaped."""
    return re.sub(r"^(execute|parse): ", "", message.replace('\\"', '"'))


@pytest.mark.parametrize("case", GOOD, ids=lambda c: c.name)
def test_same_output_as_vault_agent(case: CorpusCase, reference: Reference) -> None:
    expected = reference.outputs[case.name]
    assert expected is not None, f"bao agent failed: {reference.errors.get(case.name)}"
    assert render_ours(case, reference.context) == expected


@pytest.mark.parametrize("case", BAD, ids=lambda c: c.name)
def test_fails_like_vault_agent(case: CorpusCase, reference: Reference) -> None:
    assert reference.outputs[case.name] is None, "bao agent rendered a template expected to fail"
    with pytest.raises(AgentError) as info:
        render_ours(case, reference.context)
    agent_message = _go_unescape(reference.errors[case.name])
    # The agent's log line formats the message once more: a "%" in it comes out mangled.
    if agent_message.startswith("template:") and "%!" not in agent_message:
        assert isinstance(info.value, TemplateError)
        assert str(info.value) == agent_message


def test_corpus_covers_every_sprig_function() -> None:
    used = set(re.findall(r"\bsprig_\w+", CORPUS.read_text() + " ".join(FORM_TEMPLATES.values())))
    names = {n for group, members in GROUPS.items() if group.startswith("sprig.")
             for n in members}
    assert names - used == NOT_IN_OPENBAO
    assert len(CASES) >= 250
    assert len(BAD) >= 100


# ------------------------------------------------------------------------------------------
# random values, the clock, hashes: the same form and validity on both sides


def _both(reference: Reference, name: str) -> list[str]:
    expected = reference.outputs[f"form_{name}"]
    assert expected is not None, reference.errors.get(f"form_{name}")
    return [expected.decode("utf-8"), reference.ours(FORM_TEMPLATES[name])]


def test_now_and_ago_have_go_form(reference: Reference) -> None:
    for out in _both(reference, "now"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})? [+-]\d{4} \w+ "
                            r"m=\+\d+\.\d{9}", out), out
    go, ours = _both(reference, "now_date")
    stamps = [datetime.datetime.fromisoformat(t) for t in (go, ours)]
    assert abs((stamps[1] - stamps[0]).total_seconds()) < 300  # both use this machine's clock
    go, ours = _both(reference, "date_json_number")  # a JSON number is "now" to Sprig
    assert go == ours
    for out in _both(reference, "ago"):
        assert re.fullmatch(r"\d+h\d+m\d+s", out), out


def test_random_values_have_sprig_form(reference: Reference) -> None:
    for out in _both(reference, "shuffle"):
        assert sorted(out) == sorted("abcdef")
    for out in _both(reference, "rand"):
        alnum, alpha, numeric, *rest = out.split(" ")
        assert re.fullmatch(r"[A-Za-z0-9]{16}", alnum)
        assert re.fullmatch(r"[A-Za-z]{8}", alpha)
        assert re.fullmatch(r"[0-9]{6}", numeric)
        tail = " ".join(rest)
        match = re.fullmatch(r"([ -~]{12}) ([A-Za-z0-9+/]{12}) (1\d) ([0-9a-f]{8}-[0-9a-f]{4}-4"
                             r"[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})", tail)
        assert match, tail
        assert len(base64.b64decode(match.group(2))) == 9


def test_bcrypt_hashes_verify(reference: Reference) -> None:
    import bcrypt

    for out in _both(reference, "bcrypt"):
        assert re.fullmatch(r"\$2a\$10\$[./A-Za-z0-9]{53}", out), out
        assert bcrypt.checkpw(b"s3cret pw", out.encode())
    for out in _both(reference, "htpasswd"):
        user, _, hashed = out.partition(":")
        assert user == "alice"
        assert bcrypt.checkpw("pässword".encode(), hashed.encode())


def test_aes_round_trips_with_vault_agent(reference: Reference) -> None:
    plaintext = "the plaintext, with unicode: é"
    go_cipher, our_cipher = _both(reference, "aes")
    for cipher in (go_cipher, our_cipher):
        raw = base64.b64decode(cipher)
        assert len(raw) == 16 + 32  # the IV, then the PKCS#7-padded 31 bytes
    # What Vault Agent encrypted, we decrypt...
    assert reference.ours(f'{{{{ sprig_decryptAES "k3y" "{go_cipher}" }}}}') == plaintext
    # ... and what we encrypted, Vault Agent decrypts.
    case = CorpusCase("aes_back", f'{{{{ sprig_decryptAES "k3y" "{our_cipher}" }}}}')
    run = run_agent(reference.server, [case], reference.workdir)
    assert run.outputs["aes_back"] == plaintext.encode()


# ------------------------------------------------------------------------------------------
# keys and certificates: the same PEM blocks, the same certificate fields, valid for openssl


def _openssl(*args: str, data: str) -> str:
    proc = subprocess.run(["openssl", *args], input=data, capture_output=True, text=True,
                          check=True, timeout=60)
    return proc.stdout


def _blocks(pem: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(0)) for m in re.finditer(
        r"-----BEGIN ([A-Z ]+)-----\n[A-Za-z0-9+/=\n]+-----END \1-----\n", pem)]


def _certificate_fields(pem: str) -> str:
    text = _openssl("x509", "-noout", "-text", "-certopt", "no_sigdump,no_pubkey", data=pem)
    text = re.sub(r"Serial Number:\s*\n?\s*[0-9a-f:]+", "Serial Number: X", text)
    text = re.sub(r"(Not Before|Not After) *: .*", r"\1: X", text)
    return re.sub(r"([0-9A-F]{2}:){19}[0-9A-F]{2}", "KEY-ID", text)


@pytest.mark.parametrize("name", ["rsa_key", "ecdsa_key", "ed25519_key", "dsa_key"])
def test_private_keys_have_go_blocks(name: str, reference: Reference) -> None:
    go, ours = _both(reference, name)
    go_blocks, our_blocks = _blocks(go), _blocks(ours)
    assert [b[0] for b in our_blocks] == [b[0] for b in go_blocks]
    assert len(our_blocks) == 1 and ours == our_blocks[0][1]
    for out in (go, ours):
        assert "Key is valid" in _openssl("pkey", "-check", "-noout", data=out)
        text = _openssl("pkey", "-noout", "-text", data=out)
        if name == "rsa_key":
            assert "4096 bit" in text
        elif name == "ecdsa_key":
            assert "prime256v1" in text
        elif name == "dsa_key":
            assert "2048 bit" in text


CERTIFICATE_CASES = ["ca", "self_signed", "self_signed_no_cn", "signed", "signed_same_cn",
                     "ec_ca", "ed25519_self_signed", "signed_with_key", "unicode_cn"]


@pytest.mark.parametrize("name", CERTIFICATE_CASES)
def test_certificates_match_vault_agent(name: str, reference: Reference) -> None:
    go, ours = _both(reference, name)
    go_blocks, our_blocks = _blocks(go), _blocks(ours)
    assert [b[0] for b in our_blocks] == [b[0] for b in go_blocks]
    for (kind, go_block), (_, our_block) in zip(go_blocks, our_blocks, strict=True):
        if kind == "CERTIFICATE":
            assert _certificate_fields(our_block) == _certificate_fields(go_block)
        else:
            _openssl("pkey", "-noout", data=our_block)


@pytest.mark.parametrize("name", ["signed", "signed_with_key"])
def test_signed_certificates_verify(name: str, reference: Reference, tmp_path: Path) -> None:
    for i, out in enumerate(_both(reference, name)):
        leaf, ca = [b for kind, b in _blocks(out) if kind == "CERTIFICATE"]
        ca_file = tmp_path / f"ca{i}.pem"
        ca_file.write_text(ca)
        assert "OK" in _openssl("verify", "-CAfile", str(ca_file), "-purpose", "sslserver",
                                data=leaf)
