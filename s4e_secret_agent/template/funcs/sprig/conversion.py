"""Sprig's type conversions (``int``, ``int64``, ``float64``, ``atoi``, ``toString``,
``toStrings``, ``toDecimal``) and the spf13/cast rules behind its arithmetic.

Secrets arrive as strings and JSON numbers, and templates convert them with these functions,
so the conversions follow spf13/cast v1.5.1 and Go's strconv exactly: ``"0x10"`` is 16,
``"1.0"`` is 1 but ``"1.5"`` and ``"1e3"`` are 0 (an error, which Sprig swallows), a float
converts by truncation, and every failure is a silent zero.
"""

from __future__ import annotations

import math
from typing import Any

from s4e_secret_agent.template.gofmt import format_value
from s4e_secret_agent.template.signature import ANY, STRING, FuncError, GoFunc
from s4e_secret_agent.template.values import (
    MISSING,
    GoMethodValue,
    GoTime,
    Int64,
    Number,
    StringList,
    Uint64,
)

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


class NumError(ValueError):
    """A strconv parse failure; ``clamped`` is what strconv returns along with a range error."""

    def __init__(self, kind: str, clamped: int = 0) -> None:
        super().__init__(kind)
        self.kind = kind
        self.clamped = clamped


def _underscore_ok(text: str) -> bool:
    # Go's rule: an underscore only between digits (a base prefix counts as a digit).
    saw = "^"
    i = 0
    if text[:1] in ("+", "-"):
        text = text[1:]
    hexa = False
    if len(text) >= 2 and text[0] == "0" and text[1].lower() in "box":
        i = 2
        saw = "0"
        hexa = text[1].lower() == "x"
    while i < len(text):
        ch = text[i]
        if ch.isascii() and (ch.isdigit() or (hexa and ch.lower() in "abcdef")):
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
        i += 1
    return saw != "_"


def parse_uint(text: str, base: int, bits: int = 64) -> int:
    """``strconv.ParseUint``; raises :class:`NumError`."""
    if text == "":
        raise NumError("syntax")
    base0 = base == 0
    original = text
    if base == 0:
        base = 10
        if text[0] == "0":
            if len(text) >= 3 and text[1].lower() in "box":
                base = {"b": 2, "o": 8, "x": 16}[text[1].lower()]
                text = text[2:]
            else:
                base = 8
                text = text[1:]
    value = 0
    underscores = False
    for ch in text:
        if ch == "_" and base0:
            underscores = True
            continue
        digit = int(ch, 36) if ch.isascii() and ch.isalnum() else 99
        if digit >= base:
            raise NumError("syntax")
        value = value * base + digit
    if underscores and not _underscore_ok(original):
        raise NumError("syntax")
    if value >= 1 << bits:
        raise NumError("range", (1 << bits) - 1)
    return value


def parse_int(text: str, base: int, bits: int = 64) -> int:
    """``strconv.ParseInt``; raises :class:`NumError` (with strconv's clamped value)."""
    if text == "":
        raise NumError("syntax")
    negative = text[0] == "-"
    digits = text[1:] if text[0] in "+-" else text
    try:
        magnitude = parse_uint(digits, base, bits)
    except NumError as exc:
        if exc.kind != "range":
            raise
        magnitude = 1 << bits
    cutoff = 1 << (bits - 1)
    if not negative and magnitude >= cutoff:
        raise NumError("range", cutoff - 1)
    if negative and magnitude > cutoff:
        raise NumError("range", -cutoff)
    return -magnitude if negative else magnitude


def go_atoi(text: str) -> int:
    """``strconv.Atoi`` with the error dropped (Sprig's ``atoi``): a range error clamps."""
    try:
        return parse_int(text, 10)
    except NumError as exc:
        return exc.clamped


def float_to_int64(value: float) -> int:
    """Go's ``int64(f)`` as amd64 computes it: truncation, and the minimum int64 when the
    value is NaN or out of range."""
    if math.isnan(value) or not -9.223372036854775808e18 <= value < 9.223372036854775808e18:
        return INT64_MIN
    return int(value)


def wrap_int64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _trim_zero_decimal(text: str) -> str:
    # cast drops a trailing ".0", ".00", ... so that "1.0" converts to an integer.
    found_zero = False
    for i in range(len(text), 0, -1):
        ch = text[i - 1]
        if ch == ".":
            if found_zero:
                return text[:i - 1]
        elif ch == "0":
            found_zero = True
        else:
            return text
    return text


def to_int64(value: Any) -> int:
    """``cast.ToInt64`` (errors give 0)."""
    if value is None or value is MISSING:
        return 0
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, Uint64):
        return wrap_int64(int(value))
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float_to_int64(value)
    if isinstance(value, (str, Number)):
        text = value.text if isinstance(value, Number) else value
        try:
            return parse_int(_trim_zero_decimal(text), 0)
        except NumError:
            return 0
    return 0


def to_float64(value: Any) -> float:
    """``cast.ToFloat64`` (errors give 0)."""
    if value is None or value is MISSING:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int):
        return float(int(value))
    if isinstance(value, float):
        return value
    if isinstance(value, (str, Number)):
        from s4e_secret_agent.template.gostrconv import go_parse_float

        try:
            return go_parse_float(value.text if isinstance(value, Number) else value)
        except FuncError:
            return 0.0
    return 0.0


def strval(value: Any) -> str:
    """Sprig's ``strval``: a string as is, a Stringer's ``String()``, anything else ``%v``."""
    if isinstance(value, str):
        return value
    if isinstance(value, Number):
        return value.text
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, GoTime):
        return value.text
    if isinstance(value, GoMethodValue):
        text = getattr(value, "go_string", None)
        if callable(text):
            return str(text())
    return format_value(value)


def strslice(value: Any) -> StringList:
    """Sprig's ``strslice``: a list as strings (nil elements dropped), else a one-item list."""
    if isinstance(value, StringList):
        return value
    if value is None or value is MISSING:
        return StringList()
    if isinstance(value, list):
        return StringList(strval(v) for v in value if v is not None and v is not MISSING)
    if isinstance(value, bytes):
        return StringList(format_value(b) for b in value)
    return StringList([strval(value)])


def _to_decimal(value: Any) -> Int64:
    try:
        return Int64(parse_int(format_value(value), 8))
    except NumError:
        return Int64(0)


def functions() -> dict[str, GoFunc]:
    return {
        "sprig_atoi": GoFunc(go_atoi, (STRING,)),
        "sprig_int": GoFunc(to_int64, (ANY,)),
        "sprig_int64": GoFunc(lambda v: Int64(to_int64(v)), (ANY,)),
        "sprig_float64": GoFunc(to_float64, (ANY,)),
        "sprig_toString": GoFunc(strval, (ANY,)),
        "sprig_toStrings": GoFunc(strslice, (ANY,)),
        "sprig_toDecimal": GoFunc(_to_decimal, (ANY,)),
    }
