"""Shared by the commands that run the agent (init, sidecar, doctor)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from s4e_secret_agent.config.model import AgentConfig, ConfigSources

if TYPE_CHECKING:
    from s4e_secret_agent.config.files import RawLayer


def load_for_run(args: argparse.Namespace, *,
                 annotations: RawLayer | None = None) -> tuple[AgentConfig, ConfigSources]:
    """Load the configuration named by the command line; apply its log settings
    (``annotations``: the pod's annotations, read before)."""
    from s4e_secret_agent.config.cli_options import config_sources_from_args
    from s4e_secret_agent.logs import setup_logging
    from s4e_secret_agent.runtime.lifecycle import load_and_report

    sources = config_sources_from_args(args)
    config = load_and_report(sources, annotations=annotations)
    if args.log_level is None or args.log_format is None:
        setup_logging(level=args.log_level or config.agent.log_level,
                      fmt=args.log_format or config.agent.log_format)
    return config, sources
