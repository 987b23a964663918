"""What the doctor reports: one :class:`Check` per finding, and the report around them.

Operators read the text form on a terminal and scripts read ``--json``; both come from these
values, so a finding and its fix are written once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from s4e_secret_agent.errors import ExitCode

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"


@dataclass(frozen=True)
class Check:
    """One diagnosis line. ``details`` holds names, paths, claims, never secret values."""

    name: str
    status: str  # OK | WARN | FAIL | SKIP
    message: str
    fix: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "message": self.message,
                "fix": self.fix, "details": dict(self.details)}


@dataclass(frozen=True)
class DoctorReport:
    checks: tuple[Check, ...]

    @property
    def failed(self) -> bool:
        return any(c.status == FAIL for c in self.checks)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.DOCTOR_FAILED if self.failed else ExitCode.OK

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for c in self.checks if c.status == s) for s in (OK, WARN, FAIL, SKIP)}

    def as_json(self) -> str:
        return json.dumps([c.as_dict() for c in self.checks], indent=2, default=str) + "\n"

    def as_text(self) -> str:
        lines: list[str] = []
        for check in self.checks:
            lines.append(f"{check.status:<4}  {check.name}: {check.message}")
            if check.fix:
                lines.append(f"      fix: {check.fix}")
            if check.status in (WARN, FAIL):  # the evidence behind a finding; --json has all
                for key, value in check.details.items():
                    lines.append(f"      {key}: {_detail_text(value)}")
        counts = self.counts()
        verdict = ("problems found: fix the FAIL lines above" if self.failed
                   else "no blocking problems")
        lines.append("")
        lines.append(f"doctor: {counts[OK]} ok, {count(counts[WARN], 'warning')}, "
                     f"{counts[FAIL]} failed, {counts[SKIP]} skipped; {verdict}")
        return "\n".join(lines) + "\n"


def _detail_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")
