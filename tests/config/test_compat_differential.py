"""Vault Agent compatibility against the real thing: ``bao agent`` (OpenBao's Vault Agent) and
our ``init`` on the same configs and one live OpenBao. Configs with keys Vault Agent ignores in
the wrong place run on both and render the same bytes; a response-wrapped sink holds wrap info
that unwraps to a working token on both; an encrypted sink decrypts, with the receiver's key,
to a working token on both; backups follow the same rule."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from s4e_secret_agent.runtime.sinks import decrypt_envelope
from s4e_secret_agent.runtime.writer import write_file
from tests.config.test_hcl_differential import _bao_agent, _compare, _ours, _setup
from tests.testbed.openbao import OpenBaoServer

pytestmark = pytest.mark.integration


def _auto_auth(server: OpenBaoServer, base: Path, sink: str = "") -> str:
    token = base / "login-token"
    token.write_text(server.root_token)
    return f'''
vault {{
  address = "{server.address}"
}}
exit_after_auth = true
auto_auth {{
  method "token_file" {{
    config = {{ token_file_path = "{token}" }}
  }}
  {sink}
}}
'''


def _both(tmp_path: Path, server: OpenBaoServer, sink: str) -> dict[str, Path]:
    """Run ``bao agent`` and ours on the same config with this sink block (``BASE`` is each
    one's directory)."""
    bases = {}
    for who in ("bao", "ours"):
        base = tmp_path / who
        base.mkdir()
        config = base / "agent.hcl"
        config.write_text(_auto_auth(server, base, sink.replace("BASE", str(base))))
        if who == "bao":
            result = _bao_agent([config], base)
            assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        else:
            code, log = _ours([config])
            assert code == 0, log[-3000:]
            assert server.root_token not in log
        bases[who] = base
    return bases


def _lookup(server: OpenBaoServer, token: str) -> dict[str, object]:
    return dict(server.client(token=token).auth.token.lookup_self()["data"])


def test_misplaced_keys_vault_agent_ignores_run_and_render_the_same(
        tmp_path: Path, server: OpenBaoServer) -> None:
    config = '''HEAD
auto_auth_note = "a top-level key nobody knows"
template {
  destination = "OUT/rendered"
  contents = "{{ with secret \\"hcldiff/data/app\\" }}{{ .Data.data.user }}{{ end }}"
}
'''
    config = config.replace("HEAD", '''HEAD
telemetry {
  disable_hostname = true
}''')
    runs = _setup(tmp_path, server, {"agent.hcl": config})
    for who in ("bao", "ours"):  # exit_on_err and exit_after_auth written inside auto_auth
        path = runs[who][1][0]
        text = path.read_text().replace(
            "auto_auth = {\n", "auto_auth = {\n  exit_on_err = true\n  exit_after_auth = false\n")
        path.write_text(text.replace(
            "template_config = { exit_on_retry_failure = true }",
            'template_config = {\n  exit_on_retry_failure = true\n'
            '  passthrough_request_headers = ["X-Request-Id"]\n}'))
        assert "exit_on_err" in path.read_text() and "passthrough" in path.read_text()
    out = _compare(runs)
    assert out == {"rendered": b"app-user"}


def test_wrapped_sink_unwraps_to_a_working_token_on_both(
        tmp_path: Path, server: OpenBaoServer) -> None:
    bases = _both(tmp_path, server, 'sink "file" {\n    wrap_ttl = "5m"\n'
                  '    config = { path = "BASE/sink", mode = 0600 }\n  }')
    shapes = {}
    for who, base in bases.items():
        raw = (base / "sink").read_bytes()
        assert server.root_token.encode() not in raw
        assert raw.endswith(b"}\n") and raw.count(b"\n") == 1
        info = json.loads(raw)
        shapes[who] = list(info)
        assert info["creation_path"] == "sys/wrapping/wrap" and info["ttl"] == 300
        assert stat.S_IMODE((base / "sink").stat().st_mode) == 0o600
        unwrapped = server.client().sys.unwrap(info["token"])
        token = unwrapped["data"]["token"]
        assert _lookup(server, token)["id"] == server.root_token
    assert shapes["ours"] == shapes["bao"] == ["token", "accessor", "ttl", "creation_time",
                                               "creation_path", "wrapped_accessor"]


@pytest.mark.parametrize("wrap", [False, True])
def test_encrypted_sink_decrypts_to_a_working_token_on_both(
        tmp_path: Path, server: OpenBaoServer, wrap: bool) -> None:
    private = X25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    raw_private = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    dh = tmp_path / "receiver.json"
    dh.write_text(json.dumps({"curve25519_public_key": base64.b64encode(public).decode()}))
    wrap_line = 'wrap_ttl = "2m"\n' if wrap else ""
    bases = _both(tmp_path, server, f'sink "file" {{\n    {wrap_line}    dh_type = '
                  f'"curve25519"\n    dh_path = "{dh}"\n    derive_key = true\n'
                  '    aad = "pod-a"\n    config = { path = "BASE/sink" }\n  }')
    for base in bases.values():
        envelope = (base / "sink").read_bytes()
        assert list(json.loads(envelope)) == ["curve25519_public_key", "nonce",
                                              "encrypted_payload"]
        plain = decrypt_envelope(envelope, raw_private, derive_key=True, aad="pod-a")
        if wrap:
            token = server.client().sys.unwrap(json.loads(plain)["token"])["data"]["token"]
        else:
            token = plain.decode()
        assert _lookup(server, token)["id"] == server.root_token
        assert stat.S_IMODE((base / "sink").stat().st_mode) == 0o640


def test_backup_files_follow_vault_agents_rule(tmp_path: Path, server: OpenBaoServer) -> None:
    """bao agent renders a file twice with backup = true; our writer, given the same two
    writes, leaves the same files with the same bytes and modes."""
    bao = tmp_path / "bao"
    bao.mkdir()
    for contents in ("one", "two", "three"):
        config = bao / "agent.hcl"
        config.write_text(_auto_auth(server, bao) + f'''
template {{
  destination = "{bao}/out/app.conf"
  contents = "{contents}"
  perms = "0600"
  backup = true
}}
''')
        result = _bao_agent([config], bao)
        assert result.returncode == 0, result.stderr[-2000:]
    ours = tmp_path / "ours" / "out"
    for contents in ("one", "two", "three"):
        write_file(ours / "app.conf", contents.encode(), mode=0o600, backup=True)

    def listing(directory: Path) -> dict[str, tuple[bytes, int]]:
        return {p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
                for p in sorted(directory.iterdir())}

    assert listing(ours) == listing(bao / "out") == {
        "app.conf": (b"three", 0o600), "app.conf.bak": (b"two", 0o600)}
