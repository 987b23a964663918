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


def test_migration_table_lists_every_annotation() -> None:
    from s4e_secret_agent.config import annotations

    text = (DOC.parent / "migration.md").read_text(encoding="utf-8")
    named = [*annotations._GLOBAL, *annotations._HANDLED]
    for name in named:
        assert f"`{name}" in text, name
    from s4e_secret_agent.config.compatibility import ANNOTATIONS, Status

    for name in (row.name for row in ANNOTATIONS if row.status is Status.NOT_APPLICABLE):
        prefixes = [name[:i + 1] for i, char in enumerate(name) if char == "-"]
        assert f"`{name}`" in text or any(f"`{p}*`" in text for p in prefixes), name
