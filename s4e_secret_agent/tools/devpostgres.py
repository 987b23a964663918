"""A throwaway PostgreSQL cluster for Vault's database secrets engine (``dev`` and the tests).

The cluster lives in a private temp dir: ``initdb`` makes it, ``pg_ctl`` starts it listening on
127.0.0.1 (a free port, password auth with SCRAM) and on a Unix socket inside the temp dir (trust,
used only by the test bed itself). A superuser ``vault_admin`` with a generated password is what
Vault's database engine connects as; the database ``s4e_production`` is the one in S4E's guide.

PostgreSQL refuses to run as root, so when the tests run as root every server command runs as
the ``postgres`` OS user (Debian's packages create it) and the temp dir is handed to that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from s4e_secret_agent.tools.devserver import free_port, wait_for_port

PG_BIN_ROOT = Path("/usr/lib/postgresql")
PREFERRED_MAJOR = "15"
SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")
DATABASE = "s4e_production"
ADMIN_USER = "vault_admin"
OS_USER = "postgres"


def postgres_bin_dir() -> Path:
    """Directory holding initdb, pg_ctl and postgres: Debian's layout (15 first, then the
    newest installed major version), then PATH."""
    installed = sorted((p for p in PG_BIN_ROOT.glob("*/bin") if p.parent.name.isdigit()),
                       key=lambda p: (p.parent.name != PREFERRED_MAJOR, -int(p.parent.name)))
    for candidate in installed:
        if all((candidate / prog).exists() for prog in SERVER_PROGRAMS):
            return candidate
    found = shutil.which("pg_ctl")
    if found:
        directory = Path(found).resolve().parent
        if all((directory / prog).exists() for prog in SERVER_PROGRAMS):
            return directory
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) are missing: install Debian's "
        "'postgresql-15' package (apt-get install postgresql-15) or put its bin dir on PATH"
    )


def postgres_available() -> bool:
    """Whether PostgreSQL's server binaries are on this machine."""
    try:
        postgres_bin_dir()
    except RuntimeError:
        return False
    return True


class PostgresCluster:
    """A PostgreSQL cluster started for the test session.

    ``host``/``port`` are the TCP endpoint, ``admin_username``/``admin_password`` the superuser
    Vault connects as, ``admin_url`` the templated connection URL Vault's database engine wants.
    """

    def __init__(self) -> None:
        self.bin_dir = postgres_bin_dir()
        self.host = "127.0.0.1"
        self.port = free_port()
        self.admin_username = ADMIN_USER
        self.admin_password = secrets.token_urlsafe(24)
        self.database = DATABASE
        self.workdir = Path(tempfile.mkdtemp(prefix="postgres-"))
        self.data_dir = self.workdir / "data"
        self.socket_dir = self.workdir / "socket"
        self.log_path = self.workdir / "server.log"
        self._run_as_postgres = os.geteuid() == 0
        self._started = False

    # -- connection details ------------------------------------------------------------------

    @property
    def admin_url(self) -> str:
        """Connection URL for ``database/config/...`` (Vault fills in the templated fields)."""
        return (f"postgresql://{{{{username}}}}:{{{{password}}}}@{self.host}:{self.port}/"
                f"{self.database}?sslmode=disable")

    def dsn(self, user: str, password: str, dbname: str = DATABASE) -> str:
        """A libpq connection string for ``user`` over TCP (password auth)."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(host=self.host, port=self.port, user=user, password=password,
                             dbname=dbname, connect_timeout=10, sslmode="disable")

    def can_login(self, user: str, password: str, dbname: str = DATABASE) -> bool:
        """Whether ``user``/``password`` can open a session over TCP right now."""
        import psycopg

        try:
            with psycopg.connect(self.dsn(user, password, dbname)) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def role_exists(self, name: str) -> bool:
        """Whether a role called ``name`` exists (Vault drops it when the lease is revoked)."""
        rows = self.query("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
        return bool(rows)

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Run ``sql`` as the superuser over the private Unix socket; return all rows."""
        import psycopg

        conninfo = f"host={self.socket_dir} port={self.port} user={OS_USER} dbname={self.database}"
        with psycopg.connect(conninfo, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []

    # -- lifecycle --------------------------------------------------------------------------

    def _command(self, program: str, *args: str) -> list[str]:
        argv = [str(self.bin_dir / program), *args]
        if self._run_as_postgres:
            return ["runuser", "-u", OS_USER, "--", *argv]
        return argv

    def _run(self, program: str, *args: str, timeout: float = 120) -> None:
        result = subprocess.run(self._command(program, *args), capture_output=True, text=True,
                                timeout=timeout, cwd=self.workdir, env=self._env())
        if result.returncode != 0:
            log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr.strip()}"
                               f"\n{result.stdout.strip()}\n{log[-4000:]}")

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8", TZ="UTC")
        return env

    def start(self) -> PostgresCluster:
        self.socket_dir.mkdir()
        if self._run_as_postgres:
            account = pwd.getpwnam(OS_USER)
            for path in (self.workdir, self.socket_dir):
                os.chown(path, account.pw_uid, account.pw_gid)
        pwfile = self.workdir / "bootstrap-password"
        # initdb's own superuser keeps a throwaway password; the test bed uses the socket.
        pwfile.write_text(secrets.token_urlsafe(24) + "\n")
        if self._run_as_postgres:
            os.chown(pwfile, pwd.getpwnam(OS_USER).pw_uid, -1)
        pwfile.chmod(0o600)
        self._run("initdb", "-D", str(self.data_dir), "-U", OS_USER, f"--pwfile={pwfile}",
                  "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        pwfile.unlink()
        settings = {
            "listen_addresses": f"'{self.host}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "password_encryption": "'scram-sha-256'",
            "max_connections": "40",
            "shared_buffers": "16MB",
            # Durability does not matter for a throwaway cluster; start-up and DDL speed do.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "logging_collector": "off",
        }
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self._run("pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_path), "-w",
                  "-t", "60")
        self._started = True
        wait_for_port(self.port, timeout=30)
        self._create_admin_and_database()
        return self

    def _create_admin_and_database(self) -> None:
        import psycopg
        from psycopg import sql

        conninfo = f"host={self.socket_dir} port={self.port} user={OS_USER} dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} WITH SUPERUSER LOGIN PASSWORD {}").format(
                sql.Identifier(self.admin_username), sql.Literal(self.admin_password)))
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(self.database), sql.Identifier(self.admin_username)))

    def _postmaster_pid(self) -> int | None:
        pidfile = self.data_dir / "postmaster.pid"
        try:
            return int(pidfile.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        if self._started:
            pid = self._postmaster_pid()
            try:
                self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w",
                          "-t", "30")
            except (RuntimeError, subprocess.TimeoutExpired):
                # A postmaster that ignores the fast shutdown must still not outlive the tests.
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGQUIT)
                    _wait_gone(pid, timeout=10)
            self._started = False
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
