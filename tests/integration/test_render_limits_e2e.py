"""Render limits against real OpenBao: a template that would loop for hours fails at its CPU
budget, in init (exit 6, the template and the key to raise named) and in a sidecar, where the
last good file stays and the token, whose TTL is a few seconds, keeps being renewed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from s4e_secret_agent.errors import ExitCode
from tests.integration.conftest import run_agent
from tests.integration.sidecar import Sidecar, wait_for
from tests.testbed.kubernetes import KubernetesAPI
from tests.testbed.openbao import OpenBaoServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# bcrypt (cost 10) 100000 times: hours of CPU when the KV value says "slow".
STUCK = ('{{ with secret "s4e/data/sidecar-budget" }}{{ if eq .Data.data.mode "slow" }}'
         '{{ range sprig_until 100000 }}{{ sprig_bcrypt "x" | len }}{{ end }}{{ end }}'
         "{{ .Data.data.value }}{{ end }}")
TOKEN_TTL = 6


def _put(server: OpenBaoServer, data: dict[str, str]) -> None:
    server.client().secrets.kv.v2.create_or_update_secret(path="sidecar-budget", secret=data,
                                                          mount_point="s4e")


def _config(server: OpenBaoServer, token_path: Path, destination: Path,
            contents: str = STUCK, **agent: Any) -> dict[str, Any]:
    return {
        "vault": {"address": server.address},
        "auto_auth": {"method": {"type": "kubernetes", "config": {
            "role": "render-budget", "token_path": str(token_path)}}},
        "template": [{"name": "app-conf", "contents": contents,
                      "destination": str(destination)}],
        "template_config": {"static_secret_render_interval": "1s"},
        "agent": {"render_cpu_limit": "0.5s", **agent},
    }


@pytest.fixture
def budget_vault(sidecar_vault: OpenBaoServer) -> OpenBaoServer:
    sidecar_vault.client().write_data("auth/kubernetes/role/render-budget", data={
        "bound_service_account_names": ["s4e-core"], "bound_service_account_namespaces": ["s4e"],
        "token_policies": ["sidecar-test"], "token_ttl": f"{TOKEN_TTL}s",
        "token_max_ttl": "1h"})
    return sidecar_vault


def test_init_stops_a_stuck_render_at_its_budget_with_the_template_error_code(
        tmp_path: Path, budget_vault: OpenBaoServer, kubernetes_api: KubernetesAPI) -> None:
    _put(budget_vault, {"mode": "slow", "value": "v1"})
    token = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    destination = tmp_path / "out" / "app.conf"
    config = tmp_path / "agent.json"
    config.write_text(json.dumps(_config(budget_vault, token, destination)))
    started = time.monotonic()
    run = run_agent("init", "--config", str(config), "--log-format", "json", timeout=120)
    assert run.returncode == ExitCode.RENDER, run.stderr[-2000:]
    assert time.monotonic() - started < 30
    assert "template: app-conf:1:" in run.stderr
    assert "render exceeded its CPU-time budget of 0.5s" in run.stderr
    assert "agent.render_cpu_limit" in run.stderr
    assert not destination.exists()


def test_init_refuses_output_and_file_reads_over_the_size_limit(
        tmp_path: Path, budget_vault: OpenBaoServer, kubernetes_api: KubernetesAPI) -> None:
    _put(budget_vault, {"mode": "fast", "value": "v1"})
    token = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 5000)
    cases = {
        "output": ('{{ range sprig_until 600 }}0123456789{{ end }}', "output is larger than"),
        "value": ('{{ $x := sprig_repeat 3000 "ab" }}', "returned a value larger than"),
        "file": (f'{{{{ file "{big}" | len }}}}', f"file '{big}' is larger than 4096 bytes"),
    }
    for name, (contents, expected) in cases.items():
        destination = tmp_path / "out" / name
        config = tmp_path / f"{name}.json"
        config.write_text(json.dumps(_config(budget_vault, token, destination, contents,
                                             render_max_bytes=4096)))
        run = run_agent("init", "--config", str(config), "--log-format", "json")
        assert run.returncode == ExitCode.RENDER, (name, run.stderr[-2000:])
        assert expected in run.stderr, (name, run.stderr[-2000:])
        assert "agent.render_max_bytes" in run.stderr, name
        assert not destination.exists(), name


def test_a_stuck_render_fails_at_its_budget_while_the_token_is_renewed(
        tmp_path: Path, budget_vault: OpenBaoServer, kubernetes_api: KubernetesAPI) -> None:
    _put(budget_vault, {"mode": "fast", "value": "v1"})
    token = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    destination = tmp_path / "out" / "app.conf"
    with Sidecar(_config(budget_vault, token, destination), tmp_path) as agent:
        agent.wait_ready()
        assert destination.read_text() == "v1"
        accessor = agent.logins()[0]["accessor"]
        _put(budget_vault, {"mode": "slow", "value": "v2"})

        def budget_failures() -> list[dict[str, Any]]:
            return [r for r in agent.events("render_failed")
                    if "CPU-time budget" in r.get("message", "")]

        failures = wait_for(budget_failures, 30, what="a render stopped at its budget")
        renewed_before = len(agent.events("token_renewed", "s4e_secret_agent.runtime.token"))
        # More than two token lifetimes while the template keeps failing: without renewals
        # the token would be gone.
        time.sleep(2.5 * TOKEN_TTL)
        looked_up = budget_vault.client().auth.token.lookup_accessor(accessor)["data"]
        assert looked_up["ttl"] > 0
        renewed = agent.events("token_renewed", "s4e_secret_agent.runtime.token")
        assert len(renewed) - renewed_before >= 2
        assert len(agent.logins()) == 1
        assert len(budget_failures()) >= 2  # retried, and stopped at the budget each time
        assert destination.read_text() == "v1"  # the last good file stays
        message = failures[0]["message"]
        assert "app-conf" in message and "agent.render_cpu_limit" in message
        assert agent.get("/healthz")[0] == 200
