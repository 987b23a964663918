"""Go's ``strings`` semantics that Python's ``str`` does not share.

Go strings are bytes and its case mapping is rune to rune; ``strings.TrimSpace`` knows a
different set of spaces than ``str.strip``; ``cases.Title`` follows Unicode word
segmentation. consul-template's and Sprig's functions are thin wrappers around these, so
they live here once, for both.
"""

from __future__ import annotations

from collections.abc import Callable

GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007" \
            "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def trim(s: str, cutset: str) -> str:
    return s.strip(cutset) if cutset else s


def trim_space(s: str) -> str:
    return s.strip(GO_SPACE)


def split(s: str, sep: str) -> list[str]:
    if sep == "":
        return list(s)
    return s.split(sep)


def _per_rune(s: str, convert: Callable[[str], str]) -> str:
    # Go maps rune to rune: no "ß" -> "SS" expansion.
    out = []
    for ch in s:
        mapped = convert(ch)
        out.append(mapped if len(mapped) == 1 else ch)
    return "".join(out)


def to_lower(s: str) -> str:
    return s.lower() if s.isascii() else _per_rune(s, str.lower)


def to_upper(s: str) -> str:
    return s.upper() if s.isascii() else _per_rune(s, str.upper)


def to_title(s: str) -> str:
    """``cases.Title(language.Und, cases.NoLower)``: upper-case the first letter of each word.

    Words follow Unicode word segmentation: "_" joins, and "." "'" ":" join when they sit
    between letters or digits; anything else (space, "-", ...) separates. The first *letter*
    of a word is the one title-cased, so "1st" becomes "1St".
    """
    out = list(s)
    n = len(s)
    i = 0
    while i < n:
        if not _word_char(s[i]):
            i += 1
            continue
        start = i
        while i < n and (_word_char(s[i]) or (
                s[i] in ".'\u2019:" and i + 1 < n and _word_char(s[i + 1]) and i > start)):
            i += 1
        for j in range(start, i):
            if s[j].isalpha():
                titled = s[j].title()
                out[j] = titled if len(titled) == 1 else s[j]
                break
    return "".join(out)


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def as_bytes(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")
