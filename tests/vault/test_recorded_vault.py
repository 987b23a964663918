"""VaultClient against recorded HashiCorp Vault responses (tests/recorded/*.json).

These cover what the OpenBao test server cannot show: Vault 1.17+ "invalid token" 403 bodies,
the ``mount_type`` envelope field, sealed/standby/rate-limited answers, Enterprise 412s and
KV v2 deleted-version bodies as current Vault sends them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from responses.registries import OrderedRegistry

from s4e_secret_agent.config.model import AuthMethodConfig, VaultConfig
from s4e_secret_agent.errors import (
    AuthError,
    InvalidTokenError,
    PermissionDeniedError,
    SecretNotFoundError,
    VaultError,
    VaultUnavailableError,
)
from s4e_secret_agent.runtime.retry import retry_call
from s4e_secret_agent.vault.auth import Authenticator
from s4e_secret_agent.vault.client import RequestEvent, VaultClient

RECORDED = Path(__file__).resolve().parent.parent / "recorded"
ADDRESS = "https://vault.s4e.test:8200"
TOKEN = "hvs.recorded-client-token"


def recorded(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((RECORDED / name).read_text())
    return doc


def serve(mock: responses.RequestsMock, name: str, *, path: str | None = None,
          method: str | None = None, address: str = ADDRESS) -> None:
    """Register the recorded response ``name`` (at its own request path unless ``path``)."""
    doc = recorded(name)
    headers = {k: v for k, v in doc["headers"].items() if k.lower() != "content-type"}
    body = "" if doc["body"] is None else json.dumps(doc["body"], separators=(",", ":")) + "\n"
    mock.add(method or doc["request"]["method"], address + (path or doc["request"]["path"]),
             body=body, status=doc["status"], headers=headers,
             content_type=doc["headers"].get("Content-Type", "application/json"))


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def events() -> list[RequestEvent]:
    return []


@pytest.fixture
def client(events: list[RequestEvent]) -> Iterator[VaultClient]:
    vault = VaultClient(VaultConfig(address=ADDRESS), on_request=events.append, token=TOKEN)
    yield vault
    vault.close()


def test_every_recorded_file_is_well_formed() -> None:
    names = sorted(p.name for p in RECORDED.glob("*.json"))
    assert len(names) >= 20
    for name in names:
        doc = recorded(name)
        assert set(doc) == {"scenario", "request", "vault_versions", "source", "status",
                            "headers", "body"}, name
        assert doc["request"]["path"].startswith("/v1/"), name


# -- KV detection and reads --------------------------------------------------------------------


def test_kv2_detection_and_read_with_mount_type_field(mock: responses.RequestsMock,
                                                      client: VaultClient) -> None:
    serve(mock, "ui-mounts-kv2.json")
    serve(mock, "kv2-read.json")
    secret = client.read("secret/app/db")
    assert secret.read_path == "secret/data/app/db" and secret.kv_version == 2
    assert secret.data["data"]["username"] == "app"
    assert secret.envelope["mount_type"] == "kv"
    assert mock.calls[1].request.headers["X-Vault-Token"] == TOKEN
    assert mock.calls[1].request.headers["X-Vault-Request"] == "true"


def test_kv1_mount_with_null_options_reads_path_as_given(mock: responses.RequestsMock,
                                                         client: VaultClient) -> None:
    serve(mock, "ui-mounts-kv1-null-options.json")
    mock.add("GET", f"{ADDRESS}/v1/kv/app", json={"data": {"k": "v"}, "lease_duration": 60},
             status=200)
    secret = client.read("kv/app")
    assert secret.read_path == "kv/app" and secret.kv_version == 1
    assert secret.lease_duration == 60


def test_preflight_refusal_falls_back_to_the_path_as_given(mock: responses.RequestsMock,
                                                           client: VaultClient) -> None:
    serve(mock, "ui-mounts-preflight-403.json")
    serve(mock, "lookup-self-valid.json")  # the token is fine: the refusal is about access
    serve(mock, "missing-404.json", path="/v1/secret/app/db")
    with pytest.raises(SecretNotFoundError) as caught:
        client.read("secret/app/db")
    assert caught.value.path == "secret/app/db"
    assert "mount/data/key" in caught.value.hint


def test_deleted_and_destroyed_kv2_versions(mock: responses.RequestsMock,
                                            client: VaultClient) -> None:
    serve(mock, "ui-mounts-kv2.json")
    serve(mock, "kv2-read-soft-deleted-404.json")
    with pytest.raises(SecretNotFoundError) as deleted:
        client.read("secret/app/db")
    assert "version 2 was deleted at 2024-03-22T02:30:01.113812Z" in deleted.value.message
    serve(mock, "kv2-read-destroyed-404.json")
    with pytest.raises(SecretNotFoundError, match="version 1 was destroyed"):
        client.read("secret/app/db")


def test_missing_secret(mock: responses.RequestsMock, client: VaultClient) -> None:
    serve(mock, "ui-mounts-kv2.json")
    serve(mock, "missing-404.json")
    with pytest.raises(SecretNotFoundError, match="no secret at secret/data/app/db"):
        client.read("secret/app/db")


def test_database_credentials_lease_fields(mock: responses.RequestsMock,
                                           client: VaultClient) -> None:
    mock.add("GET", f"{ADDRESS}/v1/sys/internal/ui/mounts/database/creds/readonly",
             json={"data": {"path": "database/", "type": "database", "options": None}})
    serve(mock, "database-creds.json")
    creds = client.read("database/creds/readonly")
    assert creds.kv_version is None and creds.renewable is True
    assert creds.lease_id == "database/creds/readonly/7wMxCUzNcEaOrvCspBhXnjTM"
    assert creds.lease_duration == 3600


# -- 403: invalid token versus missing policy ---------------------------------------------------


def test_vault_117_invalid_token_body_needs_no_extra_request(mock: responses.RequestsMock,
                                                             client: VaultClient,
                                                             events: list[RequestEvent]) -> None:
    serve(mock, "ui-mounts-kv2.json")
    serve(mock, "invalid-token-403-vault117.json")
    with pytest.raises(InvalidTokenError):
        client.read("secret/app/db")
    assert [e.operation for e in events] == ["kv_detect", "read"]
    assert events[-1].result == "invalid_token"


def test_pre_117_invalid_token_is_confirmed_with_lookup_self(mock: responses.RequestsMock,
                                                            client: VaultClient) -> None:
    serve(mock, "ui-mounts-kv2.json")
    serve(mock, "invalid-token-403-vault116.json")
    serve(mock, "lookup-self-invalid-token-403.json")
    with pytest.raises(InvalidTokenError):
        client.read("secret/app/db")


def test_acl_denial_is_permission_denied(mock: responses.RequestsMock,
                                         client: VaultClient) -> None:
    serve(mock, "ui-mounts-kv2.json")
    serve(mock, "acl-denied-403.json")
    serve(mock, "lookup-self-valid.json")
    with pytest.raises(PermissionDeniedError) as caught:
        client.read("secret/app/db")
    assert type(caught.value) is PermissionDeniedError
    assert "secret/data/" in caught.value.hint


# -- tokens and logins ---------------------------------------------------------------------------


def test_lookup_self_with_identity_policies(mock: responses.RequestsMock,
                                            client: VaultClient) -> None:
    serve(mock, "lookup-self-valid.json")
    info = client.lookup_self()
    assert info.policies == ("default", "s4e-read", "dev-group-policy")
    assert info.ttl == 2764790 and info.renewable and info.orphan is True
    assert info.entity_id == "7d2e3179-f69b-450c-7179-ac8ee8bd8ca9"


def test_renew_self_capped_by_max_ttl(mock: responses.RequestsMock, client: VaultClient) -> None:
    serve(mock, "renew-self-capped.json")
    info = client.renew_self(increment=3600)
    assert info.ttl == 1198
    assert info.warnings and "capped" in info.warnings[0]
    assert json.loads(mock.calls[0].request.body or b"{}") == {"increment": 3600}


def kubernetes_method(tmp_path: Path) -> AuthMethodConfig:
    token_file = tmp_path / "token"
    token_file.write_text("eyJhbGciOiJSUzI1NiJ9.recorded.not-real\n")
    return AuthMethodConfig(type="kubernetes", mount_path="auth/kubernetes",
                            params={"role": "s4e", "token_path": str(token_file)})


def test_kubernetes_login_sends_no_token_and_reads_auth_block(mock: responses.RequestsMock,
                                                              tmp_path: Path) -> None:
    serve(mock, "kubernetes-login.json")
    vault = VaultClient(VaultConfig(address=ADDRESS, namespace="team-a"))
    try:
        info = Authenticator(kubernetes_method(tmp_path)).login(vault)
    finally:
        vault.close()
    sent = mock.calls[0].request
    assert "X-Vault-Token" not in sent.headers
    assert sent.headers["X-Vault-Namespace"] == "team-a"
    assert json.loads(sent.body or b"{}") == {
        "role": "s4e", "jwt": "eyJhbGciOiJSUzI1NiJ9.recorded.not-real"}
    assert vault.token == "hvs.recorded-not-real"
    assert info.ttl == 3600 and info.policies == ("default", "s4e-read")


@pytest.mark.parametrize(("name", "expected"), [
    ("kubernetes-login-unbound-sa-403.json", "service account name not authorized"),
    ("kubernetes-login-tokenreview-403.json", "permission denied"),
])
def test_kubernetes_login_refusals(mock: responses.RequestsMock, tmp_path: Path, name: str,
                                   expected: str) -> None:
    serve(mock, name)
    vault = VaultClient(VaultConfig(address=ADDRESS))
    try:
        with pytest.raises(AuthError) as caught:
            Authenticator(kubernetes_method(tmp_path)).login(vault)
    finally:
        vault.close()
    assert expected in caught.value.message
    assert "bound_service_account_names" in caught.value.hint
    assert "recorded.not-real" not in str(caught.value)


# -- transient answers ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "status", "hint"), [
    ("sealed-503.json", 503, "unseal"),
    ("standby-no-active-503.json", 503, "retried"),
    ("consistency-412.json", 412, "retried"),
    ("rate-limited-429.json", 429, "rate limiting"),
])
def test_transient_answers_are_unavailable(mock: responses.RequestsMock, client: VaultClient,
                                           name: str, status: int, hint: str) -> None:
    serve(mock, "ui-mounts-kv2.json")
    serve(mock, name)
    with pytest.raises(VaultUnavailableError) as caught:
        client.read("secret/app/db")
    assert caught.value.status == status and hint in caught.value.hint


def test_retry_after_seconds_and_http_date(mock: responses.RequestsMock,
                                           client: VaultClient) -> None:
    serve(mock, "rate-limited-429.json", path="/v1/auth/token/lookup-self")
    with pytest.raises(VaultUnavailableError) as seconds:
        client.lookup_self()
    assert seconds.value.retry_after == 12.0
    serve(mock, "rate-limited-429-http-date.json", path="/v1/auth/token/lookup-self")
    with pytest.raises(VaultUnavailableError) as date:
        client.lookup_self()
    assert date.value.retry_after is not None and date.value.retry_after > 86400


def test_health_answers_are_not_errors(mock: responses.RequestsMock,
                                       client: VaultClient) -> None:
    serve(mock, "health-standby-429.json")
    standby = client.health()
    assert standby["status_code"] == 429 and standby["standby"] is True
    serve(mock, "health-sealed-503.json")
    sealed = client.health()
    assert sealed["status_code"] == 503 and sealed["sealed"] is True


def test_standby_redirect_to_another_host_is_refused(mock: responses.RequestsMock,
                                                     client: VaultClient) -> None:
    # The token goes only to vault.address: a standby's 307 to the active node (another
    # host, here also plain http) is refused with the path and where it pointed.
    serve(mock, "ui-mounts-kv2.json")
    serve(mock, "standby-redirect-307.json")
    with pytest.raises(VaultError, match="secret/data/app/db") as refused:
        client.read("secret/app/db")
    assert "http://active.vault.test:8200" in str(refused.value)
    assert all("active.vault.test" not in (call.request.url or "") for call in mock.calls)


def test_retry_layer_rides_out_sealed_and_rate_limited_vault(client: VaultClient) -> None:
    with responses.RequestsMock(registry=OrderedRegistry) as ordered:
        serve(ordered, "ui-mounts-kv2.json")
        serve(ordered, "sealed-503.json")
        serve(ordered, "rate-limited-429.json")
        serve(ordered, "kv2-read.json")
        waits: list[float] = []
        secret = retry_call(lambda: client.read("secret/app/db"), sleep=waits.append,
                            rng=lambda: 0.0)
    assert secret.kv_version == 2
    assert waits == [1.0, 12.0]  # min backoff, then Vault's Retry-After


# -- leases --------------------------------------------------------------------------------------


def test_lease_renewal_capped_and_lost(mock: responses.RequestsMock, client: VaultClient) -> None:
    serve(mock, "leases-renew-capped.json")
    lease = client.renew_lease("database/creds/readonly/7wMxCUzNcEaOrvCspBhXnjTM", 3600)
    assert lease.ttl == 597 and lease.renewable and "capped" in lease.warnings[0]
    assert json.loads(mock.calls[0].request.body or b"{}") == {
        "lease_id": "database/creds/readonly/7wMxCUzNcEaOrvCspBhXnjTM", "increment": 3600}
    serve(mock, "leases-renew-not-found-400.json")
    with pytest.raises(VaultError) as caught:
        client.renew_lease("database/creds/readonly/7wMxCUzNcEaOrvCspBhXnjTM")
    assert caught.value.status == 400 and "lease not found" in caught.value.message
    assert "7wMxCUzNcEaOrvCspBhXnjTM" not in str(caught.value)


class ExactNumber:
    """Like the template engine's json.Number: keeps the literal text, is not an int."""

    def __init__(self, text: str) -> None:
        self.text = text


def test_lease_fields_are_read_from_exact_number_objects(mock: responses.RequestsMock) -> None:
    def decode(text: str) -> Any:
        return json.loads(text, parse_int=ExactNumber, parse_float=ExactNumber)

    mock.add("GET", f"{ADDRESS}/v1/sys/internal/ui/mounts/database/creds/readonly",
             json={"data": {"path": "database/", "type": "database", "options": None}})
    serve(mock, "database-creds.json")
    vault = VaultClient(VaultConfig(address=ADDRESS), decode=decode, token=TOKEN)
    try:
        creds = vault.read("database/creds/readonly")
    finally:
        vault.close()
    assert creds.lease_duration == 3600 and creds.renewable is True
    assert isinstance(creds.envelope["lease_duration"], ExactNumber)
