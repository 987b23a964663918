"""TLS settings against a real OpenBao with TLS, and transient failures through the fault proxy."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from s4e_secret_agent.config.model import VaultConfig
from s4e_secret_agent.errors import TLSError, VaultUnavailableError, is_retryable
from s4e_secret_agent.vault import VaultClient
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


def test_tls_skip_verify_works_warns_once_and_emits_no_python_warnings(
        openbao_tls: OpenBaoServer, caplog: pytest.LogCaptureFixture) -> None:
    # pytest runs with -W error: an InsecureRequestWarning per request would fail this test.
    with caplog.at_level(logging.WARNING, logger="s4e_secret_agent.vault"):
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
