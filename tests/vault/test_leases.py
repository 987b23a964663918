"""Leased secrets against real OpenBao: database credentials on a real PostgreSQL (renewable)
and a PKI certificate with ``generate_lease`` (not renewable)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from s4e_secret_agent.errors import VaultError
from s4e_secret_agent.vault.client import VaultClient
from tests.testbed.openbao import OpenBaoServer
from tests.testbed.postgres import PostgresCluster
from tests.vault.conftest import Recorder

MakeClient = Callable[..., tuple[VaultClient, Recorder]]


@pytest.fixture(scope="module")
def database_mount(openbao: OpenBaoServer, postgres: PostgresCluster) -> Iterator[str]:
    mount = f"db-{uuid.uuid4().hex[:8]}"
    root = openbao.client()
    root.sys.enable_secrets_engine("database", path=mount)
    root.write_data(f"{mount}/config/pg", data={
        "plugin_name": "postgresql-database-plugin",
        "connection_url": postgres.admin_url,
        "username": postgres.admin_username,
        "password": postgres.admin_password,
        "allowed_roles": ["app"],
    })
    root.write_data(f"{mount}/roles/app", data={
        "db_name": "pg",
        "creation_statements": [
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' "
            "VALID UNTIL '{{expiration}}';"],
        "default_ttl": "10m",
        "max_ttl": "30m",
    })
    yield mount
    root.sys.disable_secrets_engine(mount)


def test_database_credentials_renew_and_revoke(openbao: OpenBaoServer,
                                               postgres: PostgresCluster, database_mount: str,
                                               make_client: MakeClient) -> None:
    client, recorder = make_client(token=openbao.root_token)
    creds = client.read(f"{database_mount}/creds/app")
    assert creds.kv_version is None
    assert creds.lease_id.startswith(f"{database_mount}/creds/app/")
    assert creds.renewable is True and 590 <= creds.lease_duration <= 600
    username, password = creds.data["username"], creds.data["password"]
    assert postgres.can_login(username, password)

    renewed = client.renew_lease(creds.lease_id, increment=1200)
    assert renewed.lease_id == creds.lease_id and renewed.renewable
    assert 1190 <= renewed.ttl <= 1200
    capped = client.renew_lease(creds.lease_id, increment=7200)
    assert capped.ttl <= 1800 and capped.warnings  # max_ttl caps it; Vault warns

    client.revoke_lease(creds.lease_id)
    assert not postgres.role_exists(username)
    with pytest.raises(VaultError) as caught:
        client.renew_lease(creds.lease_id)
    assert caught.value.status == 400 and "lease not found" in caught.value.message
    assert "read the secret again" in caught.value.hint
    # Lease ids never reach metrics or the audit trail: only fixed endpoint paths do.
    assert all(creds.lease_id not in e.path for e in recorder.events)
    assert [e.path for e in recorder.events if e.operation.endswith("lease")] == [
        "sys/leases/renew", "sys/leases/renew", "sys/leases/revoke", "sys/leases/renew"]


def test_pki_certificate_lease_is_not_renewable(openbao: OpenBaoServer,
                                                make_client: MakeClient) -> None:
    mount = f"pki-{uuid.uuid4().hex[:8]}"
    root = openbao.client()
    root.sys.enable_secrets_engine("pki", path=mount, config={"max_lease_ttl": "24h"})
    try:
        root.write_data(f"{mount}/root/generate/internal",
                        data={"common_name": "s4e test root", "ttl": "24h"})
        root.write_data(f"{mount}/roles/web", data={
            "allowed_domains": ["s4e.test"], "allow_subdomains": True, "max_ttl": "1h",
            "generate_lease": True})
        client, _ = make_client(token=openbao.root_token)
        cert = client.read(f"{mount}/issue/web", {"common_name": "app.s4e.test", "ttl": "30m"})
        assert cert.read_path == f"{mount}/issue/web"
        assert cert.data["certificate"].startswith("-----BEGIN CERTIFICATE-----")
        assert cert.lease_id and cert.renewable is False
        assert 1790 <= cert.lease_duration <= 1800
        with pytest.raises(VaultError, match="not renewable"):
            client.renew_lease(cert.lease_id)
        client.revoke_lease(cert.lease_id)
    finally:
        root.sys.disable_secrets_engine(mount)
