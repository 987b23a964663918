"""``s4e-secret-agent config check`` as a user runs it: a real process, exit codes, output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.config.helpers import DATA, DIFF_MOUNT, DIFF_SECRET, seed_annotations, write_annotations
from tests.testbed.openbao import OpenBaoServer


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


UNPROVIDED = '''vault { address = "http://127.0.0.1:8200" }
auto_auth { method "token_file" { config = { token_file_path = "/nonexistent" } } }
template {
  destination = "/tmp/never-written"
  contents = <<EOT
{{ with secret "kv/data/app" }}{{ .Data.data.user }}{{ end }}
{{ if false }}{{ key "app/flag" }}{{ end }}
{{ range service "web" }}{{ .Address }}{{ end }} {{ "x" | toUpper }} {{ nomadVar "a" }}
EOT
}
template {
  destination = "/tmp/never-written-either"
  source = "SOURCE"
}
'''


def test_every_function_the_agent_does_not_provide_is_named_with_template_and_line(
        tmp_path: Path) -> None:
    """Vault Agent has them (Consul, Nomad, plugin); they parse, so a template that only
    names them in a branch it never takes works, but each one is named before any render."""
    source = tmp_path / "plugin.ctmpl"
    source.write_text('line one\n{{ plugin "/bin/echo" "x" | toUpper }}\n')
    config = tmp_path / "agent.hcl"
    config.write_text(UNPROVIDED.replace("SOURCE", str(source)))
    result = _run("--config", str(config))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning:   {config}:5: template[0].contents: never-written:2:17: function key is not "
        "provided by this agent (it needs a Consul agent); a render that reaches this call "
        "fails",
        f"warning:   {config}:5: template[0].contents: never-written:3:9: function service is "
        "not provided by this agent (it needs a Consul agent); a render that reaches this "
        "call fails",
        f"warning:   {config}:5: template[0].contents: never-written:3:72: function nomadVar is "
        "not provided by this agent (it needs a Nomad cluster); a render that reaches this "
        "call fails",
        f"warning:   {config}:13: template[1].source: {source}:2:3: function plugin is not "
        "provided by this agent (it needs a plugin program run by the agent); a render that "
        "reaches this call fails"]
    assert ("    lacks   key (line 2), service (line 3), nomadVar (line 3): not provided by "
            "this agent; a render that reaches one fails") in result.stdout
    assert "function key is not provided" in result.stderr  # logged as config_warning too
    plan = json.loads(_run("--json", "--config", str(config)).stdout)
    assert plan["templates"][1]["unprovided_functions"] == [
        {"name": "plugin", "line": 2, "column": 3}]
    assert plan["templates"][0]["unprovided_functions"][0] == {"name": "key", "line": 2,
                                                                "column": 17}


def test_functions_the_agent_provides_are_not_named(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text(
        "auto_auth: {method: {type: token_file, config: {token_file_path: /t}}}\n"
        "template: [{destination: /tmp/x, contents: '{{ with secret \"kv/a\" }}{{ .Data | "
        "toJSON | sprig_upper }}{{ end }}{{ define \"d\" }}{{ env \"HOME\" }}{{ end }}'}]\n")
    result = _run("--json", "--config", str(config))
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["warnings"] == [] and plan["templates"][0]["unprovided_functions"] == []


@pytest.mark.integration
def test_init_names_the_functions_it_does_not_provide_at_start_and_renders(
        server: OpenBaoServer, tmp_path: Path) -> None:
    """init's start-up validation logs the same warnings, before any Vault call; a template
    that never reaches the call renders as under Vault Agent."""
    from tests.integration.conftest import run_agent

    token = tmp_path / "token"
    token.write_text(server.root_token)
    out = tmp_path / "out"
    config = tmp_path / "agent.hcl"
    config.write_text(f'''vault {{ address = "{server.address}" }}
auto_auth {{ method "token_file" {{ config = {{ token_file_path = "{token}" }} }} }}
exit_after_auth = true
template {{
  destination = "{out}"
  contents = <<EOT
{{{{ with secret "{DIFF_MOUNT}/data/app" }}}}{{{{ .Data.data.user }}}}{{{{ end }}}}
{{{{- if false }}}}{{{{ keyOrDefault "app/flag" "x" }}}}{{{{ end }}}}
EOT
}}
''')
    result = run_agent("init", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert out.read_text() == DIFF_SECRET["user"] + "\n"
    logged = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    named = [entry for entry in logged if entry.get("event") == "config_warning"
             and "function keyOrDefault is not provided" in entry["message"]]
    assert len(named) == 1, logged
    assert "template[0].contents: out:2:18:" in named[0]["message"]
