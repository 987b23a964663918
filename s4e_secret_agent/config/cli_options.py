"""Command-line options for configuration sources, shared by init, sidecar, doctor and
``config check``. Only argparse here: commands import the loader inside ``run``."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import Any

from s4e_secret_agent.config.model import ConfigSources

# option dest -> raw-tree path (see ConfigSources.flags)
FLAG_PATHS: dict[str, str] = {
    "vault_addr": "vault.address",
    "ca_cert": "vault.ca_cert",
    "namespace": "vault.namespace",
    "auth_method": "auto_auth.method.type",
    "auth_path": "auto_auth.method.mount_path",
    "role": "auto_auth.method.config.role",
    "deadline": "agent.deadline",
    "metrics_listen": "agent.metrics_listen",
    "exit_after_auth": "exit_after_auth",
    "log_level": "agent.log_level",  # options added to every command by cli.py
    "log_format": "agent.log_format",
}


def add_config_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("configuration")
    group.add_argument("--config", metavar="PATH", action="append", default=None,
                       help="config file (native YAML or Vault Agent HCL/JSON) or directory of "
                            ".hcl/.json files; repeat to merge several as Vault Agent does "
                            "(env S4E_CONFIG, comma-separated)")
    group.add_argument("--annotations", metavar="FILE", default=None,
                       help="downward-API file of pod annotations in Vault Agent Injector "
                            "format (env S4E_ANNOTATIONS)")
    group.add_argument("--vault-addr", metavar="URL", default=None,
                       help="Vault address (env VAULT_ADDR)")
    group.add_argument("--ca-cert", metavar="FILE", default=None,
                       help="CA certificate for Vault's TLS (env VAULT_CACERT)")
    group.add_argument("--namespace", metavar="NS", default=None,
                       help="Vault namespace (env VAULT_NAMESPACE)")
    group.add_argument("--auth-method", default=None,
                       choices=["kubernetes", "approle", "jwt", "token_file", "token"],
                       help="auth method type (default: kubernetes)")
    group.add_argument("--auth-path", metavar="PATH", default=None,
                       help="auth method mount path (default: auth/<method>)")
    group.add_argument("--role", default=None, help="role to log in with")
    group.add_argument("--deadline", metavar="DURATION", default=None,
                       help="init: give up after this long, e.g. 5m (env S4E_DEADLINE)")
    group.add_argument("--metrics-listen", metavar="HOST:PORT", default=None,
                       help="metrics/health listener; empty disables (env S4E_METRICS_LISTEN)")
    group.add_argument("--exit-after-auth", action="store_const", const=True, default=None,
                       help="render once and exit")


def config_sources_from_args(args: argparse.Namespace,
                             environ: Mapping[str, str] | None = None) -> ConfigSources:
    """The sources named by the options of :func:`add_config_options` and the environment."""
    env = dict(os.environ if environ is None else environ)
    flags: dict[str, Any] = {}
    for dest, path in FLAG_PATHS.items():
        value = getattr(args, dest, None)
        if value is not None:
            flags[path] = value
    given = getattr(args, "config", None)
    if isinstance(given, str):
        given = [given]
    if not given:
        # Like Vault's VAULT_AGENT_CONFIG_PATH: several paths separated by commas.
        given = [part.strip() for part in env.get("S4E_CONFIG", "").split(",")]
    return ConfigSources(
        config_files=tuple(path for path in given if path),
        annotations_file=getattr(args, "annotations", None) or env.get("S4E_ANNOTATIONS")
        or None,
        environ=env,
        flags=flags,
    )
