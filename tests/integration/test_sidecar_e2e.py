"""Sidecar mode end to end against real OpenBao, real PostgreSQL and real processes.

TTLs are shortened (seconds instead of hours) so the schedules play out within a test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.apps import DB_APP, SIGNAL_RECORDER
from tests.integration.conftest import s4e_secret_values
from tests.integration.sidecar import Sidecar, wait_for
from tests.testbed.faultproxy import FaultProxy, status
from tests.testbed.kubernetes import KubernetesAPI, write_token
from tests.testbed.openbao import OpenBaoServer
from tests.testbed.postgres import PostgresCluster


@pytest.fixture(scope="module")
def short_db(sidecar_vault: OpenBaoServer, s4e_database: PostgresCluster) -> PostgresCluster:
    """``database/creds/s4e-short``: the seed's creation statement, ttl 4 s, max_ttl 12 s."""
    pg = s4e_database
    client = sidecar_vault.client()
    client.write_data("database/config/s4e-postgres-short", data={
        "plugin_name": "postgresql-database-plugin", "allowed_roles": "s4e-short",
        "connection_url": pg.admin_url, "username": pg.admin_username,
        "password": pg.admin_password, "verify_connection": True})
    client.write_data("database/roles/s4e-short", data={
        "db_name": "s4e-postgres-short",
        "creation_statements": [
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL "
            "'{{expiration}}'; GRANT ALL ON ALL TABLES IN SCHEMA public TO \"{{name}}\";"],
        "default_ttl": "4s", "max_ttl": "12s"})
    return pg


def _put_kv(server: OpenBaoServer, name: str, data: dict[str, Any]) -> None:
    server.client().secrets.kv.v2.create_or_update_secret(path=name, secret=data,
                                                          mount_point="s4e")


def _config(server_address: str, token_path: Path, role: str,
            templates: list[dict[str, Any]], **agent: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "vault": {"address": server_address},
        "auto_auth": {"method": {"type": "kubernetes",
                                 "config": {"role": role, "token_path": str(token_path)}}},
        "template": templates,
        "template_config": {"static_secret_render_interval": "1s"},
    }
    if agent:
        config["agent"] = agent
    return config


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A process that appends a line to a file for every SIGHUP it gets."""
    out = tmp_path / "hups"
    proc = subprocess.Popen([sys.executable, "-c", SIGNAL_RECORDER, str(out)])
    wait_for(lambda: Path(str(out) + ".ready").exists(), 10, what="recorder start")
    yield proc, out
    proc.kill()
    proc.wait()


def _hups(out: Path) -> int:
    return len(out.read_text().splitlines()) if out.exists() else 0


def test_db_credentials_are_renewed_then_rotated_before_expiry_with_zero_failed_logins(
        tmp_path: Path, short_db: PostgresCluster, sidecar_vault: OpenBaoServer,
        kubernetes_api: KubernetesAPI) -> None:
    token = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    env_file = tmp_path / "secrets" / "db"
    app_log = tmp_path / "app.log"
    pid_file = Path(str(app_log) + ".ready")
    template = ('{{ with secret "database/creds/s4e-short" }}export DB_USER={{ .Data.username }}\n'
                'export DB_PASS={{ .Data.password }}\n{{ end }}')
    config = _config(sidecar_vault.address, token, "sidecar-long", [{
        "contents": template, "destination": str(env_file),
        "signal": {"signal": "SIGHUP", "pid_file": str(pid_file)}}],
        rotation_overlap="0.34")
    with Sidecar(config, tmp_path) as agent:
        agent.wait_ready()
        app = subprocess.Popen([sys.executable, "-c", DB_APP, str(env_file), short_db.host,
                                str(short_db.port), str(app_log)])
        file_checks: list[bool] = []
        stop = threading.Event()

        def check_file() -> None:
            # The file must hold working credentials at every moment.
            while not stop.wait(0.5):
                text = env_file.read_text()
                values = dict(line[len("export "):].split("=", 1)
                              for line in text.splitlines() if "=" in line)
                file_checks.append(short_db.can_login(values["DB_USER"], values["DB_PASS"]))

        checker = threading.Thread(target=check_file, daemon=True)
        checker.start()
        try:
            wait_for(pid_file.exists, 10, what="app start")
            lease_ttl = agent.sample("s4e_secret_agent_lease_ttl_seconds",
                                     secret="database/creds/s4e-short")
            assert lease_ttl is not None and 0 < lease_ttl <= 4
            time.sleep(32)
        finally:
            stop.set()
            checker.join()
            app.kill()
            app.wait()
        entries = [json.loads(line) for line in app_log.read_text().splitlines()]
        logins = [e for e in entries if e["kind"] == "login"]
        assert [e for e in logins if not e["ok"]] == []
        assert len({e["user"] for e in logins}) >= 3  # rotated at least twice
        assert file_checks and all(file_checks), file_checks
        assert agent.events("lease_renewed"), "renewed in place before rotating"
        assert len(agent.events("rotated")) >= 2
        rotations = agent.sample("s4e_secret_agent_secret_rotations_total",
                                 secret="database/creds/s4e-short")
        assert rotations is not None and rotations >= 2
        assert len(agent.logins()) == 1


def test_changed_kv_secret_is_rerendered_and_the_app_signalled_once(
        tmp_path: Path, sidecar_vault: OpenBaoServer, kubernetes_api: KubernetesAPI,
        recorder: tuple[subprocess.Popen[bytes], Path]) -> None:
    _proc, hups = recorder
    _put_kv(sidecar_vault, "sidecar-kv", {"password": "first-value"})
    token = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    action = {"signal": "SIGHUP", "pid_file": str(hups) + ".ready"}
    templates = [
        {"contents": '{{ with secret "s4e/data/sidecar-kv" }}A={{ .Data.data.password }}'
                     '{{ end }}', "destination": str(tmp_path / "out" / "a"), "signal": action},
        {"contents": '{{ with secret "s4e/data/sidecar-kv" }}B={{ .Data.data.password }}'
                     '{{ end }}', "destination": str(tmp_path / "out" / "b"), "signal": action},
    ]
    with Sidecar(_config(sidecar_vault.address, token, "sidecar-long", templates),
                 tmp_path) as agent:
        agent.wait_ready()
        a = tmp_path / "out" / "a"
        assert a.read_text() == "A=first-value"
        first_mtime = a.stat().st_mtime_ns
        # Unchanged secret: several re-reads (interval 1 s), no write, no signal.
        wait_for(lambda: agent.events("action", "s4e_secret_agent.runtime.actions"), 5,
                 what="first render's signal")
        signals_at_start = _hups(hups)
        wait_for(lambda: len(agent.events("vault_request",
                                          "s4e_secret_agent.vault.client")) > 8, 15,
                 what="re-reads")
        time.sleep(2.5)
        assert a.stat().st_mtime_ns == first_mtime
        assert _hups(hups) == signals_at_start
        _put_kv(sidecar_vault, "sidecar-kv", {"password": "second-value"})
        wait_for(lambda: a.read_text() == "A=second-value", 10, what="re-render")
        wait_for(lambda: (tmp_path / "out" / "b").read_text() == "B=second-value", 5)
        wait_for(lambda: _hups(hups) == signals_at_start + 1, 5, what="one signal")
        time.sleep(2.5)
        assert _hups(hups) == signals_at_start + 1  # both templates changed: one signal
        for value in ("first-value", "second-value"):
            assert value not in agent.log_path.read_text()
            assert value not in agent.metrics_text()


def test_vault_outage_keeps_files_and_token_then_renewals_resume(
        tmp_path: Path, sidecar_vault: OpenBaoServer, kubernetes_api: KubernetesAPI,
        fault_proxy: FaultProxy) -> None:
    _put_kv(sidecar_vault, "sidecar-outage", {"value": "v1"})
    token = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    out = tmp_path / "out" / "kv"
    templates = [{"contents": '{{ with secret "s4e/data/sidecar-outage" }}'
                              '{{ .Data.data.value }}{{ end }}', "destination": str(out)}]
    with Sidecar(_config(fault_proxy.address, token, "sidecar-short", templates),
                 tmp_path) as agent:
        agent.wait_ready()
        before = out.stat().st_mtime_ns
        rule = fault_proxy.add_rule(".*", status(503), seconds=10.0)
        time.sleep(10.5)
        fault_proxy.remove(rule)
        assert out.read_text() == "v1" and out.stat().st_mtime_ns == before
        failures = agent.sample("s4e_secret_agent_secret_fetches_total",
                                secret="s4e/data/sidecar-outage", result="failure")
        assert failures is not None and failures >= 1
        assert agent.get("/readyz")[0] == 200  # the token is still valid
        # Renewals resume without a new login (token ttl 20 s outlives the outage).
        wait_for(lambda: (agent.sample("s4e_secret_agent_token_renewals_total",
                                       result="success") or 0) >= 1, 25, what="renewal")
        assert len(agent.logins()) == 1
        # Sealed and unsealed: same story.
        sidecar_vault.seal()
        try:
            time.sleep(3)
            assert out.read_text() == "v1"
        finally:
            sidecar_vault.unseal()
        _put_kv(sidecar_vault, "sidecar-outage", {"value": "v2"})
        # The fetch backoff grew through 13 s of failures (1 s doubling, with jitter): the
        # next attempt may be up to ~16 s away, then one static re-read.
        wait_for(lambda: out.read_text() == "v2", 45, what="render after unseal")
        assert len(agent.logins()) == 1


def test_token_revoked_server_side_leads_to_a_new_login_and_a_new_sa_token_is_used(
        tmp_path: Path, sidecar_vault: OpenBaoServer, kubernetes_api: KubernetesAPI) -> None:
    _put_kv(sidecar_vault, "sidecar-relogin", {"value": "x"})
    token = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    templates = [{"contents": '{{ with secret "s4e/data/sidecar-relogin" }}'
                              '{{ .Data.data.value }}{{ end }}',
                  "destination": str(tmp_path / "out" / "kv")}]
    with Sidecar(_config(sidecar_vault.address, token, "sidecar-long", templates),
                 tmp_path) as agent:
        agent.wait_ready()
        accessor = agent.logins()[0]["accessor"]
        sidecar_vault.client().auth.token.revoke_accessor(accessor)
        wait_for(lambda: len(agent.logins()) == 2, 15, what="login after revocation")
        # Kubernetes rotates the projected token: the next login must use the new one.
        reviews_before = len(kubernetes_api.reviews)
        write_token(token, kubernetes_api.token("s4e-scan"))
        wait_for(lambda: len(agent.logins()) == 3, 15, what="login with the new JWT")
        reviewed = [r.username for r in kubernetes_api.reviews[reviews_before:]]
        assert "system:serviceaccount:s4e:s4e-scan" in reviewed
        assert agent.get("/readyz")[0] == 200


def test_sigterm_stops_within_a_second_and_exit_when_finishes_a_job(
        tmp_path: Path, sidecar_vault: OpenBaoServer, kubernetes_api: KubernetesAPI) -> None:
    _put_kv(sidecar_vault, "sidecar-stop", {"value": "x"})
    token = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    templates = [{"contents": '{{ with secret "s4e/data/sidecar-stop" }}ok{{ end }}',
                  "destination": str(tmp_path / "out" / "kv")}]
    with Sidecar(_config(sidecar_vault.address, token, "sidecar-long", templates),
                 tmp_path) as agent:
        agent.wait_ready()
        took = agent.stop(signal.SIGTERM)
        assert took < 1.0
        assert agent.process is not None and agent.process.returncode == 0

    done = tmp_path / "job-done"
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    config = _config(sidecar_vault.address, token, "sidecar-long", templates,
                     exit_when={"file": str(done)})
    with Sidecar(config, job_dir) as agent:
        agent.wait_ready()
        done.write_text("")
        assert agent.process is not None
        assert agent.process.wait(timeout=5) == 0


def test_config_reload_applies_a_valid_change_and_keeps_running_on_an_invalid_one(
        tmp_path: Path, sidecar_vault: OpenBaoServer, kubernetes_api: KubernetesAPI) -> None:
    _put_kv(sidecar_vault, "sidecar-reload", {"value": "r"})
    token = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    first = {"contents": '{{ with secret "s4e/data/sidecar-reload" }}one={{ .Data.data.value }}'
                         '{{ end }}', "destination": str(tmp_path / "out" / "one")}
    second = {"contents": '{{ with secret "s4e/data/sidecar-reload" }}two={{ .Data.data.value }}'
                          '{{ end }}', "destination": str(tmp_path / "out" / "two")}
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    config = _config(sidecar_vault.address, token, "sidecar-long", [first])
    with Sidecar(config, conf_dir) as agent:
        agent.wait_ready()
        agent.write_config(_config(sidecar_vault.address, token, "sidecar-long",
                                   [first, second]))
        wait_for(lambda: (tmp_path / "out" / "two").exists(), 15, what="reloaded template")
        assert (tmp_path / "out" / "two").read_text() == "two=r"
        broken = _config(sidecar_vault.address, token, "sidecar-long", [first])
        broken["template"][0]["destinaton"] = "typo"
        agent.write_config(broken)
        wait_for(lambda: agent.events("reload_failed"), 15, what="rejected reload")
        _put_kv(sidecar_vault, "sidecar-reload", {"value": "s"})
        wait_for(lambda: (tmp_path / "out" / "two").read_text() == "two=s", 10,
                 what="old config still running")


def test_metrics_report_the_ttls_openbao_issued_and_no_secret_values(
        tmp_path: Path, sidecar_vault: OpenBaoServer, kubernetes_api: KubernetesAPI,
        openbao: OpenBaoServer) -> None:
    token = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    templates = [{"contents": '{{ with secret "s4e/data/sidecar-kv" }}'
                              '{{ .Data.data.password }}{{ end }}',
                  "destination": str(tmp_path / "out" / "kv")}]
    _put_kv(sidecar_vault, "sidecar-kv", {"password": "metric-scan-value"})
    with Sidecar(_config(sidecar_vault.address, token, "sidecar-short", templates),
                 tmp_path) as agent:
        agent.wait_ready()
        accessor = agent.logins()[0]["accessor"]
        looked_up = openbao.client().auth.token.lookup_accessor(accessor)["data"]["ttl"]
        ttl = agent.sample("s4e_secret_agent_token_ttl_seconds")
        assert ttl is not None
        # The gauge counts down from the issued TTL; the lookup happened just now.
        assert abs(ttl - looked_up) <= 2.0
        expiry = agent.sample("s4e_secret_agent_token_expiry_timestamp_seconds")
        assert expiry is not None and abs(expiry - (time.time() + looked_up)) <= 2.0
        assert agent.sample("s4e_secret_agent_ready") == 1
        assert agent.sample("s4e_secret_agent_authenticated") == 1
        text = agent.metrics_text() + agent.log_path.read_text()
        for value in [*s4e_secret_values(openbao), "metric-scan-value"]:
            assert value not in text
        assert os.stat(tmp_path / "out" / "kv").st_mode & 0o007 == 0


def test_quit_endpoint_ends_a_job_and_revoke_on_shutdown_revokes_the_token(
        tmp_path: Path, sidecar_vault: OpenBaoServer, kubernetes_api: KubernetesAPI) -> None:
    _put_kv(sidecar_vault, "sidecar-quit", {"value": "q"})
    token = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    templates = [{"contents": '{{ with secret "s4e/data/sidecar-quit" }}ok{{ end }}',
                  "destination": str(tmp_path / "out" / "kv")}]
    config = _config(sidecar_vault.address, token, "sidecar-long", templates,
                     enable_quit=True, revoke_on_shutdown=True, revoke_grace="0s")
    with Sidecar(config, tmp_path) as agent:
        agent.wait_ready()
        accessor = agent.logins()[0]["accessor"]
        client = sidecar_vault.client()
        assert client.auth.token.lookup_accessor(accessor)["data"]["accessor"] == accessor
        assert agent.post("/v1/quit") in (200, 202)
        assert agent.process is not None
        assert agent.process.wait(timeout=10) == 0
        with pytest.raises(Exception, match=r"invalid accessor|bad token|not found"):
            client.auth.token.lookup_accessor(accessor)
