"""``s4e-secret-agent dev`` (not implemented yet)."""

from __future__ import annotations

import argparse

from s4e_secret_agent.errors import UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    del parser


def run(args: argparse.Namespace) -> int:
    del args
    raise UsageError("this command is not available in this build yet")
