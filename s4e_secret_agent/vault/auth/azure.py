"""The ``azure`` auth method, as Vault Agent's: a managed-identity access token plus the
instance's metadata from the Azure Instance Metadata Service (IMDS).

At every login the agent asks IMDS for the instance (``GET /metadata/instance``,
``api-version=2018-02-01``, header ``Metadata: true``) and sends ``subscription_id``,
``resource_group_name``, ``vm_name`` and ``vmss_name`` from its ``compute`` section with the
token as ``jwt`` and the ``role``. The token comes from IMDS's identity endpoint
(``/metadata/identity/oauth2/token`` with ``resource`` and, to pick a user-assigned identity,
``object_id`` or ``client_id``), or, with ``authenticate_from_environment``, from the
credentials the Azure SDK's default chain reads from the environment: a client secret
(``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``, ``AZURE_CLIENT_SECRET``), AKS Workload Identity
(``AZURE_FEDERATED_TOKEN_FILE``, re-read at every login, with ``AZURE_CLIENT_ID``,
``AZURE_TENANT_ID`` and ``AZURE_AUTHORITY_HOST``), then the managed identity, each for
``scope`` (default ``<resource>/.default``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

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

IMDS_URL = "http://169.254.169.254"
API_VERSION = "2018-02-01"
AUTHORITY_HOST = "https://login.microsoftonline.com/"
USER_AGENT = "s4e-secret-agent"
_IMDS_HINT = ("run on an Azure VM or scale set (or AKS node) with a managed identity, and let "
              "the pod reach 169.254.169.254")


def _field(section: Mapping[str, Any], name: str) -> str:
    """A field of an IMDS JSON object matched without regard to case, as Go's decoder does."""
    for key, value in section.items():
        if key.lower() == name.lower():
            return str(value) if isinstance(value, str) else ""
    return ""


class AzureAuth:
    """``auto_auth.method "azure"``: ``role``, ``resource``, ``object_id`` or ``client_id``,
    ``scope``, ``authenticate_from_environment``."""

    def __init__(self, config: AuthMethodConfig, *, environ: Mapping[str, str] | None = None,
                 imds_url: str = IMDS_URL) -> None:
        self.config = config
        self.role = text_param(config, "role")
        self.resource = text_param(config, "resource")
        self.object_id = text_param(config, "object_id")
        self.client_id = text_param(config, "client_id")
        self.scope = text_param(config, "scope") or f"{self.resource}/.default"
        self.from_environment = bool(config.params.get("authenticate_from_environment"))
        self._environ = os.environ if environ is None else environ
        self._imds = imds_url.rstrip("/")

    def _metadata(self, path: str, what: str, query: Mapping[str, str]) -> Mapping[str, Any]:
        params = {"api-version": API_VERSION, **{k: v for k, v in query.items() if v}}
        answer = ask("GET", f"{self._imds}{path}?{urlencode(sorted(params.items()))}",
                     what=f"the Azure Instance Metadata Service ({what})", hint=_IMDS_HINT,
                     headers={"Metadata": "true", "User-Agent": USER_AGENT})
        return answer.json(f"the Azure Instance Metadata Service ({what})", _IMDS_HINT)

    def build(self, vault: WrappingClient) -> LoginPlan:
        instance = self._metadata("/metadata/instance", "instance", {})
        compute = instance.get("compute")
        compute = compute if isinstance(compute, Mapping) else next(
            (v for k, v in instance.items() if k.lower() == "compute"
             and isinstance(v, Mapping)), {})
        token = self._environment_token() if self.from_environment else self._imds_token(
            self.resource, self.object_id, self.client_id)
        body = {
            "role": self.role,
            "vm_name": _field(compute, "name"),
            "vmss_name": _field(compute, "vmScaleSetName"),
            "resource_group_name": _field(compute, "resourceGroupName"),
            "subscription_id": _field(compute, "subscriptionId"),
            "jwt": token,
        }
        return LoginRequest(login_path(self.config), body)

    def _imds_token(self, resource: str, object_id: str, client_id: str) -> str:
        answer = self._metadata("/metadata/identity/oauth2/token", "managed identity token",
                                {"resource": resource, "object_id": object_id,
                                 "client_id": client_id})
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthError("the Azure Instance Metadata Service answered without an access "
                            "token", hint=_IMDS_HINT)
        return token

    def _environment_token(self) -> str:
        env = self._environ
        tenant, client = env.get("AZURE_TENANT_ID", ""), env.get("AZURE_CLIENT_ID", "")
        if tenant and client and env.get("AZURE_CLIENT_SECRET"):
            log.debug("Azure token from the client secret in the environment",
                      extra={"event": "azure_credentials", "source": "client secret"})
            return self._entra_token(tenant, {"client_id": client,
                                              "client_secret": env["AZURE_CLIENT_SECRET"]})
        token_file = env.get("AZURE_FEDERATED_TOKEN_FILE", "")
        if tenant and client and token_file:
            assertion = read_file(token_file)
            if not assertion:
                raise AuthError(f"the federated token file {token_file} "
                                f"{'is empty' if assertion is not None else 'does not exist'}",
                                hint="label the pod azure.workload.identity/use=true so that "
                                     "AKS projects the token")
            log.debug("Azure token from workload identity",
                      extra={"event": "azure_credentials", "source": "workload identity"})
            return self._entra_token(tenant, {
                "client_id": client,
                "client_assertion_type":
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion})
        resource = self.scope[:-len("/.default")] if self.scope.endswith("/.default") \
            else self.scope
        return self._imds_token(resource, "", client)

    def _entra_token(self, tenant: str, fields: Mapping[str, str]) -> str:
        authority = self._environ.get("AZURE_AUTHORITY_HOST") or AUTHORITY_HOST
        url = f"{authority.rstrip('/')}/{tenant}/oauth2/v2.0/token"
        hint = ("check the app registration's federated credential (issuer, subject "
                "system:serviceaccount:<namespace>:<name>) or client secret")
        answer = ask("POST", url, what="Microsoft Entra ID", hint=hint,
                     headers={"Content-Type": "application/x-www-form-urlencoded",
                              "User-Agent": USER_AGENT},
                     data=urlencode({"grant_type": "client_credentials", "scope": self.scope,
                                     **fields}))
        token = answer.json("Microsoft Entra ID", hint).get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthError("Microsoft Entra ID answered without an access token", hint=hint)
        return token
