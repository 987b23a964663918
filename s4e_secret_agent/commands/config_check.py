"""``s4e-secret-agent config check``: validate the configuration offline and print the plan."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    from s4e_secret_agent.config.cli_options import add_config_options

    add_config_options(parser)
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")


def run(args: argparse.Namespace) -> int:
    import json
    import logging
    import sys

    from s4e_secret_agent.config.cli_options import config_sources_from_args
    from s4e_secret_agent.config.load import load_config
    from s4e_secret_agent.config.plan import plan_dict, plan_text

    loaded = load_config(config_sources_from_args(args))
    log = logging.getLogger("s4e_secret_agent")
    for warning in loaded.warnings:
        log.warning("%s", warning, extra={"event": "config_warning"})
    plan = plan_dict(loaded)
    if args.json:
        sys.stdout.write(json.dumps(plan, indent=2) + "\n")
    else:
        sys.stdout.write(plan_text(plan))
    return 0
