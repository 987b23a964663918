"""A running sidecar whose Vault starts sending malformed answers (a hostile or broken server
at vault.address): it logs a Vault error naming the path, never a traceback, keeps the last
good file, and picks up good answers again when they return."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.sidecar import Sidecar
from tests.vault.hostile import HostileHandler, hostile_server

BAD_BODIES = {
    "deep": b'{"data": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}",
    "huge_ttl": b'{"lease_duration": ' + b"9" * 401 + b', "data": {"x": "new"}}',
    "surrogate": b'{"data": {"x": "\\ud800"}}',
}


@pytest.mark.integration
def test_a_sidecar_keeps_its_last_good_file_when_vault_turns_hostile(tmp_path: Path) -> None:
    state = {"bad": b""}

    def vault(handler: HostileHandler) -> None:
        if "lookup-self" in handler.path:
            handler.answer(200, b'{"data": {"accessor": "a", "ttl": 0, "policies": ["p"]}}')
        elif "ui/mounts" in handler.path:
            handler.answer(200, b'{"data": {"path": "secret/", "type": "kv", '
                                b'"options": {"version": "1"}}}')
        else:
            handler.answer(200, state["bad"] or b'{"data": {"x": "good"}}')

    def reads() -> int:
        return sum(1 for s in server.seen if s.path == "/v1/secret/app")

    token = tmp_path / "token"
    token.write_text("hvs.sidecar-token")
    out = tmp_path / "out" / "app"
    with hostile_server(vault) as server:
        config = {
            "vault": {"address": server.address, "max_retries": 0},
            "auto_auth": {"method": {"type": "token_file",
                                     "config": {"token_file_path": str(token)}}},
            "template": [{"contents": '{{ with secret "secret/app" }}{{ .Data.x }}{{ end }}',
                          "destination": str(out)}],
            "template_config": {"static_secret_render_interval": "1s"},
        }
        agent = Sidecar(config, tmp_path).start()
        try:
            agent.wait_ready()
            deadline = time.monotonic() + 30
            while not (out.exists() and out.read_text() == "good"):
                assert time.monotonic() < deadline, agent.log_path.read_text()[-3000:]
                time.sleep(0.2)
            for name, body in BAD_BODIES.items():
                state["bad"] = body
                seen = reads()
                deadline = time.monotonic() + 60
                while reads() < seen + 1:  # a re-read got the bad answer
                    assert time.monotonic() < deadline, name
                    time.sleep(0.2)
                assert out.read_text() == "good", name
                assert agent.process is not None and agent.process.poll() is None, name
            state["bad"] = b'{"data": {"x": "fixed"}}'
            deadline = time.monotonic() + 60
            while out.read_text() != "fixed":
                assert time.monotonic() < deadline
                time.sleep(0.2)
        finally:
            agent.stop()
    log = agent.log_path.read_text()
    assert "Traceback" not in log
    errors = [r for r in agent.records() if r.get("level") in ("error", "warning", "info")
              and "secret/app" in str(r.get("message", ""))
              and "malformed" in str(r.get("message", ""))]
    assert errors, log[-3000:]
