"""The committed configuration reference matches the model."""

from __future__ import annotations

from pathlib import Path

from s4e_secret_agent.config.reference import BEGIN, END, render_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_reference_section_is_up_to_date() -> None:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(BEGIN)
    end = text.index(END) + len(END) + 1
    assert text[start:end] == render_reference(), (
        "docs/configuration.md is stale: run "
        "python -m s4e_secret_agent.config.reference docs/configuration.md")


def test_reference_names_every_annotation_and_env_var() -> None:
    reference = render_reference()
    for name in ("VAULT_ADDR", "VAULT_SKIP_VERIFY", "S4E_DEADLINE", "auth-min-backoff",
                 "agent-inject-perms-<name>", "template-lease-renewal-threshold"):
        assert name in reference
