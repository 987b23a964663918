"""Auth methods: each one only *builds* a login request; the Vault client sends it.

One module per family of Vault Agent ``auto_auth`` methods, each following Vault Agent's
method of the same name (parameters, defaults, the login body, the mount path
``auth/<type>``):

- :mod:`.local`: ``kubernetes``, ``approle``, ``jwt``, ``token_file``, ``token`` (credentials
  in files or given directly);
- :mod:`.cert`: ``cert`` (the TLS client certificate);
- :mod:`.aws`: ``aws`` (``iam`` with a SigV4-signed ``sts:GetCallerIdentity`` from
  :mod:`.sigv4`, including IRSA web identity; ``ec2``);
- :mod:`.gcp`: ``gcp`` (``iam`` through the IAM credentials API, ``gce``);
- :mod:`.azure`: ``azure`` (managed identity or environment credentials, instance metadata).

Credentials are read again at every login (files, environment, metadata services), so that
rotated tokens, keys and certificates are used by the next login. Nothing here talks to Vault
except through the small :class:`WrappingClient` protocol the Vault client implements; the
cloud methods ask their providers through :mod:`.provider`. Credentials never appear in logs,
reprs or exception messages; messages name the file, variable or parameter to fix.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from s4e_secret_agent.config.model import AuthMethodConfig
from s4e_secret_agent.errors import ConfigError
from s4e_secret_agent.vault.auth.base import (
    AuthMethod,
    ExistingToken,
    LoginClient,
    LoginPlan,
    LoginRequest,
    LoginTLS,
    WrappingClient,
    mount_path,
)
from s4e_secret_agent.vault.auth.cert import CertAuth
from s4e_secret_agent.vault.auth.local import (
    AppRoleAuth,
    GivenTokenAuth,
    JwtAuth,
    KubernetesAuth,
    TokenFileAuth,
)
from s4e_secret_agent.vault.types import TokenInfo

__all__ = [
    "AppRoleAuth", "AuthMethod", "Authenticator", "CertAuth",
    "ExistingToken", "GivenTokenAuth", "JwtAuth", "KubernetesAuth", "LoginClient",
    "LoginPlan", "LoginRequest", "LoginTLS", "ProviderURLs", "TokenFileAuth", "WrappingClient",
    "auth_method", "login_hint", "mount_path",
]


@dataclass(frozen=True)
class ProviderURLs:
    """Where the cloud methods find the provider endpoints that no SDK variable moves (the
    defaults are the real ones; tests point them at local stand-ins)."""

    gcp_iam_credentials: str = "https://iamcredentials.googleapis.com"
    azure_imds: str = "http://169.254.169.254"


_Factory = Callable[[AuthMethodConfig, Mapping[str, str], ProviderURLs], AuthMethod]


# The cloud methods are imported when configured: most pods never need them.
def _aws(config: AuthMethodConfig, environ: Mapping[str, str], _urls: ProviderURLs
         ) -> AuthMethod:
    from s4e_secret_agent.vault.auth.aws import AwsAuth

    return AwsAuth(config, environ=environ)


def _gcp(config: AuthMethodConfig, environ: Mapping[str, str], urls: ProviderURLs
         ) -> AuthMethod:
    from s4e_secret_agent.vault.auth.gcp import GcpAuth

    return GcpAuth(config, environ=environ, iam_credentials_url=urls.gcp_iam_credentials)


def _azure(config: AuthMethodConfig, environ: Mapping[str, str], urls: ProviderURLs
           ) -> AuthMethod:
    from s4e_secret_agent.vault.auth.azure import AzureAuth

    return AzureAuth(config, environ=environ, imds_url=urls.azure_imds)


_METHODS: Mapping[str, _Factory] = {
    "kubernetes": lambda config, _env, _urls: KubernetesAuth(config),
    "approle": lambda config, _env, _urls: AppRoleAuth(config),
    "jwt": lambda config, _env, _urls: JwtAuth(config),
    "token_file": lambda config, _env, _urls: TokenFileAuth(config),
    "token": lambda config, _env, _urls: GivenTokenAuth(config),
    "cert": lambda config, _env, _urls: CertAuth(config),
    "aws": _aws,
    "gcp": _gcp,
    "azure": _azure,
}


def auth_method(config: AuthMethodConfig, *, environ: Mapping[str, str] | None = None,
                urls: ProviderURLs | None = None) -> AuthMethod:
    """The auth method for ``config`` (raises :class:`ConfigError` for unknown types).

    ``environ`` is read at every login (default: the process environment, live).
    """
    factory = _METHODS.get(config.type)
    if factory is None:
        raise ConfigError(f"unknown auth method type {config.type!r}; use one of "
                          f"{', '.join(sorted(_METHODS))}", path="auto_auth.method.type")
    return factory(config, os.environ if environ is None else environ, urls or ProviderURLs())


class Authenticator:
    """The configured auth method and what it has read so far: logs in through a client.

    One instance lives as long as the configuration: it caches credentials whose files may
    be removed after the first read (an AppRole secret-id, a JWT), so that re-logins work.
    """

    def __init__(self, config: AuthMethodConfig, *, environ: Mapping[str, str] | None = None,
                 urls: ProviderURLs | None = None) -> None:
        self.config = config
        self._environ = environ
        self._urls = urls
        self._method: AuthMethod | None = None  # made at the first login

    def login(self, vault: LoginClient) -> TokenInfo:
        """Read the credentials now, log in (or adopt a given token), return the token's info."""
        if self._method is None:
            self._method = auth_method(self.config, environ=self._environ, urls=self._urls)
        plan = self._method.build(vault)
        if isinstance(plan, ExistingToken):
            return vault.adopt_token(plan.token, plan.source)
        return vault.send_login(self.config, plan.path, plan.body, tls=plan.tls)


def login_hint(config: AuthMethodConfig) -> str:
    """What to check when Vault refuses a login with this method (no credentials in it)."""
    mount = mount_path(config)
    role = config.params.get("role")
    if config.type == "kubernetes":
        return (f"check that role {role!r} exists at {mount}/role/{role} and that its "
                "bound_service_account_names and bound_service_account_namespaces include "
                "this pod's service account and namespace (and audience, if set, matches the "
                "token)")
    if config.type == "approle":
        role_id_file = config.params.get("role_id_file_path")
        secret_id_file = config.params.get("secret_id_file_path") or "(none)"
        return (f"check the role_id in {role_id_file} and the secret_id in {secret_id_file}: "
                "the secret_id may be expired or used up (secret_id_ttl, secret_id_num_uses) "
                "or belong to another role")
    if config.type == "jwt":
        return (f"check role {role!r} at {mount}/role/{role}: bound_audiences, bound_subject, "
                "bound_claims and user_claim must match the JWT in "
                f"{config.params.get('path')}, and jwt_validation_pubkeys / jwks_url / "
                "oidc_discovery_url must verify its signature")
    if config.type == "cert":
        name = config.params.get("name")
        which = f"the certificate role {name!r} at {mount}/certs/{name}" if name else \
            f"a certificate role at {mount}/certs/"
        return (f"check {which}: its certificate (the CA) must have signed the client "
                "certificate presented, and allowed_common_names / allowed_*_sans must match "
                "it; the TLS listener must not terminate TLS in front of Vault")
    if config.type == "aws":
        kind = config.params.get("type")
        if kind == "ec2":
            return (f"check role {role!r} at {mount}/role/{role} (auth_type ec2): bound_ami_id, "
                    "bound_account_id, bound_region... must match this instance, and the "
                    "nonce must be the one used at the first login")
        return (f"check role {role!r} at {mount}/role/{role} (auth_type iam): bound_iam_"
                "principal_arn must include the AWS identity the agent found, and the "
                f"signing region {config.params.get('region') or 'us-east-1'} and header_value "
                "must match the server's sts_region and iam_server_id_header_value")
    if config.type == "gcp":
        return (f"check role {role!r} at {mount}/role/{role}: its type "
                f"({config.params.get('type')}) and bound_service_accounts / bound_projects / "
                "bound_zones must match this identity, and max_jwt_exp must allow jwt_exp")
    if config.type == "azure":
        return (f"check role {role!r} at {mount}/role/{role}: bound_subscription_ids, "
                "bound_resource_groups and bound_service_principal_ids must match this "
                "identity, and the resource must be the auth method's configured resource")
    return "the token is invalid, expired or revoked: provide a valid token"
