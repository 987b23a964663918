"""init end to end with AppRole (wrapped secret-id), a token sink, and dynamic database
credentials shared by two templates (one read, the same user in both files)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.integration.conftest import run_agent
from tests.testbed.openbao import OpenBaoServer
from tests.testbed.postgres import PostgresCluster


def _approle_files(openbao: OpenBaoServer, directory: Path) -> tuple[Path, Path]:
    client = openbao.client()
    role_id = client.read("auth/approle/role/s4e/role-id")["data"]["role_id"]
    wrapped = client.write_data("auth/approle/role/s4e/secret-id", wrap_ttl="120s")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "role-id").write_text(role_id)
    (directory / "secret-id").write_text(wrapped["wrap_info"]["token"])
    return directory / "role-id", directory / "secret-id"


def test_approle_with_wrapped_secret_id_shared_db_credentials_and_token_sink(
        tmp_path: Path, openbao: OpenBaoServer, s4e_database: PostgresCluster) -> None:
    role_id, secret_id = _approle_files(openbao, tmp_path / "approle")
    out = tmp_path / "secrets"
    db_env = ('{{ with secret "database/creds/s4e-app" }}export DB_USER={{ .Data.username }}\n'
              'export DB_PASS={{ .Data.password }}\n{{ end }}')
    db_json = ('{{ with secret "database/creds/s4e-app" }}{"user": {{ .Data.username | toJSON }}}'
               '{{ end }}')
    config = tmp_path / "agent.json"
    config.write_text(json.dumps({
        "vault": {"address": openbao.address},
        "auto_auth": {
            "method": {"type": "approle", "config": {
                "role_id_file_path": str(role_id), "secret_id_file_path": str(secret_id),
                "secret_id_response_wrapping_path": "auth/approle/role/s4e/secret-id"}},
            "sink": [{"type": "file", "config": {"path": str(out / "token")}}]},
        "template": [{"contents": db_env, "destination": str(out / "db")},
                     {"contents": db_json, "destination": str(out / "db.json")}],
    }))
    result = run_agent("init", "--config", str(config))
    assert result.returncode == 0, result.stderr

    values = dict(line[len("export "):].split("=", 1)
                  for line in (out / "db").read_text().splitlines())
    assert json.loads((out / "db.json").read_text())["user"] == values["DB_USER"]
    assert s4e_database.can_login(values["DB_USER"], values["DB_PASS"])
    creds_reads = [r for r in result.log_records() if r.get("event") == "secret_access"
                   and r["path"] == "database/creds/s4e-app"]
    assert len(creds_reads) == 1  # one read serves both templates

    token = (out / "token").read_text()
    assert stat.S_IMODE((out / "token").stat().st_mode) == 0o640
    assert openbao.client(token=token).auth.token.lookup_self()["data"]["policies"]
    assert not secret_id.exists()  # removed after reading, as Vault Agent does
    for secret in (token, values["DB_PASS"]):
        assert secret not in result.stderr


def test_approle_refuses_a_wrapping_token_from_another_path(
        tmp_path: Path, openbao: OpenBaoServer, s4e_vault: object) -> None:
    role_id, secret_id = _approle_files(openbao, tmp_path / "approle")
    # A wrapping token that wraps something else (created at sys/wrapping/wrap).
    other = openbao.client().sys.wrap({"secret_id": "not-from-approle"}, ttl="120s")
    secret_id.write_text(other["wrap_info"]["token"])
    config = tmp_path / "agent.json"
    config.write_text(json.dumps({
        "vault": {"address": openbao.address},
        "auto_auth": {"method": {"type": "approle", "config": {
            "role_id_file_path": str(role_id), "secret_id_file_path": str(secret_id),
            "secret_id_response_wrapping_path": "auth/approle/role/s4e/secret-id"}}},
        "template": [{"contents": "x", "destination": str(tmp_path / "out" / "x")}],
    }))
    result = run_agent("init", "--config", str(config))
    assert result.returncode == 4, result.stderr
    assert "creation path" in result.stderr or "creation_path" in result.stderr
    assert not (tmp_path / "out" / "x").exists()
