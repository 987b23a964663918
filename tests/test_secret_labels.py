"""What metrics and the runtime's logs call a Vault path: the path itself when the
configuration names it, a name made of configuration text only when it was computed from
secret data while rendering."""

from __future__ import annotations

from s4e_secret_agent.config.build import template_config
from s4e_secret_agent.errors import PermissionDeniedError
from s4e_secret_agent.runtime.runner import SecretKey, SecretLabels


def _labels(*contents: str) -> SecretLabels:
    return SecretLabels([template_config(name=f"t{i}", destination=f"/s/t{i}", contents=text)
                         for i, text in enumerate(contents)])


def test_literal_paths_are_their_own_names_computed_ones_keep_only_config_text() -> None:
    labels = _labels(
        '{{ with secret "kv/data/index" }}{{ with secret (printf "db/creds/%s" .Data.role) }}'
        "{{ .Data.username }}{{ end }}{{ end }}",
        "{{ with secret (print `pki/issue/` .x) }}{{ end }}{{ secret .Data.data.whole }}")
    assert labels.name(SecretKey("read", "kv/data/index")) == "kv/data/index"
    assert labels.name(SecretKey("read", "db/creds/role-8f2e")) == "db/creds/*"
    assert labels.name(SecretKey("read", "pki/issue/web-1", ("common_name=x",))) == \
        "pki/issue/*"
    assert labels.name(SecretKey("read", "secret/data/s3cr3t-path")) == "*"
    assert labels.describe(SecretKey("list", "db/creds/role-8f2e")) == "secrets 'db/creds/*'"


def test_errors_quoting_a_computed_path_are_rewritten_before_anyone_sees_them() -> None:
    labels = _labels('{{ secret (printf "db/creds/%s" .Data.role) }}')
    key = SecretKey("read", "db/creds/role-8f2e")
    labels.name(key)
    error = PermissionDeniedError("permission denied reading db/creds/role-8f2e",
                                  hint='grant "read" on db/creds/role-8f2e', path=key.path)
    labels.scrub_error(error)
    assert "role-8f2e" not in str(error) and "role-8f2e" not in error.path
    assert str(error) == ('permission denied reading db/creds/* (fix: grant "read" on '
                          "db/creds/*)")
