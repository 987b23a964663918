"""``bootstrap`` against a real OpenBao (its own server: the tests assert on a blank start),
the Kubernetes TokenReview stand-in and a real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest

from s4e_secret_agent.errors import (
    ExitCode,
    PermissionDeniedError,
    UsageError,
    VaultError,
    VaultUnavailableError,
)
from s4e_secret_agent.tools.bootstrap import (
    SECRETS,
    AppRoleOptions,
    BootstrapOptions,
    KubernetesOptions,
    PostgresOptions,
    bootstrap,
    parse_assignments,
    parse_duration,
    policy_hcl,
)
from s4e_secret_agent.vault.client import new_client
from tests.testbed.kubernetes import KubernetesAPI, ServiceAccountIssuer
from tests.testbed.openbao import OpenBaoServer
from tests.testbed.ports import free_port
from tests.testbed.postgres import PostgresCluster

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture(scope="module")
def server() -> Iterator[OpenBaoServer]:
    with OpenBaoServer() as bao:
        yield bao


@pytest.fixture(scope="module")
def credentials_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("approle")


@pytest.fixture(scope="module")
def options(kubernetes_api: KubernetesAPI, postgres: PostgresCluster,
            credentials_dir: Path) -> BootstrapOptions:
    return BootstrapOptions(
        auth="both",
        kubernetes=KubernetesOptions(host=kubernetes_api.host, ca_cert_pem=kubernetes_api.ca_pem,
                                     disable_local_ca_jwt=True),
        approle=AppRoleOptions(role_id_file=credentials_dir / "role_id",
                               secret_id_file=credentials_dir / "secret_id"),
        postgres=PostgresOptions(postgres.admin_url, postgres.admin_username,
                                 postgres.admin_password, default_ttl="10m", max_ttl="1h"),
    )


@pytest.fixture(scope="module")
def first_report(server: OpenBaoServer, options: BootstrapOptions) -> Any:
    return bootstrap(new_client(server.address, server.root_token), options)


def _state(client: hvac.Client) -> dict[str, Any]:
    """Everything bootstrap manages, as read back from the server."""
    state: dict[str, Any] = {}
    for spec in SECRETS:
        meta = client.secrets.kv.v2.read_secret_metadata(path=spec.name, mount_point="s4e")
        data = client.secrets.kv.v2.read_secret_version(
            path=spec.name, mount_point="s4e", raise_on_deleted_version=True)
        state[f"kv/{spec.name}"] = (meta["data"]["current_version"], data["data"]["data"])
    for path in ("sys/policies/acl/s4e-read", "auth/kubernetes/config",
                 "auth/kubernetes/role/s4e", "auth/approle/role/s4e",
                 "database/config/s4e-postgres", "database/roles/s4e-app"):
        state[path] = client.read(path)["data"]
    state["mounts"] = sorted(client.sys.list_mounted_secrets_engines()["data"])
    state["auth"] = sorted(client.sys.list_auth_methods()["data"])
    state["secret_id_accessors"] = client.list("auth/approle/role/s4e/secret-id")["data"]["keys"]
    return state


def test_first_run_creates_the_guides_layout(server: OpenBaoServer, first_report: Any) -> None:
    assert [c.action for c in first_report.changes].count("unchanged") == 0
    items = {c.item for c in first_report.changes}
    assert {"sys/mounts/s4e", "s4e/data/database", "s4e/data/redis", "s4e/data/rabbitmq",
            "s4e/data/app", "sys/policies/acl/s4e-read", "auth/kubernetes/role/s4e",
            "auth/approle/role/s4e", "database/config/s4e-postgres",
            "database/roles/s4e-app"} <= items

    client = server.client()
    database = client.secrets.kv.v2.read_secret_version(
        path="database", mount_point="s4e", raise_on_deleted_version=True)["data"]["data"]
    assert {k: database[k] for k in ("host", "port", "name", "username")} == {
        "host": "postgresql.s4e.svc.cluster.local", "port": "5432", "name": "s4e_production",
        "username": "s4e_app"}
    assert len(database["password"]) >= 40
    app = client.secrets.kv.v2.read_secret_version(
        path="app", mount_point="s4e", raise_on_deleted_version=True)["data"]["data"]
    assert set(app) == {"secret_key", "smtp_password"}
    assert app["secret_key"] != app["smtp_password"]
    policy = client.sys.read_acl_policy("s4e-read")["data"]["policy"]
    assert 'path "s4e/data/database" {\n  capabilities = ["read"]\n}' in policy
    assert 'path "database/creds/s4e-app"' in policy
    role = client.read("auth/kubernetes/role/s4e")["data"]
    assert sorted(role["bound_service_account_names"]) == sorted(
        ["s4e-core", "s4e-trigger", "s4e-scan", "s4e-crawler"])
    assert role["bound_service_account_namespaces"] == ["s4e"]
    assert role["token_policies"] == ["s4e-read"] and role["token_ttl"] == 3600
    db_role = client.read("database/roles/s4e-app")["data"]
    assert (db_role["default_ttl"], db_role["max_ttl"]) == (600, 3600)


def test_report_never_contains_secret_values(server: OpenBaoServer, first_report: Any) -> None:
    client = server.client()
    text = json.dumps(first_report.as_dict())
    for spec in SECRETS:
        data = client.secrets.kv.v2.read_secret_version(
            path=spec.name, mount_point="s4e", raise_on_deleted_version=True)["data"]["data"]
        for key in spec.generated:
            assert data[key] not in text


def test_second_run_changes_nothing(server: OpenBaoServer, options: BootstrapOptions,
                                    first_report: Any) -> None:
    client = server.client()
    before = _state(client)
    report = bootstrap(new_client(server.address, server.root_token), options)
    assert report.changed == []
    assert report.summary() == f"{len(report.changes)} unchanged"
    assert _state(client) == before


def test_explicit_values_replace_only_what_is_given(server: OpenBaoServer,
                                                    options: BootstrapOptions,
                                                    first_report: Any) -> None:
    client = server.client()
    before = _state(client)
    given = BootstrapOptions(**{**options.__dict__,
                                "values": {"database": {"password": "given-password-1"}}})
    report = bootstrap(new_client(server.address, server.root_token), given)
    assert [(c.action, c.item, c.detail) for c in report.changed] == [
        ("updated", "s4e/data/database", "keys: password")]
    after = _state(client)
    version, data = after["kv/database"]
    assert version == before["kv/database"][0] + 1
    assert data == {**before["kv/database"][1], "password": "given-password-1"}
    assert after["kv/redis"] == before["kv/redis"]
    # The stored value now equals the given one: giving it again is not a change.
    assert bootstrap(new_client(server.address, server.root_token), given).changed == []


def test_kubernetes_login_of_s4e_accounts_only(server: OpenBaoServer,
                                               kubernetes_api: KubernetesAPI,
                                               first_report: Any) -> None:
    login = hvac.Client(url=server.address)
    auth = login.auth.kubernetes.login("s4e", kubernetes_api.token("s4e-core"))["auth"]
    assert auth["policies"] == ["default", "s4e-read"]
    reader = hvac.Client(url=server.address, token=auth["client_token"])
    secret = reader.secrets.kv.v2.read_secret_version(
        path="redis", mount_point="s4e", raise_on_deleted_version=True)
    assert secret["data"]["data"]["connection_string"] == "redis://redis:6379"
    with pytest.raises(hvac.exceptions.Forbidden):
        reader.read("sys/policies/acl/s4e-read")
    with pytest.raises(hvac.exceptions.Forbidden, match="service account name not authorized"):
        login.auth.kubernetes.login("s4e", kubernetes_api.token("default"))
    forged = ServiceAccountIssuer().projected_token("s4e-core")
    with pytest.raises(hvac.exceptions.Forbidden, match="permission denied"):
        login.auth.kubernetes.login("s4e", forged)


def test_dynamic_database_credentials_work_until_revoked(server: OpenBaoServer,
                                                         kubernetes_api: KubernetesAPI,
                                                         postgres: PostgresCluster,
                                                         first_report: Any) -> None:
    token = hvac.Client(url=server.address).auth.kubernetes.login(
        "s4e", kubernetes_api.token("s4e-scan"))["auth"]["client_token"]
    creds = hvac.Client(url=server.address, token=token).read("database/creds/s4e-app")
    assert creds["lease_duration"] == 600 and creds["renewable"] is True
    username, password = creds["data"]["username"], creds["data"]["password"]
    assert postgres.can_login(username, password)
    server.client().sys.revoke_lease(creds["lease_id"])
    assert not postgres.can_login(username, password)
    assert not postgres.role_exists(username)


def test_approle_credentials_are_written_and_kept(server: OpenBaoServer,
                                                  options: BootstrapOptions,
                                                  credentials_dir: Path,
                                                  first_report: Any) -> None:
    role_id = (credentials_dir / "role_id").read_text().strip()
    secret_id = (credentials_dir / "secret_id").read_text().strip()
    assert (credentials_dir / "secret_id").stat().st_mode & 0o777 == 0o600
    auth = hvac.Client(url=server.address).auth.approle.login(role_id, secret_id)["auth"]
    assert auth["policies"] == ["default", "s4e-read"]
    # Once the secret_id is destroyed on the server, the next run issues a new one.
    server.client().write_data("auth/approle/role/s4e/secret-id/destroy",
                               data={"secret_id": secret_id})
    report = bootstrap(new_client(server.address, server.root_token), options)
    assert [(c.action, c.item) for c in report.changed] == [
        ("written", str(credentials_dir / "secret_id"))]
    new_secret_id = (credentials_dir / "secret_id").read_text().strip()
    assert new_secret_id != secret_id
    hvac.Client(url=server.address).auth.approle.login(role_id, new_secret_id)


def test_cli_prints_paths_and_summary_not_values(server: OpenBaoServer,
                                                 kubernetes_api: KubernetesAPI,
                                                 tmp_path: Path, first_report: Any) -> None:
    ca = tmp_path / "k8s-ca.crt"
    ca.write_text(kubernetes_api.ca_pem)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env.update(VAULT_ADDR=server.address, VAULT_TOKEN=server.root_token)
    args = [sys.executable, "-m", "s4e_secret_agent", "bootstrap", "--auth", "kubernetes",
            "--kubernetes-host", kubernetes_api.host, "--kubernetes-ca", str(ca),
            "--kubernetes-disable-local-ca-jwt", "--set", "rabbitmq.password=cli-given-pw"]
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "updated   s4e/data/rabbitmq (keys: password)" in lines
    assert "unchanged auth/kubernetes/role/s4e" in lines
    assert lines[-1].startswith(f"bootstrap of {server.address}: 1 updated, ")
    assert "cli-given-pw" not in result.stdout + result.stderr
    # Without PostgreSQL options the policy keeps the creds path: the database role exists.
    assert "unchanged sys/policies/acl/s4e-read" in lines

    again = subprocess.run([*args, "--json"], env=env, capture_output=True, text=True,
                           timeout=60)
    report = json.loads(again.stdout)
    assert {c["action"] for c in report["changes"]} == {"unchanged"}


def test_cli_with_a_weak_token_names_the_path_and_fix(server: OpenBaoServer,
                                                      first_report: Any) -> None:
    weak = server.client().auth.token.create(policies=["default"], ttl="5m")["auth"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env.update(VAULT_ADDR=server.address, VAULT_TOKEN=weak["client_token"])
    result = subprocess.run([sys.executable, "-m", "s4e_secret_agent", "bootstrap",
                             "--log-format", "text"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == int(ExitCode.SECRET)
    assert "permission denied on sys/mounts" in result.stderr
    assert "admin policy" in result.stderr
    assert weak["client_token"] not in result.stderr


def test_a_kv_v1_mount_is_refused_with_the_fix() -> None:
    with OpenBaoServer() as bao:
        bao.client().sys.enable_secrets_engine("kv", path="s4e", options={"version": "1"})
        with pytest.raises(VaultError, match="KV version 1") as caught:
            bootstrap(new_client(bao.address, bao.root_token), BootstrapOptions(auth="approle"))
        assert "enable-versioning s4e/" in str(caught.value)


def test_a_deleted_secret_is_written_again_and_others_kept() -> None:
    with OpenBaoServer() as bao:
        options = BootstrapOptions(auth="approle")
        bootstrap(new_client(bao.address, bao.root_token), options)
        client = bao.client()
        redis_before = client.secrets.kv.v2.read_secret_version(
            path="redis", mount_point="s4e", raise_on_deleted_version=True)["data"]
        client.secrets.kv.v2.delete_latest_version_of_secret(path="app", mount_point="s4e")
        report = bootstrap(new_client(bao.address, bao.root_token), options)
        assert [(c.action, c.item) for c in report.changed] == [("created", "s4e/data/app")]
        app = client.secrets.kv.v2.read_secret_version(
            path="app", mount_point="s4e", raise_on_deleted_version=True)["data"]
        assert app["metadata"]["version"] == 2
        assert set(app["data"]) == {"secret_key", "smtp_password"}
        assert client.secrets.kv.v2.read_secret_version(
            path="redis", mount_point="s4e", raise_on_deleted_version=True)["data"] == (
            redis_before)


def test_unreachable_or_refused_server_maps_to_agent_errors(server: OpenBaoServer) -> None:
    with pytest.raises(PermissionDeniedError):
        bootstrap(new_client(server.address, "not-a-token"), BootstrapOptions())
    nowhere = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(VaultUnavailableError, match=f"Vault at {nowhere} is unavailable"):
        bootstrap(new_client(nowhere, "t", timeout=5), BootstrapOptions())


def test_policy_matches_the_guide() -> None:
    assert policy_hcl(database=False) == "".join(
        f'path "s4e/data/{name}" {{\n  capabilities = ["read"]\n}}\n'
        for name in ("database", "redis", "rabbitmq", "app")).replace("}\npath", "}\n\npath")


@pytest.mark.parametrize("text,seconds", [("1h", 3600), ("24h", 86400), ("90s", 90),
                                          ("1h30m", 5400), ("3600", 3600), (60, 60)])
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_bad_options_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="invalid duration"):
        parse_duration("one hour")
    with pytest.raises(UsageError, match=r"SECRET\.KEY=VALUE"):
        parse_assignments(["password=x"])
    with pytest.raises(UsageError, match="unknown secret name"):
        BootstrapOptions(values={"vault": {"x": "y"}})
    with pytest.raises(UsageError, match="unknown auth"):
        BootstrapOptions(auth="ldap")
    assert parse_assignments(["database.password=a=b"]) == {"database": {"password": "a=b"}}
