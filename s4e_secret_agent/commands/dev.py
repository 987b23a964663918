"""``s4e-secret-agent dev``: the whole thing on one machine, no Vault or Kubernetes needed.

Starts a throwaway OpenBao dev server on loopback (the ``bao`` binary from the ``dev`` extra),
configures it the way S4E's Vault guide does (``bootstrap``, with AppRole since there is no
Kubernetes), adds PostgreSQL dynamic credentials when PostgreSQL's server binaries are on the
machine, writes an agent config next to the output, and runs the agent as a sidecar that
renders S4E's env files into ``./vault/secrets/``. Ctrl-C stops the agent and the servers.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("s4e_secret_agent.dev")

# S4E's env files. ``db`` is the exact template of S4E's Vault guide.
ENV_TEMPLATES: dict[str, str] = {
    "db": """{{- with secret "s4e/data/database" -}}
export DB_HOST={{ .Data.data.host }}
export DB_PORT={{ .Data.data.port }}
export DB_NAME={{ .Data.data.name }}
export DB_USER={{ .Data.data.username }}
export DB_PASS={{ .Data.data.password }}
{{- end }}
""",
    "redis": """{{- with secret "s4e/data/redis" -}}
export REDIS_URL={{ .Data.data.connection_string | shellQuote }}
export REDIS_PASSWORD={{ .Data.data.password | shellQuote }}
{{- end }}
""",
    "rabbitmq": """{{- with secret "s4e/data/rabbitmq" -}}
export RABBITMQ_HOST={{ .Data.data.host }}
export RABBITMQ_PORT={{ .Data.data.port }}
export RABBITMQ_USER={{ .Data.data.username | shellQuote }}
export RABBITMQ_PASS={{ .Data.data.password | shellQuote }}
{{- end }}
""",
    "app": """{{- with secret "s4e/data/app" -}}
export SECRET_KEY={{ .Data.data.secret_key | shellQuote }}
export SMTP_PASSWORD={{ .Data.data.smtp_password | shellQuote }}
{{- end }}
""",
}

DYNAMIC_DB_TEMPLATE = """{{- with secret "database/creds/s4e-app" -}}
export DB_HOST={{ env "S4E_DEV_PG_HOST" }}
export DB_PORT={{ env "S4E_DEV_PG_PORT" }}
export DB_NAME=s4e_production
export DB_USER={{ .Data.username }}
export DB_PASS={{ .Data.password | shellQuote }}
{{- end }}
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default="vault", metavar="DIR",
                        help="where secrets, the agent config and AppRole files go "
                             "(default: ./vault)")
    parser.add_argument("--once", action="store_true",
                        help="render once and exit (init mode) instead of running as a sidecar")
    parser.add_argument("--metrics-listen", default="127.0.0.1:9102", metavar="HOST:PORT",
                        help="metrics and health listener of the sidecar (default: "
                             "127.0.0.1:9102; empty disables)")
    parser.add_argument("--no-postgres", action="store_true",
                        help="skip the throwaway PostgreSQL even when its binaries exist")


def agent_config(address: str, base: Path, *, dynamic_db: bool,
                 metrics_listen: str) -> dict[str, Any]:
    """The agent configuration ``dev`` runs (native YAML layout, Vault Agent field names)."""
    templates: list[dict[str, Any]] = [
        {"source": str(base / "templates" / f"{name}.ctmpl"),
         "destination": str(base / "secrets" / name)}
        for name in ENV_TEMPLATES
    ]
    if dynamic_db:
        templates.append({"source": str(base / "templates" / "db-dynamic.ctmpl"),
                          "destination": str(base / "secrets" / "db-dynamic")})
    return {
        "vault": {"address": address},
        "auto_auth": {"method": {"type": "approle", "config": {
            "role_id_file_path": str(base / "approle" / "role-id"),
            "secret_id_file_path": str(base / "approle" / "secret-id"),
            "remove_secret_id_file_after_reading": False}}},
        "template": templates,
        "template_config": {"static_secret_render_interval": "30s"},
        "agent": {"metrics_listen": metrics_listen or ""},
    }


def run(args: argparse.Namespace) -> int:
    import json
    import os

    from s4e_secret_agent.config.model import ConfigSources
    from s4e_secret_agent.runtime.lifecycle import load_and_report, run_init, run_sidecar
    from s4e_secret_agent.tools.bootstrap import (
        AppRoleOptions,
        BootstrapOptions,
        PostgresOptions,
        bootstrap,
    )
    from s4e_secret_agent.tools.devserver import OpenBaoDevServer
    from s4e_secret_agent.vault.client import new_client

    base = Path(args.dir).resolve()
    for sub in ("templates", "secrets", "approle"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(base / "approle", 0o700)

    with contextlib.ExitStack() as stack:
        server = stack.enter_context(OpenBaoDevServer(root_token="s4e-dev-root"))
        _say(f"OpenBao dev server: {server.address} (root token: s4e-dev-root, in memory)")
        postgres = None if args.no_postgres else _start_postgres(stack)
        pg_options = None
        if postgres is not None:
            pg_options = PostgresOptions(postgres.admin_url, postgres.admin_username,
                                         postgres.admin_password)
            os.environ["S4E_DEV_PG_HOST"] = postgres.host
            os.environ["S4E_DEV_PG_PORT"] = str(postgres.port)
            _say(f"PostgreSQL: {postgres.host}:{postgres.port} (throwaway cluster)")
        report = bootstrap(new_client(server.address, server.root_token), BootstrapOptions(
            auth="approle", postgres=pg_options,
            approle=AppRoleOptions(role_id_file=base / "approle" / "role-id",
                                   secret_id_file=base / "approle" / "secret-id")))
        _say(f"bootstrap: {report.summary()}")

        for name, text in ENV_TEMPLATES.items():
            (base / "templates" / f"{name}.ctmpl").write_text(text)
        if postgres is not None:
            (base / "templates" / "db-dynamic.ctmpl").write_text(DYNAMIC_DB_TEMPLATE)
        config_path = base / "agent.yaml"
        config_path.write_text(json.dumps(agent_config(
            server.address, base, dynamic_db=postgres is not None,
            metrics_listen=args.metrics_listen), indent=2) + "\n")
        _say(f"agent config: {config_path}")

        sources = ConfigSources(config_file=str(config_path), environ=dict(os.environ))
        config = load_and_report(sources)
        if args.once:
            run_init(config)
            _print_outputs(config)
            return 0
        _say("running the agent as a sidecar; Ctrl-C stops everything")
        if args.metrics_listen:
            _say(f"metrics: http://{args.metrics_listen}/metrics  health: /healthz /readyz")
        run_sidecar(config, sources, reload_config=lambda: load_and_report(sources),
                    on_ready=lambda: _print_outputs(config))
    return 0


def _start_postgres(stack: contextlib.ExitStack) -> Any:
    from s4e_secret_agent.tools.devpostgres import PostgresCluster, postgres_available

    if not postgres_available():
        _say("PostgreSQL server binaries not found: skipping dynamic database credentials")
        return None
    return stack.enter_context(PostgresCluster())


def _print_outputs(config: Any) -> None:
    for tmpl in config.templates:
        _say(f"rendered {tmpl.destination}")


def _say(text: str) -> None:
    print(f"s4e-secret-agent dev: {text}", file=sys.stderr, flush=True)
