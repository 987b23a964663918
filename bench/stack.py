"""The servers every Vault-facing benchmark runs against, and the agents' configurations.

One OpenBao dev server and one throwaway PostgreSQL, configured by ``bootstrap`` the way S4E's
Vault guide does (KV secrets, ``s4e-read`` policy, AppRole, database engine with the guide's
``s4e-app`` role), plus what the benchmarks need beyond the guide: a database role with short
leases for accelerated rotation, one role per scale lease, a policy covering all of them and an
AppRole role using it. Every agent (ours, ``bao agent``, the hvac script) logs in with the same
AppRole credentials from files and renders the same templates.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s4e_secret_agent.tools.devserver import OpenBaoDevServer, free_port

ROLE = "bench"
POLICY = "bench"
FAST_DB_ROLE = "bench-fast"
BENCH_CONNECTION = "bench-postgres"
ROOT_TOKEN = "bench-root"

# S4E's five files: four KV secrets of the guide and one dynamic database credential. Only
# field lookups, so that our agent, bao agent and the hvac script render the same bytes.
KV_TEMPLATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "db": ("s4e/data/database", ("host", "port", "name", "username", "password")),
    "redis": ("s4e/data/redis", ("connection_string", "password")),
    "rabbitmq": ("s4e/data/rabbitmq", ("host", "port", "username", "password")),
    "app": ("s4e/data/app", ("secret_key", "smtp_password")),
}
EXTRA_KV = ("monitoring", "s4e/data/monitoring", ("api_key",))


def kv_template(path: str, keys: tuple[str, ...]) -> str:
    lines = "".join(f"export {key.upper()}={{{{ .Data.data.{key} }}}}\n" for key in keys)
    return f'{{{{ with secret "{path}" }}}}\n{lines}{{{{ end }}}}\n'


def db_template(role: str) -> str:
    return (f'{{{{ with secret "database/creds/{role}" }}}}\n'
            "export DB_USER={{ .Data.username }}\nexport DB_PASS={{ .Data.password }}\n"
            "{{ end }}\n")


@dataclass
class AgentJob:
    """A set of templates (name -> template text) rendered into ``output``."""

    templates: dict[str, str]
    output: Path


def s4e_job(output: Path, *, db_role: str | None = "s4e-app", extra_kv: bool = False) -> AgentJob:
    templates = {name: kv_template(path, keys) for name, (path, keys) in KV_TEMPLATES.items()}
    if extra_kv:
        templates[EXTRA_KV[0]] = kv_template(EXTRA_KV[1], EXTRA_KV[2])
    if db_role is not None:
        templates["db-dynamic"] = db_template(db_role)
    return AgentJob(templates, output)


class Stack:
    """OpenBao + PostgreSQL + bootstrap. Use as a context manager."""

    def __init__(self, *, scale_roles: int = 0) -> None:
        self.scale_roles = scale_roles
        self.workdir = Path(tempfile.mkdtemp(prefix="s4e-bench-"))
        self._exit = contextlib.ExitStack()
        self.server: OpenBaoDevServer | None = None
        self.postgres: Any = None
        self.role_id_file = self.workdir / "approle" / "role-id"
        self.secret_id_file = self.workdir / "approle" / "secret-id"

    @property
    def address(self) -> str:
        assert self.server is not None
        return self.server.address

    @property
    def has_postgres(self) -> bool:
        return self.postgres is not None

    def client(self) -> Any:
        from s4e_secret_agent.vault.client import new_client

        return new_client(self.address, ROOT_TOKEN)

    def __enter__(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._exit.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _start(self) -> None:
        from s4e_secret_agent.tools.bootstrap import (
            DB_CREATION_STATEMENT,
            AppRoleOptions,
            BootstrapOptions,
            PostgresOptions,
            bootstrap,
        )
        from s4e_secret_agent.tools.devpostgres import PostgresCluster, postgres_available

        # The two servers start in parallel: PostgreSQL's initdb is the slow part.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pg_start = pool.submit(PostgresCluster().start) if postgres_available() else None
            try:
                self.server = self._exit.enter_context(OpenBaoDevServer(root_token=ROOT_TOKEN))
            finally:
                if pg_start is not None:
                    self.postgres = pg_start.result()
                    self._exit.callback(self.postgres.stop)
        pg = self.postgres
        client = self.client()
        bootstrap(client, BootstrapOptions(
            auth="approle",
            postgres=PostgresOptions(pg.admin_url, pg.admin_username, pg.admin_password)
            if pg else None,
            approle=AppRoleOptions()))
        client.secrets.kv.v2.create_or_update_secret(
            path=EXTRA_KV[0], mount_point="s4e", secret={"api_key": "bench-monitoring-key"})
        if pg:
            client.write_data(f"database/config/{BENCH_CONNECTION}", data={
                "plugin_name": "postgresql-database-plugin", "allowed_roles": ["*"],
                "connection_url": pg.admin_url, "username": pg.admin_username,
                "password": pg.admin_password})
            roles = {FAST_DB_ROLE: (5, 30)}
            roles.update({scale_db_role(i): (3600, 7200) for i in range(self.scale_roles)})
            for role, (ttl, max_ttl) in roles.items():
                client.write_data(f"database/roles/{role}", data={
                    "db_name": BENCH_CONNECTION, "creation_statements": [DB_CREATION_STATEMENT],
                    "default_ttl": ttl, "max_ttl": max_ttl})
        client.sys.create_or_update_policy(POLICY, "\n".join([
            'path "s4e/data/*" { capabilities = ["read"] }',
            'path "database/creds/*" { capabilities = ["read"] }',
        ]))
        client.write_data(f"auth/approle/role/{ROLE}", data={
            "token_policies": [POLICY], "token_ttl": "1h", "token_max_ttl": "24h"})
        role_id = client.read(f"auth/approle/role/{ROLE}/role-id")["data"]["role_id"]
        secret_id = client.write_data(f"auth/approle/role/{ROLE}/secret-id")["data"]["secret_id"]
        self.role_id_file.parent.mkdir(mode=0o700)
        for path, value in ((self.role_id_file, role_id), (self.secret_id_file, secret_id)):
            path.write_text(value)
            os.chmod(path, 0o600)

    def write_kv(self, path: str, data: dict[str, str]) -> None:
        """Write ``s4e/data/<path>``'s newest version."""
        self.client().secrets.kv.v2.create_or_update_secret(
            path=path, mount_point="s4e", secret=data)

    # -- configurations ---------------------------------------------------------------------

    def yaml_config(self, job: AgentJob, directory: Path, *, address: str | None = None,
                    static_interval: str = "5m") -> Path:
        """Our agent's native configuration for ``job`` (JSON is valid YAML)."""
        config = directory / "agent.yaml"
        config.write_text(json.dumps({
            "vault": {"address": address or self.address},
            "auto_auth": {"method": {"type": "approle", "config": {
                "role_id_file_path": str(self.role_id_file),
                "secret_id_file_path": str(self.secret_id_file),
                "remove_secret_id_file_after_reading": False}}},
            "template": [{"source": str(source), "destination": str(job.output / name)}
                         for name, source in _sources(job, directory).items()],
            "template_config": {"static_secret_render_interval": static_interval},
        }, indent=1))
        return config

    def hcl_config(self, job: AgentJob, directory: Path, *, address: str | None = None,
                   exit_after_auth: bool = False, static_interval: str = "5m") -> Path:
        """A Vault Agent HCL file (for ``bao agent``; our agent reads it too)."""
        templates = []
        for name, source in _sources(job, directory).items():
            templates.append(
                f'template {{\n  source = "{source}"\n'
                f'  destination = "{job.output / name}"\n  perms = "0640"\n}}\n')
        config = directory / "agent.hcl"
        config.write_text(
            f"exit_after_auth = {'true' if exit_after_auth else 'false'}\n"
            f'vault {{\n  address = "{address or self.address}"\n}}\n'
            "auto_auth {\n  method \"approle\" {\n    mount_path = \"auth/approle\"\n"
            f'    config = {{\n      role_id_file_path = "{self.role_id_file}"\n'
            f'      secret_id_file_path = "{self.secret_id_file}"\n'
            "      remove_secret_id_file_after_reading = false\n    }\n  }\n}\n"
            f'template_config {{\n  static_secret_render_interval = "{static_interval}"\n}}\n'
            + "".join(templates))
        return config


def _sources(job: AgentJob, directory: Path) -> dict[str, Path]:
    """Write the job's templates as files in ``directory``; name -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    sources = {}
    for name, text in job.templates.items():
        sources[name] = directory / f"{name}.ctmpl"
        sources[name].write_text(text)
    return sources


def scale_db_role(index: int) -> str:
    return f"bench-scale-{index}"


# Where the Python contenders keep their bytecode. An installed package comes with its .pyc
# files (pip compiles wheels at install; the container image is built from wheels), so every
# Python process measured here gets a bytecode cache, even on a machine that sets
# PYTHONDONTWRITEBYTECODE; a private prefix keeps .pyc files out of the source tree.
PYCACHE = Path(tempfile.gettempdir()) / "s4e-bench-pycache"


def agent_env() -> dict[str, str]:
    """The environment the contenders run with: none of the caller's Vault settings, and a
    bytecode cache for Python (see PYCACHE)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VAULT_", "BAO_", "S4E_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def our_agent_argv(mode: str, config: Path, *, metrics: bool = True) -> list[str]:
    import sys

    exe = Path(sys.executable).parent / "s4e-secret-agent"
    argv = [str(exe), mode, "--config", str(config), "--log-level", "warn"]
    if mode == "sidecar":
        argv += ["--metrics-listen", f"127.0.0.1:{free_port()}" if metrics else ""]
    return argv


def bao_agent_argv(config: Path) -> list[str]:
    from s4e_secret_agent.tools.devserver import bao_binary

    return [bao_binary(), "agent", f"-config={config}", "-log-level=warn"]
