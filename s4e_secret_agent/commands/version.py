"""``s4e-secret-agent version``."""

from __future__ import annotations

import argparse
import platform

from s4e_secret_agent import __version__


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print as JSON")


def run(args: argparse.Namespace) -> int:
    if args.json:
        import json

        print(json.dumps({"version": __version__, "python": platform.python_version()}))
    else:
        print(f"s4e-secret-agent {__version__} (Python {platform.python_version()})")
    return 0
