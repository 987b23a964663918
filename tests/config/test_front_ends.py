"""The same S4E setup through every front end gives one model; the seed's template is kept
byte for byte; the injector's default templates are exact."""

from __future__ import annotations

from pathlib import Path

import pytest

from s4e_secret_agent.config.build import template_config
from s4e_secret_agent.config.load import load_config
from s4e_secret_agent.config.model import (
    DEFAULT_TOKEN_PATH,
    AgentConfig,
    AuthMethodConfig,
    AutoAuthConfig,
    ConfigSources,
    TemplateSettings,
    VaultConfig,
)
from tests.config.helpers import DATA, seed_annotations, write_annotations

SEED_DB_TEMPLATE = (
    '{{- with secret "s4e/data/database" -}}\n'
    "export DB_HOST={{ .Data.data.host }}\n"
    "export DB_PORT={{ .Data.data.port }}\n"
    "export DB_NAME={{ .Data.data.name }}\n"
    "export DB_USER={{ .Data.data.username }}\n"
    "export DB_PASS={{ .Data.data.password }}\n"
    "{{- end }}\n"
)
ENV = {"VAULT_ADDR": "https://vault.s4e.svc:8200"}

S4E_EXPECTED = AgentConfig(
    vault=VaultConfig(address="https://vault.s4e.svc:8200"),
    auto_auth=AutoAuthConfig(AuthMethodConfig(
        "kubernetes", "auth/kubernetes", params={"role": "s4e", "token_path": DEFAULT_TOKEN_PATH})),
    templates=(template_config(name="db", destination="/vault/secrets/db",
                              contents=SEED_DB_TEMPLATE),),
    template_config=TemplateSettings(exit_on_retry_failure=True),
)


@pytest.mark.parametrize("name", ["s4e.yaml", "s4e.hcl", "s4e.json"])
def test_config_files_give_the_s4e_model(name: str) -> None:
    loaded = load_config(ConfigSources(config_file=str(DATA / name), environ=ENV))
    assert loaded.config == S4E_EXPECTED
    assert loaded.warnings == ()


def test_seed_annotations_give_the_s4e_model(tmp_path: Path) -> None:
    path = write_annotations(tmp_path / "annotations", seed_annotations())
    loaded = load_config(ConfigSources(annotations_file=path, environ=ENV))
    assert loaded.config == S4E_EXPECTED
    assert loaded.config.templates[0].contents.encode() == SEED_DB_TEMPLATE.encode()
    assert loaded.warnings == ()


def test_format_is_recognised_by_content_without_extension(tmp_path: Path) -> None:
    for name in ("s4e.yaml", "s4e.hcl", "s4e.json"):
        target = tmp_path / name.replace(".", "_")
        target.write_text((DATA / name).read_text())
        loaded = load_config(ConfigSources(config_file=str(target), environ=ENV))
        assert loaded.config == S4E_EXPECTED, name


@pytest.mark.parametrize(("kind", "expected"), [
    ("map", '{{ with secret "db/creds/app" }}{{ range $k, $v := .Data }}{{ $k }}: {{ $v }}\n'
            "{{ end }}{{ end }}"),
    ("json", '{{ with secret "db/creds/app" }}{{ .Data | toJSON }}\n{{ end }}'),
])
def test_injector_default_templates_are_exact(tmp_path: Path, kind: str, expected: str) -> None:
    annotations = {"vault.hashicorp.com/role": "app",
                   "vault.hashicorp.com/agent-inject-secret-creds": "db/creds/app"}
    if kind == "json":
        annotations["vault.hashicorp.com/agent-inject-default-template"] = "json"
    path = write_annotations(tmp_path / "a", annotations)
    config = load_config(ConfigSources(annotations_file=path)).config
    assert config.templates[0].contents == expected
    assert config.templates[0].destination == "/vault/secrets/creds"


def test_annotation_per_secret_settings(tmp_path: Path) -> None:
    template_file = tmp_path / "tls.tmpl"
    template_file.write_text("[[ with secret \"pki/issue/web\" ]][[ .Data.certificate ]][[ end ]]")
    annotations = {
        "vault.hashicorp.com/role": "web",
        "vault.hashicorp.com/auth-path": "auth/k8s-prod",
        "vault.hashicorp.com/secret-volume-path": "/etc/secrets",
        "vault.hashicorp.com/agent-inject-secret-Cert.PEM": "pki/issue/web",
        "vault.hashicorp.com/agent-inject-template-file-Cert.PEM": str(template_file),
        "vault.hashicorp.com/agent-template-left-delim-Cert.PEM": "[[",
        "vault.hashicorp.com/agent-template-right-delim-Cert.PEM": "]]",
        "vault.hashicorp.com/agent-inject-perms-Cert.PEM": "0400",
        "vault.hashicorp.com/agent-inject-command-Cert.PEM": "pkill -HUP nginx",
        "vault.hashicorp.com/agent-inject-secret-Other": "kv/data/other",
        "vault.hashicorp.com/preserve-secret-case-Other": "true",
        "vault.hashicorp.com/agent-inject-file-Other": "sub/../other.env",
        "vault.hashicorp.com/error-on-missing-key-Other": "true",
        "vault.hashicorp.com/agent-inject-token": "true",
        "vault.hashicorp.com/agent-pre-populate-only": "true",
        "vault.hashicorp.com/template-config-exit-on-retry-failure": "false",
        "vault.hashicorp.com/template-static-secret-render-interval": "1m30s",
        "vault.hashicorp.com/auth-config-token-path": "/var/run/secrets/vault/token",
    }
    config = load_config(ConfigSources(annotations_file=write_annotations(
        tmp_path / "a", annotations))).config
    cert, other = config.templates
    assert (cert.name, cert.destination, cert.perms) == ("cert.pem", "/etc/secrets/cert.pem",
                                                         0o400)
    assert cert.source == str(template_file)
    assert cert.contents.startswith("[[ with secret")
    assert (cert.left_delimiter, cert.right_delimiter) == ("[[", "]]")
    assert cert.exec is not None and cert.exec.command == ("sh", "-c", "pkill -HUP nginx")
    assert (other.name, other.destination) == ("Other", "/etc/secrets/other.env")
    assert other.error_on_missing_key and other.perms == 0o640
    assert config.auto_auth.method.mount_path == "auth/k8s-prod"
    assert config.auto_auth.method.params["token_path"] == "/var/run/secrets/vault/token"
    assert [s.path for s in config.auto_auth.sinks] == ["/etc/secrets/token"]
    assert config.exit_after_auth is True
    assert config.template_config.exit_on_retry_failure is False
    assert config.template_config.static_secret_render_interval == 90


def test_other_injector_annotations_warn_once_each(tmp_path: Path) -> None:
    annotations = {**seed_annotations(),
                   "vault.hashicorp.com/agent-limits-cpu": "1",
                   "vault.hashicorp.com/agent-telemetry-prometheus_retention_time": "30s",
                   "vault.hashicorp.com/made-up": "x",
                   "vault.hashicorp.com/agent-inject-perms-nosuch": "0400",
                   "app.example.com/unrelated": "x"}
    loaded = load_config(ConfigSources(annotations_file=write_annotations(
        tmp_path / "a", annotations)))
    warned = sorted(w.split(" ", 1)[1].split(":")[0] for w in loaded.warnings)
    assert warned == sorted(["vault.hashicorp.com/agent-limits-cpu",
                             "vault.hashicorp.com/agent-telemetry-prometheus_retention_time",
                             "vault.hashicorp.com/made-up",
                             "vault.hashicorp.com/agent-inject-perms-nosuch"])
    assert any("not applicable: the injector's webhook sets this in the pod spec" in w
               and "(resources)" in w for w in loaded.warnings)


def test_template_source_file_is_read_into_the_model(tmp_path: Path) -> None:
    source = tmp_path / "db.tmpl"
    source.write_text(SEED_DB_TEMPLATE)
    config_file = tmp_path / "c.yaml"
    config_file.write_text(f"auto_auth: {{method: {{type: kubernetes, config: {{role: s4e}}}}}}\n"
                           f"template:\n  - source: {source}\n    destination: /out/db\n")
    template = load_config(ConfigSources(config_file=str(config_file))).config.templates[0]
    assert template.contents == SEED_DB_TEMPLATE
    assert template.source == str(source)


def test_vault_agent_hcl_extras_map(tmp_path: Path) -> None:
    config_file = tmp_path / "agent.hcl"
    config_file.write_text('''
pid_file = "/tmp/pid"
exit_after_auth = true
vault {
  address = "https://vault:8200"
  retry { num_retries = -1 }
}
auto_auth {
  method "approle" {
    config = {
      role_id_file_path = "/etc/role-id"
      secret_id_file_path = "/etc/secret-id"
      remove_secret_id_file_after_reading = false
    }
  }
  sink "file" {
    config = { path = "/home/vault/.vault-token", mode = 0600 }
  }
}
template {
  contents = <<-EOT
    a={{ env "A" }}
    EOT
  destination = "/out/a"
  perms = 640
  exec {
    command = ["kill", "-HUP", "1"]
    timeout = "5s"
  }
}
listener "tcp" {
  address = "127.0.0.1:9200"
  role = "metrics_only"
  tls_disable = true
}
telemetry {
  prometheus_retention_time = "30s"
}
''')
    loaded = load_config(ConfigSources(config_file=str(config_file)))
    config = loaded.config
    assert config.pid_file == "/tmp/pid" and config.exit_after_auth
    assert config.vault.max_retries == 0
    method = config.auto_auth.method
    assert (method.type, method.mount_path) == ("approle", "auth/approle")
    assert method.params["remove_secret_id_file_after_reading"] is False
    assert config.auto_auth.sinks[0].mode == 0o600
    template = config.templates[0]
    assert template.contents == 'a={{ env "A" }}\n'
    assert template.perms == 0o640
    assert template.exec is not None and template.exec.command == ("kill", "-HUP", "1")
    assert template.exec.timeout == 5
    assert config.agent.metrics_listen == "127.0.0.1:9200"
    assert len(loaded.warnings) == 1 and "telemetry" in loaded.warnings[0]


def test_native_extras_and_names(tmp_path: Path) -> None:
    config_file = tmp_path / "c.yaml"
    config_file.write_text('''
auto_auth: {method: {type: kubernetes, config: {role: s4e}}}
template:
  - {destination: /a/config, contents: "x", signal: {signal: hup, process: nginx}}
  - {destination: /b/config, contents: "y", user: "1000", group: app, command: reload}
agent:
  rotation_overlap: 10m
  exit_when: {file: /tmp/done}
  metrics_listen: ""
''')
    config = load_config(ConfigSources(config_file=str(config_file))).config
    first, second = config.templates
    assert (first.name, second.name) == ("config", "config-2")
    assert first.signal is not None and first.signal.signal.name == "SIGHUP"
    assert (second.user, second.group) == (1000, "app")
    assert second.exec is not None and second.exec.command == ("reload",)
    assert config.agent.rotation_overlap.seconds == 600
    assert config.agent.exit_when.file == "/tmp/done"
    assert config.agent.metrics_listen is None
    assert config.template("config-2") is second


def test_vault_token_without_auto_auth_means_token_method() -> None:
    config = load_config(ConfigSources(environ={"VAULT_TOKEN": "hvs.abc"})).config
    assert config.auto_auth.method.type == "token"
    assert config.auto_auth.method.params["token"].value == "hvs.abc"
    assert "hvs.abc" not in repr(config)


def test_annotations_and_config_file_combine(tmp_path: Path) -> None:
    annotations = write_annotations(tmp_path / "a", seed_annotations())
    extra = tmp_path / "extra.yaml"
    extra.write_text("template:\n  - {destination: /vault/secrets/app, contents: x}\n"
                     "agent: {deadline: 1m}\n")
    config = load_config(ConfigSources(config_file=str(extra), annotations_file=annotations,
                                       environ=ENV)).config
    assert [t.name for t in config.templates] == ["db", "app"]
    assert config.agent.deadline == 60
