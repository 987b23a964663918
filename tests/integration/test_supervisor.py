"""Process supervisor mode (``env_template`` + ``exec``) against the real thing: ``bao agent``
and our ``sidecar`` run the same HCL config against one live OpenBao, with a real app as the
child. Both start the app with the rendered variable, pass its exit code on, restart it with
the configured stop signal when the secret changes, and stop it when they are stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from s4e_secret_agent.tools.devserver import bao_binary
from tests.integration.conftest import agent_env, token_file_auth_hcl
from tests.integration.sidecar import wait_for
from tests.testbed.openbao import OpenBaoServer

pytestmark = pytest.mark.integration

_APP = textwrap.dedent('''
    import json, os, signal, sys, time
    out, mode = sys.argv[1], sys.argv[2]
    def record(**fields):
        with open(out, "a") as handle:
            handle.write(json.dumps({"pid": os.getpid(), **fields}) + "\\n")
    def stop(signum, frame):
        record(stopped_by=signum)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    record(FOO=os.environ.get("FOO"), BAR=os.environ.get("BAR"),
           token="VAULT_TOKEN" in os.environ)
    if mode.startswith("exit"):
        sys.exit(int(mode[4:]))
    if mode == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    while True:
        time.sleep(0.2)
''')


def _config(server: OpenBaoServer, base: Path, secret: str, mode: str,
            restart: str = "always") -> Path:
    app = base / "app.py"
    app.write_text(_APP)
    config = base / "agent.hcl"
    config.write_text(token_file_auth_hcl(server, base) + f'''template_config {{
  static_secret_render_interval = "1s"
}}
env_template "FOO" {{
  contents = "{{{{ with secret \\"secret/data/{secret}\\" }}}}{{{{ .Data.data.v }}}}{{{{ end }}}}"
}}
env_template "BAR" {{
  contents = "static"
}}
exec {{
  command = ["{sys.executable}", "{app}", "{base / 'app.out'}", "{mode}"]
  restart_on_secret_changes = "{restart}"
  restart_stop_signal = "SIGINT"
}}
''')
    return config


def _start(who: str, config: Path, base: Path) -> subprocess.Popen[bytes]:
    log = (base / "agent.log").open("wb")
    if who == "bao":
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env["HOME"] = str(base)
        argv = [bao_binary(), "agent", f"-config={config}"]
    else:
        # The agent itself holds a VAULT_TOKEN: the app must not inherit it.
        env = agent_env({"VAULT_TOKEN": "agent-only-token"})
        argv = [sys.executable, "-m", "s4e_secret_agent", "sidecar", "--config", str(config),
                "--metrics-listen", "127.0.0.1:0", "--log-format", "json"]
    with log:
        return subprocess.Popen(argv, cwd=base, env=env, stdout=log, stderr=subprocess.STDOUT)


def _records(base: Path) -> list[dict[str, Any]]:
    out = base / "app.out"
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.endswith("}")]


def _secret(server: OpenBaoServer, path: str, value: str) -> None:
    server.client().secrets.kv.v2.create_or_update_secret(path=path, secret={"v": value},
                                                          mount_point="secret")


def _log(base: Path) -> str:
    return (base / "agent.log").read_text(errors="replace")[-3000:]


@pytest.mark.parametrize(("mode", "expected"), [("exit3", 3), ("exit0", 0), ("killed", 255)])
@pytest.mark.parametrize("who", ["bao", "ours"])
def test_the_app_gets_the_variables_and_its_exit_code_is_the_agents(
        who: str, mode: str, expected: int, openbao: OpenBaoServer, tmp_path: Path) -> None:
    secret = f"sv-{uuid.uuid4().hex[:8]}"
    _secret(openbao, secret, "first")
    config = _config(openbao, tmp_path, secret, mode)
    agent = _start(who, config, tmp_path)
    try:
        code = agent.wait(timeout=60)
    finally:
        agent.kill()
    assert code == expected, _log(tmp_path)
    [record] = _records(tmp_path)
    assert (record["FOO"], record["BAR"], record["token"]) == ("first", "static", False)


@pytest.mark.parametrize("who", ["bao", "ours"])
def test_a_changed_secret_restarts_the_app_with_the_stop_signal(
        who: str, openbao: OpenBaoServer, tmp_path: Path) -> None:
    secret = f"sv-{uuid.uuid4().hex[:8]}"
    _secret(openbao, secret, "first")
    agent = _start(who, _config(openbao, tmp_path, secret, "run"), tmp_path)
    try:
        wait_for(lambda: _records(tmp_path), timeout=60, what="the app to start")
        _secret(openbao, secret, "second")
        wait_for(lambda: len(_records(tmp_path)) >= 3, timeout=60, what="the restart")
        first, stopped, second = _records(tmp_path)[:3]
        assert first["FOO"] == "first" and second["FOO"] == "second", _log(tmp_path)
        assert stopped == {"pid": first["pid"], "stopped_by": signal.SIGINT}
        assert second["pid"] != first["pid"]
        # Stopping the agent stops the app with the same signal; the agent exits 0.
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=60) == 0, _log(tmp_path)
        assert _records(tmp_path)[-1] == {"pid": second["pid"], "stopped_by": signal.SIGINT}
    finally:
        agent.kill()
        agent.wait()


def test_never_keeps_the_app_running_when_the_secret_changes(
        openbao: OpenBaoServer, tmp_path: Path) -> None:
    secret = f"sv-{uuid.uuid4().hex[:8]}"
    _secret(openbao, secret, "first")
    agent = _start("ours", _config(openbao, tmp_path, secret, "run", restart="never"),
                   tmp_path)
    try:
        wait_for(lambda: _records(tmp_path), timeout=60, what="the app to start")
        _secret(openbao, secret, "second")
        wait_for(lambda: "app_not_restarted" in _log(tmp_path), timeout=60,
                 what="the change to be seen")
        assert len(_records(tmp_path)) == 1
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=60)
