"""The API proxy's configuration: ``listener`` blocks, ``api_proxy`` and the older
``cache { use_auto_auth_token }``, and the injector's cache annotations, read as Vault Agent
and the injector read them; a listener reachable from outside without TLS is warned."""

from __future__ import annotations

from pathlib import Path

import pytest

from s4e_secret_agent.config.load import load_config
from s4e_secret_agent.config.model import ConfigSources, LoadedConfig
from s4e_secret_agent.errors import ConfigError
from tests.config.helpers import write_annotations

_HEAD = '''
auto_auth {
  method "token_file" { config = { token_file_path = "/dev/null" } }
}
'''


def _load(tmp_path: Path, text: str) -> LoadedConfig:
    path = tmp_path / "agent.hcl"
    path.write_text(_HEAD + text)
    return load_config(ConfigSources(config_file=str(path), environ={}))


def test_a_tcp_listener_with_the_auto_auth_token(tmp_path: Path) -> None:
    loaded = _load(tmp_path, 'listener "tcp" {\n tls_disable = true\n}\n'
                             "api_proxy {\n use_auto_auth_token = true\n}\n")
    [listener] = loaded.config.listeners
    assert (listener.type, listener.address, listener.tls_disable) == (
        "tcp", "127.0.0.1:8200", True)
    proxy = loaded.config.api_proxy
    assert (proxy.use_auto_auth_token, proxy.force_auto_auth_token) == (True, False)
    assert not loaded.warnings


@pytest.mark.parametrize(("text", "use", "force"), [
    ('api_proxy {\n use_auto_auth_token = "force"\n}\n', True, True),
    ('api_proxy {\n use_auto_auth_token = "FORCE"\n}\n', True, True),
    ("api_proxy {\n use_auto_auth_token = false\n}\n", False, False),
    ("cache {\n use_auto_auth_token = true\n}\n", True, False),  # the older form
    ('cache {\n use_auto_auth_token = "force"\n}\n', True, True),
    ("", False, False),  # a listener alone forwards the client's token
])
def test_use_auto_auth_token_forms(tmp_path: Path, text: str, use: bool, force: bool) -> None:
    config = _load(tmp_path, 'listener "tcp" {\n tls_disable = true\n}\n' + text).config
    assert (config.api_proxy.use_auto_auth_token,
            config.api_proxy.force_auto_auth_token) == (use, force)


def test_a_cache_stanza_turns_the_lease_cache_on_without_a_warning(tmp_path: Path) -> None:
    loaded = _load(tmp_path, 'listener "tcp" {\n tls_disable = true\n}\n'
                             "cache {\n use_auto_auth_token = true\n}\n")
    assert not any(w.startswith("cache") for w in loaded.warnings)


def test_a_unix_listener(tmp_path: Path) -> None:
    config = _load(tmp_path, f'''listener "unix" {{
  address = "{tmp_path}/agent.sock"
  tls_disable = true
  socket_mode = "0660"
  socket_user = "0"
  socket_group = "0"
  agent_api {{
    enable_quit = true
  }}
}}
''').config
    [listener] = config.listeners
    assert (listener.type, listener.socket_mode, listener.socket_user, listener.socket_group,
            listener.enable_quit) == ("unix", 0o660, 0, 0, True)


def test_tls_settings(tmp_path: Path) -> None:
    config = _load(tmp_path, '''listener "tcp" {
  address = "0.0.0.0:8200"
  tls_cert_file = "/tls/cert.pem"
  tls_key_file = "/tls/key.pem"
  tls_min_version = "tls13"
  tls_client_ca_file = "/tls/ca.pem"
  tls_require_and_verify_client_cert = true
}
''').config
    [listener] = config.listeners
    assert (listener.tls_disable, listener.tls_cert_file, listener.tls_min_version,
            listener.tls_require_and_verify_client_cert) == (
        False, "/tls/cert.pem", "tls13", True)


def test_plain_http_beyond_loopback_is_warned(tmp_path: Path) -> None:
    loaded = _load(tmp_path, 'listener "tcp" {\n address = "0.0.0.0:8200"\n'
                             " tls_disable = true\n}\n")
    assert any("listener[0].address: the API proxy listens on 0.0.0.0:8200 without TLS" in w
               for w in loaded.warnings), loaded.warnings
    quiet = _load(tmp_path, 'listener "tcp" {\n address = "[::1]:8200"\n tls_disable = true\n}\n'
                            "api_proxy {\n use_auto_auth_token = true\n}\n")
    assert not quiet.warnings


@pytest.mark.parametrize(("text", "message"), [
    ('listener "tcp" {\n address = "127.0.0.1:8200"\n}\n',
     "listener[0].tls_cert_file: is required unless tls_disable = true"),
    ('listener "tcp" {\n tls_disable = true\n address = "8200"\n}\n',
     "listener[0].address: '8200' is not host:port"),
    ('listener "unix" {\n tls_disable = true\n}\n', "listener[0].address: is required"),
    ('listener "udp" {\n tls_disable = true\n}\n', "listener[0].type: 'udp' is not a listener"),
    ('listener "tcp" {\n tls_disable = true\n role = "admin"\n}\n',
     "listener[0].role: 'admin' is not a listener role"),
    ('listener "tcp" {\n tls_disable = true\n tls_min_version = "ssl3"\n}\n',
     "listener[0].tls_min_version: 'ssl3' is not a TLS version"),
    ('listener "tcp" {\n tls_cert_file = "/c"\n tls_key_file = "/k"\n'
     " tls_require_and_verify_client_cert = true\n}\n",
     "listener[0].tls_client_ca_file: is required with tls_require_and_verify_client_cert"),
    ("api_proxy {\n use_auto_auth_token = true\n}\n", "api_proxy: needs at least one listener"),
    ('listener "tcp" {\n tls_disable = true\n}\napi_proxy {\n use_auto_auth_token = "yes!"\n}\n',
     "api_proxy.use_auto_auth_token: 'yes!' is not true, false or force"),
    ('listener "tcp" {\n tls_disable = true\n}\napi_proxy {\n use_auto_auth_token = true\n}\n'
     "cache {\n use_auto_auth_token = true\n}\n", "cache.use_auto_auth_token: is also set in "
     "api_proxy"),
])
def test_refused_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert message in str(err.value) and "agent.hcl" in str(err.value), str(err.value)


def _from_annotations(tmp_path: Path, extra: dict[str, str]) -> LoadedConfig:
    annotations = {"vault.hashicorp.com/agent-inject": "true",
                   "vault.hashicorp.com/role": "app",
                   "vault.hashicorp.com/agent-inject-secret-db": "secret/data/db",
                   **{f"vault.hashicorp.com/{k}": v for k, v in extra.items()}}
    path = write_annotations(tmp_path / "annotations", annotations)
    return load_config(ConfigSources(annotations_file=path))


def test_the_injectors_cache_annotations_make_its_listener(tmp_path: Path) -> None:
    config = _from_annotations(tmp_path, {"agent-cache-enable": "true"}).config
    [listener] = config.listeners
    assert (listener.address, listener.tls_disable, listener.enable_quit) == (
        "127.0.0.1:8200", True, False)
    assert config.api_proxy.use_auto_auth_token and not config.api_proxy.force_auto_auth_token
    config = _from_annotations(tmp_path, {
        "agent-cache-enable": "true", "agent-cache-listener-port": "8100",
        "agent-cache-use-auto-auth-token": "force", "agent-enable-quit": "true"}).config
    [listener] = config.listeners
    assert (listener.address, listener.enable_quit) == ("127.0.0.1:8100", True)
    assert config.api_proxy.force_auto_auth_token
    assert not _from_annotations(tmp_path, {"agent-cache-enable": "false",
                                            "agent-cache-listener-port": "8100"}).config.listeners


def test_a_bad_cache_port_names_the_annotation(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="agent-cache-listener-port"):
        _from_annotations(tmp_path, {"agent-cache-enable": "true",
                                     "agent-cache-listener-port": "eighty"})
