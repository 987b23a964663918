"""Any input is either accepted or refused with ConfigError, never another exception."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s4e_secret_agent.config.annotations import annotations_layer, parse_annotations_text
from s4e_secret_agent.config.files import parse_hcl, parse_json, parse_yaml
from s4e_secret_agent.config.load import build_from_layers, environment_layer, load_config
from s4e_secret_agent.config.model import ConfigSources
from s4e_secret_agent.errors import ConfigError
from tests.config.helpers import DATA, annotations_text

FUZZ = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

KEYS = st.sampled_from([
    "vault", "auto_auth", "method", "type", "config", "role", "sink", "template", "destination",
    "contents", "source", "perms", "exec", "command", "signal", "process", "agent", "deadline",
    "template_config", "mount_path", "address", "listener", "cache", "exit_after_auth",
    "kubernetes", "approle", "token_path", "min_backoff", "rotation_overlap", "retry",
    "num_retries", "path", "mode", "name", "user", "metrics_listen", "timeout"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["5m", "0640", "https://v:8200", "x"]))
TREES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4)), max_leaves=25)


def _accepted_or_config_error(func: Any, *args: Any) -> None:
    with contextlib.suppress(ConfigError):
        func(*args)


def _build(tree: Any) -> None:
    from s4e_secret_agent.config.files import RawLayer

    layer = RawLayer(tree=tree if isinstance(tree, dict) else {"vault": tree}, label="fuzz")
    build_from_layers([layer], environ_token=None)


@FUZZ
@given(st.dictionaries(KEYS, TREES, max_size=6))
def test_any_raw_tree(tree: dict[str, Any]) -> None:
    _accepted_or_config_error(_build, tree)


@FUZZ
@given(st.dictionaries(KEYS, TREES, max_size=6))
def test_any_yaml_document(tree: dict[str, Any]) -> None:
    import yaml

    text = yaml.safe_dump(tree)
    _accepted_or_config_error(lambda: _build(parse_yaml(text, "fuzz.yaml").tree))


@FUZZ
@given(st.text(max_size=200))
def test_any_yaml_text(text: str) -> None:
    _accepted_or_config_error(lambda: _build(parse_yaml(text, "fuzz.yaml").tree))


@FUZZ
@given(st.dictionaries(KEYS, TREES, max_size=6))
def test_any_json_document(tree: dict[str, Any]) -> None:
    text = json.dumps(tree)
    _accepted_or_config_error(lambda: _build(parse_json(text, "fuzz.json").tree))


HCL_PIECES = st.sampled_from([
    "vault {", "}", "auto_auth {", 'method "kubernetes" {', "config = {", 'role = "s4e"',
    "template {", 'destination = "/a"', 'contents = "x"', "contents = <<EOT\nx\nEOT",
    "perms = 0640",
    'sink "file" {', "exec {", 'command = ["a", "b"]', "listener \"tcp\" {", "=", '"', "{{",
    "x = 1", "y = [1, 2", "z = null", "a = true", "\n", "${a}", "# c", "// c", "<<-X\n  a\n  X"])


@FUZZ
@given(st.lists(HCL_PIECES, max_size=25).map("\n".join))
def test_any_hcl_text(text: str) -> None:
    _accepted_or_config_error(lambda: _build(parse_hcl(text, "fuzz.hcl").tree))


@FUZZ
@given(st.text(max_size=120))
def test_any_hcl_noise(text: str) -> None:
    _accepted_or_config_error(lambda: _build(parse_hcl(text, "fuzz.hcl").tree))


ANNOTATION_KEYS = st.sampled_from([
    "role", "auth-type", "auth-path", "auth-config-token-path", "agent-inject-secret-db",
    "agent-inject-template-db", "agent-inject-template-file-db", "agent-inject-file-db",
    "agent-inject-perms-db", "agent-inject-command-db", "agent-template-left-delim-db",
    "error-on-missing-key-db", "agent-inject-default-template", "secret-volume-path",
    "preserve-secret-case", "agent-inject-token", "namespace", "service", "tls-skip-verify",
    "client-timeout", "client-max-retries", "auth-min-backoff", "auth-max-backoff",
    "template-static-secret-render-interval", "template-lease-renewal-threshold",
    "template-config-exit-on-retry-failure", "agent-pre-populate-only", "agent-revoke-grace",
    "agent-revoke-on-shutdown", "log-level", "log-format", "agent-inject-secret-DB",
    "made-up", "agent-limits-cpu"]).map(lambda k: "vault.hashicorp.com/" + k)
ANNOTATION_VALUES = st.one_of(st.text(max_size=20), st.sampled_from(
    ["true", "false", "0400", "5m", "https://v:8200", "s4e/data/database", "json", "map", "",
     "kubernetes", "approle"]))


@FUZZ
@given(st.dictionaries(ANNOTATION_KEYS, ANNOTATION_VALUES, max_size=8))
def test_any_annotations(annotations: dict[str, str]) -> None:
    text = annotations_text(annotations)

    def load() -> None:
        layer = annotations_layer(parse_annotations_text(text, "fuzz"), "fuzz")
        build_from_layers([layer], environ_token=None)

    _accepted_or_config_error(load)


@FUZZ
@given(st.text(max_size=200))
def test_any_annotations_text(text: str) -> None:
    _accepted_or_config_error(lambda: parse_annotations_text(text, "fuzz"))


ENV_NAMES = st.sampled_from(["VAULT_ADDR", "VAULT_SKIP_VERIFY", "VAULT_CLIENT_TIMEOUT",
                             "VAULT_MAX_RETRIES", "S4E_DEADLINE", "S4E_ROTATION_OVERLAP",
                             "S4E_METRICS_LISTEN", "S4E_LOG_LEVEL", "VAULT_TOKEN"])


@FUZZ
@given(st.dictionaries(ENV_NAMES, st.text(max_size=12), max_size=5))
def test_any_environment(environ: dict[str, str]) -> None:
    _accepted_or_config_error(lambda: build_from_layers(
        [environment_layer(environ)], environ_token=environ.get("VAULT_TOKEN") or None))


@FUZZ
@given(st.binary(max_size=200), st.sampled_from(["c.yaml", "c.hcl", "c.json", "c"]))
def test_any_file_bytes(data: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / name
        path.write_bytes(data)
        _accepted_or_config_error(load_config, ConfigSources(config_file=str(path)))


def test_fuzz_corpus_seed_files_are_valid() -> None:
    for name in ("s4e.yaml", "s4e.hcl", "s4e.json"):
        load_config(ConfigSources(config_file=str(DATA / name)))
