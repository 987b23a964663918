"""``s4e-secret-agent config check`` as a user runs it: a real process, exit codes, output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.config.helpers import DATA, seed_annotations, write_annotations


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "S4E_"))}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "s4e_secret_agent", "config", "check", *args],
                          capture_output=True, text=True, env=environ, timeout=60, check=False)


def test_valid_config_prints_the_plan() -> None:
    result = _run("--config", str(DATA / "s4e.hcl"))
    assert result.returncode == 0, result.stderr
    assert "vault:     https://vault.s4e.svc:8200" in result.stdout
    assert "auth:      kubernetes at auth/kubernetes (role s4e" in result.stdout
    assert "template db: -> /vault/secrets/db (0640)" in result.stdout


def test_json_plan_from_annotations_named_by_env(tmp_path: Path) -> None:
    annotations = write_annotations(tmp_path / "annotations", {
        **seed_annotations(), "vault.hashicorp.com/agent-inject-command-db": "pkill -HUP app",
        "vault.hashicorp.com/agent-image": "hashicorp/vault:2.0.4"})
    result = _run("--json", "--role", "other", env={"S4E_ANNOTATIONS": annotations,
                                                    "VAULT_ADDR": "https://vault:8200"})
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["vault"]["address"] == "https://vault:8200"
    assert plan["auth"]["role"] == "other"  # the flag beats the annotation
    template = plan["templates"][0]
    assert template["destination"] == "/vault/secrets/db"
    assert template["actions"] == ["run: pkill -HUP app"]
    assert plan["warnings"] == [
        f"{annotations}:1 vault.hashicorp.com/agent-image: not applicable: the injector's "
        "webhook sets this in the pod spec; set it there yourself (the container image)"]
    assert "agent-image" in result.stderr  # also logged


def test_invalid_config_exits_3_with_the_reason(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("auto_auth: {method: {type: kubernetes}}\n")
    result = _run("--config", str(config))
    assert result.returncode == 3
    assert "auto_auth.method.config.role: is required" in result.stderr
    assert result.stdout == ""


def test_token_never_printed() -> None:
    result = _run("--json", env={"VAULT_TOKEN": "hvs.TOPSECRET"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["auth"]["method"] == "token"
    assert "TOPSECRET" not in result.stdout + result.stderr
