"""Regenerate the metric reference table in docs/metrics.md from the code's definitions.

Run from the repository root: ``python docs/gen_metrics_reference.py``. The test suite fails
when the committed table differs from what this would write.
"""

from __future__ import annotations

import sys
from pathlib import Path

from s4e_secret_agent.telemetry.metrics import metrics_reference_markdown

BEGIN = "<!-- BEGIN GENERATED METRICS -->\n"
END = "<!-- END GENERATED METRICS -->"


def main() -> int:
    doc = Path(__file__).resolve().parent / "metrics.md"
    text = doc.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        print(f"{doc}: markers {BEGIN.strip()} / {END} not found", file=sys.stderr)
        return 1
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + BEGIN + metrics_reference_markdown() + END + tail
    if new != text:
        doc.write_text(new, encoding="utf-8")
        print(f"updated {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
