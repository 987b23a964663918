"""init mode end to end: the CLI against real OpenBao (Kubernetes auth through the TokenReview
stand-in), real files; the same S4E setup through the YAML, HCL and annotations front ends."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

from tests.integration.conftest import (
    SEED_DB_TEMPLATE,
    expected_db_file,
    run_agent,
    s4e_secret_values,
)
from tests.testbed.faultproxy import FaultProxy, sealed, status
from tests.testbed.openbao import OpenBaoServer


def _go_quote(text: str) -> str:
    return json.dumps(text)


def test_yaml_hcl_and_annotations_render_the_seed_db_file_identically(
        tmp_path: Path, openbao: OpenBaoServer, sa_token: Path) -> None:
    expected = expected_db_file(openbao)
    outputs = {}

    yaml_dir = tmp_path / "yaml"
    yaml_dir.mkdir()
    (yaml_dir / "db.tmpl").write_text(SEED_DB_TEMPLATE)
    config = yaml_dir / "agent.yaml"
    config.write_text(f"""
vault:
  address: {openbao.address}
auto_auth:
  method:
    type: kubernetes
    config:
      role: s4e
      token_path: {sa_token}
template:
  - source: {yaml_dir / 'db.tmpl'}
    destination: {yaml_dir / 'secrets' / 'db'}
""")
    outputs["yaml"] = (run_agent("init", "--config", str(config)), yaml_dir / "secrets" / "db")

    hcl_dir = tmp_path / "hcl"
    hcl_dir.mkdir()
    (hcl_dir / "db.tmpl").write_text(SEED_DB_TEMPLATE)
    hcl = hcl_dir / "agent.hcl"
    hcl.write_text(f"""
exit_after_auth = true
vault {{
  address = "{openbao.address}"
}}
auto_auth {{
  method "kubernetes" {{
    mount_path = "auth/kubernetes"
    config = {{
      role = "s4e"
      token_path = "{sa_token}"
    }}
  }}
}}
template {{
  source      = "{hcl_dir / 'db.tmpl'}"
  destination = "{hcl_dir / 'secrets' / 'db'}"
}}
""")
    outputs["hcl"] = (run_agent("init", "--config", str(hcl)), hcl_dir / "secrets" / "db")

    ann_dir = tmp_path / "ann"
    ann_dir.mkdir()
    annotations = ann_dir / "annotations"
    annotations.write_text("\n".join([
        'vault.hashicorp.com/agent-inject="true"',
        'vault.hashicorp.com/role="s4e"',
        'vault.hashicorp.com/agent-inject-secret-db="s4e/data/database"',
        f'vault.hashicorp.com/agent-inject-template-db={_go_quote(SEED_DB_TEMPLATE)}',
        f'vault.hashicorp.com/secret-volume-path="{ann_dir / "secrets"}"',
        f'vault.hashicorp.com/auth-config-token-path="{sa_token}"',
    ]) + "\n")
    outputs["annotations"] = (
        run_agent("init", "--annotations", str(annotations), "--vault-addr", openbao.address),
        ann_dir / "secrets" / "db")

    for front_end, (result, destination) in outputs.items():
        assert result.returncode == 0, (front_end, result.stderr)
        assert destination.read_text() == expected, front_end
        assert stat.S_IMODE(destination.stat().st_mode) == 0o640, front_end
        leftovers = [p.name for p in destination.parent.iterdir() if p.name != "db"]
        assert leftovers == [], front_end
        for value in s4e_secret_values(openbao):
            assert value not in result.stderr, front_end
        audit = [r for r in result.log_records() if r.get("event") == "secret_access"]
        assert [(r["operation"], r["path"], r["kv_version"]) for r in audit] == [
            ("read", "s4e/data/database", 2)], front_end
        assert isinstance(audit[0]["version"], int)


def test_init_exits_4_with_the_role_binding_hint_for_an_unbound_service_account(
        tmp_path: Path, openbao: OpenBaoServer, s4e_vault: object, kubernetes_api) -> None:
    token = kubernetes_api.token_file(tmp_path / "sa", "default")
    result = run_agent(
        "init", "--vault-addr", openbao.address, "--auth-method", "kubernetes", "--role", "s4e",
        "--config", str(_yaml(tmp_path, token, "s4e/data/database")))
    assert result.returncode == 4, result.stderr
    assert "bound_service_account_names" in result.stderr
    assert not (tmp_path / "out" / "db").exists()


def test_init_exits_5_naming_path_and_policy_for_a_denied_secret(
        tmp_path: Path, openbao: OpenBaoServer, sa_token: Path) -> None:
    result = run_agent("init", "--config", str(_yaml(tmp_path, sa_token, "s4e/data/other")),
                       "--vault-addr", openbao.address)
    assert result.returncode == 5, result.stderr
    assert "s4e/data/other" in result.stderr
    assert "polic" in result.stderr
    assert not (tmp_path / "out" / "db").exists()


def test_init_rejects_a_bad_template_before_any_vault_call_naming_its_line(
        tmp_path: Path, sa_token: Path) -> None:
    config = _yaml(tmp_path, sa_token, "s4e/data/database",
                   body="ok\n{{ with secret \"x\" }}{{ .Data.data.x ")
    # Vault address points nowhere: a template error must come before any Vault call.
    result = run_agent("init", "--config", str(config), "--vault-addr", "http://127.0.0.1:9")
    assert result.returncode == 3, result.stderr
    assert "template[0].contents" in result.stderr
    assert "db:2:" in result.stderr


def test_init_exits_3_naming_the_key_for_a_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    # A misspelt key where Vault Agent refuses it too (vault.adress it would ignore).
    config.write_text("auto_auth:\n  method: {type: token_file, config: {token_file_path: /x}}\n"
                      "template:\n  - {destination: /tmp/x, contents: x, destnation: y}\n")
    result = run_agent("init", "--config", str(config))
    assert result.returncode == 3, result.stderr
    assert "template[0].destnation: unknown key" in result.stderr


def test_init_gives_up_with_exit_7_when_vault_stays_down(tmp_path: Path, sa_token: Path) -> None:
    config = _yaml(tmp_path, sa_token, "s4e/data/database")
    result = run_agent("init", "--config", str(config), "--vault-addr", "http://127.0.0.1:9",
                       "--deadline", "2s")
    assert result.returncode == 7, result.stderr
    assert "gave up" in result.stderr
    assert not (tmp_path / "out" / "db").exists()


def test_init_keeps_the_last_good_file_when_the_destination_is_unwritable(
        tmp_path: Path, openbao: OpenBaoServer, sa_token: Path) -> None:
    config = _yaml(tmp_path, sa_token, "s4e/data/database")
    out = tmp_path / "out"
    out.mkdir()
    (out / "db").write_text("last good\n")
    os.chmod(out, 0o555)
    try:
        if os.geteuid() == 0:
            # root ignores directory permissions; use a destination under a file instead
            os.chmod(out, 0o755)
            config = _yaml(tmp_path, sa_token, "s4e/data/database",
                           destination=str(out / "db" / "nested"))
        result = run_agent("init", "--config", str(config), "--vault-addr", openbao.address)
    finally:
        os.chmod(out, 0o755)
    assert result.returncode == 6, result.stderr
    assert (out / "db").read_text() == "last good\n"


def _yaml(tmp_path: Path, token: Path, secret_path: str, *, body: str | None = None,
          destination: str | None = None) -> Path:
    template = body if body is not None else (
        f'{{{{ with secret "{secret_path}" }}}}{{{{ .Data.data.host }}}}{{{{ end }}}}')
    config = tmp_path / "agent.yaml"
    config.write_text(json.dumps({
        "auto_auth": {"method": {"type": "kubernetes",
                                 "config": {"role": "s4e", "token_path": str(token)}}},
        "template": [{"contents": template,
                      "destination": destination or str(tmp_path / "out" / "db")}],
    }))
    return config


def test_init_waits_for_vault_that_comes_up_within_the_deadline(
        tmp_path: Path, openbao: OpenBaoServer, sa_token: Path, fault_proxy: FaultProxy) -> None:
    # Vault answers "sealed" for 3 s, then 429 with Retry-After once, then works.
    fault_proxy.add_rule(".*", sealed(), seconds=3.0)
    fault_proxy.add_rule("s4e/data/database", status(429, retry_after=1), times=1)
    config = _yaml(tmp_path, sa_token, "s4e/data/database")
    started = time.monotonic()
    result = run_agent("init", "--config", str(config), "--vault-addr", fault_proxy.address,
                       "--deadline", "60s")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 3.0
    assert (tmp_path / "out" / "db").read_text() == "postgresql.s4e.svc.cluster.local"
    assert any(r.get("event") == "retry" for r in result.log_records())
    assert fault_proxy.count("s4e/data/database") >= 2
