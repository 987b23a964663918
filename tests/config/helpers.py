"""Test helpers: write annotation files the way the kubelet does."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

DATA = Path(__file__).parent / "data"

# The KV v2 mount and secret the differential tests (ours against bao agent) render.
DIFF_MOUNT = "hcldiff"
DIFF_SECRET = {"user": "app-user", "pass": "p@ss w'rd\"$x`y`\\z"}

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "\v": "\\v", "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """Like Go's strconv.Quote: printable characters as they are, the rest escaped."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def annotations_text(annotations: Mapping[str, str]) -> str:
    """A downward-API annotations file: sorted ``key="value"`` lines."""
    return "".join(f"{k}={go_quote(v)}\n" for k, v in sorted(annotations.items()))


def write_annotations(path: Path, annotations: Mapping[str, str]) -> str:
    path.write_text(annotations_text(annotations), encoding="utf-8")
    return str(path)


def seed_annotations() -> dict[str, str]:
    """The pod annotations from S4E's values file."""
    values = yaml.safe_load((DATA / "s4e-values.yaml").read_text(encoding="utf-8"))
    return dict(values["core"]["podAnnotations"])
