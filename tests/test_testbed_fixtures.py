"""Session fixtures: ``VAULT_ADDR``/``VAULT_TOKEN`` turn ``openbao`` into a handle on that
server; ``s4e_vault``/``s4e_database`` set the session server up as S4E's guide does."""

from __future__ import annotations

import pytest

from tests.conftest import ExternalVault
from tests.testbed.kubernetes import KubernetesAPI
from tests.testbed.openbao import OpenBaoServer
from tests.testbed.postgres import PostgresCluster


def test_without_both_variables_the_tests_start_openbao(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    monkeypatch.setenv("VAULT_TOKEN", "t")
    assert ExternalVault.from_environment() is None


def test_handle_has_the_fixture_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_ADDR", "https://127.0.0.1:8200/")
    monkeypatch.setenv("VAULT_TOKEN", "dev-root")
    monkeypatch.setenv("VAULT_CACERT", "/etc/vault/ca.pem")
    monkeypatch.delenv("VAULT_UNSEAL_KEY", raising=False)
    vault = ExternalVault.from_environment()
    assert isinstance(vault, OpenBaoServer)
    assert (vault.address, vault.root_token, vault.tls, vault.ca_cert, vault.port) == (
        "https://127.0.0.1:8200", "dev-root", True, "/etc/vault/ca.pem", 8200)
    assert vault.env()["VAULT_CACERT"] == "/etc/vault/ca.pem"
    vault.stop()  # never stops a server it did not start


def test_remote_address_needs_an_explicit_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_ADDR", "https://vault.example.com:8200")
    monkeypatch.setenv("VAULT_TOKEN", "t")
    monkeypatch.delenv("S4E_TEST_ALLOW_REMOTE_VAULT", raising=False)
    with pytest.raises(pytest.UsageError, match="S4E_TEST_ALLOW_REMOTE_VAULT=1"):
        ExternalVault.from_environment()
    monkeypatch.setenv("S4E_TEST_ALLOW_REMOTE_VAULT", "1")
    assert ExternalVault.from_environment() is not None


def test_session_server_answers(openbao: OpenBaoServer) -> None:
    health = openbao.client().sys.read_health_status(method="GET")
    assert health["initialized"] is True and health["sealed"] is False


def test_s4e_fixtures_give_kubernetes_logins_and_database_creds(
        openbao: OpenBaoServer, kubernetes_api: KubernetesAPI,
        s4e_database: PostgresCluster) -> None:
    import hvac

    login = hvac.Client(url=openbao.address, verify=openbao.ca_cert if openbao.tls else True)
    token = login.auth.kubernetes.login("s4e", kubernetes_api.token("s4e-core"))["auth"]
    reader = hvac.Client(url=openbao.address, token=token["client_token"],
                         verify=openbao.ca_cert if openbao.tls else True)
    creds = reader.read("database/creds/s4e-app")
    assert s4e_database.can_login(creds["data"]["username"], creds["data"]["password"])
    openbao.client().sys.revoke_lease(creds["lease_id"])
    assert not s4e_database.can_login(creds["data"]["username"], creds["data"]["password"])
