"""Replace the text between two marker lines of a Markdown page."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[1]


def begin_marker(name: str) -> str:
    return f"<!-- BEGIN GENERATED {name} (python -m docs.gen) -->\n"


def end_marker(name: str) -> str:
    return f"<!-- END GENERATED {name} -->\n"


def generated_section(text: str, name: str) -> str:
    """The committed text between the markers named ``name`` (ValueError if missing)."""
    begin, end = begin_marker(name), end_marker(name)
    if begin not in text or end not in text:
        raise ValueError(f"markers for {name} not found")
    return text.split(begin, 1)[1].split(end, 1)[0]


def replace_section(text: str, name: str, body: str) -> str:
    begin, end = begin_marker(name), end_marker(name)
    if begin not in text or end not in text:
        raise ValueError(f"markers {begin.strip()} / {end.strip()} not found")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + body + end + tail


def update_page(page: str, name: str, body: str, *, write: bool = True) -> bool:
    """Rewrite ``docs/<page>``'s generated section; True when it was (or would be) changed."""
    path = DOCS / page
    text = path.read_text(encoding="utf-8")
    new = replace_section(text, name, body)
    if new == text:
        return False
    if write:
        path.write_text(new, encoding="utf-8")
    return True
