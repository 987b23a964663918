"""``agent.exit_when``: lets a sidecar in a Job finish (a file appears, or the app exits)."""

from __future__ import annotations

import os

from s4e_secret_agent.config.model import ExitWhenConfig


def exit_condition_met(exit_when: ExitWhenConfig) -> bool:
    """True once ``exit_when.file`` exists, or no process named ``exit_when.process`` runs.

    The process check needs a shared process namespace (``shareProcessNamespace: true``).
    """
    if exit_when.file and os.path.exists(exit_when.file):
        return True
    if exit_when.process:
        from s4e_secret_agent.runtime.actions import find_processes

        return not find_processes(exit_when.process)
    return False
