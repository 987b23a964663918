"""The compatibility tables of docs/compatibility.md: every Vault Agent config key and every
injector annotation with what this agent does with it, from
:mod:`s4e_secret_agent.config.compatibility` (the table the config loader decides by)."""

from __future__ import annotations

from collections import Counter

from s4e_secret_agent.config.compatibility import (
    ANNOTATIONS,
    CONFIG_KEYS,
    OTHER_AUTH_METHODS,
    Status,
)

PAGE = "compatibility.md"
SECTION = "COMPATIBILITY TABLE"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


def render() -> str:
    counts = Counter(row.status for row in CONFIG_KEYS)
    annotation_counts = Counter(row.status for row in ANNOTATIONS)

    def summary(counter: Counter[Status]) -> str:
        return ", ".join(f"{counter[status]} {status.value}" for status in Status
                         if counter[status])

    rows = [
        f"**Config keys:** {len(CONFIG_KEYS)} ({summary(counts)}). "
        f"**Annotations:** {len(ANNOTATIONS)} ({summary(annotation_counts)}).", "",
        "### Config keys", "",
        "`[]` marks a repeated block. *where* is the module (under `s4e_secret_agent/`) that "
        "implements a supported key.", "",
        "| key | status | what it does here, or why not | where | defined by |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in CONFIG_KEYS:
        path = row.path
        for block in ("template", "auto_auth.sink", "listener", "env_template"):
            if path == block or path.startswith(block + "."):
                path = block + "[]" + path[len(block):]
                break
        reason = row.reason + (f" — instead: {row.hint}" if row.hint and
                               row.status is Status.REFUSED else "")
        rows.append(f"| `{path}` | {row.status.value} | {_cell(reason)} | "
                    f"{f'`{row.where}`' if row.where else ''} | {row.origin} |")
    rows += [
        "", "Auth method types of Vault Agent that are refused by name, with a hint to log in "
        "another way: " + ", ".join(f"`{name}`" for name in OTHER_AUTH_METHODS) + ".", "",
        "### Injector annotations", "",
        "Names without the `vault.hashicorp.com/` prefix; `<name>` is a secret's name.", "",
        "| annotation | status | what it does here, or why not | config key |",
        "| --- | --- | --- | --- |",
    ]
    for annotation in ANNOTATIONS:
        maps = f"`{annotation.maps_to}`" if annotation.maps_to else ""
        rows.append(f"| `{annotation.name}` | {annotation.status.value} | "
                    f"{_cell(annotation.reason)} | {_cell(maps)} |")
    return "\n".join(rows) + "\n"


def update(*, write: bool = True) -> list[str]:
    from docs.gen.markers import update_page

    return [f"{PAGE} ({SECTION})"] if update_page(PAGE, SECTION, render(), write=write) else []
