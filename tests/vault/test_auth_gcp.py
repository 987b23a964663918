"""The gcp auth method: ``iam`` (an OAuth token from a service-account key, gcloud user
credentials or the metadata server, then ``signJwt`` through the IAM credentials API) and
``gce`` (the metadata server's identity token), against local stand-ins for Google's
endpoints answering as Google documents; the login body as Vault's gcp backend reads it
(``role``, ``jwt``); credentials read again at every login."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from s4e_secret_agent.config.model import AuthMethodConfig, SecretText
from s4e_secret_agent.errors import AuthError
from s4e_secret_agent.vault.auth import LoginRequest, ProviderURLs, auth_method
from tests.vault.standin import RecordingVault, Seen, StandIn, standin

SA = "vault-auth@my-project.iam.gserviceaccount.com"
# Recorded answers, as Google documents them.
OAUTH_ANSWER = {"access_token": "ya29.c.b0AXv0zTOaUth-ACCESS-TOKEN", "expires_in": 3599,
                "token_type": "Bearer"}
METADATA_TOKEN = {"access_token": "ya29.AHES6ZRN3-HlhAPya30GnW_bHSb_QtAS08i85nHq39HE3C2LTrCARA",
                  "expires_in": 3599, "token_type": "Bearer"}
SIGNED = {"keyId": "1d0ad8d4ad7cbb8ae1a3bd0a0b5bfa0a0e0d6d1a",
          "signedJwt": "eyJhbGciOiJSUzI1NiIsImtpZCI6IjFkMGFkOGQ0In0.eyJhdWQiOiJodHRwOi8vdmF1bHQv"
                       "bXktcm9sZSJ9.c2lnbmVkLWJ5LWdvb2dsZQ"}
IDENTITY = ("eyJhbGciOiJSUzI1NiIsImtpZCI6IjZhOGJhNTY1MmE3MDQ0MTIxZDRmZWRhYzhmMTRkMTRjNTRlNDg5NWIiLC"
            "J0eXAiOiJKV1QifQ.eyJhdWQiOiJodHRwczovL3ZhdWx0LmV4YW1wbGUuY29tOjgyMDAvdmF1bHQvbXktcm9sZ"
            "SJ9.Z2NlLWlkZW50aXR5")


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_file(key: rsa.RSAPrivateKey, token_uri: str, key_id: str = "abc123") -> str:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return json.dumps({"type": "service_account", "project_id": "my-project",
                       "private_key_id": key_id, "private_key": pem, "client_email": SA,
                       "client_id": "1234567890", "token_uri": token_uri})


class Google:
    """The OAuth token endpoint, the IAM credentials API and the metadata server."""

    def __call__(self, seen: Seen) -> tuple[int, str, dict[str, str]]:
        js = {"Content-Type": "application/json"}
        if seen.path == "/token":
            return 200, json.dumps(OAUTH_ANSWER), js
        if seen.path.endswith(":signJwt"):
            if "denied" in seen.path:
                return 403, json.dumps({"error": {
                    "code": 403, "status": "PERMISSION_DENIED",
                    "message": "Permission 'iam.serviceAccounts.signJwt' denied on resource "
                               "(or it may not exist)."}}), js
            return 200, json.dumps(SIGNED), js
        if seen.path.endswith("/token") and seen.path.startswith("/computeMetadata/"):
            return 200, json.dumps(METADATA_TOKEN), js
        if seen.path.endswith("/identity"):
            return 200, IDENTITY, {"Content-Type": "text/html"}
        return 404, "", {}


@pytest.fixture
def google() -> Iterator[StandIn]:
    with standin(Google()) as server:
        yield server


def _gcp(**params: Any) -> AuthMethodConfig:
    settings: dict[str, Any] = {"type": "iam", "role": "my-role", "service_account": SA,
                                "jwt_exp": 15}
    settings.update(params)
    return AuthMethodConfig(type="gcp", mount_path="auth/gcp", params=settings)


def _build(config: AuthMethodConfig, google: StandIn, environ: dict[str, str]
           ) -> LoginRequest:
    method = auth_method(config, environ=environ,
                         urls=ProviderURLs(gcp_iam_credentials=google.url))
    plan = method.build(RecordingVault())
    assert isinstance(plan, LoginRequest)
    return plan


def _environ(tmp_path: Path, google: StandIn, **extra: str) -> dict[str, str]:
    return {"HOME": str(tmp_path), "GCE_METADATA_HOST": google.url.removeprefix("http://"),
            **extra}


def test_iam_login_signs_the_vault_claims_with_the_iam_credentials_api(
        tmp_path: Path, google: StandIn) -> None:
    key = _key()
    started = int(time.time())
    plan = _build(_gcp(credentials=SecretText(_key_file(key, google.url + "/token"))), google,
                  _environ(tmp_path, google))
    assert plan.path == "auth/gcp/login"
    assert dict(plan.body) == {"role": "my-role", "jwt": SIGNED["signedJwt"]}
    oauth, sign_jwt = google.requests
    # The key proved itself with an RS256 assertion (checked with its public key here).
    assert oauth.method == "POST" and oauth.path == "/token"
    assert oauth.form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = pyjwt.decode(oauth.form["assertion"], key.public_key(), algorithms=["RS256"],
                          audience=google.url + "/token")
    assert claims["iss"] == SA
    assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    assert pyjwt.get_unverified_header(oauth.form["assertion"])["kid"] == "abc123"
    # signJwt for the service account, with the claims Vault's gcp backend expects.
    assert sign_jwt.method == "POST"
    assert sign_jwt.path == f"/v1/projects/-/serviceAccounts/{SA}:signJwt"
    assert sign_jwt.headers["authorization"] == f"Bearer {OAUTH_ANSWER['access_token']}"
    payload = json.loads(sign_jwt.body)["payload"]
    exp = json.loads(payload)["exp"]
    assert payload == f'{{"aud":"http://vault/my-role","exp":{exp},"sub":"{SA}"}}'
    assert started + 15 * 60 <= exp <= int(time.time()) + 15 * 60


def test_iam_credentials_file_is_read_again_at_every_login(
        tmp_path: Path, google: StandIn) -> None:
    path = tmp_path / "key.json"
    first_key, second_key = _key(), _key()
    path.write_text(_key_file(first_key, google.url + "/token", "first"))
    env = _environ(tmp_path, google, GOOGLE_APPLICATION_CREDENTIALS=str(path))
    method = auth_method(_gcp(jwt_exp=5), environ=env,
                         urls=ProviderURLs(gcp_iam_credentials=google.url))
    method.build(RecordingVault())
    path.write_text(_key_file(second_key, google.url + "/token", "second"))  # key rotated
    method.build(RecordingVault())
    assertions = [r.form["assertion"] for r in google.requests if r.path == "/token"]
    pyjwt.decode(assertions[0], first_key.public_key(), algorithms=["RS256"],
                 audience=google.url + "/token")
    pyjwt.decode(assertions[1], second_key.public_key(), algorithms=["RS256"],
                 audience=google.url + "/token")
    payload = json.loads(json.loads(google.requests[-1].body)["payload"])
    assert payload["exp"] - int(time.time()) <= 5 * 60


def test_service_account_defaults_to_default_and_empty_means_the_keys_email(
        tmp_path: Path, google: StandIn) -> None:
    key_json = SecretText(_key_file(_key(), google.url + "/token"))
    config = _gcp(credentials=key_json)
    del_params = {k: v for k, v in config.params.items() if k != "service_account"}
    _build(AuthMethodConfig(type="gcp", mount_path="auth/gcp", params=del_params), google,
           _environ(tmp_path, google))
    assert google.requests[-1].path == "/v1/projects/-/serviceAccounts/default:signJwt"
    _build(_gcp(credentials=key_json, service_account=""), google, _environ(tmp_path, google))
    assert google.requests[-1].path == f"/v1/projects/-/serviceAccounts/{SA}:signJwt"


def test_iam_on_gke_workload_identity_takes_its_token_from_the_metadata_server(
        tmp_path: Path, google: StandIn) -> None:
    plan = _build(_gcp(), google, _environ(tmp_path, google))  # no key anywhere
    token, sign_jwt = google.requests
    assert token.path == "/computeMetadata/v1/instance/service-accounts/default/token"
    assert token.headers["metadata-flavor"] == "Google"
    assert sign_jwt.headers["authorization"] == f"Bearer {METADATA_TOKEN['access_token']}"
    assert plan.body["jwt"] == SIGNED["signedJwt"]


def test_gcloud_user_credentials_use_their_refresh_token(tmp_path: Path, google: StandIn) -> None:
    gcloud = tmp_path / ".config" / "gcloud"
    gcloud.mkdir(parents=True)
    (gcloud / "application_default_credentials.json").write_text(json.dumps({
        "type": "authorized_user", "client_id": "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur"
        ".apps.googleusercontent.com", "client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty",
        "refresh_token": "1//0gRefreshTokenExample", "token_uri": google.url + "/token"}))
    _build(_gcp(), google, _environ(tmp_path, google))
    refresh = google.requests[0]
    assert refresh.form["grant_type"] == "refresh_token"
    assert refresh.form["refresh_token"] == "1//0gRefreshTokenExample"


def test_a_refused_sign_jwt_names_googles_error_and_the_role_to_grant(
        tmp_path: Path, google: StandIn) -> None:
    with pytest.raises(AuthError) as err:
        _build(_gcp(service_account="denied@my-project.iam.gserviceaccount.com",
                    credentials=SecretText(_key_file(_key(), google.url + "/token"))),
               google, _environ(tmp_path, google))
    assert "403" in str(err.value) and "PERMISSION_DENIED" in str(err.value)
    assert "roles/iam.serviceAccountTokenCreator" in err.value.hint
    assert str(OAUTH_ANSWER["access_token"]) not in str(err.value) + err.value.hint


def test_gce_login_sends_the_metadata_identity_token_for_vaults_audience(
        tmp_path: Path, google: StandIn) -> None:
    plan = _build(_gcp(type="gce", service_account="default"), google,
                  _environ(tmp_path, google))
    assert dict(plan.body) == {"role": "my-role", "jwt": IDENTITY}
    (identity,) = google.requests
    assert identity.method == "GET"
    assert identity.path == "/computeMetadata/v1/instance/service-accounts/default/identity"
    assert identity.raw_path.endswith(
        "?audience=https%3A%2F%2Fvault.example.com%3A8200%2Fvault%2Fmy-role&format=full")
    assert identity.headers["metadata-flavor"] == "Google"


def test_the_real_endpoints_are_the_defaults() -> None:
    from s4e_secret_agent.vault.auth.azure import IMDS_URL
    from s4e_secret_agent.vault.auth.gcp import IAM_CREDENTIALS_URL

    assert ProviderURLs() == ProviderURLs(gcp_iam_credentials=IAM_CREDENTIALS_URL,
                                          azure_imds=IMDS_URL)
