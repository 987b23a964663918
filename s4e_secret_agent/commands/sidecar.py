"""``s4e-secret-agent sidecar``: render, then keep the token, leases and files fresh.

Stops on SIGTERM/SIGINT (within a second), ``POST /v1/quit`` when enabled, or ``exit_when``.
SIGHUP reads every secret again now.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    from s4e_secret_agent.config.cli_options import add_config_options

    add_config_options(parser)


def run(args: argparse.Namespace) -> int:
    from s4e_secret_agent.commands._common import load_for_run
    from s4e_secret_agent.runtime.lifecycle import load_and_report, run_sidecar

    config, sources = load_for_run(args)
    run_sidecar(config, sources, reload_config=lambda: load_and_report(sources))
    return 0
