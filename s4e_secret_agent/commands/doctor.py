"""``s4e-secret-agent doctor``: check configuration, Vault connectivity, login and secret access,
one line per check with OK / WARN / FAIL / SKIP and the fix for every failure.

Exit codes: 0 nothing failed (warnings allowed); 8 at least one check failed.
"""

from __future__ import annotations

import argparse
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    from s4e_secret_agent.config.cli_options import add_config_options

    add_config_options(parser)
    group = parser.add_argument_group("doctor")
    group.add_argument("--json", action="store_true",
                       help="print the checks as a JSON list of {name, status, message, fix, "
                            "details}")
    group.add_argument("--timeout", metavar="SECONDS", type=float, default=10.0,
                       help="timeout of each connection and Vault request (default: 10)")


def run(args: argparse.Namespace) -> int:
    from s4e_secret_agent.config.cli_options import config_sources_from_args
    from s4e_secret_agent.logs import setup_logging
    from s4e_secret_agent.tools.doctor import diagnose

    # Every finding is in the report; the client's own log lines would only repeat them.
    if args.log_level is None:
        setup_logging(level="error", fmt=args.log_format)
    report = diagnose(config_sources_from_args(args), timeout=max(0.1, args.timeout))
    sys.stdout.write(report.as_json() if args.json else report.as_text())
    sys.stdout.flush()
    return int(report.exit_code)
