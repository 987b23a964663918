"""Annotations and durations read as leniently as the Vault Agent injector and Vault Agent read
them, and annotation file names kept inside the secret volume.

The expectations marked "injector" are recorded from vault-k8s ``agent-inject/agent``
(``annotations.go``, ``agent.go``, ``config.go``, ``container_env.go``); the duration ones
from Vault's ``parseutil.ParseDurationSecond``, and checked against ``bao agent`` itself where
a Vault Agent config file carries them.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from s4e_secret_agent.config.load import load_config
from s4e_secret_agent.config.model import AgentConfig, ConfigSources
from s4e_secret_agent.errors import ConfigError
from tests.config.helpers import DIFF_MOUNT, DIFF_SECRET, write_annotations
from tests.integration.conftest import run_agent
from tests.testbed.openbao import OpenBaoServer, bao_binary

P = "vault.hashicorp.com/"


def _load(tmp_path: Path, annotations: dict[str, str]) -> tuple[AgentConfig, list[str]]:
    path = write_annotations(tmp_path / "annotations", {P + k: v for k, v in annotations.items()})
    loaded = load_config(ConfigSources(annotations_file=path))
    return loaded.config, list(loaded.warnings)


def _refused(tmp_path: Path, annotations: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, annotations)
    return err.value


BASE = {"role": "app", "agent-inject-secret-db": "secret/data/db"}


# -- agent-inject-default-template -----------------------------------------------------------

@pytest.mark.parametrize(("value", "kind"), [("JSON", "json"), ("Json", "json"),
                                              ("MAP", "map"), ("Map", "map")])
def test_the_default_template_is_read_lowercased_as_the_injector_does(
        tmp_path: Path, value: str, kind: str) -> None:
    config, warnings = _load(tmp_path, {**BASE, "agent-inject-default-template": value})
    contents = config.templates[0].contents
    assert ("toJSON" in contents) == (kind == "json"), contents
    assert not [w for w in warnings if "default-template" in w]


def test_an_unknown_default_template_is_still_refused_naming_the_annotation(
        tmp_path: Path) -> None:
    err = _refused(tmp_path, {**BASE, "agent-inject-default-template": "yaml"})
    assert f"{P}agent-inject-default-template" in str(err)
    assert "use map or json" in str(err)


# -- durations: Vault's syntax ----------------------------------------------------------------

def test_annotation_durations_take_days_as_vault_agent_reads_them(tmp_path: Path) -> None:
    """The injector passes these through as text; Vault Agent (and Vault's client, for
    VAULT_CLIENT_TIMEOUT) read them with ParseDurationSecond, which takes "1d"."""
    config, _ = _load(tmp_path, {**BASE, "template-static-secret-render-interval": "1d",
                                 "client-timeout": "2d", "auth-max-backoff": "1d"})
    assert config.template_config.static_secret_render_interval == 86400
    assert config.vault.client_timeout == 2 * 86400
    assert config.auto_auth.method.max_backoff == 86400


def test_an_empty_duration_annotation_means_the_default(tmp_path: Path) -> None:
    """The injector writes an empty duration as no key at all (omitempty)."""
    config, _ = _load(tmp_path, {**BASE, "template-static-secret-render-interval": "",
                                 "auth-min-backoff": ""})
    assert config.template_config.static_secret_render_interval == 300
    assert config.auto_auth.method.min_backoff == 1


def _vault_agent_hcl(directory: Path, address: str, token: str, duration: str) -> Path:
    (directory / "token").write_text(token)
    config = directory / "agent.hcl"
    config.write_text(f'''
vault {{
  address = "{address}"
  retry {{ num_retries = -1 }}
}}
auto_auth {{
  method "token_file" {{
    min_backoff = {duration}
    max_backoff = "30d"
    config = {{ token_file_path = "{directory / 'token'}" }}
  }}
}}
exit_after_auth = true
template_config {{
  exit_on_retry_failure = true
  static_secret_render_interval = {duration}
}}
template {{
  destination = "{directory / 'out'}"
  contents = "{{{{ with secret \\"{DIFF_MOUNT}/data/app\\" }}}}{{{{ .Data.data.user }}}}\
{{{{ end }}}}"
}}
''')
    return config


# Written as HCL values: quoted strings and one bare number.
DURATIONS = ['"1d"', '"7d"', '"90"', "90", '"1h30m"', '"250ms"', '""', '"0"', '"1.5d"',
             '"1d12h"', '"d"', '"5x"', '"1h-3m"']
# What ParseDurationSecond answers, as seconds (None: refused).
VAULT_READS = {'"1d"': 86400, '"7d"': 604800, '"90"': 90, "90": 90, '"1h30m"': 5400,
               '"250ms"': 0.25, '""': 0, '"0"': 0, '"1.5d"': None, '"1d12h"': None,
               '"d"': None, '"5x"': None, '"1h-3m"': None}


@pytest.mark.parametrize("duration", DURATIONS)
def test_config_durations_are_read_as_vault_agent_reads_them(tmp_path: Path,
                                                             duration: str) -> None:
    config = _vault_agent_hcl(tmp_path, "http://127.0.0.1:1", "t", duration)
    expected = VAULT_READS[duration]
    if expected is None:
        with pytest.raises(ConfigError) as err:
            load_config(ConfigSources(config_file=str(config)))
        assert "auto_auth.method.min_backoff" in str(err.value)
        return
    loaded = load_config(ConfigSources(config_file=str(config))).config
    # Zero means the default, as in Vault Agent (auth handler: 1s; templates: 5m).
    assert loaded.auto_auth.method.min_backoff == (expected or 1.0)
    assert loaded.auto_auth.method.max_backoff == 30 * 86400
    assert loaded.template_config.static_secret_render_interval == (expected or 300.0)


@pytest.mark.integration
@pytest.mark.parametrize("duration", DURATIONS)
def test_bao_agent_accepts_exactly_the_durations_we_accept(server: OpenBaoServer,
                                                           tmp_path: Path,
                                                           duration: str) -> None:
    (tmp_path / "bao").mkdir()
    (tmp_path / "ours").mkdir()
    theirs_config = _vault_agent_hcl(tmp_path / "bao", server.address, server.root_token,
                                     duration)
    ours_config = _vault_agent_hcl(tmp_path / "ours", server.address, server.root_token,
                                   duration)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env["HOME"] = str(tmp_path / "bao")
    theirs = subprocess.run([bao_binary(), "agent", f"-config={theirs_config}"],
                            cwd=tmp_path / "bao", env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    ours = run_agent("init", "--config", str(ours_config))
    assert (theirs.returncode == 0) == (VAULT_READS[duration] is not None), theirs.stderr
    assert (ours.returncode == 0) == (theirs.returncode == 0), (ours.stderr, theirs.stderr)
    if ours.returncode == 0:
        assert (tmp_path / "ours" / "out").read_text() == (tmp_path / "bao" / "out").read_text()
        assert (tmp_path / "ours" / "out").read_text() == DIFF_SECRET["user"]
    else:
        assert ours.returncode == 3, ours.stderr


# -- auth-config-*, role with approle ---------------------------------------------------------

def test_unknown_auth_config_keys_are_passed_on_and_ignored_with_a_warning(
        tmp_path: Path) -> None:
    """Injector: every auth-config-<param> becomes auto_auth.method.config.<param> (dashes to
    underscores); Vault Agent's methods ignore parameters they do not read."""
    config, warnings = _load(tmp_path, {**BASE, "auth-config-made-up-key": "x",
                                        "auth-config-token-path": "/var/run/sa/token"})
    assert config.auto_auth.method.params["token_path"] == "/var/run/sa/token"
    naming = [w for w in warnings if f"{P}auth-config-made-up-key" in w]
    assert naming and "auto_auth.method.config.made_up_key: ignored" in naming[0], warnings


@pytest.fixture
def approle_files(server: OpenBaoServer, tmp_path: Path) -> tuple[Path, Path]:
    """An AppRole at auth/annotapprole that may read the differential secret: its role-id
    and (reusable) secret-id files."""
    client = server.client()
    if "annotapprole/" not in client.sys.list_auth_methods()["data"]:
        client.sys.enable_auth_method("approle", path="annotapprole")
    client.sys.create_or_update_policy("annot-read", f'path "{DIFF_MOUNT}/data/app" '
                                                     '{ capabilities = ["read"] }')
    client.write("auth/annotapprole/role/app", token_policies="annot-read")
    role_id = client.read("auth/annotapprole/role/app/role-id")["data"]["role_id"]
    secret_id = client.write("auth/annotapprole/role/app/secret-id")["data"]["secret_id"]
    (tmp_path / "role-id").write_text(role_id)
    (tmp_path / "secret-id").write_text(secret_id)
    return tmp_path / "role-id", tmp_path / "secret-id"


@pytest.mark.integration
def test_role_with_approle_is_ignored_and_the_approle_login_works(
        server: OpenBaoServer, tmp_path: Path, approle_files: tuple[Path, Path]) -> None:
    """Injector: ``role`` is always written into the method's config, whatever auth-type;
    Vault Agent's approle method never reads it. Here: a warning, and the login is AppRole's."""
    role_id, secret_id = approle_files
    secrets = tmp_path / "secrets"
    path = write_annotations(tmp_path / "annotations", {P + k: v for k, v in {
        "service": server.address, "role": "no-such-kubernetes-role", "auth-type": "approle",
        "auth-path": "auth/annotapprole",
        "auth-config-role-id-file-path": str(role_id),
        "auth-config-secret-id-file-path": str(secret_id),
        "auth-config-remove-secret-id-file-after-reading": "false",
        "secret-volume-path": str(secrets),
        "agent-inject-secret-app": f"{DIFF_MOUNT}/data/app",
        "agent-inject-template-app": '{{ with secret "' + DIFF_MOUNT + '/data/app" }}'
                                     "{{ .Data.data.user }}{{ end }}",
    }.items()})
    result = run_agent("init", "--annotations", path)
    assert result.returncode == 0, result.stderr
    assert (secrets / "app").read_text() == DIFF_SECRET["user"]
    assert f"{P}role: auto_auth.method.config.role: ignored" in result.stderr


@pytest.mark.integration
def test_the_injectors_config_under_bao_agent_writes_what_our_annotations_write(
        server: OpenBaoServer, tmp_path: Path, approle_files: tuple[Path, Path]) -> None:
    """Differential: the Vault Agent config the injector generates for these annotations
    (written out by hand from vault-k8s config.go and annotations.go) run by ``bao agent``,
    against the annotations read by our ``init``: the same files at the same places."""
    role_id, secret_id = approle_files
    annotations = {
        "service": server.address, "role": "no-such-kubernetes-role", "auth-type": "approle",
        "auth-path": "auth/annotapprole", "auth-config-role-id-file-path": str(role_id),
        "auth-config-secret-id-file-path": str(secret_id),
        "auth-config-remove-secret-id-file-after-reading": "false",
        "auth-config-made-up-key": "x", "auth-min-backoff": "",
        "agent-inject-default-template": "JSON",
        "agent-inject-secret-app": f"{DIFF_MOUNT}/data/app",
        "agent-inject-file-app": "/conf/app.json",
        "agent-inject-secret-Other": f"{DIFF_MOUNT}/data/app",
        "agent-inject-file-Other": "conf/../other",
        "template-static-secret-render-interval": "1d",
    }
    bao_dir, ours_dir = tmp_path / "bao", tmp_path / "ours"
    bao_dir.mkdir()
    json_template = ('{{ with secret "' + DIFF_MOUNT + '/data/app" }}{{ .Data | toJSON }}\n'
                     "{{ end }}")
    # newConfig(init=true): the method's config is every auth-config-* plus role; the default
    # template lower-cased to json; destinations filepath.Join(secret-volume-path, file).
    injector_config = {
        "auto_auth": {
            "method": {"type": "approle", "mount_path": "auth/annotapprole", "config": {
                "role_id_file_path": str(role_id), "secret_id_file_path": str(secret_id),
                "remove_secret_id_file_after_reading": "false", "made_up_key": "x",
                "role": "no-such-kubernetes-role"}},
            "sink": [{"type": "file", "config": {"path": str(bao_dir / ".vault-token")}}]},
        "exit_after_auth": True,
        "pid_file": str(bao_dir / ".pid"),
        "vault": {"address": server.address},
        "template": [
            {"destination": str(bao_dir / "secrets/conf/app.json"), "contents": json_template,
             "left_delimiter": "{{", "right_delimiter": "}}"},
            {"destination": str(bao_dir / "secrets/other"), "contents": json_template,
             "left_delimiter": "{{", "right_delimiter": "}}"}],
        "template_config": {"exit_on_retry_failure": True,
                            "static_secret_render_interval": "1d"},
    }
    (bao_dir / "config.json").write_text(json.dumps(injector_config))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env["HOME"] = str(bao_dir)
    theirs = subprocess.run([bao_binary(), "agent", f"-config={bao_dir / 'config.json'}"],
                            cwd=bao_dir, env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert theirs.returncode == 0, theirs.stderr
    path = write_annotations(tmp_path / "annotations", {
        P + k: v for k, v in {**annotations,
                              "secret-volume-path": str(ours_dir / "secrets")}.items()})
    ours = run_agent("init", "--annotations", path)
    assert ours.returncode == 0, ours.stderr
    written = sorted(str(f.relative_to(ours_dir)) for f in ours_dir.rglob("*") if f.is_file())
    assert written == ["secrets/conf/app.json", "secrets/other"]
    for name in written:
        assert (ours_dir / name).read_bytes() == (bao_dir / name).read_bytes(), name
    assert json.loads((ours_dir / "secrets/other").read_text())["data"] == DIFF_SECRET


# -- client-max-retries -----------------------------------------------------------------------

def test_client_max_retries_is_vaults_http_retry_count_not_the_read_retries(
        tmp_path: Path) -> None:
    """Injector: client-max-retries becomes VAULT_MAX_RETRIES in the agent's container, the
    retries of one HTTP request in Vault's client; Vault Agent's template reads keep
    vault.retry.num_retries (12)."""
    config, warnings = _load(tmp_path, {**BASE, "client-max-retries": "3"})
    assert config.vault.client_max_retries == 3
    assert config.vault.max_retries == 12
    naming = [w for w in warnings if f"{P}client-max-retries" in w]
    assert naming and "retries whole reads only" in naming[0], warnings


def test_vault_max_retries_in_the_environment_is_the_same_setting(tmp_path: Path) -> None:
    path = write_annotations(tmp_path / "a", {P + k: v for k, v in BASE.items()})
    loaded = load_config(ConfigSources(annotations_file=path,
                                       environ={"VAULT_MAX_RETRIES": "0"}))
    assert loaded.config.vault.client_max_retries == 0
    assert loaded.config.vault.max_retries == 12


def test_a_negative_client_max_retries_is_refused_as_vaults_client_refuses_it(
        tmp_path: Path) -> None:
    err = _refused(tmp_path, {**BASE, "client-max-retries": "-1"})
    assert f"{P}client-max-retries" in str(err) and "must be 0 or more" in str(err)


# -- file names stay inside the secret volume ---------------------------------------------------

@pytest.mark.parametrize(("file_name", "injector_destination"), [
    ("app.env", "/vault/secrets/app.env"),
    ("conf/app.env", "/vault/secrets/conf/app.env"),
    ("conf//./app.env", "/vault/secrets/conf/app.env"),
    ("sub/../app.env", "/vault/secrets/app.env"),
    # filepath.Join("/vault/secrets", "/etc/app.env"): an absolute name lands inside.
    ("/etc/app.env", "/vault/secrets/etc/app.env"),
])
def test_file_names_are_joined_as_the_injector_joins_them(
        tmp_path: Path, file_name: str, injector_destination: str) -> None:
    config, warnings = _load(tmp_path, {**BASE, "agent-inject-file-db": file_name})
    assert config.templates[0].destination == injector_destination
    absolute = [w for w in warnings if f"{P}agent-inject-file-db" in w]
    assert bool(absolute) == file_name.startswith("/"), warnings
    if absolute:
        assert "inside the secret volume, as the injector does" in absolute[0]


@pytest.mark.parametrize("file_name", ["../app.env", "../../etc/cron.d/job", "a/../../b",
                                       "..", "."])
def test_a_file_name_leading_out_of_the_volume_is_refused_naming_the_annotation(
        tmp_path: Path, file_name: str) -> None:
    """The injector would write /vault/app.env for ../app.env (filepath.Join cleans the
    path); here nothing leaves the volume."""
    err = _refused(tmp_path, {**BASE, "agent-inject-file-db": file_name})
    assert f"{P}agent-inject-file-db" in str(err)
    assert "leads out of the secret volume /vault/secrets" in str(err)
    assert err.line is not None


def test_a_per_secret_volume_is_the_root_its_file_names_are_confined_to(
        tmp_path: Path) -> None:
    config, _ = _load(tmp_path, {**BASE, "secret-volume-path-db": "/etc/app",
                                 "agent-inject-file-db": "conf/db.env"})
    assert config.templates[0].destination == "/etc/app/conf/db.env"
    err = _refused(tmp_path, {**BASE, "secret-volume-path-db": "/etc/app",
                              "agent-inject-file-db": "../db.env"})
    assert "leads out of the secret volume /etc/app" in str(err)


def test_a_secret_named_dot_dot_is_refused(tmp_path: Path) -> None:
    """Kubernetes refuses such an annotation key; a hand-written annotations file may not."""
    err = _refused(tmp_path, {"role": "app", "agent-inject-secret-..": "secret/data/db"})
    assert f"{P}agent-inject-secret-.." in str(err)
    assert "leads out of the secret volume" in str(err)


@pytest.mark.integration
def test_init_writes_nothing_outside_the_volume_for_a_hostile_file_name(
        server: OpenBaoServer, tmp_path: Path) -> None:
    """The attack: whoever may edit pod annotations names a file outside the volume."""
    token = tmp_path / "token"
    token.write_text(server.root_token)
    secrets = tmp_path / "volume" / "secrets"
    secrets.mkdir(parents=True)
    target = tmp_path / "volume" / "planted"
    path = write_annotations(tmp_path / "annotations", {P + k: v for k, v in {
        "service": server.address, "auth-type": "token_file",
        "auth-config-token-file-path": str(token), "secret-volume-path": str(secrets),
        "agent-inject-secret-app": f"{DIFF_MOUNT}/data/app",
        "agent-inject-file-app": "../planted",
    }.items()})
    result = run_agent("init", "--annotations", path)
    assert result.returncode == 3, result.stderr
    assert f"{P}agent-inject-file-app" in result.stderr
    assert "leads out of the secret volume" in result.stderr
    assert not target.exists()
    assert list(secrets.iterdir()) == []


# -- empty values -------------------------------------------------------------------------------

def test_empty_values_mean_what_they_mean_to_the_injector(tmp_path: Path) -> None:
    """Injector: booleans go through parseutil.ParseBool, for which "" is false (even where
    the default is true, as exit-on-retry-failure); empty durations, numbers and
    client-timeout/client-max-retries are left out of the agent's config and environment."""
    empty = ["tls-skip-verify", "template-config-exit-on-retry-failure",
             "agent-pre-populate-only", "agent-revoke-on-shutdown", "agent-enable-quit",
             "client-timeout", "client-max-retries", "auth-min-backoff", "auth-max-backoff",
             "template-static-secret-render-interval", "template-max-connections-per-host",
             "agent-inject-token", "preserve-secret-case", "agent-inject"]
    config, warnings = _load(tmp_path, {**BASE, **{name: "" for name in empty}})
    assert config.vault.tls_skip_verify is False
    assert config.template_config.exit_on_retry_failure is False
    assert config.exit_after_auth is False
    assert config.agent.revoke_on_shutdown is False and config.agent.enable_quit is False
    assert config.vault.client_timeout == 60 and config.vault.client_max_retries is None
    assert (config.auto_auth.method.min_backoff, config.auto_auth.method.max_backoff) == (1, 300)
    assert config.template_config.static_secret_render_interval == 300
    assert config.template_config.max_connections_per_host == 10
    assert config.auto_auth.sinks == ()
    assert [w for w in warnings if "agent-inject:" in w]  # false: runs anyway, says so


def test_an_empty_lease_renewal_threshold_is_refused_as_the_injector_refuses_it(
        tmp_path: Path) -> None:
    """Injector: strconv.ParseFloat("") is an error."""
    err = _refused(tmp_path, {**BASE, "template-lease-renewal-threshold": ""})
    assert f"{P}template-lease-renewal-threshold" in str(err)


def test_a_lease_renewal_threshold_may_have_an_exponent_as_strconv_parsefloat_reads_it(
        tmp_path: Path) -> None:
    config, _ = _load(tmp_path, {**BASE, "template-lease-renewal-threshold": "8e-1"})
    assert config.template_config.lease_renewal_threshold == 0.8


def test_a_preserve_secret_case_that_is_not_a_boolean_lower_cases_as_the_injector_does(
        tmp_path: Path) -> None:
    """Injector: secretName ignores preserveSecretCase's error, so the name is lower-cased."""
    config, warnings = _load(tmp_path, {"role": "app", "agent-inject-secret-DB": "secret/db",
                                        "preserve-secret-case-DB": "yes"})
    assert config.templates[0].destination == "/vault/secrets/db"
    naming = [w for w in warnings if f"{P}preserve-secret-case-DB" in w]
    assert naming and "'yes' is not a boolean" in naming[0]
    assert "lower-cased, as the injector does" in naming[0]


@pytest.mark.parametrize(("value", "expected"), [("", False), ("false", False), ("1", True),
                                                 ("T", True)])
def test_auth_method_flags_are_read_as_vault_agents_methods_read_them(
        tmp_path: Path, value: str, expected: bool) -> None:
    """Vault Agent's approle and jwt methods read their flags with parseutil.ParseBool: an
    empty value is false (not the default, true)."""
    config, _ = _load(tmp_path, {**BASE, "auth-type": "approle",
                                 "auth-config-role-id-file-path": "/r",
                                 "auth-config-remove-secret-id-file-after-reading": value})
    assert config.auto_auth.method.params["remove_secret_id_file_after_reading"] is expected
