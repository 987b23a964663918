"""``s4e-secret-agent init``: log in, render every template once, write the files, exit 0.

Exit codes: 0 done; 3 configuration invalid; 4 login refused; 5 a secret is denied or missing;
6 a template or a file write failed; 7 Vault stayed unreachable past the deadline.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    from s4e_secret_agent.config.cli_options import add_config_options

    add_config_options(parser)


def run(args: argparse.Namespace) -> int:
    from s4e_secret_agent.commands._common import load_for_run
    from s4e_secret_agent.runtime.lifecycle import run_init

    config, _ = load_for_run(args)
    run_init(config)
    return 0
