"""Fuzz tests (hypothesis). ``S4E_FUZZ_SCALE=20`` runs twenty times more examples per test."""

import os


def examples(default: int) -> int:
    """Examples per property: the suite's default, scaled by ``S4E_FUZZ_SCALE`` for long runs."""
    return max(1, int(default * float(os.environ.get("S4E_FUZZ_SCALE", "1"))))
