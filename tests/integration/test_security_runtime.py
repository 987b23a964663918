"""Attacks on a running agent's loop, files and telemetry, against real OpenBao and real
processes: floods of refresh requests, Vault going away, a render that never ends, leftovers of
a killed write, secrets in command output and in computed Vault paths."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import run_agent
from tests.integration.sidecar import Sidecar, wait_for
from tests.testbed.faultproxy import FaultProxy, status
from tests.testbed.openbao import OpenBaoServer

POLICY = """
path "{mount}/issue/app" {{ capabilities = ["create", "update"] }}
path "s4e/data/sec-*" {{ capabilities = ["read"] }}
"""


def _pki(openbao: OpenBaoServer) -> str:
    """A PKI mount whose certificates carry a lease: every issue is one countable lease."""
    client = openbao.client()
    mount = f"pki-{uuid.uuid4().hex[:6]}"
    client.sys.enable_secrets_engine("pki", path=mount, config={"max_lease_ttl": "87600h"})
    client.write(f"{mount}/root/generate/internal", common_name="test root", ttl="87000h")
    client.write(f"{mount}/roles/app", allow_any_name=True, ttl="2h", max_ttl="4h",
                 generate_lease=True)
    return mount


def _leases(openbao: OpenBaoServer, mount: str) -> int:
    try:
        listed = openbao.client().sys.list_leases(prefix=f"{mount}/issue/app/")
    except Exception:  # no lease yet: Vault answers 404
        return 0
    return len(listed["data"]["keys"])


def _token_file(openbao: OpenBaoServer, tmp_path: Path, mount: str, ttl: str = "1h") -> Path:
    client = openbao.client()
    name = f"sec-{uuid.uuid4().hex[:6]}"
    client.sys.create_or_update_policy(name, POLICY.format(mount=mount))
    token = client.auth.token.create(policies=[name], ttl=ttl, renewable=True)
    path = tmp_path / "token"
    path.write_text(token["auth"]["client_token"])
    return path


def _config(address: str, token: Path, templates: list[dict[str, Any]],
            **agent: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "vault": {"address": address},
        "auto_auth": {"method": {"type": "token_file",
                                 "config": {"token_file_path": str(token)}}},
        "template": templates,
        "template_config": {"static_secret_render_interval": "1s"},
    }
    if agent:
        config["agent"] = agent
    return config


def _put(openbao: OpenBaoServer, name: str, data: dict[str, Any]) -> None:
    openbao.client().secrets.kv.v2.create_or_update_secret(path=name, secret=data,
                                                          mount_point="s4e")


def _post(port: int, path: str) -> tuple[int, dict[str, Any], str | None]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST", data=b"")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), resp.headers.get("Retry-After")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), err.headers.get("Retry-After")


def test_fifty_refresh_requests_are_one_refresh_and_twenty_sighups_one_more(
        tmp_path: Path, openbao: OpenBaoServer, s4e_vault: object) -> None:
    # Before: every POST /v1/refresh queued a refresh of its own, each minting new dynamic
    # credentials and running the template's command (50 requests: 50 new leases).
    mount = _pki(openbao)
    token = _token_file(openbao, tmp_path, mount)
    runs = tmp_path / "runs"
    cert = tmp_path / "out" / "cert.pem"
    template = (f'{{{{ with secret "{mount}/issue/app" "common_name=app.s4e.svc" }}}}'
                "{{ .Data.certificate }}{{ end }}\n")
    config = _config(openbao.address, token, [{
        "contents": template, "destination": str(cert),
        "exec": {"command": ["sh", "-c", f"echo run >> '{runs}'"]}}])  # interval: 5 s
    with Sidecar(config, tmp_path) as agent:
        agent.wait_ready()
        wait_for(runs.exists, 10, what="the first command run")
        assert _leases(openbao, mount) == 1
        answers: list[tuple[int, dict[str, Any], str | None]] = []
        lock = threading.Lock()

        def fire() -> None:
            answer = _post(agent.port, "/v1/refresh")
            with lock:
                answers.append(answer)

        threads = [threading.Thread(target=fire) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wait_for(lambda: agent.events("refresh"), 15, what="the refresh starting")
        # SIGHUPs too soon after it are not refused (nobody could be told) but moved to the
        # end of the interval, all of them together: one more refresh, five seconds later.
        for _ in range(20):
            os.kill(agent.pid, signal.SIGHUP)
            time.sleep(0.02)
        wait_for(lambda: len(runs.read_text().splitlines()) >= 2, 15,
                 what="the refresh's command run")
        refreshes = len(agent.events("refresh"))
        assert _leases(openbao, mount) in (refreshes + 1, refreshes + 2)  # one may be issuing
        wait_for(lambda: len(agent.events("refresh")) >= 2, 20, what="the deferred refresh")
        wait_for(lambda: len(runs.read_text().splitlines()) >= 3, 15, what="its command run")
        time.sleep(2.0)  # room for any further refresh to show
        assert len(agent.events("refresh")) == 2
        assert _leases(openbao, mount) == 3
        assert runs.read_text().splitlines() == ["run", "run", "run"]
        outcomes = [(status, body.get("refresh")) for status, body, _ in answers]
        assert outcomes.count((202, "queued")) == 1
        assert all(o in ((202, "queued"), (202, "coalesced"), (429, None)) for o in outcomes)
        assert all(retry is not None and 1 <= int(retry) <= 5
                   for status, _, retry in answers if status == 429)


def test_vault_down_keeps_healthz_and_readyz_200_also_past_the_token_expiry(
        tmp_path: Path, openbao: OpenBaoServer, s4e_vault: object) -> None:
    _put(openbao, "sec-outage", {"value": "v1"})
    proxy = FaultProxy(openbao.address).start()
    token = _token_file(openbao, tmp_path, "none", ttl="6s")
    out = tmp_path / "out" / "kv"
    config = _config(proxy.address, token, [{
        "contents": '{{ with secret "s4e/data/sec-outage" }}{{ .Data.data.value }}{{ end }}',
        "destination": str(out)}])
    config["vault"]["client_timeout"] = "2s"
    try:
        with Sidecar(config, tmp_path) as agent:
            agent.wait_ready()
            proxy.stop()  # Vault is gone: connections are refused
            answers = []
            deadline = time.monotonic() + 14  # the token (6 s) expires meanwhile
            while time.monotonic() < deadline:
                answers.append((agent.get("/healthz")[0], agent.get("/readyz")[0]))
                time.sleep(0.5)
            assert set(answers) == {(200, 200)}, answers
            _, body = agent.get("/readyz")
            assert json.loads(body)["status"] == "ready"
            assert agent.sample("s4e_secret_agent_ready") == 1
            assert out.read_text() == "v1"
            assert agent.events("fetch_failed") or agent.events("token_renew_failed",
                                                                "s4e_secret_agent.runtime.token")
    finally:
        proxy.stop()


def test_a_render_stuck_on_a_fifo_fails_healthz_after_the_bound_and_readyz_stays(
        tmp_path: Path, openbao: OpenBaoServer, s4e_vault: object) -> None:
    # A real hang: the template's file function opens a named pipe nobody writes to. The loop
    # stops; liveness must say so (so the kubelet restarts the sidecar), readiness must not
    # (the last good file is still there).
    _put(openbao, "sec-stuck", {"mode": "plain"})
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    token = _token_file(openbao, tmp_path, "none")
    out = tmp_path / "out" / "stuck"
    template = ('{{ with secret "s4e/data/sec-stuck" }}{{ if eq .Data.data.mode "fifo" }}'
                f'{{{{ file "{fifo}" }}}}{{{{ else }}}}plain{{{{ end }}}}{{{{ end }}}}')
    config = _config(openbao.address, token, [{"contents": template, "destination": str(out)}])
    config["vault"]["client_timeout"] = "2s"  # liveness margin: 15 s (its minimum)
    with Sidecar(config, tmp_path) as agent:
        agent.wait_ready()
        assert out.read_text() == "plain"
        assert agent.get("/healthz")[0] == 200
        _put(openbao, "sec-stuck", {"mode": "fifo"})
        started = time.monotonic()
        wait_for(lambda: agent.get("/healthz")[0] == 503, 60, interval=0.5,
                 what="/healthz failing on the stuck render")
        took = time.monotonic() - started
        assert 14 <= took <= 40, took
        assert json.loads(agent.get("/healthz")[1])["status"] == "stuck"
        assert agent.get("/readyz")[0] == 200
        assert out.read_text() == "plain"
        assert agent.stop() < 3.0  # still stops promptly


def test_exit_after_auth_with_revoke_on_shutdown_keeps_the_credentials_it_wrote(
        tmp_path: Path, openbao: OpenBaoServer, s4e_vault: object) -> None:
    # Before: a sidecar with exit_after_auth rendered, then revoked the lease of the
    # certificate it had just written (and its token) on the way out.
    mount = _pki(openbao)
    token = _token_file(openbao, tmp_path, mount)
    cert = tmp_path / "out" / "cert.pem"
    template = (f'{{{{ with secret "{mount}/issue/app" "common_name=app.s4e.svc" }}}}'
                "{{ .Data.certificate }}{{ end }}\n")
    config = _config(openbao.address, token, [{"contents": template, "destination": str(cert)}],
                     revoke_on_shutdown=True, revoke_grace="0s")
    agent = Sidecar(config, tmp_path, extra_args=("--exit-after-auth",)).start()
    assert agent.process is not None
    assert agent.process.wait(timeout=60) == 0
    assert "BEGIN CERTIFICATE" in cert.read_text()
    assert _leases(openbao, mount) == 1
    lookup = openbao.client(token=token.read_text()).auth.token.lookup_self()
    assert lookup["data"]["ttl"] > 0
    assert [r for r in agent.records() if r.get("event") == "config_warning"
            and "revoke_on_shutdown" in r.get("message", "")]


def test_a_temp_file_left_by_a_killed_write_is_removed_at_start(
        tmp_path: Path, openbao: OpenBaoServer, s4e_vault: object) -> None:
    _put(openbao, "sec-temp", {"value": "fresh"})
    token = _token_file(openbao, tmp_path, "none")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    leftover = out_dir / ".db.tmp.0123456789ab"  # what write_file names its temporary files
    fd = os.open(leftover, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"DB_PASS=old-secret-from-a-killed-write")
    os.close(fd)
    others = [out_dir / ".db.tmp.notours", out_dir / ".other.tmp.0123456789ab",
              out_dir / "db.tmp.0123456789ab"]
    for path in others:
        path.write_text("someone else's")
    config = _config(openbao.address, token, [{
        "contents": '{{ with secret "s4e/data/sec-temp" }}{{ .Data.data.value }}{{ end }}',
        "destination": str(out_dir / "db")}])
    (tmp_path / "agent.json").write_text(json.dumps(config))
    run = run_agent("init", "--config", str(tmp_path / "agent.json"), "--log-format", "json")
    assert run.returncode == 0, run.stderr
    assert not leftover.exists()
    assert all(path.exists() for path in others)
    assert (out_dir / "db").read_text() == "fresh"
    assert [r for r in run.log_records() if r.get("event") == "stale_temp_removed"]


@pytest.mark.parametrize("enabled", [False, True])
def test_command_output_is_never_logged_unless_enabled_and_then_redacted(
        tmp_path: Path, openbao: OpenBaoServer, s4e_vault: object, enabled: bool) -> None:
    secret = f"pw-{uuid.uuid4().hex}"
    _put(openbao, "sec-cmd", {"password": secret})
    token = _token_file(openbao, tmp_path, "none")
    dest = tmp_path / "out" / "app.env"
    config = _config(openbao.address, token, [{
        "contents": '{{ with secret "s4e/data/sec-cmd" }}PASS={{ .Data.data.password }}{{ end }}',
        "destination": str(dest),
        "exec": {"command": ["sh", "-c", f"cat '{dest}'; echo; echo reloaded"]}}],
        log_command_output=enabled)
    (tmp_path / "agent.json").write_text(json.dumps(config))
    run = run_agent("init", "--config", str(tmp_path / "agent.json"), "--log-format", "json",
                    "--log-level", "trace")
    assert run.returncode == 0, run.stderr
    assert secret not in run.stderr
    outputs = [r for r in run.log_records() if r.get("event") == "command_output"]
    if enabled:
        assert [r["output"] for r in outputs] == ["PASS=[redacted]\nreloaded\n"]
    else:
        assert outputs == [] and "reloaded" not in run.stderr


def test_a_vault_path_computed_from_a_secret_is_in_no_metric_label_and_no_error_log(
        tmp_path: Path, openbao: OpenBaoServer, s4e_vault: object) -> None:
    role = f"role{uuid.uuid4().hex[:10]}"
    missing = f"gone{uuid.uuid4().hex[:10]}"
    _put(openbao, "sec-index", {"role": role, "missing": missing})
    _put(openbao, f"sec-{role}", {"value": "v"})
    token = _token_file(openbao, tmp_path, "none")
    found = ('{{ with secret "s4e/data/sec-index" }}'
             '{{ with secret (printf "s4e/data/sec-%s" .Data.data.role) }}'
             "{{ .Data.data.value }}{{ end }}{{ end }}")
    denied = ('{{ with secret "s4e/data/sec-index" }}'
              '{{ with secret (printf "s4e/data/sec-%s" .Data.data.missing) }}'
              "{{ .Data.data.value }}{{ end }}{{ end }}")
    config = _config(openbao.address, token, [
        {"contents": found, "destination": str(tmp_path / "out" / "found")},
        {"contents": denied, "destination": str(tmp_path / "out" / "denied")}])
    with Sidecar(config, tmp_path) as agent:
        wait_for(lambda: (tmp_path / "out" / "found").exists(), 20, what="the first render")
        wait_for(lambda: agent.events("render_failed"), 20, what="the failing render")
        metrics = agent.metrics_text()
        assert role not in metrics and missing not in metrics
        assert 'secret="s4e/data/sec-*"' in metrics
        loud = [r for r in agent.records() if r.get("level") in ("warning", "warn", "error")]
        assert loud
        text = json.dumps(loud)
        assert role not in text and missing not in text
        failed = agent.events("render_failed")[0]
        assert "s4e/data/sec-*" in failed["message"]


def _non_loopback_address() -> str | None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.254", 9))  # UDP connect sends nothing; it picks a route
        address = str(probe.getsockname()[0])
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def test_plain_http_to_another_host_is_warned_about_once_loopback_is_not(
        tmp_path: Path, openbao: OpenBaoServer) -> None:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    (tmp_path / "token").write_text("unused")
    for vault, warned in ((f"http://{address}:1", True), (openbao.address, False)):
        config = _config(vault, tmp_path / "token", [
            {"contents": "x", "destination": str(tmp_path / "out" / "x")}])
        (tmp_path / "agent.json").write_text(json.dumps(config))
        run = run_agent("init", "--config", str(tmp_path / "agent.json"), "--log-format",
                        "json", "--deadline", "2s")
        warnings = [r for r in run.log_records() if r.get("event") == "plain_http"]
        assert len(warnings) == (1 if warned else 0), run.stderr


@pytest.mark.parametrize(("key", "value"), [
    ("template[0].perms", "4755"), ("template[0].perms", "2640"), ("template[0].perms", "1640"),
    ("template[0].perms", "0666"), ("auto_auth.sink[0].config.mode", "0602")])
def test_setuid_setgid_sticky_and_world_writable_modes_are_config_errors(
        tmp_path: Path, key: str, value: str) -> None:
    config: dict[str, Any] = {
        "vault": {"address": "https://vault.example:8200"},
        "auto_auth": {"method": {"type": "token_file",
                                 "config": {"token_file_path": str(tmp_path / "t")}},
                      "sink": [{"type": "file", "config": {"path": str(tmp_path / "sink")}}]},
        "template": [{"contents": "x", "destination": str(tmp_path / "x")}]}
    if key.startswith("template"):
        config["template"][0]["perms"] = value
    else:
        config["auto_auth"]["sink"][0]["config"]["mode"] = value
    (tmp_path / "agent.json").write_text(json.dumps(config))
    run = run_agent("config", "check", "--config", str(tmp_path / "agent.json"))
    assert run.returncode == 3, (run.stdout, run.stderr)
    assert key in run.stderr + run.stdout
    assert not (tmp_path / "x").exists()


def test_a_long_retry_after_wait_is_alive_by_schedule_and_quit_ends_it(
        tmp_path: Path, openbao: OpenBaoServer, s4e_vault: object) -> None:
    # Vault (here a proxy in front of it) asks for a five-minute pause at login. The agent
    # waits by schedule, which is not being stuck, and a quit must not wait for it to end.
    proxy = FaultProxy(openbao.address).start()
    try:
        proxy.add_rule(".*", status(503, retry_after=300))
        token = _token_file(openbao, tmp_path, "none")
        config = _config(proxy.address, token, [
            {"contents": "x", "destination": str(tmp_path / "out" / "x")}], enable_quit=True)
        with Sidecar(config, tmp_path) as agent:
            wait_for(lambda: agent.events("login_failed", "s4e_secret_agent.runtime.token"), 30,
                     what="the first refused login")
            time.sleep(1.0)
            assert agent.get("/healthz")[0] == 200
            assert agent.get("/readyz")[0] == 503
            started = time.monotonic()
            assert _post(agent.port, "/agent/v1/quit")[0] == 202
            assert agent.process is not None
            assert agent.process.wait(timeout=10) == 0
            assert time.monotonic() - started < 5
    finally:
        proxy.stop()
