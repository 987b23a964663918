"""TLS through the real agent against real OpenBao TLS listeners.

``openbao_tls`` (``bao server -dev -dev-tls``) for server verification: on by default, the CA
from ``ca_cert`` or ``VAULT_CACERT``, a wrong CA explained, ``tls_skip_verify`` working and
warning loudly. Client certificates against a non-dev ``bao server`` whose listener has
``tls_require_and_verify_client_cert`` (in-memory storage, initialised and unsealed here).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import AgentRun, run_agent
from tests.testbed.openbao import OpenBaoServer, bao_binary
from tests.testbed.ports import free_port

pytestmark = [pytest.mark.integration]

TEMPLATE = '{{ with secret "secret/data/tls-check" }}{{ .Data.data.value }}{{ end }}'


def _issue(directory: Path, name: str, issuer: tuple[Any, Any] | None, *,
           server: bool = False) -> tuple[Any, Any]:
    """A CA (``issuer`` None) or a leaf certificate; writes NAME.crt and NAME.key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(subject if issuer is None else issuer[1].subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(hours=2)))
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        cert = builder.sign(key, hashes.SHA256())
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), False)
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        cert = builder.sign(issuer[0], hashes.SHA256())
    (directory / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{name}.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (directory / f"{name}.key").chmod(0o600)
    return key, cert


def _init(tmp_path: Path, vault: dict[str, Any], token: str, *,
          env: dict[str, str] | None = None, name: str = "agent") -> tuple[AgentRun, Path]:
    dest = tmp_path / "out" / name
    token_file = tmp_path / f"{name}.token"
    token_file.write_text(token)
    config = {"vault": vault,
              "auto_auth": {"method": {"type": "token_file",
                                       "config": {"token_file_path": str(token_file)}}},
              "template": [{"contents": TEMPLATE, "destination": str(dest)}],
              "agent": {"deadline": "20s"}}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(config))
    return run_agent("init", "--config", str(path), "--log-format", "json", env=env), dest


@pytest.fixture(scope="module")
def tls_server(openbao_tls: OpenBaoServer) -> OpenBaoServer:
    openbao_tls.client().secrets.kv.v2.create_or_update_secret(
        path="tls-check", secret={"value": "over-tls"}, mount_point="secret")
    return openbao_tls


def test_verification_is_on_by_default_and_names_ca_cert(
        tmp_path: Path, tls_server: OpenBaoServer) -> None:
    result, dest = _init(tmp_path, {"address": tls_server.address}, tls_server.root_token)
    assert result.returncode == 5, result.stderr  # TLSError: exit 5 (docs/troubleshooting.md)
    assert "certificate verify failed" in result.stderr
    assert "ca_cert" in result.stderr and "VAULT_CACERT" in result.stderr
    assert not dest.exists()


def test_ca_cert_and_vault_cacert_verify_the_server(
        tmp_path: Path, tls_server: OpenBaoServer) -> None:
    result, dest = _init(tmp_path, {"address": tls_server.address,
                                    "ca_cert": tls_server.ca_cert},
                         tls_server.root_token, name="config")
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "over-tls"
    result, dest = _init(tmp_path, {"address": tls_server.address}, tls_server.root_token,
                         env={"VAULT_CACERT": tls_server.ca_cert}, name="env")
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "over-tls"


def test_a_wrong_ca_fails_with_the_reason_explained(
        tmp_path: Path, tls_server: OpenBaoServer) -> None:
    _issue(tmp_path, "other-ca", None)
    result, dest = _init(tmp_path, {"address": tls_server.address,
                                    "ca_cert": str(tmp_path / "other-ca.crt")},
                         tls_server.root_token)
    assert result.returncode == 5, result.stderr  # TLSError: exit 5 (docs/troubleshooting.md)
    error = [r for r in result.log_records() if r.get("event") == "error"][-1]["message"]
    assert "TLS handshake with" in error and "certificate verify failed" in error
    assert "ca_cert" in error
    assert not dest.exists()


def test_tls_skip_verify_works_and_warns_loudly(tmp_path: Path,
                                                tls_server: OpenBaoServer) -> None:
    result, dest = _init(tmp_path, {"address": tls_server.address, "tls_skip_verify": True},
                         tls_server.root_token, name="config")
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "over-tls"
    warnings = [r for r in result.log_records() if r.get("event") == "tls_skip_verify"]
    assert len(warnings) == 1 and warnings[0]["level"] == "warning"
    assert "DISABLED" in warnings[0]["message"]
    # No Python warning noise (InsecureRequestWarning) on top of the one clear message.
    assert "InsecureRequestWarning" not in result.stderr
    result, _dest = _init(tmp_path, {"address": tls_server.address}, tls_server.root_token,
                          env={"VAULT_SKIP_VERIFY": "true"}, name="env")
    assert result.returncode == 0, result.stderr
    assert [r for r in result.log_records() if r.get("event") == "tls_skip_verify"]


# -- client certificates ---------------------------------------------------------------------


@dataclass
class MutualTLSServer:
    address: str
    files: Path
    root_token: str

    def client_env(self) -> dict[str, str]:
        return {"VAULT_ADDR": self.address, "VAULT_CACERT": str(self.files / "ca.crt"),
                "VAULT_CLIENT_CERT": str(self.files / "agent.crt"),
                "VAULT_CLIENT_KEY": str(self.files / "agent.key")}


def _bao(server_env: dict[str, str], *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env.update(server_env)
    done = subprocess.run([bao_binary(), *args], env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    return json.loads(done.stdout) if done.stdout.startswith("{") else None


@pytest.fixture(scope="module")
def mtls_openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MutualTLSServer]:
    """A non-dev ``bao server`` whose listener requires and verifies client certificates."""
    files = tmp_path_factory.mktemp("mtls")
    ca = _issue(files, "ca", None)
    _issue(files, "server", ca, server=True)
    _issue(files, "agent", ca)
    port = free_port()
    (files / "server.hcl").write_text(f"""
storage "inmem" {{}}
disable_mlock = true
api_addr = "https://127.0.0.1:{port}"
listener "tcp" {{
  address = "127.0.0.1:{port}"
  tls_cert_file = "{files / 'server.crt'}"
  tls_key_file = "{files / 'server.key'}"
  tls_client_ca_file = "{files / 'ca.crt'}"
  tls_require_and_verify_client_cert = true
}}
""")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    with (files / "server.log").open("wb") as log:
        process = subprocess.Popen([bao_binary(), "server", f"-config={files / 'server.hcl'}"],
                                   stdout=log, stderr=subprocess.STDOUT, env=env, cwd=files,
                                   start_new_session=True)
    try:
        server = MutualTLSServer(f"https://127.0.0.1:{port}", files, "")
        deadline = time.monotonic() + 30
        while True:
            try:
                init = _bao(server.client_env(), "operator", "init", "-format=json",
                            "-key-shares=1", "-key-threshold=1")
                break
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError((files / "server.log").read_text()[-2000:]) from None
                time.sleep(0.2)
        _bao(server.client_env(), "operator", "unseal", "-format=json", init["unseal_keys_b64"][0])
        server.root_token = init["root_token"]
        admin = {**server.client_env(), "VAULT_TOKEN": server.root_token}
        _bao(admin, "secrets", "enable", "-path=secret", "-version=2", "kv")
        deadline = time.monotonic() + 30
        while True:  # the KV v2 mount upgrades itself for a moment after it is enabled
            try:
                _bao(admin, "kv", "put", "secret/tls-check", "value=over-mtls")
                break
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_client_certificate_from_config_or_environment_is_presented(
        tmp_path: Path, mtls_openbao: MutualTLSServer) -> None:
    files = mtls_openbao.files
    result, dest = _init(tmp_path, {
        "address": mtls_openbao.address, "ca_cert": str(files / "ca.crt"),
        "client_cert": str(files / "agent.crt"), "client_key": str(files / "agent.key")},
        mtls_openbao.root_token, name="config")
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "over-mtls"
    result, dest = _init(tmp_path, {}, mtls_openbao.root_token, env=mtls_openbao.client_env(),
                         name="env")
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "over-mtls"


def test_missing_client_certificate_says_to_set_client_cert(
        tmp_path: Path, mtls_openbao: MutualTLSServer) -> None:
    result, dest = _init(tmp_path, {"address": mtls_openbao.address,
                                    "ca_cert": str(mtls_openbao.files / "ca.crt")},
                         mtls_openbao.root_token)
    assert result.returncode == 5, result.stderr  # TLSError: exit 5 (docs/troubleshooting.md)
    error = [r for r in result.log_records() if r.get("event") == "error"][-1]["message"]
    assert "TLS handshake" in error and "client_cert" in error
    assert not dest.exists()


def test_a_client_certificate_from_another_ca_is_refused(
        tmp_path: Path, mtls_openbao: MutualTLSServer) -> None:
    rogue_ca = _issue(tmp_path, "rogue-ca", None)
    _issue(tmp_path, "rogue", rogue_ca)
    result, dest = _init(tmp_path, {
        "address": mtls_openbao.address, "ca_cert": str(mtls_openbao.files / "ca.crt"),
        "client_cert": str(tmp_path / "rogue.crt"), "client_key": str(tmp_path / "rogue.key")},
        mtls_openbao.root_token)
    assert result.returncode == 5, result.stderr  # TLSError: exit 5 (docs/troubleshooting.md)
    error = [r for r in result.log_records() if r.get("event") == "error"][-1]["message"]
    assert "TLS handshake" in error and "client_cert" in error
    assert not dest.exists()
