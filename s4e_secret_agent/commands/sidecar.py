"""``s4e-secret-agent sidecar``: render, then keep the token, leases and files fresh.

Stops on SIGTERM/SIGINT (within a second), ``POST /v1/quit`` when enabled, or ``exit_when``.
SIGHUP reads every secret again (paced like ``POST /v1/refresh``: at most one refresh per
``agent.refresh_min_interval``, a signal too soon waits for the interval's end). A changed
config or template file is reloaded; the pod's annotations are read once, at start, as the
Vault Agent injector reads them at pod creation.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    from s4e_secret_agent.config.cli_options import add_config_options

    add_config_options(parser)


def run(args: argparse.Namespace) -> int:
    from s4e_secret_agent.commands._common import load_for_run
    from s4e_secret_agent.config.cli_options import config_sources_from_args
    from s4e_secret_agent.config.load import read_annotations
    from s4e_secret_agent.runtime.lifecycle import load_and_report, run_sidecar

    # The pod's annotations are read once, here: a reload (a changed config or template file)
    # keeps them, and a change of the annotations themselves is logged and ignored.
    annotations = read_annotations(config_sources_from_args(args))
    config, sources = load_for_run(args, annotations=annotations)
    # In process supervisor mode the app's exit code becomes the agent's.
    return run_sidecar(config, sources,
                       reload_config=lambda: load_and_report(sources, annotations=annotations))
