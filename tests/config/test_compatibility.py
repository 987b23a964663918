"""The compatibility table against behaviour: for every config key and every annotation, a
config that uses it is accepted, warned with its name, or refused naming it, as its row says.
Also: the keys Vault Agent ignores in the wrong place are warnings here, not errors."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest

from s4e_secret_agent.config.compatibility import (
    ANNOTATIONS,
    CONFIG_KEYS,
    AnnotationRow,
    ConfigKey,
    Status,
    annotation_row,
    config_key,
    unknown_keys,
)
from s4e_secret_agent.config.files import RawLayer
from s4e_secret_agent.config.load import build_from_layers, load_config
from s4e_secret_agent.config.model import ConfigSources, LoadedConfig
from s4e_secret_agent.errors import ConfigError
from tests.config.helpers import write_annotations

_BLOCKS = ("template", "auto_auth.sink", "listener")
_METHOD_FOR_PARAM = {
    "role": "kubernetes", "token_path": "kubernetes", "role_id_file_path": "approle",
    "secret_id_file_path": "approle", "remove_secret_id_file_after_reading": "approle",
    "secret_id_response_wrapping_path": "approle", "path": "jwt",
    "remove_jwt_after_reading": "jwt", "remove_jwt_follows_symlinks": "jwt",
    "token_file_path": "token_file", "token": "token",
    **dict.fromkeys(("name", "ca_cert", "client_cert", "client_key", "reload", "reload_period"),
                    "cert"),
    **dict.fromkeys(("type", "region", "header_value", "access_key", "secret_key",
                     "session_token", "nonce", "credential_poll_interval"), "aws"),
    **dict.fromkeys(("service_account", "credentials", "project", "jwt_exp"), "gcp"),
    **dict.fromkeys(("resource", "object_id", "client_id", "scope",
                     "authenticate_from_environment"), "azure")}


def _base(tmp: Path) -> dict[str, Any]:
    return {
        "auto_auth": {"method": {"type": "kubernetes", "config": {"role": "r"}},
                      "sink": [{"type": "file", "config": {"path": str(tmp / "sink")}}]},
        "template": [{"destination": str(tmp / "out"), "contents": "x"}],
    }


def _placeholder(value: Any, tmp: Path) -> Any:
    files = {"TEMPLATE_FILE": "tmpl", "CA_CERT": "ca.pem", "CLIENT_CERT": "c.pem",
             "CLIENT_KEY": "k.pem", "SA_TOKEN": "sa", "ROLE_ID": "role-id",
             "SECRET_ID": "secret-id", "JWT": "jwt", "TOKEN_FILE": "token",
             "SINK_PATH": "sink", "PID_FILE": "pid", "DH_PATH": "dh.json"}
    if isinstance(value, str) and value in files:
        path = tmp / files[value]
        path.write_text("x")
        return str(path)
    return {"ADDRESS": "https://127.0.0.1:8200", "CA_PATH": str(tmp), "SANDBOX": str(tmp),
            "OWN_UID": os.getuid(), "OWN_GID": os.getgid(), "TOKEN": "t",
            "SINK_AAD": "SINK_AAD"}.get(value, value) if isinstance(value, str) else value


def _node(tree: dict[str, Any], parts: list[str]) -> dict[str, Any]:
    """The mapping at ``parts``, made on the way; a repeated block means its first item."""
    node = tree
    walked = ""
    for part in parts:
        walked = f"{walked}.{part}" if walked else part
        child = node.setdefault(part, [{}] if walked in _BLOCKS else {})
        if isinstance(child, list):
            child = child[0]
        node = child
    return node


def _config_for(row: ConfigKey, tmp: Path) -> dict[str, Any]:
    tree = _base(tmp)
    parts = row.path.split(".")
    if parts[0] in ("listener", "api_proxy", "cache"):
        tree["listener"] = [{"type": "tcp", "address": "127.0.0.1:0", "tls_disable": True}]
    if parts[0] == "listener" and row.key in ("socket_mode", "socket_user", "socket_group"):
        tree["listener"] = [{"type": "unix", "address": str(tmp / "agent.sock"),
                             "tls_disable": True}]
    if row.parent == "auto_auth.method.config":
        kind = _METHOD_FOR_PARAM[row.key]
        config = {"kubernetes": {"role": "r"}, "approle": {"role_id_file_path": str(tmp)},
                  "jwt": {"role": "r", "path": str(tmp)},
                  "token_file": {"token_file_path": str(tmp)}, "token": {"token": "t"},
                  "cert": {"client_cert": "c", "client_key": "k"},
                  "aws": {"type": "iam", "role": "r", "access_key": "a", "secret_key": "s"},
                  "gcp": {"type": "iam", "role": "r"},
                  "azure": {"role": "r", "resource": "https://management.azure.com/"}}[kind]
        tree["auto_auth"]["method"] = {"type": kind, "config": dict(config)}
    if row.parent == "auto_auth.sink" and row.key in ("dh_type", "dh_path", "derive_key",
                                                     "aad", "aad_env_var"):
        sink = tree["auto_auth"]["sink"][0]
        sink.update(dh_type="curve25519", dh_path=_placeholder("DH_PATH", tmp))
    if row.path == "template.source":
        del tree["template"][0]["contents"]
    if row.parent == "template.exec":
        tree["template"][0]["exec"] = {"command": ["true"]}
    if row.parent == "template.signal":
        tree["template"][0]["signal"] = {} if row.key == "pid_file" else {"process": "app"}
    if row.path == "template.signal.pid_file":
        _node(tree, parts[:-1])[row.key] = str(tmp / "pid")
        return tree
    _node(tree, parts[:-1])[row.key] = copy.deepcopy(_placeholder(row.example, tmp))
    return tree


def _load(tree: dict[str, Any], tmp: Path,
          environ: dict[str, str] | None = None) -> LoadedConfig:
    return build_from_layers([RawLayer(tree=tree, label=str(tmp / "agent.json"))],
                             environ_token=None, environ=environ or {})


def _indexed(path: str) -> str:
    for block in _BLOCKS:
        if path == block or path.startswith(block + "."):
            return block + "[0]" + path[len(block):]
    return path


# Process supervisor mode's keys only make sense together: tests/config/test_supervisor_config.py.
_TESTED = [row for row in CONFIG_KEYS if row.example is not None
           and row.path.split(".")[0] not in ("exec", "env_template")]


@pytest.mark.parametrize("row", _TESTED, ids=[row.path for row in _TESTED])
def test_every_config_key_behaves_as_its_row_says(row: ConfigKey, tmp_path: Path) -> None:
    tree = _config_for(row, tmp_path)
    shown = _indexed(row.path)
    top = row.path.split(".")[0]
    if row.status is Status.REFUSED:
        with pytest.raises(ConfigError) as err:
            _load(tree, tmp_path, {"SINK_AAD": "a"})
        message = str(err.value)
        assert shown in message or f"{top}: " in message, message
        assert "is not supported" in message and row.reason in message
        assert err.value.source.endswith("agent.json")
        return
    loaded = _load(tree, tmp_path, {"SINK_AAD": "a"})
    naming = [w for w in loaded.warnings if shown in w or row.key in w]
    if row.status is Status.WARNED:
        parent = config_key(row.parent)
        if top == "cache":  # one warning for each key of the stanza, naming its keys
            first = ".".join(row.path.split(".")[:2])
            naming = [w for w in loaded.warnings if f"{first}: ignored" in w]
        elif top == "telemetry":  # one warning for the stanza names every key
            naming = [w for w in loaded.warnings if f"{top}: ignored" in w
                      and row.path[len(top) + 1:] in w]
        elif parent is not None and parent.status is Status.WARNED:
            naming = [w for w in loaded.warnings if _indexed(row.parent) in w]
        assert naming, (row.path, loaded.warnings)
        assert any("ignored" in w for w in naming)
    else:
        assert not [w for w in loaded.warnings if f"{shown}:" in w], loaded.warnings


def test_structural_rows_are_supported() -> None:
    for row in CONFIG_KEYS:
        if row.example is None:
            assert row.status is Status.SUPPORTED, row.path


def test_rows_are_unique_and_reasons_given() -> None:
    paths = [row.path for row in CONFIG_KEYS]
    assert len(paths) == len(set(paths))
    for row in CONFIG_KEYS:
        assert row.reason, row.path
        if row.status is Status.REFUSED:
            assert row.hint, row.path
        if row.status is Status.SUPPORTED:
            assert row.where, row.path
    names = [row.name for row in ANNOTATIONS]
    assert len(names) == len(set(names))


def test_every_row_lives_in_a_stanza_with_a_policy() -> None:
    for row in CONFIG_KEYS:
        unknown_keys(row.parent)  # KeyError when a stanza has no policy


# -- tolerance: what Vault Agent ignores is a warning, not an exit -----------------------------

MISPLACED = [
    ("auto_auth", "exit_on_err", True, "it belongs in auto_auth.method"),
    ("auto_auth", "exit_after_auth", True, "it belongs in the top level"),
    ("template_config", "passthrough_request_headers", ["X-Y"], ""),
    ("vault", "bogus", 1, ""),
    ("", "bogus", 1, ""),
    ("auto_auth.method", "bogus", 1, ""),
    ("auto_auth.method.config", "bogus", 1, ""),
    ("auto_auth.sink[0]", "bogus", 1, ""),
    ("auto_auth.sink[0].config", "bogus", 1, ""),
    ("vault.retry", "bogus", 1, ""),
]


@pytest.mark.parametrize(("stanza", "key", "value", "where"), MISPLACED)
def test_keys_vault_agent_ignores_are_warnings(tmp_path: Path, stanza: str, key: str,
                                               value: Any, where: str) -> None:
    tree = _base(tmp_path)
    tree["vault"] = {"retry": {}}
    tree["template_config"] = {}
    parts = [p.replace("[0]", "") for p in stanza.split(".")] if stanza else []
    _node(tree, parts)[key] = value
    loaded = _load(tree, tmp_path)
    path = f"{stanza}.{key}" if stanza else key
    naming = [w for w in loaded.warnings if f"{path}: ignored" in w]
    assert naming, loaded.warnings
    assert "Vault Agent ignores it too" in naming[0] and where in naming[0]
    if key == "exit_after_auth":  # ignored there by Vault Agent, so it does not apply here
        assert loaded.config.exit_after_auth is False


def test_a_parameter_of_another_method_is_ignored_with_a_warning(tmp_path: Path) -> None:
    tree = _base(tmp_path)
    tree["auto_auth"]["method"]["config"]["role_id_file_path"] = "/x"
    loaded = _load(tree, tmp_path)
    assert any("auto_auth.method.config.role_id_file_path: ignored: not a parameter of the "
               "kubernetes auth method" in w for w in loaded.warnings)


@pytest.mark.parametrize("stanza", ["template[0]", "template[0].exec"])
def test_unknown_keys_in_mapstructure_stanzas_are_refused_as_vault_refuses(
        tmp_path: Path, stanza: str) -> None:
    tree = _base(tmp_path)
    tree["template"][0]["exec"] = {"command": ["true"]}
    node = tree["template"][0] if stanza == "template[0]" else tree["template"][0]["exec"]
    node["colour"] = "red"
    with pytest.raises(ConfigError, match=rf"{stanza.replace('[', '.').replace(']', '')}"
                       r"|colour: unknown key 'colour'"):
        _load(tree, tmp_path)


def test_other_auth_methods_are_refused_by_name_with_a_hint(tmp_path: Path) -> None:
    tree = _base(tmp_path)
    tree["auto_auth"]["method"] = {"type": "ldap", "config": {"username": "u"}}
    with pytest.raises(ConfigError, match="Vault Agent's ldap auth method is not provided") \
            as err:
        _load(tree, tmp_path)
    assert "kubernetes" in err.value.hint


def test_a_hcl_config_with_misplaced_keys_loads(tmp_path: Path) -> None:
    config = tmp_path / "agent.hcl"
    config.write_text(f'''
auto_auth {{
  exit_on_err = true
  exit_after_auth = true
  method "kubernetes" {{
    config = {{ role = "r" }}
  }}
}}
template_config {{
  passthrough_request_headers = ["X-Request-Id"]
}}
template {{
  destination = "{tmp_path}/out"
  contents = "x"
}}
''')
    loaded = load_config(ConfigSources(config_file=str(config)))
    lines = [w for w in loaded.warnings if "ignored" in w]
    assert any(f"{config}:3: auto_auth.exit_on_err" in w for w in lines), lines
    assert any(f"{config}:4: auto_auth.exit_after_auth" in w for w in lines), lines
    assert any("template_config.passthrough_request_headers" in w for w in lines), lines


# -- annotations ---------------------------------------------------------------------------

def _annotation_name(row: AnnotationRow) -> str:
    return (row.name.replace("<name>", "db").replace("auth-config-<param>", "auth-config-role")
            .replace("<param>", "disable_hostname"))


@pytest.mark.parametrize("row", ANNOTATIONS, ids=[row.name for row in ANNOTATIONS])
def test_every_annotation_behaves_as_its_row_says(row: AnnotationRow, tmp_path: Path) -> None:
    name = _annotation_name(row)
    assert annotation_row(name) == row
    value = row.example
    if value == "TEMPLATE_FILE":
        value = str(tmp_path / "tmpl")
        Path(value).write_text("x")
    annotations = {"vault.hashicorp.com/agent-inject": "true",
                   "vault.hashicorp.com/role": "app",
                   "vault.hashicorp.com/agent-inject-secret-db": "secret/data/db",
                   f"vault.hashicorp.com/{name}": value}
    if "delim" in name:  # the default template needs both delimiters changed
        annotations["vault.hashicorp.com/agent-template-left-delim-db"] = "[["
        annotations["vault.hashicorp.com/agent-template-right-delim-db"] = "]]"
        annotations["vault.hashicorp.com/agent-inject-template-db"] = "[[ 1 ]]"
    path = write_annotations(tmp_path / "annotations", annotations)
    loaded = load_config(ConfigSources(annotations_file=path))
    naming = [w for w in loaded.warnings if f"vault.hashicorp.com/{name}:" in w]
    if row.status is Status.SUPPORTED:
        assert not naming or (name == "agent-inject" and "is false" in naming[0]), naming
    elif row.status is Status.WARNED:
        assert naming and "ignored: " + row.reason in naming[0], loaded.warnings
    else:
        assert naming and "not applicable: " + row.reason in naming[0], loaded.warnings


def test_an_unknown_annotation_is_warned(tmp_path: Path) -> None:
    path = write_annotations(tmp_path / "a", {"vault.hashicorp.com/role": "r",
                                              "vault.hashicorp.com/agent-colour": "red"})
    loaded = load_config(ConfigSources(annotations_file=path))
    assert any("agent-colour: ignored: not an injector annotation" in w
               for w in loaded.warnings)


def test_every_injector_annotation_has_a_row() -> None:
    """The names vault-k8s 1.7.6 declares (agent-inject/agent/annotations.go)."""
    declared = [
        "agent-auto-auth-exit-on-err", "agent-cache-enable", "agent-cache-exit-on-err",
        "agent-cache-listener-port", "agent-cache-use-auto-auth-token", "agent-configmap",
        "agent-copy-volume-mounts", "agent-disable-idle-connections",
        "agent-disable-keep-alives", "agent-enable-quit", "agent-extra-secret",
        "agent-image", "agent-init-first", "agent-init-json-patch", "agent-inject",
        "agent-inject-command-db", "agent-inject-containers",
        "agent-inject-default-template", "agent-inject-file-db", "agent-inject-perms-db",
        "agent-inject-secret-db", "agent-inject-status", "agent-inject-template-db",
        "agent-inject-template-file-db", "agent-inject-token", "agent-json-patch",
        "agent-limits-cpu", "agent-limits-ephemeral", "agent-limits-mem",
        "agent-pre-populate", "agent-pre-populate-only", "agent-request-namespace",
        "agent-requests-cpu", "agent-requests-ephemeral", "agent-requests-mem",
        "agent-revoke-grace", "agent-revoke-on-shutdown", "agent-run-as-group",
        "agent-run-as-same-user", "agent-run-as-user",
        "agent-service-account-token-volume-name", "agent-set-security-context",
        "agent-share-process-namespace", "agent-telemetry-x",
        "agent-template-left-delim-db", "agent-template-right-delim-db", "auth-config-x",
        "auth-max-backoff", "auth-min-backoff", "auth-path", "auth-type", "ca-cert",
        "ca-key", "client-cert", "client-key", "client-max-retries", "client-timeout",
        "error-on-missing-key-db", "go-max-procs", "log-format", "log-level", "namespace",
        "preserve-secret-case", "preserve-secret-case-db", "proxy-address", "role",
        "secret-volume-path", "secret-volume-path-db", "service",
        "template-config-exit-on-retry-failure", "template-lease-renewal-threshold",
        "template-max-connections-per-host", "template-static-secret-render-interval",
        "tls-secret", "tls-server-name", "tls-skip-verify"]
    assert [name for name in declared if annotation_row(name) is None] == []
