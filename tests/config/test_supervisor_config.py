"""Process supervisor mode's configuration (``env_template`` blocks and the top-level ``exec``):
read from HCL as Vault Agent reads it, and refused with the fix named in the combinations and
keys Vault Agent refuses."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from s4e_secret_agent.config.load import load_config
from s4e_secret_agent.config.model import ConfigSources, LoadedConfig
from s4e_secret_agent.errors import ConfigError

_HEAD = '''
auto_auth {
  method "token_file" { config = { token_file_path = "/dev/null" } }
}
'''
_ENV = '''
env_template "DB_PASSWORD" {
  contents = "{{ with secret \\"secret/data/db\\" }}{{ .Data.data.password }}{{ end }}"
  error_on_missing_key = true
}
'''
_EXEC = '''
exec {
  command = ["/app", "--serve"]
}
'''


def _load(tmp_path: Path, text: str) -> LoadedConfig:
    path = tmp_path / "agent.hcl"
    path.write_text(_HEAD + text)
    return load_config(ConfigSources(config_file=str(path), environ={}))


def test_env_templates_and_exec_are_read_with_vault_agents_defaults(tmp_path: Path) -> None:
    loaded = _load(tmp_path, _ENV + 'env_template "MODE" { contents = "prod" }\n' + _EXEC)
    config = loaded.config
    assert [(t.name, t.env_var, t.error_on_missing_key) for t in config.env_templates] == [
        ("DB_PASSWORD", "DB_PASSWORD", True), ("MODE", "MODE", False)]
    assert config.exec is not None
    assert config.exec.command == ("/app", "--serve")
    assert config.exec.restart_on_secret_changes == "always"
    assert config.exec.restart_stop_signal is signal.SIGTERM
    assert not config.exec.own_process_group
    assert not loaded.warnings


@pytest.mark.parametrize(("command", "argv"), [
    ('"/app --serve"', ("sh", "-c", "/app --serve")),  # words: a shell, own process group
    ('"/app,--serve"', ("/app", "--serve")),  # a string is split at commas first
    ('["/app"]', ("/app",)),
])
def test_the_command_follows_vault_agents_decoding(tmp_path: Path, command: str,
                                                   argv: tuple[str, ...]) -> None:
    config = _load(tmp_path, _ENV + f"exec {{ command = {command} }}\n").config
    assert config.exec is not None and config.exec.command == argv


def test_restart_settings(tmp_path: Path) -> None:
    config = _load(tmp_path, _ENV + '''exec {
  command = ["/app"]
  restart_on_secret_changes = "never"
  restart_stop_signal = "SIGINT"
  child_process_stdout = "/tmp/app.out"
}
''').config
    assert config.exec is not None
    assert (config.exec.restart_on_secret_changes, config.exec.restart_stop_signal,
            config.exec.child_process_stdout) == ("never", signal.SIGINT, "/tmp/app.out")


@pytest.mark.parametrize(("text", "message"), [
    (_ENV, "env_template: needs a top-level exec stanza"),
    (_EXEC, "exec: needs at least one env_template block"),
    (_ENV + _EXEC + 'template {\n destination = "/tmp/x"\n contents = "x"\n}\n',
     "template: cannot be combined with env_template"),
    (_ENV + _EXEC + "api_proxy {\n use_auto_auth_token = true\n}\n",
     "api_proxy: "),  # refused as a whole while there is no API proxy
    (_ENV + "exec {\n command = []\n}\n", "exec.command: is required"),
    (_ENV + 'exec {\n command = ["/app"]\n restart_on_secret_changes = "sometimes"\n}\n',
     "exec.restart_on_secret_changes: 'sometimes' is not always or never"),
    (_ENV + 'exec {\n command = ["/app"]\n restart_stop_signal = "SIGNOPE"\n}\n',
     "exec.restart_stop_signal: 'SIGNOPE' is not a signal name"),
    (_ENV + 'exec {\n command = ["/app"]\n colour = "red"\n}\n',
     "exec.colour: unknown key 'colour'"),
    ('env_template "A" {\n contents = "x"\n destination = "/tmp/a"\n}\n' + _EXEC,
     "env_template[0].A.destination: is not allowed in env_template"),
    ('env_template "A" {\n contents = "x"\n colour = "red"\n}\n' + _EXEC,
     "env_template[0].A.colour: unknown key 'colour'"),
    ('env_template "A" {\n error_on_missing_key = true\n}\n' + _EXEC,
     "env_template[0].A: needs source (a template file) or contents"),
    ('env_template "A" {\n contents = "x"\n}\nenv_template "A" {\n contents = "y"\n}\n' + _EXEC,
     "env_template[1].A: the variable A is already defined"),
    ('env_template "A" {\n contents = "{{ .Broken"\n}\n' + _EXEC,
     "env_template[0].A.contents: template does not parse"),
    ('env_template "A" {\n contents = "x"\n function_denylist = ["env"]\n}\n' + _EXEC,
     "env_template[0].A.function_denylist: is not supported"),
])
def test_what_vault_agent_refuses_is_refused_naming_the_key(tmp_path: Path, text: str,
                                                            message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert message in str(err.value), str(err.value)
    assert "agent.hcl" in str(err.value)


def test_init_mode_refuses_the_supervisor_and_names_the_sidecar(tmp_path: Path) -> None:
    from s4e_secret_agent.runtime.lifecycle import run_init

    with pytest.raises(ConfigError, match="use the sidecar command"):
        run_init(_load(tmp_path, _ENV + _EXEC).config)
