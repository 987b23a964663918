"""Waiting for Vault as Vault Agent waits, against a live OpenBao and, where the feature exists
there, ``bao agent`` on the same configuration file.

- A pod that starts a moment before its secret is written still comes up: the 404 is retried
  (both agents), and ``pid_file`` holds the agent's pid while it waits and is gone when it
  exits (both agents).
- ``exit_on_retry_failure`` with ``num_retries``: both give up after the retries.
- A 403 (the policy) is not waited for: init fails at once, naming the policy.
- A certificate issued through ``secret`` in a sidecar with a 2 s render interval is issued
  once, not at every re-read, and ``pid_file`` is there while it runs (both agents).
- A ``Retry-After`` of a year is cut to ``agent.max_retry_after``, in init and in a
  sidecar's login.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.conftest import agent_env, run_agent
from tests.integration.sidecar import Sidecar, wait_for
from tests.testbed.faultproxy import FaultProxy
from tests.testbed.openbao import OpenBaoServer, bao_binary

pytestmark = pytest.mark.integration

A_YEAR = 31536000
AGENTS = ("ours", "bao")


def _hcl(directory: Path, address: str, token_file: Path, template: str, *,
         extra: str = "", vault: str = "", exit_after_auth: bool = True) -> Path:
    config = directory / "agent.hcl"
    config.write_text(
        f'vault {{\n  address = "{address}"\n{vault}}}\n'
        f'auto_auth {{\n  method "token_file" {{\n    config = {{ token_file_path = '
        f'"{token_file}" }}\n  }}\n}}\n'
        f'exit_after_auth = {"true" if exit_after_auth else "false"}\n'
        f'pid_file = "{directory / "agent.pid"}"\n{extra}'
        f'template {{\n  contents = <<EOT\n{template}EOT\n'
        f'  destination = "{directory / "out"}"\n}}\n')
    return config


def _start(agent: str, config: Path, directory: Path) -> subprocess.Popen[bytes]:
    if agent == "bao":
        argv = [bao_binary(), "agent", f"-config={config}"]
    else:
        argv = [sys.executable, "-m", "s4e_secret_agent", "init", "--config", str(config),
                "--log-format", "json"]
    with (directory / "agent.log").open("wb") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=agent_env(),
                                cwd=directory)


def _log(directory: Path) -> str:
    return (directory / "agent.log").read_text(errors="replace")


@pytest.fixture
def token_file(openbao: OpenBaoServer, tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(openbao.root_token)
    return path


def _kv_mount(openbao: OpenBaoServer) -> str:
    mount = f"later-{uuid.uuid4().hex[:6]}"
    openbao.client().sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    return mount


@pytest.mark.parametrize("agent", AGENTS)
def test_init_that_starts_before_its_secret_waits_for_it(
        agent: str, openbao: OpenBaoServer, token_file: Path, tmp_path: Path) -> None:
    mount = _kv_mount(openbao)
    config = _hcl(tmp_path, openbao.address, token_file,
                  f'{{{{ with secret "{mount}/data/app" }}}}{{{{ .Data.data.v }}}}{{{{ end }}}}\n')
    started = time.monotonic()
    proc = _start(agent, config, tmp_path)
    try:
        pid_file = tmp_path / "agent.pid"
        wait_for(pid_file.exists, 20, what="the pid file")
        assert pid_file.read_text() == str(proc.pid)  # decimal, no newline, as Vault Agent
        time.sleep(max(0.0, started + 2.0 - time.monotonic()))
        assert proc.poll() is None, _log(tmp_path)  # still waiting, not failed
        openbao.client().secrets.kv.v2.create_or_update_secret(
            path="app", mount_point=mount, secret={"v": "written-late"})
        assert proc.wait(timeout=60) == 0, _log(tmp_path)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert time.monotonic() - started < 30
    assert (tmp_path / "out").read_text() == "written-late\n"
    assert not pid_file.exists()  # removed at exit


@pytest.mark.parametrize("agent", AGENTS)
def test_exit_on_retry_failure_gives_up_after_num_retries(
        agent: str, openbao: OpenBaoServer, token_file: Path, tmp_path: Path) -> None:
    mount = _kv_mount(openbao)
    config = _hcl(tmp_path, openbao.address, token_file,
                  f'{{{{ with secret "{mount}/data/never" }}}}x{{{{ end }}}}\n',
                  vault="  retry {\n    num_retries = 2\n  }\n",
                  extra="template_config {\n  exit_on_retry_failure = true\n}\n")
    started = time.monotonic()
    proc = _start(agent, config, tmp_path)
    try:
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code != 0
    assert time.monotonic() - started < 20
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "agent.pid").exists()
    if agent == "ours":
        assert code == 5
        exhausted = [json.loads(line) for line in _log(tmp_path).splitlines()
                     if '"retries_exhausted"' in line]
        assert exhausted and "after 3 attempt(s)" in exhausted[0]["message"]


def test_a_denied_secret_fails_init_at_once_with_the_fix(
        openbao: OpenBaoServer, tmp_path: Path) -> None:
    mount = _kv_mount(openbao)
    client = openbao.client()
    client.secrets.kv.v2.create_or_update_secret(path="app", mount_point=mount,
                                                 secret={"v": "x"})
    token = client.auth.token.create(policies=["default"], ttl="10m")["auth"]["client_token"]
    token_file = tmp_path / "token"
    token_file.write_text(token)
    config = _hcl(tmp_path, openbao.address, token_file,
                  f'{{{{ with secret "{mount}/data/app" }}}}{{{{ .Data.data.v }}}}{{{{ end }}}}\n')
    started = time.monotonic()
    run = run_agent("init", "--config", str(config))
    assert run.returncode == 5, run.stderr
    assert time.monotonic() - started < 10
    assert "policy" in run.stderr and f"{mount}/data/app" in run.stderr
    assert not (tmp_path / "out").exists()


def _pki(openbao: OpenBaoServer) -> str:
    client = openbao.client()
    mount = f"pkiw-{uuid.uuid4().hex[:6]}"
    client.sys.enable_secrets_engine("pki", path=mount, config={"max_lease_ttl": "87600h"})
    client.write(f"{mount}/root/generate/internal", common_name="test root", ttl="87000h")
    client.write(f"{mount}/roles/app", allow_any_name=True, ttl="1h", max_ttl="4h")
    return mount


def _certificates(openbao: OpenBaoServer, mount: str) -> int:
    return len(openbao.client().list(f"{mount}/certs")["data"]["keys"])


@pytest.mark.parametrize("agent", AGENTS)
def test_a_certificate_through_secret_is_issued_once_in_a_sidecar(
        agent: str, openbao: OpenBaoServer, token_file: Path, tmp_path: Path) -> None:
    mount = _pki(openbao)
    before = _certificates(openbao, mount)  # the CA's own
    config = _hcl(tmp_path, openbao.address, token_file,
                  f'{{{{ with secret "{mount}/issue/app" "common_name=app.s4e.svc" }}}}'
                  '{{ .Data.serial_number }}{{ end }}\n', exit_after_auth=False,
                  extra='template_config {\n  static_secret_render_interval = "2s"\n}\n')
    pid_file = tmp_path / "agent.pid"
    if agent == "ours":
        with Sidecar(config, tmp_path) as sidecar:
            wait_for((tmp_path / "out").exists, 30, what="the first render")
            assert pid_file.read_text() == str(sidecar.pid)
            time.sleep(10)  # five render intervals
            sidecar.stop()
    else:
        proc = _start("bao", config, tmp_path)
        try:
            wait_for((tmp_path / "out").exists, 30, what="the first render")
            assert pid_file.read_text() == str(proc.pid)
            time.sleep(10)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert _certificates(openbao, mount) - before == 1
    assert not pid_file.exists()  # a sidecar removes it too when it stops
    serial = (tmp_path / "out").read_text().strip()
    assert serial.replace(":", "").replace("-", "")


def _native_config(directory: Path, address: str, token_file: Path, path: str,
                   **agent: object) -> Path:
    config = directory / "agent.yaml"
    config.write_text(json.dumps({
        "vault": {"address": address},
        "auto_auth": {"method": {"type": "token_file",
                                 "config": {"token_file_path": str(token_file)}}},
        "template": [{"destination": str(directory / "out"),
                      "contents": f'{{{{ with secret "{path}" }}}}{{{{ .Data.data.v }}}}'
                                  "{{ end }}\n"}],
        "agent": agent}))
    return config


def test_init_cuts_a_retry_after_of_a_year_to_max_retry_after(
        openbao: OpenBaoServer, fault_proxy: FaultProxy, token_file: Path,
        tmp_path: Path) -> None:
    mount = _kv_mount(openbao)
    openbao.client().secrets.kv.v2.create_or_update_secret(path="app", mount_point=mount,
                                                           secret={"v": "served"})
    fault_proxy.fail(f"/v1/{mount}/data/app", 503, retry_after=A_YEAR, times=2)
    config = _native_config(tmp_path, fault_proxy.address, token_file, f"{mount}/data/app",
                            deadline="120s", max_retry_after="1s")
    started = time.monotonic()
    run = run_agent("init", "--config", str(config), timeout=150)
    assert run.returncode == 0, run.stderr
    assert time.monotonic() - started < 20  # not the deadline (120 s), not a year
    assert (tmp_path / "out").read_text() == "served\n"
    assert fault_proxy.count(f"/v1/{mount}/data/app") >= 3


def test_a_sidecar_login_is_not_parked_by_a_retry_after_of_a_year(
        openbao: OpenBaoServer, fault_proxy: FaultProxy, token_file: Path,
        tmp_path: Path) -> None:
    mount = _kv_mount(openbao)
    openbao.client().secrets.kv.v2.create_or_update_secret(path="app", mount_point=mount,
                                                           secret={"v": "served"})
    fault_proxy.fail("/v1/auth/token/lookup-self", 503, retry_after=A_YEAR, times=2)
    config = _native_config(tmp_path, fault_proxy.address, token_file, f"{mount}/data/app",
                            max_retry_after="1s")
    with Sidecar(config, tmp_path):
        wait_for((tmp_path / "out").exists, 30, what="the render after the login")
    assert (tmp_path / "out").read_text() == "served\n"
    assert fault_proxy.count("/v1/auth/token/lookup-self") >= 3
