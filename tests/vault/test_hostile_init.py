"""``s4e-secret-agent init`` as a pod runs it, against hostile servers: one that trickles its
answer (init must exit 7, the deadline's code, soon after ``--deadline``) and one whose answer
never ends (init must refuse it with a Vault error, in bounded memory)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.integration.conftest import agent_env
from tests.vault.hostile import HostileHandler, hostile_server
from tests.vault.test_hostile_servers import endless, trickle

# Runs the agent and reports the child's peak resident memory (KiB) on its last stderr line.
PEAK_RSS = ("import resource, subprocess, sys\n"
            "done = subprocess.run(sys.argv[1:])\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
            "sys.exit(done.returncode)\n")


def _config(tmp_path: Path, address: str) -> Path:
    token = tmp_path / "token"
    token.write_text("hvs.init-token")
    (tmp_path / "app.ctmpl").write_text('{{ with secret "secret/app" }}{{ .Data.x }}{{ end }}')
    config = tmp_path / "agent.hcl"
    config.write_text(
        f'vault {{\n  address = "{address}"\n}}\n'
        f'auto_auth {{\n  method "token_file" {{\n    config = {{ token_file_path = '
        f'"{token}" }}\n  }}\n}}\n'
        f'template {{\n  source = "{tmp_path / "app.ctmpl"}"\n'
        f'  destination = "{tmp_path / "out" / "app"}"\n}}\n')
    return config


def _init(config: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PEAK_RSS, sys.executable, "-m", "s4e_secret_agent", "init",
         "--config", str(config), "--log-format", "json", *args],
        env=agent_env(), capture_output=True, text=True, timeout=timeout)


def test_init_against_a_trickling_vault_exits_7_at_the_deadline(tmp_path: Path) -> None:
    deadline = 3.0
    with hostile_server(trickle) as vault:
        started = time.monotonic()
        done = _init(_config(tmp_path, vault.address), "--deadline", f"{deadline:g}s",
                     timeout=60)
        took = time.monotonic() - started
    assert done.returncode == 7, done.stderr
    # Python's start-up and imports on a busy machine are the slack.
    assert took < deadline + 4.0, took
    assert "agent.deadline" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "app").exists()


def test_init_refuses_an_endless_answer_in_bounded_memory(tmp_path: Path) -> None:
    with hostile_server(endless) as vault:
        done = _init(_config(tmp_path, vault.address), "--deadline", "60s", timeout=120)
    peak_mib = int(done.stderr.strip().splitlines()[-1]) / 1024
    print(f"peak RSS refusing a 1 GiB answer: {peak_mib:.0f} MiB")
    assert done.returncode == 5, done.stderr
    assert "more than the 33554432 bytes" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    # The body is 1 GiB; the agent holds at most the 32 MiB limit of it.
    assert peak_mib < 160, peak_mib


def test_init_against_a_well_behaved_server_still_works(tmp_path: Path) -> None:
    def vault(handler: HostileHandler) -> None:
        if "lookup-self" in handler.path:
            handler.answer(200, b'{"data": {"accessor": "a", "ttl": 600, "policies": ["p"]}}')
        elif "ui/mounts" in handler.path:
            handler.answer(200, b'{"data": {"path": "secret/", "type": "kv", '
                                b'"options": {"version": "1"}}}')
        else:
            handler.answer(200, b'{"data": {"x": "hello"}, "lease_duration": 60}')
    with hostile_server(vault) as server:
        done = _init(_config(tmp_path, server.address), "--deadline", "30s", timeout=60)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "app").read_text() == "hello"
    print("peak RSS of a good init (KiB):", done.stderr.strip().splitlines()[-1])


def _gzip_bomb(size: int) -> bytes:
    """``size`` bytes of a JSON string, gzip-compressed to about a thousandth of that."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    parts = [packer.compress(b'{"data": {"password": "')]
    chunk = b"0" * (1024 * 1024)
    parts.extend(packer.compress(chunk) for _ in range(size // len(chunk)))
    parts.append(packer.compress(b'"}}') + packer.flush())
    return b"".join(parts)


def test_init_refuses_a_compressed_bomb_in_bounded_memory(tmp_path: Path) -> None:
    bomb = _gzip_bomb(1024 ** 3)

    def vault(handler: HostileHandler) -> None:
        handler.answer(200, bomb, {"Content-Encoding": "gzip"})
    with hostile_server(vault) as server:
        done = _init(_config(tmp_path, server.address), "--deadline", "60s", timeout=120)
    peak_mib = int(done.stderr.strip().splitlines()[-1]) / 1024
    print(f"peak RSS refusing a {len(bomb)} byte gzip of 1 GiB: {peak_mib:.0f} MiB")
    assert done.returncode == 5, done.stderr
    assert "more than the 33554432 bytes" in done.stderr, done.stderr
    assert peak_mib < 160, peak_mib
