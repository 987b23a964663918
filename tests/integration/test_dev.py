"""``s4e-secret-agent dev``: the README's first command, on a machine without Vault."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import agent_env
from tests.integration.sidecar import wait_for


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


# Both start a real OpenBao (and PostgreSQL when present) through the dev command.
pytestmark = pytest.mark.integration


def test_dev_once_renders_s4e_env_files_from_a_local_openbao(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "s4e_secret_agent", "dev", "--once", "--dir",
                           str(tmp_path / "vault")], env=agent_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    secrets = tmp_path / "vault" / "secrets"
    db = (secrets / "db").read_text()
    assert db.startswith("export DB_HOST=postgresql.s4e.svc.cluster.local\nexport DB_PORT=5432\n")
    for name in ("redis", "rabbitmq", "app", "db-dynamic"):
        assert (secrets / name).read_text().startswith("export ")
    assert "rendered" in proc.stderr


def test_dev_sidecar_stops_on_ctrl_c_and_leaves_no_process_behind(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "s4e_secret_agent", "dev", "--dir",
                             str(tmp_path / "vault"), "--metrics-listen", ""],
                            env=agent_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (tmp_path / "vault" / "secrets" / "app").exists(), 60,
                 what="first render")
        children = _children_of(proc.pid)
        assert children, "the dev servers run as children"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(0.5)
    alive = [pid for pid in children if os.path.exists(f"/proc/{pid}")]
    assert alive == []
