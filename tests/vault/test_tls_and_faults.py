"""TLS settings against a real OpenBao with TLS, and transient failures through the fault proxy."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from s4e_secret_agent.config.model import VaultConfig
from s4e_secret_agent.errors import TLSError, VaultUnavailableError, is_retryable
from s4e_secret_agent.vault.client import VaultClient
from tests.testbed.faultproxy import FaultProxy, delay, drop, sealed
from tests.testbed.kubernetes import make_tls_files
from tests.testbed.openbao import OpenBaoServer
from tests.vault.conftest import Recorder

MakeClient = Callable[..., tuple[VaultClient, Recorder]]


def tls_client(server: OpenBaoServer, **config: object) -> VaultClient:
    settings: dict[str, object] = {"address": server.address, "client_timeout": 10.0}
    settings.update(config)
    return VaultClient(VaultConfig(**settings), token=server.root_token)  # type: ignore[arg-type]


def test_right_ca_verifies(openbao_tls: OpenBaoServer) -> None:
    client = tls_client(openbao_tls, ca_cert=openbao_tls.ca_cert)
    try:
        assert client.lookup_self().policies == ("root",)
    finally:
        client.close()


def test_wrong_ca_is_a_tls_error_naming_ca_cert(openbao_tls: OpenBaoServer,
                                                tmp_path: Path) -> None:
    other_ca = make_tls_files(tmp_path, common_name="some-other-ca").ca_cert
    client = tls_client(openbao_tls, ca_cert=str(other_ca))
    try:
        with pytest.raises(TLSError) as caught:
            client.lookup_self()
    finally:
        client.close()
    assert "certificate verify failed" in caught.value.message
    assert "VAULT_CACERT" in caught.value.hint and "ca_cert" in caught.value.hint
    assert not is_retryable(caught.value)


def test_system_trust_store_does_not_know_the_dev_ca(openbao_tls: OpenBaoServer) -> None:
    client = tls_client(openbao_tls)
    try:
        with pytest.raises(TLSError):
            client.health()
    finally:
        client.close()


def test_ca_path_directory_verifies(openbao_tls: OpenBaoServer, tmp_path: Path) -> None:
    import subprocess

    ca_dir = tmp_path / "cas"
    ca_dir.mkdir()
    (ca_dir / "vault-ca.pem").write_bytes(Path(openbao_tls.ca_cert).read_bytes())
    subprocess.run(["openssl", "rehash", str(ca_dir)], check=True, capture_output=True)
    client = tls_client(openbao_tls, ca_path=str(ca_dir))
    try:
        assert client.health()["sealed"] is False
    finally:
        client.close()


def test_tls_server_name_is_verified_instead_of_the_address(openbao_tls: OpenBaoServer) -> None:
    good = tls_client(openbao_tls, ca_cert=openbao_tls.ca_cert, tls_server_name="localhost")
    bad = tls_client(openbao_tls, ca_cert=openbao_tls.ca_cert,
                     tls_server_name="vault.example.com")
    try:
        assert good.lookup_self().ttl == 0
        with pytest.raises(TLSError) as caught:
            bad.lookup_self()
    finally:
        good.close()
        bad.close()
    assert "tls_server_name" in caught.value.hint
    assert "doesn't match" in caught.value.message


def test_tls_skip_verify_works_warns_once_and_emits_no_python_warnings(
        openbao_tls: OpenBaoServer, caplog: pytest.LogCaptureFixture) -> None:
    # pytest runs with -W error: an InsecureRequestWarning per request would fail this test.
    with caplog.at_level(logging.WARNING, logger="s4e_secret_agent.vault.client"):
        client = tls_client(openbao_tls, tls_skip_verify=True)
        try:
            client.lookup_self()
            client.health()
        finally:
            client.close()
    loud = [r for r in caplog.records if getattr(r, "event", "") == "tls_skip_verify"]
    assert len(loud) == 1 and "DISABLED" in loud[0].getMessage()


def test_https_address_against_plain_http_server(openbao: OpenBaoServer) -> None:
    address = openbao.address.replace("http://", "https://")
    client = VaultClient(VaultConfig(address=address, client_timeout=10.0))
    try:
        with pytest.raises(TLSError) as caught:
            client.health()
    finally:
        client.close()
    assert "plain HTTP" in caught.value.hint


# -- transient failures ------------------------------------------------------------------------


def test_rate_limit_carries_retry_after(openbao: OpenBaoServer, fault_proxy: FaultProxy,
                                        make_client: MakeClient) -> None:
    fault_proxy.fail("/v1/auth/token/lookup-self", 429, retry_after=7, times=1)
    client, recorder = make_client(token=openbao.root_token, address=fault_proxy.address)
    with pytest.raises(VaultUnavailableError) as caught:
        client.lookup_self()
    assert caught.value.status == 429 and caught.value.retry_after == 7.0
    assert recorder.events[-1].result == "unavailable"
    assert client.lookup_self().ttl == 0  # the next attempt goes through


def test_sealed_vault_is_unavailable_with_unseal_hint(openbao: OpenBaoServer,
                                                      fault_proxy: FaultProxy,
                                                      make_client: MakeClient) -> None:
    fault_proxy.add_rule("/v1/", sealed(), times=1)
    client, _ = make_client(token=openbao.root_token, address=fault_proxy.address)
    with pytest.raises(VaultUnavailableError) as caught:
        client.read("secret/anything")
    assert caught.value.status == 503 and "unseal" in caught.value.hint


@pytest.mark.parametrize("code", [500, 502, 504])
def test_server_errors_are_retryable(openbao: OpenBaoServer, fault_proxy: FaultProxy,
                                     make_client: MakeClient, code: int) -> None:
    fault_proxy.fail("/v1/sys/leases/renew", code, times=1)
    client, _ = make_client(token=openbao.root_token, address=fault_proxy.address)
    with pytest.raises(VaultUnavailableError) as caught:
        client.renew_lease("database/creds/x/abc")
    assert caught.value.status == code and is_retryable(caught.value)


def test_dropped_connection_is_unavailable(openbao: OpenBaoServer, fault_proxy: FaultProxy,
                                           make_client: MakeClient) -> None:
    fault_proxy.add_rule("/v1/auth/token/lookup-self", drop(), times=1)
    client, recorder = make_client(token=openbao.root_token, address=fault_proxy.address)
    with pytest.raises(VaultUnavailableError, match="cannot reach Vault"):
        client.lookup_self()
    assert recorder.events[-1].status is None


def test_slow_vault_times_out_as_unavailable(openbao: OpenBaoServer, fault_proxy: FaultProxy,
                                             make_client: MakeClient) -> None:
    fault_proxy.add_rule("/v1/auth/token/lookup-self", delay(3.0), times=1)
    client, recorder = make_client(token=openbao.root_token, address=fault_proxy.address,
                                   client_timeout=0.3)
    with pytest.raises(VaultUnavailableError, match="timed out"):
        client.lookup_self()
    assert recorder.events[-1].duration_s < 2.5


# -- client certificates -------------------------------------------------------------------------


def _issue(ca_key: Any, ca_cert: Any, common_name: str, *, server: bool) -> tuple[Any, Any]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
               .issuer_name(ca_cert.subject if ca_cert is not None else
                            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(hours=1)))
    if ca_cert is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        return key, builder.sign(key, hashes.SHA256())
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), False)
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _write_pem(path: Path, key: Any, cert: Any) -> None:
    from cryptography.hazmat.primitives import serialization

    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))


@pytest.fixture
def mtls_vault(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS endpoint that demands a client certificate and answers sys/health."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    ca_key, ca_cert = _issue(None, None, "mtls test ca", server=False)
    server_key, server_cert = _issue(ca_key, ca_cert, "127.0.0.1", server=True)
    client_key, client_cert = _issue(ca_key, ca_cert, "s4e-agent", server=False)
    _write_pem(tmp_path / "ca", None, ca_cert)
    _write_pem(tmp_path / "server", server_key, server_cert)
    _write_pem(tmp_path / "client", client_key, client_cert)

    class Health(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = b'{"initialized":true,"sealed":false,"standby":false}\n'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    context.load_verify_locations(tmp_path / "ca.crt")
    context.verify_mode = ssl.CERT_REQUIRED
    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_client_certificate_is_presented(mtls_vault: tuple[str, Path]) -> None:
    address, files = mtls_vault
    client = VaultClient(VaultConfig(address=address, ca_cert=str(files / "ca.crt"),
                                     client_cert=str(files / "client.crt"),
                                     client_key=str(files / "client.key"),
                                     client_timeout=10.0))
    try:
        assert client.health()["sealed"] is False
    finally:
        client.close()


def test_missing_client_certificate_is_a_tls_error(mtls_vault: tuple[str, Path]) -> None:
    address, files = mtls_vault
    client = VaultClient(VaultConfig(address=address, ca_cert=str(files / "ca.crt"),
                                     client_timeout=10.0))
    try:
        with pytest.raises(TLSError) as caught:
            client.health()
    finally:
        client.close()
    assert "client_cert" in caught.value.hint
