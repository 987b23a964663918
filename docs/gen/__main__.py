"""``python -m docs.gen``: regenerate every generated documentation page.

``python -m docs.gen --check`` writes nothing and exits 1 when a page is stale.
"""

from __future__ import annotations

import sys

from docs.gen import cli_reference, compatibility, troubleshooting
from docs.gen.markers import DOCS


def main(argv: list[str]) -> int:
    import importlib.util

    from s4e_secret_agent.config import reference
    from s4e_secret_agent.telemetry.metrics import metrics_reference_markdown

    check = "--check" in argv
    changed = [*cli_reference.update(write=not check),
               *troubleshooting.update(write=not check),
               *compatibility.update(write=not check)]
    configuration = DOCS / "configuration.md"
    text = configuration.read_text(encoding="utf-8")
    if reference.update(text) != text:
        if not check:
            configuration.write_text(reference.update(text), encoding="utf-8")
        changed.append("configuration.md (reference)")
    # The metrics page has its own generator script next to the pages.
    spec = importlib.util.spec_from_file_location(
        "gen_metrics_reference", DOCS / "gen_metrics_reference.py")
    if spec is None or spec.loader is None:
        return 1
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if check:
        metrics = (DOCS / "metrics.md").read_text(encoding="utf-8")
        committed = metrics.split(module.BEGIN, 1)[-1].split(module.END, 1)[0]
        if committed != metrics_reference_markdown():
            changed.append("metrics.md (reference)")
    elif module.main() != 0:
        return 1
    for name in changed:
        print(f"{'stale' if check else 'updated'}: docs/{name}")
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
