"""Config files and the layers above them: environment variables set only their own key over an
HCL or JSON config; several ``--config`` files and directories merge as Vault Agent's
``Config.Merge`` merges them."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

from s4e_secret_agent.config.cli_options import add_config_options, config_sources_from_args
from s4e_secret_agent.config.load import ENV_PATHS, config_file_paths, load_config
from s4e_secret_agent.config.model import ConfigSources, VaultConfig
from s4e_secret_agent.errors import ConfigError
from s4e_secret_agent.runtime.watcher import watched_paths
from tests.config.helpers import seed_annotations, write_annotations

HCL_CONFIG = '''
vault {
  address = "https://file.example:8200"
}
auto_auth {
  method "kubernetes" {
    config = { role = "app" }
  }
}
template {
  destination = "/out/a"
  contents    = "a"
}
'''
JSON_CONFIG = ('{"vault": {"address": "https://file.example:8200"}, "auto_auth": {"method": '
               '{"type": "kubernetes", "config": {"role": "app"}}, "sink": []}, "template": '
               '[{"destination": "/out/a", "contents": "a"}]}')
YAML_CONFIG = ("vault: {address: 'https://file.example:8200'}\n"
               "auto_auth: {method: {type: kubernetes, config: {role: app}}}\n"
               "template: [{destination: /out/a, contents: a}]\n")
FILE_VAULT = VaultConfig(address="https://file.example:8200")

# Each Vault client variable, the value it is given and the VaultConfig field it must set.
VAULT_VARIABLES: dict[str, tuple[str, str, Any]] = {
    "VAULT_ADDR": ("https://env.example:8200", "address", "https://env.example:8200"),
    "VAULT_NAMESPACE": ("team-a", "namespace", "team-a"),
    "VAULT_CACERT": ("/etc/ca.pem", "ca_cert", "/etc/ca.pem"),
    "VAULT_CAPATH": ("/etc/cas", "ca_path", "/etc/cas"),
    "VAULT_CLIENT_CERT": ("/etc/client.pem", "client_cert", "/etc/client.pem"),
    "VAULT_CLIENT_KEY": ("/etc/client.key", "client_key", "/etc/client.key"),
    "VAULT_SKIP_VERIFY": ("true", "tls_skip_verify", True),
    "VAULT_TLS_SERVER_NAME": ("vault.internal", "tls_server_name", "vault.internal"),
    "VAULT_CLIENT_TIMEOUT": ("10s", "client_timeout", 10.0),
    "VAULT_MAX_RETRIES": ("3", "client_max_retries", 3),
}


def test_every_vault_variable_has_a_case() -> None:
    assert set(VAULT_VARIABLES) == {name for name in ENV_PATHS if name.startswith("VAULT_")}


@pytest.mark.parametrize("name", sorted(VAULT_VARIABLES))
@pytest.mark.parametrize(("file_name", "text"), [
    ("agent.hcl", HCL_CONFIG), ("agent.json", JSON_CONFIG), ("agent.yaml", YAML_CONFIG)])
def test_a_vault_variable_sets_only_its_own_key_over_the_config_file(
        tmp_path: Path, name: str, file_name: str, text: str) -> None:
    path = tmp_path / file_name
    path.write_text(text)
    value, field, expected = VAULT_VARIABLES[name]
    config = load_config(ConfigSources(config_file=str(path), environ={name: value})).config
    assert config.vault == dataclasses.replace(FILE_VAULT, **{field: expected})
    assert [t.destination for t in config.templates] == ["/out/a"]
    assert config.auto_auth.method.params["role"] == "app"


def test_flags_set_only_their_own_key_over_an_hcl_config(tmp_path: Path) -> None:
    path = tmp_path / "agent.hcl"
    path.write_text(HCL_CONFIG)
    config = load_config(ConfigSources(config_file=str(path), flags={
        "vault.namespace": "flag-ns", "auto_auth.method.config.role": "other"})).config
    assert config.vault == dataclasses.replace(FILE_VAULT, namespace="flag-ns")
    assert config.auto_auth.method.params["role"] == "other"
    assert config.auto_auth.method.type == "kubernetes"


# -- several config files --------------------------------------------------------------------
def _template(name: str) -> str:
    return f'template {{\n  destination = "/out/{name}"\n  contents = "{name}"\n}}\n'


def _write(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(text)
    return str(path)


def test_a_later_file_replaces_stanzas_whole_and_appends_templates(tmp_path: Path) -> None:
    first = _write(tmp_path, "a.hcl", '''
vault {
  address   = "https://first:8200"
  namespace = "first-ns"
}
exit_after_auth = true
pid_file = "/run/first.pid"
auto_auth {
  method "kubernetes" { config = { role = "first" } }
}
template_config { static_secret_render_interval = "10m" }
template {
  destination = "/out/a"
  contents    = "a"
}
''')
    second = _write(tmp_path, "b.hcl", '''
vault { address = "https://second:8200" }
exit_after_auth = false
pid_file = ""
template {
  destination = "/out/b"
  contents    = "b"
}
''')
    loaded = load_config(ConfigSources(config_files=(first, second)))
    config = loaded.config
    # vault is replaced whole: the first file's namespace is gone, as in Vault.
    assert config.vault == VaultConfig(address="https://second:8200")
    assert [t.destination for t in config.templates] == ["/out/a", "/out/b"]
    assert config.exit_after_auth is True  # true once any file sets it
    assert config.pid_file == "/run/first.pid"  # an empty one replaces nothing
    assert config.auto_auth.method.params["role"] == "first"
    assert config.template_config.static_secret_render_interval == 600
    assert loaded.sources == (first, second)


def test_auto_auth_of_a_later_file_replaces_the_whole_stanza(tmp_path: Path) -> None:
    first = _write(tmp_path, "a.hcl", '''
auto_auth {
  method "kubernetes" { config = { role = "first" } }
  sink "file" { config = { path = "/out/token" } }
}
''')
    second = _write(tmp_path, "b.json", '{"auto_auth": {"method": {"type": "approle", '
                    '"config": {"role_id_file_path": "/r"}}, "sink": []}, '
                    '"template": [{"destination": "/out/b", "contents": "b"}]}')
    config = load_config(ConfigSources(config_files=(first, second))).config
    assert config.auto_auth.method.type == "approle"
    assert config.auto_auth.sinks == ()  # not merged with the first file's sink


def test_yaml_and_hcl_files_merge_and_our_agent_stanza_merges_key_by_key(tmp_path: Path) -> None:
    first = _write(tmp_path, "base.yaml", YAML_CONFIG + "agent: {deadline: 1m, log_level: debug}\n")
    second = _write(tmp_path, "more.hcl", 'agent { deadline = "2m" }\n'
                    'template {\n  destination = "/out/b"\n  contents = "b"\n}\n')
    config = load_config(ConfigSources(config_files=(first, second))).config
    assert (config.agent.deadline, config.agent.log_level) == (120, "debug")
    assert [t.destination for t in config.templates] == ["/out/a", "/out/b"]
    assert config.vault == FILE_VAULT


def test_errors_name_the_file_and_line_they_come_from(tmp_path: Path) -> None:
    first = _write(tmp_path, "a.hcl", HCL_CONFIG)
    second = _write(tmp_path, "b.hcl", '\n\ntemplate {\n  contents = "no destination"\n}\n')
    with pytest.raises(ConfigError) as err:
        load_config(ConfigSources(config_files=(first, second)))
    assert str(err.value) == f"{second}:3: template[1].destination: is required"
    third = _write(tmp_path, "c.hcl", 'vault {\n  address = "ftp://x"\n}\n')
    with pytest.raises(ConfigError) as err:
        load_config(ConfigSources(config_files=(first, third)))
    assert str(err.value).startswith(f"{third}:2: vault.address:")


def test_a_directory_gives_its_hcl_and_json_files_in_directory_order(tmp_path: Path) -> None:
    directory = tmp_path / "agent.d"
    directory.mkdir()
    wanted = {
        "10-vault.hcl": 'vault { address = "https://dir:8200" }\n',
        "20-auth.json": '{"auto_auth": {"method": {"type": "kubernetes", "config": '
                        '{"role": "app"}}, "sink": []}}',
        "30-template.hcl": 'template {\n  destination = "/out/a"\n  contents = "a"\n}\n',
        ".hidden.hcl": 'template {\n  destination = "/out/hidden"\n  contents = "h"\n}\n',
    }
    ignored = {"notes.txt": "x", "native.yaml": "vault: {address: 'https://yaml:8200'}\n",
               "old.hcl~": "broken {", ".#lock.hcl": "broken {", "#save.hcl#": "broken {"}
    for name, text in {**wanted, **ignored}.items():
        (directory / name).write_text(text)
    (directory / "sub.hcl").mkdir()  # a directory is skipped even with that name
    paths = config_file_paths([str(directory)])
    assert paths == [str(directory / entry.name) for entry in os.scandir(directory)
                     if entry.name in wanted]
    config = load_config(ConfigSources(config_file=str(directory))).config
    assert config.vault.address == "https://dir:8200"
    assert sorted(t.destination for t in config.templates) == ["/out/a", "/out/hidden"]


def test_an_empty_directory_is_no_config(tmp_path: Path) -> None:
    config = load_config(ConfigSources(config_file=str(tmp_path),
                                       environ={"VAULT_TOKEN": "t"})).config
    assert config.auto_auth.method.type == "token"


def test_annotations_are_below_all_config_files(tmp_path: Path) -> None:
    annotations = write_annotations(tmp_path / "annotations", seed_annotations())
    first = _write(tmp_path, "a.hcl", _template("a"))
    second = _write(tmp_path, "b.hcl", _template("b"))
    config = load_config(ConfigSources(config_files=(first, second), annotations_file=annotations,
                                       environ={"VAULT_ADDR": "https://v:8200"})).config
    assert [t.name for t in config.templates] == ["db", "a", "b"]


def test_config_sources_keeps_config_file_and_config_files_in_step() -> None:
    assert ConfigSources(config_file="a.hcl").config_files == ("a.hcl",)
    both = ConfigSources(config_files=("a.hcl", "b.hcl"))
    assert both.config_file == "a.hcl"
    assert ConfigSources().config_files == () and ConfigSources().config_file is None


def _sources(argv: list[str], environ: dict[str, str]) -> ConfigSources:
    parser = argparse.ArgumentParser()
    add_config_options(parser)
    return config_sources_from_args(parser.parse_args(argv), environ)


def test_config_is_repeatable_on_the_command_line_and_in_s4e_config() -> None:
    assert _sources(["--config", "a.hcl", "--config", "conf.d"], {}).config_files == (
        "a.hcl", "conf.d")
    assert _sources([], {"S4E_CONFIG": "a.hcl, conf.d"}).config_files == ("a.hcl", "conf.d")
    # The command line wins over the environment.
    assert _sources(["--config", "x.yaml"], {"S4E_CONFIG": "a.hcl"}).config_files == ("x.yaml",)
    assert _sources([], {}).config_file is None


def test_the_sidecar_watches_every_config_file(tmp_path: Path) -> None:
    directory = tmp_path / "agent.d"
    directory.mkdir()
    one = _write(directory, "one.hcl", HCL_CONFIG)
    two = _write(tmp_path, "two.hcl", _template("b"))
    sources = ConfigSources(config_files=(str(directory), two))
    watched = watched_paths(load_config(sources).config, sources)
    assert {one, two} <= set(watched)


def test_duplicate_arguments_follow_vaults_switch(tmp_path: Path) -> None:
    path = _write(tmp_path, "agent.hcl", HCL_CONFIG.replace(
        'contents    = "a"', 'contents    = "a"\n  contents = "b"'))
    with pytest.raises(ConfigError, match="contents is set twice"):
        load_config(ConfigSources(config_file=path))
    environ = {"VAULT_ALLOW_PENDING_REMOVAL_DUPLICATE_HCL_ATTRIBUTES": "true"}
    config = load_config(ConfigSources(config_file=path, environ=environ)).config
    assert config.templates[0].contents == "b"
    with pytest.raises(ConfigError, match="is not a boolean"):
        load_config(ConfigSources(config_file=path, environ={
            "VAULT_ALLOW_PENDING_REMOVAL_DUPLICATE_HCL_ATTRIBUTES": "maybe"}))
