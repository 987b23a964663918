"""Precedence of sources, scalar parsing, annotation quoting and every error message."""

from __future__ import annotations

from pathlib import Path

import pytest

from s4e_secret_agent.config import values
from s4e_secret_agent.config.annotations import parse_annotations_text
from s4e_secret_agent.config.load import load_config
from s4e_secret_agent.config.model import ConfigSources
from s4e_secret_agent.errors import ConfigError, ExitCode
from tests.config.helpers import DATA, go_quote

BASE = "auto_auth: {method: {type: kubernetes, config: {role: s4e}}}\n"


def test_precedence_flags_over_env_over_file_over_defaults(tmp_path: Path) -> None:
    config_file = tmp_path / "c.yaml"
    config_file.write_text(BASE + "vault: {address: 'https://file:8200', namespace: file-ns}\n"
                           "agent: {deadline: 1m, log_level: debug}\n")
    env = {"VAULT_ADDR": "https://env:8200", "S4E_DEADLINE": "2m",
           "VAULT_CLIENT_TIMEOUT": "10s", "VAULT_SKIP_VERIFY": "T"}
    flags = {"vault.address": "https://flag:8200"}
    config = load_config(ConfigSources(config_file=str(config_file), environ=env,
                                       flags=flags)).config
    assert config.vault.address == "https://flag:8200"  # flag beats env and file
    assert config.agent.deadline == 120  # env beats file
    assert config.vault.namespace == "file-ns"  # file beats default
    assert config.agent.log_level == "debug"
    assert config.vault.client_timeout == 10 and config.vault.tls_skip_verify is True
    assert config.agent.metrics_listen == "0.0.0.0:9102"  # default


def test_role_flag_alone_means_kubernetes() -> None:
    config = load_config(ConfigSources(flags={"auto_auth.method.config.role": "s4e"})).config
    assert config.auto_auth.method.type == "kubernetes"
    assert config.auto_auth.method.params["role"] == "s4e"


@pytest.mark.parametrize(("text", "seconds"), [
    ("1h30m", 5400), ("250ms", 0.25), ("5m", 300), ("30", 30), (45, 45), ("1.5h", 5400),
    ("0", 0), ("2h45m30.5s", 9930.5), ("1us", 1e-6), ("", 0), ("7d", 7 * 86400),
    ("+1d", 86400)])
def test_durations(text: object, seconds: float) -> None:
    assert values.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5", "m", "5x", "1h-3m", "-1s", "1 h", True, "nan", "1.5d",
                                  "1d12h", "d", "-1d", "1 d"])
def test_bad_durations(text: object) -> None:
    if text == "5":
        assert values.parse_duration(text) == 5
        return
    with pytest.raises(ValueError):
        values.parse_duration(text)


@pytest.mark.parametrize(("text", "mode"), [
    ("0640", 0o640), ("640", 0o640), (640, 0o640), ("0o400", 0o400), ("0400", 0o400),
    (600, 0o600), ("4755", 0o4755)])
def test_modes(text: object, mode: int) -> None:
    assert values.parse_mode(text) == mode


@pytest.mark.parametrize(("text", "result"), [
    ("1", True), ("t", True), ("TRUE", True), ("True", True), ("0", False), ("F", False),
    ("false", False), (True, True)])
def test_go_parse_bool(text: object, result: bool) -> None:
    assert values.parse_bool(text) is result


@pytest.mark.parametrize("text", ["yes", "on", "tRuE", "", "2"])
def test_go_parse_bool_refuses_what_go_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        values.parse_bool(text)


@pytest.mark.parametrize(("quoted", "value"), [
    (r'"a\nb"', "a\nb"), (r'"say \"hi\""', 'say "hi"'), (r'"back\\slash"', "back\\slash"),
    (r'"tab\there"', "tab\there"), (r'"\u00e9t\u00e9"', "été"), (r'"\U0001F600"', "😀"),
    (r'"\x41\101"', "AA"), ('"plain é"', "plain é"), (r'"\xc3\xa9"', "é"), ('""', "")])
def test_go_unquote(quoted: str, value: str) -> None:
    assert values.go_unquote(quoted) == value


@pytest.mark.parametrize("quoted", [r'"a', 'a"', r'"\q"', r'"\x4"', r'"\ud800"', r'"\xff"',
                                    r'"a"b"', '"\\"'])
def test_go_unquote_refuses_bad_literals(quoted: str) -> None:
    with pytest.raises(ValueError):
        values.go_unquote(quoted)


def test_go_quote_round_trips_through_unquote() -> None:
    text = 'line1\nline2\t"q" \\ é 😀 \x01 \u2028'
    assert values.go_unquote(go_quote(text)) == text


def test_annotation_file_errors_name_the_line() -> None:
    with pytest.raises(ConfigError) as err:
        parse_annotations_text('a="x"\nb="unterminated\n', "pod-annotations")
    assert str(err.value).startswith("pod-annotations:2: annotation b:")
    with pytest.raises(ConfigError, match=r'pod-annotations:1: expected key="value"'):
        parse_annotations_text("no equals sign\n", "pod-annotations")


def _load_yaml(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(ConfigSources(config_file=str(path)))
    assert err.value.exit_code == ExitCode.CONFIG
    return err.value


# (YAML text, expected message fragment): the message names the file, line and config path.
YAML_ERRORS = [
    (BASE + "template:\n  - {contents: x, destination: /x}\n  - contents: y\n",
     "c.yaml:4: template[1].destination:"
     " is required"),
    (BASE + "template:\n  - {destination: /a}\n", "template[0]: needs source (a template file)"
     " or contents"),
    (BASE + "template:\n  - {destination: /a, contents: x, source: /b}\n",
     "set either source or contents, not both"),
    (BASE + "template:\n  - {destination: /a, source: /does/not/exist}\n",
     "template[0].source: template file /does/not/exist does not exist"),
    (BASE + "template:\n  - destination: /a\n    contents: x\n    perms: rw\n",
     "c.yaml:5: template[0].perms: 'rw' is not an octal file mode"),
    (BASE + "template:\n  - {destination: /a, contents: x}\n  - {destination: /a, contents: y}\n",
     "template[1].destination: /a is also the destination of template[0]"),
    (BASE + "template:\n  - {destination: /a, contents: x, name: n}\n"
     "  - {destination: /b, contents: y, name: n}\n", "name 'n' is already used by template[0]"),
    (BASE + "template:\n  - {destination: /a, contents: x, signal: {process: a, pid_file: b}}\n",
     "template[0].signal: needs exactly one of process"),
    (BASE + "template:\n  - {destination: /a, contents: x, signal: {signal: SIGNOPE, "
     "process: a}}\n", "template[0].signal.signal: 'SIGNOPE' is not a signal name"),
    (BASE + "template:\n  - {destination: /a, contents: x, command: a, exec: {command: b}}\n",
     "set either command or exec, not both"),
    (BASE + "template:\n  - {destination: /a, contents: x, function_denylist: [file]}\n",
     "template[0].function_denylist: is not supported: function deny lists are not"),
    (BASE + "template:\n  - {destination: /a, contents: x, colour: red}\n",
     "c.yaml:3: template[0].colour: unknown key 'colour'"),
    (BASE + "vault:\n  address: vault:8200\n", "c.yaml:3: vault.address: 'vault:8200' is not an"
     " http:// or https:// URL"),
    (BASE + "vault: {client_timeout: soon}\n", "vault.client_timeout: 'soon' is not a duration"),
    (BASE + "template_config: {lease_renewal_threshold: 1.5}\n",
     "template_config.lease_renewal_threshold: 1.5 is not between 0 and 1"),
    (BASE + "agent: {deadline: 0s}\n", "agent.deadline: must be more than 0"),
    (BASE + "agent: {max_retry_after: -1s}\n", "agent.max_retry_after: '-1s' is negative"),
    (BASE + "agent: {metrics_listen: nope}\n", "agent.metrics_listen: 'nope' is not host:port"),
    (BASE + "agent: {log_level: loud}\n", "agent.log_level: 'loud' is not a log level"),
    (BASE + "agent: {rotation_overlap: always}\n", "agent.rotation_overlap: 'always' is not a"),
    (BASE + "cache: {}\napi_proxy: {}\n", "c.yaml:3: api_proxy: needs at least one listener"),
    (BASE + "env_template: {}\n", "env_template: needs a top-level exec stanza"),
    (BASE + "listener: {type: tcp, address: '127.0.0.1:8100'}\n",
     "listener[0].tls_cert_file: is required unless tls_disable = true"),
    ("auto_auth: {method: {type: kerberos, config: {username: x}}}\n",
     "c.yaml:1: auto_auth.method.type: Vault Agent's kerberos auth method is not provided"),
    ("auto_auth: {method: {type: aws, config: {role: x}}}\n",
     "c.yaml:1: auto_auth.method.config.type: is required"),
    ("auto_auth: {method: {type: gcp, config: {role: x, type: gke}}}\n",
     "c.yaml:1: auto_auth.method.config.type: 'gke' is not one of iam, gce"),
    ("auto_auth: {method: {type: aws, config: {role: x, type: iam, access_key: A}}}\n",
     "auto_auth.method.config.access_key: static AWS credentials need both access_key and "
     "secret_key"),
    ("auto_auth: {method: {type: azure, config: {role: x, resource: r, object_id: o, "
     "client_id: c}}}\n",
     "auto_auth.method.config.client_id: only one of object_id or client_id may be given"),
    ("auto_auth: {method: {type: magic, config: {role: x}}}\n",
     "c.yaml:1: auto_auth.method.type: auth method 'magic' is not supported"),
    ("auto_auth: {method: {type: kubernetes}}\n", "auto_auth.method.config.role: is required"),
    ("auto_auth: {method: {type: approle, config: {secret_id_file_path: /s}}}\n",
     "auto_auth.method.config.role_id_file_path: is required"),
    ("auto_auth: {method: {type: jwt, config: {role: r}}}\n",
     "auto_auth.method.config.path: is required"),
    ("auto_auth: {method: {type: token_file, config: {}}}\n",
     "auto_auth.method.config.token_file_path: is required"),
    ("auto_auth: {method: {type: token}}\n", "auth method token needs a token"),
    ("auto_auth: {method: {type: kubernetes, wrap_ttl: 5m, config: {role: r}}}\n",
     "auto_auth.method.wrap_ttl: is not supported: with a wrapped login Vault Agent holds"),
    ("auto_auth: {method: {type: kubernetes, min_backoff: 10s, max_backoff: 1s, "
     "config: {role: r}}}\n", "auto_auth.method.max_backoff: must not be less than min_backoff"),
    ("auto_auth: {method: {type: kubernetes, config: {role: s4e}}, "
     "sink: [{type: file, dh_type: curve25519, config: {path: /t}}]}\n",
     "auto_auth.sink[0].dh_path: dh_type and dh_path must be set together"),
    ("auto_auth: {method: {type: kubernetes, config: {role: s4e}}, "
     "sink: [{type: file, dh_type: rsa, dh_path: /k, config: {path: /t}}]}\n",
     "auto_auth.sink[0].dh_type: 'rsa' is not a dh_type"),
    ("auto_auth: {method: {type: kubernetes, config: {role: s4e}}, "
     "sink: [{type: file, aad: x, config: {path: /t}}]}\n",
     "auto_auth.sink[0].aad: additional authenticated data without dh_type"),
    ("auto_auth: {method: {type: kubernetes, config: {role: s4e}}, "
     "sink: [{type: file, derive_key: true, config: {path: /t}}]}\n",
     "auto_auth.sink[0].derive_key: derive_key without dh_type"),
    ("auto_auth: {method: {type: kubernetes, config: {role: s4e}}, sink: {type: syslog}}\n",
     "auto_auth.sink[0].type: sink type 'syslog' is not supported"),
    ("vault: {}\n", "auto_auth: no auth method configured"),
    ("- a\n- b\n", "c.yaml:1: the top level must be a mapping"),
    ("a: [\n", "c.yaml:2: not valid YAML"),
    ("vault: {}\nvault: {}\n", "c.yaml:2: vault: key 'vault' appears twice"),
    (BASE + "agent: {colour: red}\n", "c.yaml:2: agent.colour: unknown key 'colour'"),
    ("a: &a [*a]\n", "YAML alias refers to itself"),
]


@pytest.mark.parametrize(("text", "message"), YAML_ERRORS)
def test_yaml_errors(tmp_path: Path, text: str, message: str) -> None:
    error = _load_yaml(tmp_path, text)
    assert message in str(error), str(error)


def test_error_path_attribute(tmp_path: Path) -> None:
    error = _load_yaml(tmp_path, BASE + "template:\n  - contents: x\n")
    assert error.path == "template[0].destination"
    assert error.line == 3
    assert error.source.endswith("c.yaml")


def test_hcl_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "agent.hcl"
    path.write_text('vault {\n  address = \n}\n')
    with pytest.raises(ConfigError, match=r"agent\.hcl:2:11: address = has no value"):
        load_config(ConfigSources(config_file=str(path)))
    path.write_text((DATA / "s4e.hcl").read_text() + 'template {\n  contents = "x"\n}\n')
    with pytest.raises(ConfigError, match=r"agent\.hcl:31: template\[1\]\.destination: is "
                                          r"required"):
        load_config(ConfigSources(config_file=str(path)))


def test_json_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    path.write_text('{\n  "vault": {\n    "address": \n  }\n}\n')
    with pytest.raises(ConfigError, match=r"agent\.json:4: not valid JSON"):
        load_config(ConfigSources(config_file=str(path)))


def test_environment_errors_name_the_variable() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(ConfigSources(environ={"VAULT_TOKEN": "t", "VAULT_SKIP_VERIFY": "yes"}))
    assert str(err.value) == ("environment variable VAULT_SKIP_VERIFY: vault.tls_skip_verify: "
                              "'yes' is not a boolean (use true or false)")


def test_annotation_errors_name_the_annotation(tmp_path: Path) -> None:
    path = tmp_path / "annotations"
    path.write_text('vault.hashicorp.com/role="s4e"\n'
                    'vault.hashicorp.com/agent-inject-secret-db="s4e/data/database"\n'
                    'vault.hashicorp.com/agent-inject-perms-db="rw-r-----"\n')
    with pytest.raises(ConfigError) as err:
        load_config(ConfigSources(annotations_file=str(path)))
    assert str(err.value) == (f"{path}:3 vault.hashicorp.com/agent-inject-perms-db: "
                              "template[0].perms: 'rw-r-----' is not an octal file mode "
                              "(use e.g. 0640 or 0400)")
    path.write_text('vault.hashicorp.com/agent-inject-default-template="yaml"\n')
    with pytest.raises(ConfigError, match="'yaml' is not a default template"):
        load_config(ConfigSources(annotations_file=str(path)))


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*nope.yaml does not exist"):
        load_config(ConfigSources(config_file=str(tmp_path / "nope.yaml")))
    with pytest.raises(ConfigError, match=r"annotations file .* does not exist"):
        load_config(ConfigSources(annotations_file=str(tmp_path / "nope")))


def test_template_syntax_errors_are_config_errors(tmp_path: Path) -> None:
    """Templates are parsed at load time, once: a syntax error is a configuration error that
    names the template's config path and the line:column in the template."""
    from s4e_secret_agent.errors import TemplateSyntaxError

    error = _load_yaml(tmp_path, BASE + "template:\n  - {destination: /a/db, contents: '{{ x'}\n")
    assert isinstance(error, TemplateSyntaxError)
    assert error.path == "template[0].contents"
    assert "template does not parse: template: db:1: function \"x\" not defined" in str(error)


def test_hcl_errors_point_at_the_nested_line(tmp_path: Path) -> None:
    path = tmp_path / "agent.hcl"
    path.write_text('auto_auth {\n  method "Kubernetes" {\n    config = {\n      role = ""\n'
                    '    }\n  }\n}\ntemplate {\n  destination = "/a"\n  contents = "x"\n}\n'
                    'template {\n  destination = "/b"\n  contents = "y"\n  perms = "9"\n}\n')
    with pytest.raises(ConfigError) as err:
        load_config(ConfigSources(config_file=str(path)))
    assert str(err.value) == f"{path}:4: auto_auth.method.config.role: is required"
    path.write_text(path.read_text().replace('role = ""', 'role = "x"'))
    with pytest.raises(ConfigError) as err:
        load_config(ConfigSources(config_file=str(path)))
    assert err.value.line == 15 and err.value.path == "template[1].perms"


def test_nothing_to_do_is_a_warning() -> None:
    loaded = load_config(ConfigSources(environ={"VAULT_TOKEN": "t"}))
    assert loaded.warnings == ("no templates and no token sink: the agent will only log in",)
