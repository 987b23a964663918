"""``s4e-secret-agent bootstrap``: configure Vault/OpenBao the way S4E's guide describes.

Prints one line per item (path and what happened, never a value) and a summary. Running it
again changes nothing unless the server or the options changed.
"""

from __future__ import annotations

import argparse
import os


def configure(parser: argparse.ArgumentParser) -> None:
    vault = parser.add_argument_group("Vault")
    vault.add_argument("--address", default=None,
                       help="Vault/OpenBao API address (default: env VAULT_ADDR or BAO_ADDR)")
    vault.add_argument("--token", default=None,
                       help="admin token (default: env VAULT_TOKEN or BAO_TOKEN; prefer the "
                            "environment or --token-file, command lines are visible to others)")
    vault.add_argument("--token-file", default=None, help="read the admin token from this file")
    vault.add_argument("--ca-cert", default=None,
                       help="CA certificate file for Vault's TLS (default: env VAULT_CACERT)")
    vault.add_argument("--namespace", default=None, help="Vault Enterprise namespace")

    secrets = parser.add_argument_group("KV secrets (s4e/database, redis, rabbitmq, app)")
    secrets.add_argument("--set", dest="assignments", action="append", default=[],
                         metavar="SECRET.KEY=VALUE",
                         help="store this value (replaces the stored one); repeatable")
    secrets.add_argument("--values", default=None, metavar="FILE.json",
                         help='values as JSON: {"database": {"password": "..."}, ...}')

    auth = parser.add_argument_group("auth methods")
    auth.add_argument("--auth", choices=("kubernetes", "approle", "both"), default="kubernetes",
                      help="which auth method(s) to configure (default: kubernetes)")
    auth.add_argument("--token-ttl", default="1h", help="TTL of login tokens (default: 1h)")
    auth.add_argument("--kubernetes-host", default=None,
                      help="Kubernetes API URL Vault calls for TokenReview "
                           "(default: https://kubernetes.default.svc:443)")
    auth.add_argument("--kubernetes-ca", default=None, metavar="FILE",
                      help="CA certificate of the Kubernetes API (PEM)")
    auth.add_argument("--kubernetes-reviewer-jwt", default=None, metavar="FILE",
                      help="JWT Vault presents to TokenReview (default: the login JWT itself, "
                           "or Vault's own pod token)")
    auth.add_argument("--kubernetes-disable-local-ca-jwt", action="store_true",
                      help="Vault does not run in a pod: do not use its local service-account "
                           "token and CA")
    auth.add_argument("--kubernetes-audience", default=None,
                      help="audience the role requires in service-account tokens")
    auth.add_argument("--approle-role-id-file", default=None, metavar="FILE",
                      help="write the AppRole role_id here")
    auth.add_argument("--approle-secret-id-file", default=None, metavar="FILE",
                      help="write a secret_id here (kept while still valid)")

    db = parser.add_argument_group("database secrets engine (optional)")
    db.add_argument("--postgres-url", default=None,
                    help="templated connection URL, e.g. postgresql://{{username}}:{{password}}"
                         "@host:5432/s4e_production?sslmode=disable")
    db.add_argument("--postgres-username", default=None, help="admin user Vault connects as")
    db.add_argument("--postgres-password", default=None,
                    help="its password (default: env S4E_POSTGRES_PASSWORD)")
    db.add_argument("--postgres-password-file", default=None, metavar="FILE",
                    help="read the admin password from this file")
    db.add_argument("--db-default-ttl", default="1h",
                    help="default TTL of database credentials (default: 1h)")
    db.add_argument("--db-max-ttl", default="24h",
                    help="max TTL of database credentials (default: 24h)")

    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _read_text(path: str, what: str) -> str:
    from s4e_secret_agent.errors import UsageError

    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise UsageError(f"cannot read {what} file {path}: {exc.strerror}") from None


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from s4e_secret_agent.errors import UsageError
    from s4e_secret_agent.tools import bootstrap as bs
    from s4e_secret_agent.vault.client import new_client

    address = args.address or _env("VAULT_ADDR", "BAO_ADDR")
    if not address:
        raise UsageError("no Vault address", hint="pass --address or set VAULT_ADDR")
    if args.token_file:
        token: str | None = _read_text(args.token_file, "token").strip()
    else:
        token = args.token or _env("VAULT_TOKEN", "BAO_TOKEN")
    if not token:
        raise UsageError("no Vault token", hint="set VAULT_TOKEN or pass --token-file")

    values: dict[str, dict[str, str]] = {}
    if args.values:
        try:
            loaded = json.loads(_read_text(args.values, "values"))
        except json.JSONDecodeError as exc:
            raise UsageError(f"{args.values}:{exc.lineno}:{exc.colno}: not valid JSON") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"{args.values}: expected a JSON object of secrets")
        values = bs.merge_values(loaded)
    values = bs.merge_values(values, bs.parse_assignments(args.assignments))

    postgres = None
    if args.postgres_url:
        password = args.postgres_password or _env("S4E_POSTGRES_PASSWORD")
        if args.postgres_password_file:
            password = _read_text(args.postgres_password_file, "PostgreSQL password").strip()
        if not args.postgres_username or not password:
            raise UsageError("--postgres-url needs --postgres-username and a password",
                             hint="pass --postgres-password-file or set S4E_POSTGRES_PASSWORD")
        postgres = bs.PostgresOptions(args.postgres_url, args.postgres_username, password,
                                      default_ttl=args.db_default_ttl, max_ttl=args.db_max_ttl)

    kubernetes = bs.KubernetesOptions(
        host=args.kubernetes_host or bs.K8S_DEFAULT_HOST,
        ca_cert_pem=_read_text(args.kubernetes_ca, "Kubernetes CA") if args.kubernetes_ca
        else None,
        token_reviewer_jwt=_read_text(args.kubernetes_reviewer_jwt, "reviewer JWT").strip()
        if args.kubernetes_reviewer_jwt else None,
        disable_local_ca_jwt=args.kubernetes_disable_local_ca_jwt,
        audience=args.kubernetes_audience,
    )
    options = bs.BootstrapOptions(
        auth=args.auth,
        kubernetes=kubernetes,
        approle=bs.AppRoleOptions(
            role_id_file=Path(args.approle_role_id_file) if args.approle_role_id_file else None,
            secret_id_file=Path(args.approle_secret_id_file) if args.approle_secret_id_file
            else None),
        postgres=postgres,
        values=values,
        token_ttl=args.token_ttl,
    )
    client = new_client(address, token, ca_cert=args.ca_cert or _env("VAULT_CACERT"),
                        namespace=args.namespace)
    report = bs.bootstrap(client, options)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for change in report.changes:
            print(change)
        print(f"bootstrap of {address}: {report.summary()}")
    return 0
