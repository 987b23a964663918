"""``python -m docs.gen``: regenerate every generated documentation page."""

from __future__ import annotations

import sys

from docs.gen import cli_reference, troubleshooting
from docs.gen.markers import DOCS


def main() -> int:
    import importlib.util

    from s4e_secret_agent.config import reference

    changed = [*cli_reference.update(), *troubleshooting.update()]
    configuration = DOCS / "configuration.md"
    text = configuration.read_text(encoding="utf-8")
    if reference.update(text) != text:
        configuration.write_text(reference.update(text), encoding="utf-8")
        changed.append("configuration.md (reference)")
    # The metrics page has its own generator script next to the pages.
    spec = importlib.util.spec_from_file_location(
        "gen_metrics_reference", DOCS / "gen_metrics_reference.py")
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if module.main() != 0:
            return 1
    for name in changed:
        print(f"updated docs/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
