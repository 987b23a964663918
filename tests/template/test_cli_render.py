"""``s4e-secret-agent template render``: a real process, real files, exact stdout bytes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DB_TEMPLATE = """{{- with secret "s4e/data/database" -}}
export DB_HOST={{ .Data.data.host }}
export DB_PORT={{ .Data.data.port }}
export DB_PASS={{ .Data.data.password | shellQuote }}
export HOME_DIR={{ env "HOME_DIR" }}
{{- end }}
"""

VAULT_BODY = {
    "request_id": "x", "lease_id": "", "lease_duration": 0, "renewable": False,
    "data": {"data": {"host": "db.svc", "port": 5432, "password": "p w'd"},
             "metadata": {"version": 2}},
    "warnings": None, "auth": None, "wrap_info": None,
}


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "s4e_secret_agent", "template", "render",
                           *args, "--log-format", "text"], cwd=cwd, capture_output=True,
                          timeout=60, check=False)


def test_renders_fixture_secrets_to_stdout_exactly(tmp_path: Path) -> None:
    (tmp_path / "db.tmpl").write_text(DB_TEMPLATE)
    (tmp_path / "secrets.json").write_text(json.dumps({"s4e/data/database": VAULT_BODY}))
    (tmp_path / "env.json").write_text(json.dumps({"HOME_DIR": "/home/app"}))
    proc = run("db.tmpl", "--secrets", "secrets.json", "--env-json", "env.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (b"export DB_HOST=db.svc\nexport DB_PORT=5432\n"
                           b"export DB_PASS='p w'\\''d'\nexport HOME_DIR=/home/app\n")


def test_only_env_json_variables_exist(tmp_path: Path) -> None:
    (tmp_path / "t.tmpl").write_text('[{{ env "PATH" }}]')
    (tmp_path / "env.json").write_text("{}")
    proc = run("t.tmpl", "--env-json", "env.json", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, b"[]")


def test_delimiters_and_missing_key_option(tmp_path: Path) -> None:
    (tmp_path / "t.tmpl").write_text('[[ with secret "s4e/data/database" ]][[ .Data.data.nope ]]'
                                     "[[ end ]] {{ untouched }}")
    (tmp_path / "secrets.json").write_text(json.dumps({"s4e/data/database": VAULT_BODY}))
    ok = run("t.tmpl", "--secrets", "secrets.json", "--left-delimiter", "[[",
             "--right-delimiter", "]]", cwd=tmp_path)
    assert (ok.returncode, ok.stdout) == (0, b"<no value> {{ untouched }}")
    strict = run("t.tmpl", "--secrets", "secrets.json", "--left-delimiter", "[[",
                 "--right-delimiter", "]]", "--error-on-missing-key", cwd=tmp_path)
    assert strict.returncode == 6
    assert strict.stdout == b""
    assert b'map has no entry for key "nope"' in strict.stderr


def test_parse_error_exit_code_and_position(tmp_path: Path) -> None:
    (tmp_path / "bad.tmpl").write_text("line one\n{{ if .x }}unclosed")
    proc = run("bad.tmpl", cwd=tmp_path)
    assert proc.returncode == 6
    assert b"template: :2: unexpected EOF" in proc.stderr


def test_missing_fixture_names_the_path_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "t.tmpl").write_text('{{ with secret "kv/app" }}{{ end }}')
    proc = run("t.tmpl", cwd=tmp_path)
    assert proc.returncode == 5
    assert b"kv/app" in proc.stderr
    assert b"--secrets" in proc.stderr


def test_unreadable_template_is_a_config_error(tmp_path: Path) -> None:
    proc = run("nope.tmpl", cwd=tmp_path)
    assert proc.returncode == 3
    assert b"nope.tmpl" in proc.stderr


def test_a_vault_lacking_the_data_as_the_agent_sees_it(tmp_path: Path) -> None:
    """An absent folder lists as empty and a write without an answer is nil, as the agent
    sees them from a Vault that lacks them; reading an absent path is an error."""
    (tmp_path / "t.tmpl").write_text(
        '{{ range secrets "s4e/metadata/none" }}{{ . }}{{ end }}['
        '{{ with secret "transit/encrypt/k" "plaintext=eA==" }}data{{ else }}nil{{ end }}]\n')
    (tmp_path / "secrets.json").write_text("{}")
    proc = run("t.tmpl", "--secrets", "secrets.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"[nil]\n"
    (tmp_path / "read.tmpl").write_text('{{ with secret "s4e/data/none" }}x{{ end }}')
    proc = run("read.tmpl", "--secrets", "secrets.json", cwd=tmp_path)
    assert proc.returncode == 5 and b"no fixture for Vault path 's4e/data/none'" in proc.stderr


def test_pki_cert_from_an_issue_answer_fixture(tmp_path: Path) -> None:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "svc")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(hours=1)).sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    (tmp_path / "secrets.json").write_text(json.dumps({"pki/issue/svc": {"data": {
        "certificate": pem.strip(), "private_key": key_pem.strip(),
        "private_key_type": "ec"}}}))
    (tmp_path / "tls.tmpl").write_text(
        '{{ with pkiCert "pki/issue/svc" "common_name=svc" }}{{ .Cert }}{{ .Key }}{{ end }}')
    proc = run("tls.tmpl", "--secrets", "secrets.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (pem + key_pem).encode()
