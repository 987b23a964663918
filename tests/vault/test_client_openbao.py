"""VaultClient against a real OpenBao server over HTTP: tokens, KV v1/v2, lists, error mapping."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from s4e_secret_agent.config.model import AuthMethodConfig, SecretText
from s4e_secret_agent.errors import (
    AuthError,
    InvalidTokenError,
    PermissionDeniedError,
    SecretNotFoundError,
    VaultError,
    VaultUnavailableError,
)
from s4e_secret_agent.vault.auth import Authenticator
from s4e_secret_agent.vault.client import VaultClient
from tests.testbed.faultproxy import FaultProxy
from tests.testbed.openbao import OpenBaoServer
from tests.testbed.ports import free_port
from tests.vault.conftest import Mounts, Recorder, policy_token

MakeClient = Callable[..., tuple[VaultClient, Recorder]]


def token_method(token: str) -> AuthMethodConfig:
    return AuthMethodConfig(type="token", mount_path="auth/token",
                            params={"token": SecretText(token)})


# -- tokens ------------------------------------------------------------------------------------


def test_token_login_learns_ttl_policies_and_accessor(openbao: OpenBaoServer,
                                                      make_client: MakeClient) -> None:
    token = policy_token(openbao, "vt-login", 'path "x/*" { capabilities = ["read"] }',
                         ttl="30m")
    client, _ = make_client()
    info = Authenticator(token_method(token)).login(client)
    assert client.token == token
    assert 1790 <= info.ttl <= 1800
    assert info.renewable is True
    assert info.policies == ("default", "vt-login")
    assert info.accessor and info.accessor not in token
    assert info.expires_at_monotonic is not None


def test_renew_self_extends_and_revoke_self_invalidates(openbao: OpenBaoServer,
                                                        make_client: MakeClient) -> None:
    token = policy_token(openbao, "vt-renew", 'path "x/*" { capabilities = ["read"] }',
                         ttl="10m", explicit_max_ttl="20m")
    client, recorder = make_client(token=token)
    renewed = client.renew_self(increment=900)
    assert 890 <= renewed.ttl <= 900
    capped = client.renew_self(increment=3600)
    assert capped.ttl <= 1200  # explicit max TTL caps it, Vault adds a warning
    assert any("max_ttl" in w for w in capped.warnings)
    client.revoke_self()
    assert client.token is None
    client.use_token(token)
    with pytest.raises(InvalidTokenError) as caught:
        client.lookup_self()
    assert token not in str(caught.value)
    assert [op for op, _, _ in recorder.operations()] == [
        "renew_self", "renew_self", "revoke_self", "lookup_self"]


def test_root_token_is_not_renewable_and_says_to_log_in_again(
        openbao: OpenBaoServer, make_client: MakeClient) -> None:
    client, _ = make_client(token=openbao.root_token)
    info = client.lookup_self()
    assert info.ttl == 0 and info.expires_at_monotonic is None and info.renewable is False
    with pytest.raises(VaultError) as caught:
        client.renew_self()
    assert caught.value.status == 400
    assert "lease is not renewable" in str(caught.value)
    assert "log in again" in caught.value.hint


def test_bad_token_login_is_an_auth_error(make_client: MakeClient) -> None:
    client, _ = make_client()
    with pytest.raises(AuthError) as caught:
        Authenticator(token_method("hvs.not-a-real-token")).login(client)
    assert "VAULT_TOKEN" in str(caught.value)
    assert "hvs.not-a-real-token" not in str(caught.value)


# -- KV ----------------------------------------------------------------------------------------


def test_kv2_path_is_rewritten_after_mount_detection(openbao: OpenBaoServer, mounts: Mounts,
                                                     make_client: MakeClient) -> None:
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path="app/db", secret={"password": "s3cret", "port": 5432}, mount_point=mounts.kv2)
    client, recorder = make_client(token=openbao.root_token)
    first = client.read(f"{mounts.kv2}/app/db")
    assert first.read_path == f"{mounts.kv2}/data/app/db"
    assert first.kv_version == 2
    assert first.data["data"] == {"password": "s3cret", "port": 5432}
    assert first.data["metadata"]["version"] == 1
    assert first.lease_id == "" and first.renewable is False
    # Already-prefixed paths stay as written; the mount lookup is cached per mount.
    again = client.read(f"{mounts.kv2}/data/app/db")
    assert again.read_path == f"{mounts.kv2}/data/app/db"
    assert [op for op, _, _ in recorder.operations()] == ["kv_detect", "read", "read"]
    assert recorder.events[0].path == f"sys/internal/ui/mounts/{mounts.kv2}/app/db"


def test_kv2_version_query_and_metadata_paths(openbao: OpenBaoServer, mounts: Mounts,
                                              make_client: MakeClient) -> None:
    kv = openbao.client().secrets.kv.v2
    kv.create_or_update_secret(path="versions", secret={"v": "one"}, mount_point=mounts.kv2)
    kv.create_or_update_secret(path="versions", secret={"v": "two"}, mount_point=mounts.kv2)
    client, _ = make_client(token=openbao.root_token)
    old = client.read(f"{mounts.kv2}/versions?version=1")
    assert old.data["data"] == {"v": "one"}
    assert old.requested_path == f"{mounts.kv2}/versions?version=1"
    meta = client.read(f"{mounts.kv2}/metadata/versions")
    assert meta.read_path == f"{mounts.kv2}/metadata/versions"
    assert meta.data["current_version"] == 2


def test_kv1_read_keeps_path_and_reports_ttl_hint(openbao: OpenBaoServer, mounts: Mounts,
                                                  make_client: MakeClient) -> None:
    openbao.client().write(f"{mounts.kv1}/app", api_key="k-123", ttl="90s")
    client, _ = make_client(token=openbao.root_token)
    secret = client.read(f"{mounts.kv1}/app")
    assert secret.read_path == f"{mounts.kv1}/app"
    assert secret.kv_version == 1
    assert secret.data == {"api_key": "k-123", "ttl": "90s"}
    assert secret.lease_duration == 90 and secret.lease_id == ""


def test_secret_with_args_writes_like_consul_template(openbao: OpenBaoServer, mounts: Mounts,
                                                      make_client: MakeClient) -> None:
    client, recorder = make_client(token=openbao.root_token)
    written = client.read(f"{mounts.kv2}/generated", {"user": "app", "color": "blue"})
    assert written.read_path == f"{mounts.kv2}/data/generated"
    assert written.data["version"] == 1  # KV v2 answers a write with the version metadata
    stored = openbao.client().secrets.kv.v2.read_secret_version(
        path="generated", mount_point=mounts.kv2, raise_on_deleted_version=True)
    assert stored["data"]["data"] == {"user": "app", "color": "blue"}
    v1 = client.read(f"{mounts.kv1}/generated", {"user": "app"})
    assert v1.envelope is None  # KV v1 writes answer 204
    assert openbao.client().read(f"{mounts.kv1}/generated")["data"] == {"user": "app"}
    assert ("write", f"{mounts.kv2}/data/generated", "ok") in recorder.operations()


def test_decode_hook_receives_the_raw_body(openbao: OpenBaoServer, mounts: Mounts,
                                           make_client: MakeClient) -> None:
    import json

    openbao.client().write(f"{mounts.kv1}/numbers", big=12345678901234567890, ratio=0.1)
    seen: list[str] = []

    def exact(text: str) -> Any:
        seen.append(text)
        return json.loads(text, parse_float=Decimal)

    client, _ = make_client(token=openbao.root_token)
    exact_client = VaultClient(client.config, decode=exact, token=openbao.root_token)
    try:
        secret = exact_client.read(f"{mounts.kv1}/numbers")
    finally:
        exact_client.close()
    assert secret.data == {"big": 12345678901234567890, "ratio": Decimal("0.1")}
    assert len(seen) == 1 and '"ratio":0.1' in seen[0]


def test_list_returns_sorted_keys_and_nothing_for_missing(openbao: OpenBaoServer,
                                                          mounts: Mounts,
                                                          make_client: MakeClient) -> None:
    root = openbao.client()
    for name in ("zeta", "alpha", "dir/inner"):
        root.write(f"{mounts.kv1}/listing/{name}", k="v")
    client, _ = make_client(token=openbao.root_token)
    listing = client.list(f"{mounts.kv1}/listing")
    assert listing.list_keys == ["alpha", "dir/", "zeta"]
    assert client.list(f"{mounts.kv1}/no-such-dir").list_keys == []
    root.secrets.kv.v2.create_or_update_secret(path="listing/one", secret={"k": "v"},
                                               mount_point=mounts.kv2)
    assert client.list(f"{mounts.kv2}/metadata/listing").list_keys == ["one"]


# -- errors ------------------------------------------------------------------------------------


def test_missing_secret_is_not_found(openbao: OpenBaoServer, mounts: Mounts,
                                     make_client: MakeClient) -> None:
    client, recorder = make_client(token=openbao.root_token)
    with pytest.raises(SecretNotFoundError) as caught:
        client.read(f"{mounts.kv2}/does/not/exist")
    assert caught.value.status == 404
    assert caught.value.path == f"{mounts.kv2}/data/does/not/exist"
    assert recorder.events[-1].result == "not_found"


def test_deleted_kv2_version_says_it_was_deleted(openbao: OpenBaoServer, mounts: Mounts,
                                                 make_client: MakeClient) -> None:
    kv = openbao.client().secrets.kv.v2
    kv.create_or_update_secret(path="gone", secret={"x": "1"}, mount_point=mounts.kv2)
    kv.delete_latest_version_of_secret(path="gone", mount_point=mounts.kv2)
    client, _ = make_client(token=openbao.root_token)
    with pytest.raises(SecretNotFoundError) as caught:
        client.read(f"{mounts.kv2}/gone")
    assert "version 1 was deleted at" in str(caught.value)
    assert "undelete" in caught.value.hint
    kv.destroy_secret_versions(path="gone", versions=[1], mount_point=mounts.kv2)
    with pytest.raises(SecretNotFoundError, match="version 1 was destroyed"):
        client.read(f"{mounts.kv2}/gone")


def test_denied_kv2_path_names_the_data_subpath_and_policies(
        openbao: OpenBaoServer, mounts: Mounts, make_client: MakeClient) -> None:
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path="private", secret={"x": "1"}, mount_point=mounts.kv2)
    token = policy_token(openbao, "vt-limited",
                         f'path "{mounts.kv2}/data/public" {{ capabilities = ["read"] }}')
    client, recorder = make_client()
    Authenticator(token_method(token)).login(client)
    with pytest.raises(PermissionDeniedError) as caught:
        client.read(f"{mounts.kv2}/private")
    err = caught.value
    assert type(err) is PermissionDeniedError
    assert err.status == 403 and err.path == f"{mounts.kv2}/data/private"
    assert f"{mounts.kv2}/data/" in err.hint and "vt-limited" in err.hint
    assert token not in str(err)
    assert recorder.events[-1].result == "denied"


def test_revoked_token_is_invalid_token_even_without_vault_117_body(
        openbao: OpenBaoServer, mounts: Mounts, make_client: MakeClient) -> None:
    openbao.client().write(f"{mounts.kv1}/revoked-case", k="v")
    token = policy_token(openbao, "vt-kv1-read",
                         f'path "{mounts.kv1}/*" {{ capabilities = ["read"] }}')
    client, _ = make_client(token=token)
    assert client.read(f"{mounts.kv1}/revoked-case").data == {"k": "v"}
    openbao.client().auth.token.revoke(token)
    with pytest.raises(InvalidTokenError) as caught:
        client.read(f"{mounts.kv1}/revoked-case")
    assert caught.value.hint == "log in again"


def test_ui_mounts_denied_falls_back_to_reading_path_as_given(
        openbao: OpenBaoServer, mounts: Mounts, make_client: MakeClient,
        fault_proxy: FaultProxy, caplog: pytest.LogCaptureFixture) -> None:
    # OpenBao lets any token with a capability under the mount see its ui/mounts entry, so a
    # refusal there is produced by the proxy (as Vault does for tokens without such access).
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path="fallback", secret={"x": "1"}, mount_point=mounts.kv2)
    fault_proxy.fail("/v1/sys/internal/ui/mounts/", 403)
    client, recorder = make_client(token=openbao.root_token, address=fault_proxy.address)
    with (caplog.at_level(logging.WARNING, logger="s4e_secret_agent.vault.client"),
          pytest.raises(SecretNotFoundError) as caught):
        client.read(f"{mounts.kv2}/fallback")
    assert caught.value.path == f"{mounts.kv2}/fallback"
    assert "data/" in caught.value.hint
    assert any(getattr(r, "event", "") == "kv_detect_failed" for r in caplog.records)
    explicit = client.read(f"{mounts.kv2}/data/fallback")
    assert explicit.data["data"] == {"x": "1"} and explicit.kv_version is None
    # The refusal is remembered for that path: no second ui/mounts request.
    with pytest.raises(SecretNotFoundError):
        client.read(f"{mounts.kv2}/fallback")
    assert [op for op, _, _ in recorder.operations()].count("kv_detect") == 2


def test_connection_refused_is_retryable_unavailable(make_client: MakeClient) -> None:
    client, recorder = make_client(address=f"http://127.0.0.1:{free_port()}",
                                   token="hvs.whatever")
    with pytest.raises(VaultUnavailableError) as caught:
        client.read("secret/app")
    assert "cannot reach Vault" in str(caught.value) and "VAULT_ADDR" in caught.value.hint
    assert recorder.events[-1].status is None
    assert recorder.events[-1].result == "unavailable"


def test_health_and_capabilities(openbao: OpenBaoServer, mounts: Mounts,
                                 make_client: MakeClient) -> None:
    token = policy_token(openbao, "vt-caps", f'path "{mounts.kv1}/a" {{ capabilities = '
                                             '["read", "list"] }')
    client, _ = make_client(token=token)
    health = client.health()
    assert health["status_code"] == 200 and health["sealed"] is False
    caps = client.capabilities_self([f"{mounts.kv1}/a", f"{mounts.kv1}/b"])
    assert caps == {f"{mounts.kv1}/a": ["list", "read"], f"{mounts.kv1}/b": ["deny"]}


def test_request_log_lines_carry_paths_but_never_tokens_or_values(
        openbao: OpenBaoServer, mounts: Mounts, make_client: MakeClient,
        caplog: pytest.LogCaptureFixture) -> None:
    openbao.client().write(f"{mounts.kv1}/logged", password="do-not-log-me")
    token = policy_token(openbao, "vt-logs", f'path "{mounts.kv1}/*" {{ capabilities = '
                                             '["read"] }')
    client, _ = make_client()
    with caplog.at_level(logging.DEBUG, logger="s4e_secret_agent"):
        Authenticator(token_method(token)).login(client)
        client.read(f"{mounts.kv1}/logged")
    requests = [r for r in caplog.records if getattr(r, "event", "") == "vault_request"]
    assert {(r.operation, r.path) for r in requests} >= {  # type: ignore[attr-defined]
        ("lookup_self", "auth/token/lookup-self"), ("read", f"{mounts.kv1}/logged")}
    read_line = next(r for r in requests if r.operation == "read")  # type: ignore[attr-defined]
    assert read_line.lease_ttl == 2764800  # type: ignore[attr-defined]
    everything = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert token not in everything and "do-not-log-me" not in everything


def test_namespace_header_scopes_reads_and_kv_detection(openbao: OpenBaoServer,
                                                        make_client: MakeClient) -> None:
    import uuid

    namespace = f"team-{uuid.uuid4().hex[:8]}"
    key = f"only-in-{namespace}"
    openbao.bao("namespace", "create", namespace)
    openbao.bao("secrets", "enable", f"-ns={namespace}", "-path=secret", "-version=2", "kv")
    openbao.bao("kv", "put", f"-ns={namespace}", "-mount=secret", key, "color=teal")
    client, recorder = make_client(token=openbao.root_token, namespace=namespace)
    secret = client.read(f"secret/{key}")
    assert secret.read_path == f"secret/data/{key}" and secret.kv_version == 2
    assert secret.data["data"] == {"color": "teal"}
    assert [e.result for e in recorder.events] == ["ok", "ok"]
    outside, _ = make_client(token=openbao.root_token)  # same path, root namespace
    with pytest.raises(SecretNotFoundError):
        outside.read(f"secret/{key}")
