"""Sprig's string functions (strings.go and the goutils helpers it wraps).

These shape most rendered config files (``trim``, ``quote``, ``indent``, ``replace``...), so
they follow Go to the byte: Go strings are bytes, and ``trunc``, ``substr``, ``abbrev``,
``wrap``, ``initials`` and ``nospace`` count and cut bytes, not characters; out-of-range
``substr`` panics with Go's message; case mapping is rune to rune; invalid UTF-8 becomes
U+FFFD wherever Go converts a string to runes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from s4e_secret_agent.template.funcs.sprig.conversion import strslice, strval
from s4e_secret_agent.template.funcs.sprig.panics import check_slice
from s4e_secret_agent.template.gofmt import format_value, go_quote
from s4e_secret_agent.template.gostrings import GO_SPACE
from s4e_secret_agent.template.signature import ANY, INT, STRING, FuncError, GoFunc
from s4e_secret_agent.template.values import MISSING, StringList, StringMap

# The same bound as the other string builders: a template must not exhaust memory.
MAX_STRING_CHARS = 64 * 1024 * 1024


def as_bytes(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def from_bytes(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def runes(s: str) -> str:
    """Go's ``[]rune(s)``: every byte that is not valid UTF-8 becomes U+FFFD."""
    if s.isascii():
        return s
    return "".join("\ufffd" if 0xDC80 <= ord(ch) <= 0xDCFF else ch for ch in s)


def is_space(ch: str) -> bool:
    """``unicode.IsSpace``."""
    return ch in GO_SPACE


# Go maps case rune to rune with Unicode's simple mappings; Python applies the full ones. Where
# the full mapping has several characters, Go keeps the rune except for these few letters.
def upper_rune(ch: str) -> str:
    mapped = ch.upper()
    if len(mapped) == 1:
        return mapped
    code = ord(ch)
    if 0x1F80 <= code <= 0x1FA7 and code & 0xF < 8:
        return chr(code + 8)
    if code in (0x1FB3, 0x1FC3, 0x1FF3):
        return chr(code + 9)
    return ch


def lower_rune(ch: str) -> str:
    mapped = ch.lower()
    if len(mapped) == 1:
        return mapped
    return "i" if ch == "\u0130" else ch


def title_rune(ch: str) -> str:
    mapped = ch.title()
    return mapped if len(mapped) == 1 else ch


def map_runes(s: str, convert: Callable[[str], str]) -> str:
    """``strings.Map``: invalid UTF-8 comes out as U+FFFD."""
    return "".join(convert(ch) for ch in runes(s))


def go_upper(s: str) -> str:
    return s.upper() if s.isascii() else map_runes(s, upper_rune)


def go_lower(s: str) -> str:
    return s.lower() if s.isascii() else map_runes(s, lower_rune)


def _title(s: str) -> str:
    # strings.Title: a rune following a separator (not a letter, digit or "_") is title-cased.
    import unicodedata

    def separator(ch: str) -> bool:
        if ord(ch) <= 0x7F:
            return not (ch.isalnum() or ch == "_")
        category = unicodedata.category(ch)
        if category[0] == "L" or category == "Nd":
            return False
        return is_space(ch)

    out = []
    previous = " "
    for ch in runes(s):
        out.append(title_rune(ch) if separator(previous) else ch)
        previous = ch
    return "".join(out)


def _untitle(s: str) -> str:
    # goutils.Uncapitalize: lower-case the first rune and every rune after whitespace.
    out = []
    after_space = True
    for ch in runes(s):
        if is_space(ch):
            after_space = True
            out.append(ch)
        elif after_space:
            out.append(lower_rune(ch))
            after_space = False
        else:
            out.append(ch)
    return "".join(out)


def _swapcase(s: str) -> str:
    # goutils.SwapCase: upper/title become lower; lower becomes title after whitespace (or at
    # the start) and upper elsewhere.
    import unicodedata

    out = []
    after_space = True
    for ch in runes(s):
        category = unicodedata.category(ch)
        if category in ("Lu", "Lt"):
            out.append(lower_rune(ch))
            after_space = False
        elif category == "Ll":
            out.append(title_rune(ch) if after_space else upper_rune(ch))
            after_space = False
        else:
            out.append(ch)
            after_space = is_space(ch)
    return "".join(out)


def _trim_space(s: str) -> str:
    return s.strip(GO_SPACE)


def _substr(start: int, end: int, s: str) -> str:
    raw = as_bytes(s)
    if start < 0:
        check_slice(0, end, len(raw))
        return from_bytes(raw[:end])
    if end < 0 or end > len(raw):
        check_slice(start, None, len(raw))
        return from_bytes(raw[start:])
    check_slice(start, end, len(raw))
    return from_bytes(raw[start:end])


def _trunc(count: int, s: str) -> str:
    raw = as_bytes(s)
    if count < 0 and len(raw) + count > 0:
        return from_bytes(raw[len(raw) + count:])
    if count >= 0 and len(raw) > count:
        return from_bytes(raw[:count])
    return s


def go_repeat(s: str, count: int) -> str:
    """``strings.Repeat`` (with this agent's size bound)."""
    if count < 0:
        raise FuncError("strings: negative Repeat count")
    if len(s) * count > MAX_STRING_CHARS:
        raise FuncError("repeat result is too large")
    return s * count


def _repeat(count: int, s: str) -> str:
    return go_repeat(s, count)


def _indent(spaces: int, s: str) -> str:
    pad = go_repeat(" ", spaces)
    if spaces * (s.count("\n") + 1) + len(s) > MAX_STRING_CHARS:
        raise FuncError("indent result is too large")
    return pad + s.replace("\n", "\n" + pad)


def _nindent(spaces: int, s: str) -> str:
    return "\n" + _indent(spaces, s)


def _replace(old: str, new: str, src: str) -> str:
    if old == "" and (len(src) + 1) * len(new) > MAX_STRING_CHARS:
        raise FuncError("replace result is too large")
    return src.replace(old, new)


def _trim_all(cutset: str, s: str) -> str:
    return s.strip(cutset) if cutset else s


def _trim_prefix(prefix: str, s: str) -> str:
    return s[len(prefix):] if prefix and s.startswith(prefix) else s


def _trim_suffix(suffix: str, s: str) -> str:
    return s[:-len(suffix)] if suffix and s.endswith(suffix) else s


def _byte_runes(raw: bytes) -> str:
    # goutils reads a string byte by byte and writes each byte back as the rune of that
    # value: anything outside ASCII comes out re-encoded as Latin-1 characters.
    return "".join(chr(b) for b in raw)


def _nospace(s: str) -> str:
    raw = as_bytes(s)
    kept = [b for b in raw if not is_space(chr(b))]
    if len(kept) == len(raw):
        return s
    return _byte_runes(bytes(kept))


def _initials(s: str) -> str:
    out = []
    gap = True
    for b in as_bytes(s):
        if is_space(chr(b)):
            gap = True
        elif gap:
            out.append(chr(b))
            gap = False
    return "".join(out)


def abbreviate(s: str, offset: int, width: int) -> str:
    """goutils.AbbreviateFull (its errors yield "", as Sprig discards them)."""
    raw = as_bytes(s)
    if not raw:
        return ""
    if width < 4:
        return ""
    if len(raw) <= width:
        return s
    offset = min(offset, len(raw))
    if len(raw) - offset < width - 3:
        offset = len(raw) - (width - 3)
    if offset <= 4:
        return from_bytes(raw[:width - 3]) + "..."
    if width < 7:
        return ""
    if offset + width - 3 < len(raw):
        return "..." + abbreviate(from_bytes(raw[offset:]), 0, width - 3)
    return "..." + from_bytes(raw[len(raw) - (width - 3):])


def _abbrev(width: int, s: str) -> str:
    if width < 4:
        return s
    return abbreviate(s, 0, width)


def _abbrevboth(left: int, right: int, s: str) -> str:
    if right < 4 or (left > 0 and right < 7):
        return s
    return abbreviate(s, left, right)


def wrap_custom(s: str, width: int, newline: str, wrap_long_words: bool) -> str:
    """goutils.WrapCustom, on bytes as goutils does."""
    raw = as_bytes(s)
    if not raw:
        return ""
    sep = as_bytes(newline or "\n")
    width = max(width, 1)
    out = bytearray()
    offset = 0
    length = len(raw)
    while length - offset > width:
        if raw[offset] == 0x20:
            offset += 1
            continue
        end = width + offset + 1
        space = raw.rfind(b" ", offset, end)
        if space >= offset:
            out += raw[offset:space] + sep
            offset = space + 1
        elif wrap_long_words:
            out += raw[offset:width + offset] + sep
            offset += width
        else:
            end = width + offset
            space = raw.find(b" ", end)
            if space == -1:
                out += raw[offset:]
                offset = length
            else:
                out += raw[offset:space] + sep
                offset = space + 1
    out += raw[offset:]
    return from_bytes(bytes(out))


def _quote(*values: Any) -> str:
    return " ".join(go_quote(strval(v)) for v in values if v is not None and v is not MISSING)


def _squote(*values: Any) -> str:
    return " ".join(f"'{format_value(v)}'" for v in values if v is not None and v is not MISSING)


def _cat(*values: Any) -> str:
    return " ".join(format_value(v) for v in values if v is not None and v is not MISSING)


def _plural(one: str, many: str, count: int) -> str:
    return one if count == 1 else many


def _split_parts(s: str, sep: str, n: int = -1) -> list[str]:
    """``strings.SplitN`` (``n`` < 0: all parts)."""
    if n == 0:
        return []
    if sep == "":
        chars = list(s)
        if 0 < n < len(chars):
            return [*chars[:n - 1], "".join(chars[n - 1:])]
        return chars
    return s.split(sep, n - 1) if n > 0 else s.split(sep)


def _split(sep: str, s: str) -> StringMap:
    return StringMap({f"_{i}": part for i, part in enumerate(_split_parts(s, sep))})


def _splitn(sep: str, n: int, s: str) -> StringMap:
    return StringMap({f"_{i}": part for i, part in enumerate(_split_parts(s, sep, n))})


def _split_list(sep: str, s: str) -> StringList:
    return StringList(_split_parts(s, sep))


def _join(sep: str, value: Any) -> str:
    return sep.join(strslice(value))


def functions() -> dict[str, GoFunc]:
    def prefixed(table: dict[str, GoFunc]) -> dict[str, GoFunc]:
        return {"sprig_" + name: fn for name, fn in table.items()}

    return prefixed({
        "hello": GoFunc(lambda: "Hello!", ()),
        "abbrev": GoFunc(_abbrev, (INT, STRING)),
        "abbrevboth": GoFunc(_abbrevboth, (INT, INT, STRING)),
        "trunc": GoFunc(_trunc, (INT, STRING)),
        "trim": GoFunc(_trim_space, (STRING,)),
        "upper": GoFunc(go_upper, (STRING,)),
        "lower": GoFunc(go_lower, (STRING,)),
        "title": GoFunc(_title, (STRING,)),
        "untitle": GoFunc(_untitle, (STRING,)),
        "substr": GoFunc(_substr, (INT, INT, STRING)),
        "repeat": GoFunc(_repeat, (INT, STRING)),
        "trimall": GoFunc(_trim_all, (STRING, STRING)),
        "trimAll": GoFunc(_trim_all, (STRING, STRING)),
        "trimSuffix": GoFunc(_trim_suffix, (STRING, STRING)),
        "trimPrefix": GoFunc(_trim_prefix, (STRING, STRING)),
        "nospace": GoFunc(_nospace, (STRING,)),
        "initials": GoFunc(_initials, (STRING,)),
        "swapcase": GoFunc(_swapcase, (STRING,)),
        "wrap": GoFunc(lambda width, s: wrap_custom(s, width, "", False), (INT, STRING)),
        "wrapWith": GoFunc(lambda width, sep, s: wrap_custom(s, width, sep, True),
                           (INT, STRING, STRING)),
        "contains": GoFunc(lambda sub, s: sub in s, (STRING, STRING)),
        "hasPrefix": GoFunc(lambda prefix, s: s.startswith(prefix), (STRING, STRING)),
        "hasSuffix": GoFunc(lambda suffix, s: s.endswith(suffix), (STRING, STRING)),
        "quote": GoFunc(_quote, (), ANY),
        "squote": GoFunc(_squote, (), ANY),
        "cat": GoFunc(_cat, (), ANY),
        "indent": GoFunc(_indent, (INT, STRING)),
        "nindent": GoFunc(_nindent, (INT, STRING)),
        "replace": GoFunc(_replace, (STRING, STRING, STRING)),
        "plural": GoFunc(_plural, (STRING, STRING, INT)),
        "split": GoFunc(_split, (STRING, STRING)),
        "splitList": GoFunc(_split_list, (STRING, STRING)),
        "splitn": GoFunc(_splitn, (STRING, INT, STRING)),
        "join": GoFunc(_join, (STRING, ANY)),
    })
