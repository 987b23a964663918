"""The azure auth method: the instance's metadata and a managed-identity token from a local
stand-in for the Azure Instance Metadata Service (answers as Azure documents them), or, with
``authenticate_from_environment``, a token from a stand-in Microsoft Entra ID for AKS Workload
Identity or a client secret; the login body as Vault's azure backend reads it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s4e_secret_agent.config.model import AuthMethodConfig
from s4e_secret_agent.errors import AuthError
from s4e_secret_agent.vault.auth import LoginRequest, ProviderURLs, auth_method
from tests.vault.standin import RecordingVault, Seen, StandIn, standin

RESOURCE = "https://management.azure.com/"
# Recorded answers, as the Azure IMDS documentation shows them (abridged).
INSTANCE = {"compute": {
    "azEnvironment": "AzurePublicCloud", "location": "westus", "name": "examplevmname",
    "offer": "UbuntuServer", "osType": "Linux", "resourceGroupName": "macikgo-test-may-23",
    "resourceId": "/subscriptions/xxxxxxxx-xxxxx-xxxx-xxxx-xxxxxxxxxxxx/resourceGroups/"
                  "macikgo-test-may-23/providers/Microsoft.Compute/virtualMachineScaleSets/"
                  "virtualMachineScaleSets/virtualMachines/examplevmname",
    "subscriptionId": "xxxxxxxx-xxxxx-xxxx-xxxx-xxxxxxxxxxxx",
    "vmId": "02aab8a4-74ef-476e-8182-f6d2ba4166a6", "vmScaleSetName": "crpteste9vflji9",
    "vmSize": "Standard_A3", "zone": "1"},
    "network": {"interface": []}}
TOKEN = {"access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.managed-identity.sig",
         "refresh_token": "", "expires_in": "3599", "expires_on": "1506484173",
         "not_before": "1506480273", "resource": RESOURCE, "token_type": "Bearer"}
ENTRA = {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
         "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.workload-identity.sig"}


def _imds(seen: Seen) -> tuple[int, str, dict[str, str]]:
    js = {"Content-Type": "application/json; charset=utf-8"}
    if seen.path.endswith("/oauth2/v2.0/token"):  # Entra ID
        return 200, json.dumps(ENTRA), js
    if seen.headers.get("metadata") != "true":
        return 400, json.dumps({"error": "Bad request. Required metadata header not specified"}), js
    if seen.path == "/metadata/instance":
        return 200, json.dumps(INSTANCE), js
    if seen.path == "/metadata/identity/oauth2/token":
        if seen.query.get("client_id") == ["unknown"]:
            return 400, json.dumps({"error": "invalid_request",
                                    "error_description": "Identity not found"}), js
        return 200, json.dumps(TOKEN), js
    return 404, "", js


@pytest.fixture
def imds() -> Iterator[StandIn]:
    with standin(_imds) as server:
        yield server


def _azure(**params: Any) -> AuthMethodConfig:
    settings: dict[str, Any] = {"role": "dev-role", "resource": RESOURCE}
    settings.update(params)
    return AuthMethodConfig(type="azure", mount_path="auth/azure", params=settings)


def _build(config: AuthMethodConfig, imds: StandIn, environ: dict[str, str] | None = None
           ) -> LoginRequest:
    plan = auth_method(config, environ=environ or {},
                       urls=ProviderURLs(azure_imds=imds.url)).build(RecordingVault())
    assert isinstance(plan, LoginRequest)
    return plan


def test_managed_identity_login_sends_the_token_and_the_instance_metadata(
        imds: StandIn) -> None:
    plan = _build(_azure(), imds)
    assert plan.path == "auth/azure/login"
    assert dict(plan.body) == {
        "role": "dev-role", "vm_name": "examplevmname", "vmss_name": "crpteste9vflji9",
        "resource_group_name": "macikgo-test-may-23",
        "subscription_id": "xxxxxxxx-xxxxx-xxxx-xxxx-xxxxxxxxxxxx",
        "jwt": TOKEN["access_token"]}
    instance, token = imds.requests
    assert instance.raw_path == "/metadata/instance?api-version=2018-02-01"
    assert token.raw_path == ("/metadata/identity/oauth2/token?api-version=2018-02-01"
                              "&resource=https%3A%2F%2Fmanagement.azure.com%2F")
    assert instance.headers["metadata"] == token.headers["metadata"] == "true"


def test_a_user_assigned_identity_is_chosen_by_client_or_object_id(imds: StandIn) -> None:
    _build(_azure(client_id="6a0a7b1f-client"), imds)
    _build(_azure(object_id="2a5b-object"), imds)
    tokens = [r.raw_path for r in imds.requests if r.path.endswith("/token")]
    assert tokens == [
        "/metadata/identity/oauth2/token?api-version=2018-02-01&client_id=6a0a7b1f-client"
        "&resource=https%3A%2F%2Fmanagement.azure.com%2F",
        "/metadata/identity/oauth2/token?api-version=2018-02-01&object_id=2a5b-object"
        "&resource=https%3A%2F%2Fmanagement.azure.com%2F"]


def test_an_unknown_identity_names_imds_error(imds: StandIn) -> None:
    with pytest.raises(AuthError) as err:
        _build(_azure(client_id="unknown"), imds)
    assert "400" in str(err.value) and "invalid_request: Identity not found" in str(err.value)


def test_workload_identity_from_the_environment_reads_the_token_file_at_every_login(
        imds: StandIn, tmp_path: Path) -> None:
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text("eyJ.projected-sa-token.1")
    env = {"AZURE_CLIENT_ID": "c1a5-client", "AZURE_TENANT_ID": "72f988bf-tenant",
           "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
           "AZURE_AUTHORITY_HOST": imds.url + "/"}
    method = auth_method(_azure(authenticate_from_environment=True), environ=env,
                         urls=ProviderURLs(azure_imds=imds.url))
    first = method.build(RecordingVault())
    token_file.write_text("eyJ.projected-sa-token.2")
    method.build(RecordingVault())
    assert isinstance(first, LoginRequest)
    assert first.body["jwt"] == ENTRA["access_token"]
    assert first.body["vm_name"] == "examplevmname"
    entra = [r for r in imds.requests if r.path.endswith("/oauth2/v2.0/token")]
    assert [r.path for r in entra] == ["/72f988bf-tenant/oauth2/v2.0/token"] * 2
    assert entra[0].form == {
        "grant_type": "client_credentials", "scope": "https://management.azure.com//.default",
        "client_id": "c1a5-client",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": "eyJ.projected-sa-token.1"}
    assert entra[1].form["client_assertion"] == "eyJ.projected-sa-token.2"


def test_a_client_secret_in_the_environment_and_a_custom_scope(imds: StandIn) -> None:
    env = {"AZURE_CLIENT_ID": "c1a5-client", "AZURE_TENANT_ID": "72f988bf-tenant",
           "AZURE_CLIENT_SECRET": "client-secret-value", "AZURE_AUTHORITY_HOST": imds.url}
    plan = _build(_azure(authenticate_from_environment=True,
                         scope="api://vault-azure/.default"), imds, env)
    (entra,) = [r for r in imds.requests if r.path.endswith("/oauth2/v2.0/token")]
    assert entra.form["client_secret"] == "client-secret-value"
    assert entra.form["scope"] == "api://vault-azure/.default"
    assert "client-secret-value" not in repr(plan)


def test_without_environment_credentials_the_managed_identity_is_asked_for_the_scope(
        imds: StandIn) -> None:
    _build(_azure(authenticate_from_environment=True), imds, {})
    (token,) = [r for r in imds.requests if r.path.endswith("/token")]
    assert token.query["resource"] == ["https://management.azure.com/"]
