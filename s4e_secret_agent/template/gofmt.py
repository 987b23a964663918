"""Go's ``fmt`` rules for printing template values: ``%v`` and the ``printf`` verbs.

Only what templates can reach is implemented: the value kinds listed in ``values.py``.
"""

from __future__ import annotations

import math
from typing import Any

from s4e_secret_agent.template.values import (
    MISSING,
    GoStruct,
    GoTime,
    IntList,
    NilPointer,
    Number,
    StringList,
    StringMap,
    Uint8,
    go_type_name,
)

_QUOTE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                  "\v": "\\v", "\\": "\\\\"}


def _is_go_printable(ch: str) -> bool:
    if ch == " ":
        return True
    return ch.isprintable() and not (0xDC80 <= ord(ch) <= 0xDCFF)


def go_quote(text: str, quote: str = '"', ascii_only: bool = False) -> str:
    """``strconv.Quote`` (``%q``); with ``ascii_only`` it is ``strconv.QuoteToASCII`` (``%+q``)."""
    out = [quote]
    for ch in text:
        code = ord(ch)
        if ch == quote:
            out.append("\\" + ch)
        elif ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ascii_only and code >= 0x80:
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        elif _is_go_printable(ch):
            out.append(ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append(quote)
    return "".join(out)


# --------------------------------------------------------------------------------------------
# floats


def _shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits and the decimal-point position (Go's digs.dp)."""
    text = repr(abs(value))
    if "e" in text:
        mant, exp_s = text.split("e")
        exp = int(exp_s)
    else:
        mant, exp = text, 0
    if "." in mant:
        int_part, frac = mant.split(".")
    else:
        int_part, frac = mant, ""
    digits = (int_part + frac).lstrip("0")
    lead_zeros = len(int_part + frac) - len((int_part + frac).lstrip("0"))
    dp = len(int_part) + exp - lead_zeros
    digits = digits.rstrip("0")
    if not digits:
        return "0", 1
    return digits, dp


def _fmt_e(digits: str, dp: int, prec: int, upper: bool = False) -> str:
    # digits already rounded to the needed precision
    first = digits[0]
    rest = digits[1:]
    if prec >= 0:
        rest = rest.ljust(prec, "0")[:prec]
    exp = dp - 1 if digits != "0" else 0
    sign = "-" if exp < 0 else "+"
    exp_s = f"{abs(exp):02d}"
    body = first + ("." + rest if rest else "")
    return body + ("E" if upper else "e") + sign + exp_s


def _fmt_f(digits: str, dp: int, prec: int) -> str:
    if dp > 0:
        int_part = (digits[:dp]).ljust(dp, "0")
        frac = digits[dp:]
    else:
        int_part = "0"
        frac = "0" * (-dp) + digits
    if prec >= 0:
        frac = frac.ljust(prec, "0")[:prec]
    return int_part + ("." + frac if frac else "")


def _round_digits(value: float, sig: int) -> tuple[str, int]:
    """Digits of |value| rounded to ``sig`` significant digits (exact, half-even like Go)."""
    if value == 0:
        return "0" * max(sig, 1), 1
    text = f"{abs(value):.{max(sig - 1, 0)}e}"
    mant, exp_s = text.split("e")
    digits = mant.replace(".", "")
    return digits, int(exp_s) + 1


def format_float(value: float, fmt: str = "g", prec: int = -1) -> str:
    """``strconv.FormatFloat(value, fmt, prec, 64)``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    neg = math.copysign(1.0, value) < 0
    sign = "-" if neg else ""
    upper = fmt in "EG"
    low = fmt.lower()
    if low == "e":
        if prec < 0:
            digits, dp = _shortest_digits(value)
            return sign + _fmt_e(digits, dp, len(digits) - 1, upper)
        digits, dp = _round_digits(value, prec + 1)
        return sign + _fmt_e(digits, dp, prec, upper)
    if low == "f":
        if prec < 0:
            digits, dp = _shortest_digits(value)
            return sign + _fmt_f(digits, dp, max(len(digits) - dp, 0))
        text = f"{abs(value):.{prec}f}"
        return sign + text
    # 'g' (strconv's rules for choosing %e or %f, and for the precision of each)
    if value == 0:
        digits, dp = "", 0
        nd = 0
    elif prec < 0:
        digits, dp = _shortest_digits(value)
        nd = len(digits)
    else:
        digits, dp = _round_digits(value, prec if prec > 0 else 1)
        digits = digits.rstrip("0")
        nd = len(digits)
    if prec < 0:
        eprec = 6
        prec = nd
    else:
        if prec == 0:
            prec = 1
        eprec = prec
        if eprec > nd and nd >= dp:
            eprec = nd
    exp = dp - 1
    if exp < -4 or exp >= eprec:
        if prec > nd:
            prec = nd
        return sign + _fmt_e(digits or "0", dp if digits else 1, prec - 1, upper)
    if prec > dp:
        prec = nd
    return sign + _fmt_f(digits or "0", dp if digits else 1, max(prec - dp, 0))


def format_json_float(value: float) -> str:
    """encoding/json's float64 encoding."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"json: unsupported value: {format_float(value)}")
    absval = abs(value)
    fmt = "f"
    if absval != 0 and (absval < 1e-6 or absval >= 1e21):
        fmt = "e"
    text = format_float(value, fmt, -1)
    if fmt == "e" and len(text) >= 4 and text[-4] == "e" and text[-3] == "-" and text[-2] == "0":
        text = text[:-2] + text[-1]
    return text


def format_complex(value: complex, fmt: str = "g", prec: int = -1) -> str:
    real = format_float(value.real, fmt, prec)
    imag = format_float(value.imag, fmt, prec)
    if not imag.startswith(("-", "+")):
        imag = "+" + imag
    return f"({real}{imag}i)"


# --------------------------------------------------------------------------------------------
# %v


def format_value(value: Any, plus: bool = False, top: bool = True) -> str:
    """``fmt.Sprint(value)`` (``%v``; ``plus`` is ``%+v``)."""
    if value is None or value is MISSING:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, complex):
        return format_complex(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Number):
        return value.text
    if isinstance(value, list):
        return "[" + " ".join(format_value(v, plus, False) for v in value) + "]"
    if isinstance(value, bytes):
        return "[" + " ".join(str(b) for b in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(
            f"{format_value(k, plus, False)}:{format_value(value[k], plus, False)}"
            for k in sort_keys(value)
        ) + "]"
    if isinstance(value, GoStruct):
        inner = " ".join(
            (f"{name}:" if plus else "") + _struct_field(v, plus)
            for name, v in value.fields.items()
        )
        return ("&" if value.pointer and top else "") + "{" + inner + "}"
    if isinstance(value, NilPointer):
        return "<nil>"
    if isinstance(value, GoTime):
        return value.text
    from s4e_secret_agent.template.values import GoMethodValue

    if isinstance(value, GoMethodValue):
        text = getattr(value, "go_string", None)
        if callable(text):
            return str(text())
        return "{}"
    return str(value)


def _struct_field(value: Any, plus: bool) -> str:
    if isinstance(value, GoStruct) and value.pointer:
        # Go prints the address of a nested non-nil pointer; there is no stable equivalent.
        return "0xc000000000"
    return format_value(value, plus, False)


def sort_keys(mapping: dict[Any, Any]) -> list[Any]:
    """Go's ``fmtsort`` order: strings bytewise, numbers numerically."""
    keys = list(mapping)
    try:
        if all(isinstance(k, str) for k in keys):
            return sorted(keys, key=lambda k: k.encode("utf-8", "surrogateescape"))
        return sorted(keys)
    except TypeError:
        return sorted(keys, key=repr)


# --------------------------------------------------------------------------------------------
# printf


class _Spec:
    __slots__ = ("minus", "plus", "prec", "sharp", "space", "width", "zero")

    def __init__(self) -> None:
        self.minus = self.plus = self.sharp = self.space = self.zero = False
        self.width = -1
        self.prec = -1


def _pad(text: str, spec: _Spec, zero: bool | None = None) -> str:
    """Go's f.pad: pad to the width with spaces (or zeros when the 0 flag applies)."""
    width = spec.width
    if width < 0 or len(text) >= width:
        return text
    fill = width - len(text)
    if spec.minus:
        return text + " " * fill
    use_zero = spec.zero if zero is None else zero
    return ("0" if use_zero else " ") * fill + text


def _fmt_integer(value: int, verb: str, spec: _Spec) -> str:
    if verb == "c":
        return _pad(_rune(value), spec)
    if verb == "q":
        if not 0 <= value <= 0x10FFFF:
            raise _BadVerb
        ch = _rune(value)
        return _pad(go_quote(ch, "'", spec.plus), spec)
    if verb == "U":
        return _fmt_unicode(value, spec)
    bases = {"d": 10, "v": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}
    if verb not in bases:
        raise _BadVerb
    base = bases[verb]
    negative = value < 0
    mag = -value if negative else value
    prec = 0
    if spec.prec >= 0:
        prec = spec.prec
        if prec == 0 and mag == 0:
            return " " * max(spec.width, 0)
    elif spec.zero and not spec.minus and spec.width >= 0:
        prec = spec.width
        if negative or spec.plus or spec.space:
            prec -= 1
    if base == 10:
        body = str(mag)
    elif base == 2:
        body = format(mag, "b")
    elif base == 8:
        body = format(mag, "o")
    else:
        body = format(mag, "x" if verb == "x" else "X")
    if len(body) < prec:
        body = "0" * (prec - len(body)) + body
    if spec.sharp:
        if base == 2:
            body = "0b" + body
        elif base == 8 and not body.startswith("0"):
            body = "0" + body
        elif base == 16:
            body = ("0x" if verb == "x" else "0X") + body
    if verb == "O":
        body = "0o" + body
    if negative:
        body = "-" + body
    elif spec.plus:
        body = "+" + body
    elif spec.space:
        body = " " + body
    return _pad(body, spec, zero=False)


def _fmt_unicode(value: int, spec: _Spec) -> str:
    mag = value % (1 << 64)
    prec = spec.prec if spec.prec > 4 else 4
    digits = format(mag, "X")
    if len(digits) < prec:
        digits = "0" * (prec - len(digits)) + digits
    text = "U+" + digits
    if spec.sharp and mag <= 0x10FFFF and _is_go_printable(chr(mag)) and not (
            0xD800 <= mag <= 0xDFFF):
        text += f" '{chr(mag)}'"
    return _pad(text, spec, zero=False)


def _rune(value: int) -> str:
    if 0 <= value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF:
        return chr(value)
    return "\ufffd"  # utf8.RuneError


def _fmt_float(value: float, verb: str, spec: _Spec, force_plus: bool = False) -> str:
    if verb == "v":
        fmtc, prec = "g", -1
    elif verb in "gG":
        fmtc, prec = verb, -1
    elif verb in "eE":
        fmtc, prec = verb, 6
    elif verb in "fF":
        fmtc, prec = "f", 6
    else:
        raise _BadVerb
    if spec.prec >= 0:
        prec = spec.prec
    plus = spec.plus or force_plus
    num = format_float(value, fmtc, prec)
    if num[0] not in "+-":
        num = "+" + num
    if spec.space and num[0] == "+" and not plus:
        num = " " + num[1:]
    if num[1] in "IN":
        # Infinities and NaN are never zero padded; NaN has no sign unless asked for.
        if num[1] == "N" and not spec.space and not plus:
            num = num[1:]
        return _pad(num, spec, zero=False)
    if spec.sharp:
        digits = 0
        if verb in "vgG":
            digits = prec if prec != -1 else 6
        tail = ""
        body = num
        for i in range(1, len(body)):
            if body[i] in "eE":
                tail = body[i:]
                body = body[:i]
                break
        has_point = "." in body
        saw_nonzero = False
        for ch in body[1:]:
            if ch == ".":
                continue
            if ch != "0":
                saw_nonzero = True
            if saw_nonzero:
                digits -= 1
        if not has_point:
            if len(body) == 2 and body[1] == "0":
                digits -= 1
            body += "."
        if digits > 0:
            body += "0" * digits
        num = body + tail
    if plus or num[0] != "+":
        if spec.zero and not spec.minus and spec.width > len(num):
            return num[0] + "0" * (spec.width - len(num)) + num[1:]
        return _pad(num, spec, zero=False)
    return _pad(num[1:], spec)


def _fmt_string(text: str, verb: str, spec: _Spec) -> str:
    if spec.prec >= 0 and verb in "sqv":
        text = text[:spec.prec]
    if verb in "sv":
        return _pad(text, spec)
    if verb == "q":
        if spec.sharp and "`" not in text and all(_is_go_printable(c) or c == "\t"
                                                 for c in text):
            return _pad("`" + text + "`", spec)
        return _pad(go_quote(text, '"', spec.plus), spec)
    if verb in "xX":
        raw = text.encode("utf-8", "surrogateescape")
        if spec.prec >= 0:
            raw = raw[:spec.prec]
        if not raw:
            return " " * max(spec.width, 0)
        digits = "0123456789abcdef" if verb == "x" else "0123456789ABCDEF"
        prefix = "0x" if verb == "x" else "0X"
        parts = []
        for i, byte in enumerate(raw):
            piece = digits[byte >> 4] + digits[byte & 15]
            if spec.space:
                if spec.sharp:
                    piece = prefix + piece
                if i > 0:
                    piece = " " + piece
            parts.append(piece)
        text = ("" if spec.space or not spec.sharp else prefix) + "".join(parts)
        return _pad(text, spec, zero=False)
    raise _BadVerb


class _BadVerb(Exception):
    pass


def _fmt_arg(value: Any, verb: str, spec: _Spec, plus_v: bool = False) -> str:
    if verb == "T":
        return _pad(go_type_name(value), spec)
    if verb == "v" and spec.sharp:
        return _pad(format_go_syntax(value), spec)
    if value is None or value is MISSING:
        if verb in "vs" or verb not in "tbcdoOqxXUeEfFgGp":
            if verb == "v":
                return _pad("<nil>", spec)
            return f"%!{verb}(<nil>)"
        return f"%!{verb}(<nil>)"
    try:
        if isinstance(value, bool):
            if verb in "tv":
                return _pad("true" if value else "false", spec)
            raise _BadVerb
        if isinstance(value, int):
            if verb in "eEfFgG":
                raise _BadVerb
            return _fmt_integer(int(value), verb, spec)
        if isinstance(value, float):
            return _fmt_float(value, verb, spec)
        if isinstance(value, complex):
            if verb in "veEfFgG":
                real = _fmt_float(value.real, verb, spec)
                imag = _fmt_float(value.imag, verb, spec, force_plus=True)
                return f"({real}{imag}i)"
            raise _BadVerb
        if isinstance(value, str):
            return _fmt_string(value, verb, spec)
        if isinstance(value, Number):
            # json.Number has a String method: the string verbs use it.
            if verb in "vsqxX":
                return _fmt_string(value.text, verb, spec)
            raise _BadVerb
        if isinstance(value, (list, dict)):
            return _fmt_composite(value, verb, spec, plus_v)
        if isinstance(value, (GoStruct, NilPointer, GoTime)):
            if verb in "vs" or isinstance(value, GoStruct):
                return _pad(format_value(value, plus=plus_v), spec)
            raise _BadVerb
        if verb in "vs":
            return _pad(format_value(value), spec)
        raise _BadVerb
    except _BadVerb:
        return bad_verb(verb, value)


def _fmt_composite(value: list[Any] | dict[Any, Any], verb: str, spec: _Spec,
                   plus_v: bool) -> str:
    if isinstance(value, list):
        items = [_fmt_elem(v, verb, spec, plus_v) for v in value]
        return "[" + " ".join(items) + "]"
    parts = []
    for k in sort_keys(value):
        key = _fmt_elem(k, verb, spec, plus_v)
        parts.append(f"{key}:{_fmt_elem(value[k], verb, spec, plus_v)}")
    return "map[" + " ".join(parts) + "]"


def _fmt_elem(value: Any, verb: str, spec: _Spec, plus_v: bool) -> str:
    # A nil element of a []interface{} or map prints as "<nil>" whatever the verb.
    if value is None:
        return _pad("<nil>", spec, zero=False)
    return _fmt_arg(value, verb, spec, plus_v)


def bad_verb(verb: str, value: Any) -> str:
    if value is None or value is MISSING:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type_name(value)}={format_value(value)})"


def format_go_syntax(value: Any) -> str:
    """``%#v`` for the kinds templates see."""
    if value is None or value is MISSING:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Uint8):
        return f"0x{int(value):x}"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, Number):
        return go_quote(value.text)
    if isinstance(value, StringList):
        return "[]string{" + ", ".join(go_quote(v) for v in value) + "}"
    if isinstance(value, IntList):
        return "[]int{" + ", ".join(str(v) for v in value) + "}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(format_go_syntax(v) for v in value) + "}"
    if isinstance(value, StringMap):
        return "map[string]string{" + ", ".join(
            f"{go_quote(k)}:{go_quote(value[k])}" for k in sort_keys(value)) + "}"
    if isinstance(value, dict):
        return "map[string]interface {}{" + ", ".join(
            f"{go_quote(k)}:{format_go_syntax(value[k])}" for k in sort_keys(value)) + "}"
    return format_value(value)


# Go's fmt refuses widths and precisions beyond this (tooLarge).
_TOO_LARGE = 1_000_000


def sprintf(fmt: str, args: list[Any]) -> str:
    """``fmt.Sprintf`` over template values."""
    out: list[str] = []
    argnum = 0
    i = 0
    n = len(fmt)
    reordered = False
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        spec = _Spec()
        # flags
        while i < n:
            c = fmt[i]
            if c == "#":
                spec.sharp = True
            elif c == "0":
                spec.zero = not spec.minus
            elif c == "+":
                spec.plus = True
            elif c == "-":
                spec.minus = True
                spec.zero = False
            elif c == " ":
                spec.space = True
            else:
                break
            i += 1
        # argument index
        if i < n and fmt[i] == "[":
            close = fmt.find("]", i)
            if close > 0 and fmt[i + 1:close].isdigit():
                argnum = int(fmt[i + 1:close]) - 1
                reordered = True
                i = close + 1
        # width
        if i < n and fmt[i] == "*":
            i += 1
            if argnum < len(args) and isinstance(args[argnum], int) and not isinstance(
                    args[argnum], bool) and abs(int(args[argnum])) <= _TOO_LARGE:
                spec.width = int(args[argnum])
                if spec.width < 0:
                    spec.minus = True
                    spec.zero = False
                    spec.width = -spec.width
                argnum += 1
            else:
                out.append("%!(BADWIDTH)")
                argnum += 1
        else:
            start = i
            while i < n and fmt[i].isdigit():
                i += 1
            if i > start:
                spec.width = int(fmt[start:i])
                if spec.width > _TOO_LARGE:
                    spec.width = -1
                    out.append("%!(BADWIDTH)")
        # precision
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                if argnum < len(args) and isinstance(args[argnum], int) and not isinstance(
                        args[argnum], bool) and abs(int(args[argnum])) <= _TOO_LARGE:
                    spec.prec = int(args[argnum])
                    if spec.prec < 0:
                        spec.prec = -1
                    argnum += 1
                else:
                    out.append("%!(BADPREC)")
                    argnum += 1
            else:
                start = i
                while i < n and fmt[i].isdigit():
                    i += 1
                spec.prec = int(fmt[start:i]) if i > start else 0
                if spec.prec > _TOO_LARGE:
                    spec.prec = -1
                    out.append("%!(BADPREC)")
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argnum >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        value = args[argnum]
        argnum += 1
        if verb == "w":
            verb = "v"
        plus_v = False
        if verb == "v" and spec.plus:
            # "%+v" adds field names; it is not a sign flag
            spec.plus = False
            plus_v = True
        out.append(_fmt_arg(value, verb, spec, plus_v))
    if not reordered and argnum < len(args):
        extra = ", ".join(
            "<nil>" if a is None or a is MISSING else f"{go_type_name(a)}={format_value(a)}"
            for a in args[argnum:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def sprint(args: list[Any]) -> str:
    """``fmt.Sprint``: spaces between operands when neither side is a string."""
    out: list[str] = []
    prev_string = False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, (str, Number))  # json.Number is a string kind
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(format_value(arg))
        prev_string = is_string
    return "".join(out)


def sprintln(args: list[Any]) -> str:
    """``fmt.Sprintln``: always spaces, then a newline."""
    return " ".join(format_value(a) for a in args) + "\n"
