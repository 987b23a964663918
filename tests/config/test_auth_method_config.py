"""The cert, aws, gcp and azure auth methods in every front end: Vault Agent HCL as its
documentation writes these stanzas, injector annotations (``auth-type`` with
``auth-config-*``), the parameters' defaults, and the checks Vault Agent makes of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from s4e_secret_agent.config.load import load_config
from s4e_secret_agent.config.model import ConfigSources, SecretText
from s4e_secret_agent.errors import ConfigError
from tests.config.helpers import write_annotations

SINK = 'sink "file" {\n    config = { path = "/tmp/token" }\n  }'


def _hcl(tmp_path: Path, method: str) -> ConfigSources:
    path = tmp_path / "agent.hcl"
    path.write_text(f'vault {{\n  address = "https://vault:8200"\n}}\n'
                    f'auto_auth {{\n  {method}\n  {SINK}\n}}\n')
    return ConfigSources(config_file=str(path), environ={})


def test_aws_iam_stanza_as_vault_agent_documents_it(tmp_path: Path) -> None:
    loaded = load_config(_hcl(tmp_path, '''method "aws" {
    mount_path = "auth/aws-subaccount"
    config = {
      type = "iam"
      role = "foobar"
      header_value = "vault.example.com"
      region = "eu-west-1"
      credential_poll_interval = 30
    }
  }'''))
    method = loaded.config.auto_auth.method
    assert (method.type, method.mount_path) == ("aws", "auth/aws-subaccount")
    assert dict(method.params) == {
        "type": "iam", "role": "foobar", "region": "eu-west-1",
        "header_value": "vault.example.com", "access_key": None, "secret_key": None,
        "session_token": None, "nonce": None, "credential_poll_interval": 30}
    assert loaded.warnings == ()


def test_aws_defaults_and_static_keys_stay_secret(tmp_path: Path) -> None:
    loaded = load_config(_hcl(tmp_path, '''method "aws" {
    config = {
      type = "iam"
      role = "r"
      access_key = "AKIDEXAMPLE"
      secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    }
  }'''))
    method = loaded.config.auto_auth.method
    assert method.mount_path == "auth/aws" and method.params["region"] == "us-east-1"
    assert isinstance(method.params["secret_key"], SecretText)
    assert "wJalrXUtnFEMI" not in repr(loaded.config)


def test_gcp_and_azure_and_cert_stanzas(tmp_path: Path) -> None:
    gcp = load_config(_hcl(tmp_path, '''method "gcp" {
    config = {
      type = "gce"
      role = "my-role"
    }
  }''')).config.auto_auth.method
    assert (gcp.params["service_account"], gcp.params["jwt_exp"]) == ("default", 15)
    azure = load_config(_hcl(tmp_path, '''method "azure" {
    mount_path = "auth/azure"
    config = {
      authenticate_from_environment = true
      role = "dev-role"
      resource = "https://management.azure.com/"
      object_id = "12345-1234-1234-1234-123456"
    }
  }''')).config.auto_auth.method
    assert azure.params["authenticate_from_environment"] is True
    assert azure.params["client_id"] is None
    cert = load_config(_hcl(tmp_path, '''method "cert" {
    config = {
      name = "web"
      client_cert = "/vault/tls/tls.crt"
      client_key = "/vault/tls/tls.key"
      reload = true
    }
  }''')).config.auto_auth.method
    assert cert.params["reload_period"] == 60.0
    assert cert.credential_file == "/vault/tls/tls.crt"  # reload: a new certificate logs in


def test_cert_without_reload_does_not_watch_and_half_a_pair_is_warned(tmp_path: Path) -> None:
    loaded = load_config(_hcl(tmp_path, '''method "cert" {
    config = { client_cert = "/vault/tls/tls.crt" }
  }'''))
    assert loaded.config.auto_auth.method.credential_file is None
    assert any("client_cert and client_key are used only together" in w
               for w in loaded.warnings)


@pytest.mark.parametrize(("config", "message"), [
    ('type = "iam"', "auto_auth.method.config.role: is required"),
    ('role = "r"\n type = "IAM"', ""),
    ('role = "r"\n type = "gce"', "'gce' is not one of iam, ec2"),
    ('role = "r"\n type = "iam"\n secret_key = "s"',
     "static AWS credentials need both access_key and secret_key"),
])
def test_vault_agents_checks_of_the_aws_parameters(tmp_path: Path, config: str,
                                                    message: str) -> None:
    sources = _hcl(tmp_path, f'method "aws" {{\n config = {{\n {config}\n }}\n }}')
    if not message:
        assert load_config(sources).config.auto_auth.method.params["type"] == "iam"
        return
    with pytest.raises(ConfigError, match=message) as err:
        load_config(sources)
    assert err.value.source.endswith("agent.hcl")


def test_injector_annotations_choose_a_cloud_method(tmp_path: Path) -> None:
    path = write_annotations(tmp_path / "annotations", {
        "vault.hashicorp.com/agent-inject": "true",
        "vault.hashicorp.com/agent-inject-token": "true",
        "vault.hashicorp.com/auth-type": "aws",
        "vault.hashicorp.com/role": "app",
        "vault.hashicorp.com/auth-config-type": "iam",
        "vault.hashicorp.com/auth-config-header-value": "vault.example.com"})
    method = load_config(ConfigSources(annotations_file=path)).config.auto_auth.method
    assert (method.type, method.mount_path) == ("aws", "auth/aws")
    assert method.params["role"] == "app"
    assert method.params["header_value"] == "vault.example.com"


def test_the_methods_vault_agent_has_and_this_agent_lacks_are_refused_by_name(
        tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Vault Agent's kerberos auth method is not provided"):
        load_config(_hcl(tmp_path, 'method "kerberos" {\n config = { username = "u" }\n }'))


def test_config_check_shows_what_the_method_names_and_never_its_secrets(tmp_path: Path) -> None:
    from s4e_secret_agent.config.plan import plan_dict, plan_text

    loaded = load_config(_hcl(tmp_path, '''method "aws" {
    config = {
      type = "iam"
      role = "app"
      access_key = "AKIDEXAMPLE"
      secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
      session_token = "FwoGZXIvYXdzEXAMPLE"
      header_value = "vault.example.com"
    }
  }'''))
    plan = plan_dict(loaded)
    shown = plan_text(plan) + str(plan)
    assert "aws at auth/aws (type iam, role app, region us-east-1, header_value " \
           "vault.example.com)" in shown
    assert "wJalrXUtnFEMI" not in shown and "FwoGZXIvYXdz" not in shown
