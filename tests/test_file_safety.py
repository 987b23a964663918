"""File safety through the real agent (init and sidecar), not just the writer unit.

A destination that is a symlink (to a file or dangling), a directory, or on a full filesystem
(a real 64 KiB tmpfs): nothing is ever written through the symlink, the last good file stays
as it was, the error names the destination and what to fix, init exits 6 and the sidecar keeps
running and writes the file once the problem is gone.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from s4e_secret_agent.tools.bootstrap import BootstrapReport
from tests.integration.conftest import AgentRun, run_agent
from tests.integration.sidecar import Sidecar, wait_for
from tests.testbed.kubernetes import KubernetesAPI
from tests.testbed.openbao import OpenBaoServer

pytestmark = [pytest.mark.integration]

TEMPLATE = '{{ with secret "s4e/data/filesafety" }}value={{ .Data.data.value }}\n{{ end }}'


@pytest.fixture(scope="module")
def safety_vault(openbao: OpenBaoServer, s4e_vault: BootstrapReport) -> OpenBaoServer:
    client = openbao.client()
    client.sys.create_or_update_policy(
        "filesafety", 'path "s4e/data/filesafety" { capabilities = ["read"] }\n')
    client.write_data("auth/kubernetes/role/filesafety", data={
        "bound_service_account_names": ["s4e-core"], "bound_service_account_namespaces": ["s4e"],
        "token_policies": ["filesafety"], "token_ttl": "1h"})
    _put(openbao, "v1")
    return openbao


def _put(server: OpenBaoServer, value: str) -> None:
    server.client().secrets.kv.v2.create_or_update_secret(
        path="filesafety", secret={"value": value}, mount_point="s4e")


def _config(server: OpenBaoServer, token: Path, destinations: list[Path]) -> dict[str, Any]:
    return {
        "vault": {"address": server.address},
        "auto_auth": {"method": {"type": "kubernetes",
                                 "config": {"role": "filesafety", "token_path": str(token)}}},
        "template": [{"contents": TEMPLATE, "destination": str(d)} for d in destinations],
        "template_config": {"static_secret_render_interval": "1s"},
    }


def _init(tmp_path: Path, config: dict[str, Any]) -> AgentRun:
    path = tmp_path / "agent.json"
    path.write_text(json.dumps(config))
    return run_agent("init", "--config", str(path), "--log-format", "json")


@contextlib.contextmanager
def tmpfs(where: Path, size: str = "64k") -> Iterator[Path]:
    """A real tmpfs at ``where``; skips when this machine cannot mount one (not root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount tmpfs: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def _fill(volume: Path) -> Path:
    """Fill ``volume`` up to the last byte with one file; returns it."""
    filler = volume / "filler"
    with filler.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def _entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_init_never_writes_through_a_symlink_destination(
        tmp_path: Path, safety_vault: OpenBaoServer, kubernetes_api: KubernetesAPI) -> None:
    token = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("do not touch\n")
    (out / "linked").symlink_to(victim)
    (out / "dangling").symlink_to(tmp_path / "would-be-created")
    for name, target in (("linked", victim), ("dangling", tmp_path / "would-be-created")):
        result = _init(tmp_path, _config(safety_vault, token, [out / name]))
        assert result.returncode == 6, result.stderr
        assert str(out / name) in result.stderr and "symbolic link" in result.stderr
        assert (out / name).is_symlink() and os.readlink(out / name) == str(target)
    assert victim.read_text() == "do not touch\n"
    assert not (tmp_path / "would-be-created").exists()
    assert _entries(out) == ["dangling", "linked"]  # no temp file left behind


def test_init_refuses_a_directory_destination(
        tmp_path: Path, safety_vault: OpenBaoServer, kubernetes_api: KubernetesAPI) -> None:
    token = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    dest = tmp_path / "out" / "db"
    dest.mkdir(parents=True)
    (dest / "inside").write_text("kept")
    result = _init(tmp_path, _config(safety_vault, token, [dest]))
    assert result.returncode == 6, result.stderr
    assert str(dest) in result.stderr and "director" in result.stderr
    assert _entries(dest) == ["inside"] and _entries(dest.parent) == ["db"]


def test_init_on_a_full_filesystem_keeps_the_last_good_file(
        tmp_path: Path, safety_vault: OpenBaoServer, kubernetes_api: KubernetesAPI) -> None:
    token = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    with tmpfs(tmp_path / "volume") as volume:
        dest = volume / "db"
        dest.write_text("value=last-good\n")
        dest.chmod(0o640)
        _fill(volume)
        result = _init(tmp_path, _config(safety_vault, token, [dest]))
        assert result.returncode == 6, result.stderr
        assert str(dest) in result.stderr and "No space left on device" in result.stderr
        assert dest.read_text() == "value=last-good\n"
        assert _entries(volume) == ["db", "filler"]


def test_sidecar_survives_symlink_directory_and_full_disk_and_recovers(
        tmp_path: Path, safety_vault: OpenBaoServer, kubernetes_api: KubernetesAPI) -> None:
    token = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    _put(safety_vault, "v1")
    out = tmp_path / "out"
    victim = tmp_path / "victim"
    victim.write_text("do not touch\n")
    with tmpfs(tmp_path / "volume") as volume:
        dest, on_tmpfs = out / "db", volume / "db"
        with Sidecar(_config(safety_vault, token, [dest, on_tmpfs]), tmp_path) as agent:
            agent.wait_ready()
            assert dest.read_text() == on_tmpfs.read_text() == "value=v1\n"

            def failures() -> int:
                return len(agent.events("render_failed"))

            def fault_then_recover(value: str, fault: Callable[[], None],
                                   undo: Callable[[], None], path: Path) -> str:
                seen = failures()
                fault()
                _put(safety_vault, value)
                wait_for(lambda: failures() > seen, 15, what=f"render failure ({value})")
                assert agent.process is not None and agent.process.poll() is None
                assert agent.get("/healthz")[0] == 200
                message = str(agent.events("render_failed")[-1].get("message"))
                undo()
                wait_for(lambda: path.exists() and not path.is_symlink()
                         and path.is_file() and path.read_text() == f"value={value}\n",
                         30, what=f"recovery ({value})")
                return message

            def swap_for_symlink() -> None:
                dest.unlink()
                dest.symlink_to(victim)

            def swap_for_directory() -> None:
                dest.unlink()
                dest.mkdir()

            # 1. The destination is swapped for a symlink to another file.
            message = fault_then_recover("v2", swap_for_symlink, dest.unlink, dest)
            assert str(dest) in message and "symbolic link" in message
            assert victim.read_text() == "do not touch\n"
            # 2. The destination becomes a directory.
            message = fault_then_recover("v3", swap_for_directory, dest.rmdir, dest)
            assert str(dest) in message and "director" in message
            # 3. The volume of the other destination fills up; the first file is unaffected.
            filler: list[Path] = []
            message = fault_then_recover(
                "v4", lambda: filler.append(_fill(volume)), lambda: filler[0].unlink(),
                on_tmpfs)
            assert str(on_tmpfs) in message and "No space left on device" in message
            assert dest.read_text() == "value=v4\n"
            assert _entries(volume) == ["db"] and _entries(out) == ["db"]
            assert victim.read_text() == "do not touch\n"
            assert len(agent.logins()) == 1
            assert agent.process is not None and agent.process.poll() is None
