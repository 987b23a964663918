"""The ``gcp`` auth method, as Vault Agent's: type ``iam`` (a JWT for the service account,
signed by Google's IAM credentials API) or ``gce`` (the instance's identity token from the
metadata server).

``iam``: the JWT's claims are ``aud`` ``http://vault/<role>``, ``sub`` the service account
and ``exp`` ``jwt_exp`` minutes ahead (default 15); ``projects/-/serviceAccounts/<sa>:signJwt``
signs it. The call is authorised with an OAuth access token from the first credentials found,
afresh at every login: the method's ``credentials`` (the JSON key itself, or a file holding
it), ``GOOGLE_CREDENTIALS``, ``GOOGLE_CLOUD_KEYFILE_JSON``, ``~/.gcp/credentials``, then
Application Default Credentials (``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's
``application_default_credentials.json``, the metadata server, which is also what GKE Workload
Identity serves). Service-account keys are exchanged with a signed JWT assertion, gcloud user
credentials with their refresh token. ``service_account`` defaults to ``default``, as in Vault
Agent; with ``service_account = ""`` the key's ``client_email`` is used.

``gce``: ``GET http://metadata/computeMetadata/v1/instance/service-accounts/<sa>/identity``
with ``audience=<vault address>/vault/<role>`` and ``format=full`` (``GCE_METADATA_HOST``
names another metadata host).

Either way the login body is ``{"role", "jwt"}``.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from s4e_secret_agent.config.model import AuthMethodConfig
from s4e_secret_agent.errors import AuthError
from s4e_secret_agent.vault.auth.base import (
    LoginPlan,
    LoginRequest,
    WrappingClient,
    log,
    login_path,
    read_file,
    text_param,
)
from s4e_secret_agent.vault.auth.provider import ask

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
IAM_CREDENTIALS_URL = "https://iamcredentials.googleapis.com"
METADATA_URL = "http://metadata"
TOKEN_URL = "https://oauth2.googleapis.com/token"
DEFAULT_JWT_EXP_MINUTES = 15
_METADATA_HEADERS = {"Metadata-Flavor": "Google"}
_HINT = ("give the pod Google credentials: GKE Workload Identity (the Kubernetes service "
         "account bound to a Google service account), GOOGLE_APPLICATION_CREDENTIALS, or "
         "auto_auth.method.config.credentials")

Clock = Callable[[], float]


@dataclass(frozen=True)
class GoogleCredentials:
    """Where an access token comes from: a key or user credentials, or the metadata server."""

    kind: str  # "service_account", "authorized_user" or "metadata"
    source: str
    info: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def client_email(self) -> str:
        return str(self.info.get("client_email") or "")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_payload(role: str, service_account: str, expires: int) -> str:
    """The claims ``signJwt`` signs, serialised as Go's ``json.Marshal`` of a map (keys
    sorted, no spaces)."""
    return json.dumps({"aud": f"http://vault/{role}", "exp": expires, "sub": service_account},
                      sort_keys=True, separators=(",", ":"))


class GcpAuth:
    """``auto_auth.method "gcp"``: ``type`` iam or gce, ``role``, ``service_account``,
    ``credentials``, ``jwt_exp`` (minutes)."""

    def __init__(self, config: AuthMethodConfig, *, environ: Mapping[str, str] | None = None,
                 clock: Clock = time.time,
                 iam_credentials_url: str = IAM_CREDENTIALS_URL) -> None:
        self.config = config
        self.kind = text_param(config, "type")
        self.role = text_param(config, "role")
        raw_account = config.params.get("service_account")
        self.service_account = "default" if raw_account is None else str(raw_account)
        raw = config.params.get("credentials")
        self._credentials = str(getattr(raw, "value", raw) or "")
        jwt_exp = config.params.get("jwt_exp")
        self.jwt_exp = int(jwt_exp) if jwt_exp else DEFAULT_JWT_EXP_MINUTES
        self._environ = os.environ if environ is None else environ
        self._clock = clock
        self._iam_url = iam_credentials_url.rstrip("/")

    @property
    def _metadata_url(self) -> str:
        host = self._environ.get("GCE_METADATA_HOST", "")
        return f"http://{host}" if host else METADATA_URL

    def build(self, vault: WrappingClient) -> LoginPlan:
        jwt = self._gce_jwt(vault.address) if self.kind == "gce" else self._iam_jwt()
        return LoginRequest(login_path(self.config), {"role": self.role, "jwt": jwt})

    def _gce_jwt(self, vault_address: str) -> str:
        query = urlencode({"audience": f"{vault_address}/vault/{self.role}", "format": "full"})
        url = (f"{self._metadata_url}/computeMetadata/v1/instance/service-accounts/"
               f"{quote(self.service_account, safe='@.')}/identity?{query}")
        answer = ask("GET", url, what="the GCE metadata server (identity token)",
                     hint="run on GCE (or GKE with the metadata server) with service account "
                          f"{self.service_account!r} attached", headers=_METADATA_HEADERS)
        return answer.text.strip()

    def _iam_jwt(self) -> str:
        credentials = find_credentials(self._credentials, self._environ)
        account = self.service_account or credentials.client_email
        if not account:
            raise AuthError("no service account to sign the JWT as: the credentials name "
                            "none", hint="set auto_auth.method.config.service_account")
        log.debug("signing the GCP login JWT with credentials from %s", credentials.source,
                  extra={"event": "gcp_credentials", "source": credentials.source})
        access_token = self._access_token(credentials)
        expires = int(self._clock()) + self.jwt_exp * 60
        resource = f"projects/-/serviceAccounts/{account}"
        hint = (f"grant the credentials' identity roles/iam.serviceAccountTokenCreator on "
                f"{account} (iam.serviceAccounts.signJwt)")
        answer = ask("POST", f"{self._iam_url}/v1/{quote(resource, safe='/@-.')}:signJwt",
                     what=f"the IAM credentials API (signJwt for {account})", hint=hint,
                     headers={"Authorization": f"Bearer {access_token}",
                              "Content-Type": "application/json"},
                     data=json.dumps({"payload": jwt_payload(self.role, account, expires)}))
        signed = answer.json("the IAM credentials API", hint).get("signedJwt")
        if not isinstance(signed, str) or not signed:
            raise AuthError("the IAM credentials API answered signJwt without a signed JWT",
                            hint=hint)
        return signed

    def _access_token(self, credentials: GoogleCredentials) -> str:
        if credentials.kind == "metadata":
            answer = ask("GET", f"{self._metadata_url}/computeMetadata/v1/instance/"
                         "service-accounts/default/token",
                         what="the GCE metadata server (access token)", hint=_HINT,
                         headers=_METADATA_HEADERS,
                         params={"scopes": CLOUD_PLATFORM_SCOPE})
            body = answer.json("the GCE metadata server", _HINT)
        elif credentials.kind == "authorized_user":
            info = credentials.info
            answer = ask("POST", str(info.get("token_uri") or TOKEN_URL),
                         what="Google's OAuth token endpoint", hint=_HINT,
                         data=urlencode({
                             "grant_type": "refresh_token",
                             "client_id": str(info.get("client_id") or ""),
                             "client_secret": str(info.get("client_secret") or ""),
                             "refresh_token": str(info.get("refresh_token") or "")}),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            body = answer.json("Google's OAuth token endpoint", _HINT)
        else:
            token_uri = str(credentials.info.get("token_uri") or TOKEN_URL)
            assertion = service_account_assertion(credentials.info, token_uri,
                                                  int(self._clock()))
            answer = ask("POST", token_uri, what="Google's OAuth token endpoint",
                         hint="check that the service account key is valid and not deleted",
                         data=urlencode({
                             "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                             "assertion": assertion}),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            body = answer.json("Google's OAuth token endpoint", _HINT)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthError(f"no access token from {credentials.source}", hint=_HINT)
        return token


def service_account_assertion(info: Mapping[str, Any], token_uri: str, now: int) -> str:
    """The RS256 JWT a service-account key proves itself with at the OAuth endpoint."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    header = {"alg": "RS256", "typ": "JWT"}
    if info.get("private_key_id"):
        header["kid"] = str(info["private_key_id"])
    claims = {"iss": str(info.get("client_email") or ""), "scope": CLOUD_PLATFORM_SCOPE,
              "aud": token_uri, "iat": now, "exp": now + 3600}
    signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                     + _b64url(json.dumps(claims, separators=(",", ":")).encode()))
    try:
        key = serialization.load_pem_private_key(str(info.get("private_key") or "").encode(),
                                                 password=None)
    except (ValueError, TypeError):
        raise AuthError("the service account key's private_key is not a PEM private key",
                        hint="use the JSON key file Google issued, unchanged") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AuthError("the service account key's private_key is not an RSA key",
                        hint="use the JSON key file Google issued, unchanged")
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + _b64url(signature)


def _parse_credentials(text: str, source: str) -> GoogleCredentials:
    try:
        info = json.loads(text)
    except ValueError:
        info = None
    if not isinstance(info, Mapping):
        raise AuthError(f"the Google credentials in {source} are not JSON",
                        hint="give the JSON key file's content (or its path)")
    kind = str(info.get("type") or "")
    if kind not in ("service_account", "authorized_user"):
        raise AuthError(f"the Google credentials in {source} are of type {kind!r}",
                        hint="use a service account key, gcloud user credentials or the "
                             "metadata server (external_account credentials are not read)")
    return GoogleCredentials(kind, source, info)


def find_credentials(configured: str, environ: Mapping[str, str]) -> GoogleCredentials:
    """The first Google credentials found, in Vault Agent's order (read now)."""
    home = environ.get("HOME") or os.path.expanduser("~")
    if configured:
        if configured.lstrip().startswith("{"):
            return _parse_credentials(configured, "auto_auth.method.config.credentials")
        text = read_file(configured)
        if text is None:
            raise AuthError(f"the Google credentials file {configured} does not exist",
                            hint="fix auto_auth.method.config.credentials")
        return _parse_credentials(text, configured)
    for name in ("GOOGLE_CREDENTIALS", "GOOGLE_CLOUD_KEYFILE_JSON"):
        if environ.get(name):
            return _parse_credentials(environ[name], name)
    home_file = os.path.join(home, ".gcp", "credentials")
    text = read_file(home_file)
    if text:
        return _parse_credentials(text, home_file)
    # Application Default Credentials.
    if environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        path = environ["GOOGLE_APPLICATION_CREDENTIALS"]
        text = read_file(path)
        if text is None:
            raise AuthError(f"GOOGLE_APPLICATION_CREDENTIALS names {path}, which does not exist",
                            hint="mount the key file there or unset the variable")
        return _parse_credentials(text, path)
    config_dir = environ.get("CLOUDSDK_CONFIG") or os.path.join(home, ".config", "gcloud")
    gcloud_file = os.path.join(config_dir, "application_default_credentials.json")
    text = read_file(gcloud_file)
    if text:
        return _parse_credentials(text, gcloud_file)
    return GoogleCredentials("metadata", "the metadata server")
