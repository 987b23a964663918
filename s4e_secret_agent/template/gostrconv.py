"""Go's ``strconv`` parsing rules, shared by the executor and the function library.

Templates see numbers the Go way: ``parseInt "0x10"`` is an error, ``1_000`` is a float only
in some places, and the error text is strconv's (``strconv.ParseInt: parsing "x": invalid
syntax``). The executor needs them for a JSON number's ``.Int64``/``.Float64`` methods, the
consul-template and Sprig functions for ``parseInt`` and friends.
"""

from __future__ import annotations

import math
import re

from s4e_secret_agent.template.gofmt import go_quote
from s4e_secret_agent.template.signature import FuncError
from s4e_secret_agent.template.values import Int64, Uint64


def go_parse_int(text: str, base: int, func: str, bits: int = 64) -> Int64:

    ok = re.fullmatch(r"[+-]?[0-9]+", text) is not None
    if not ok:
        raise FuncError(f"strconv.{func}: parsing {go_quote(text)}: invalid syntax")
    value = int(text, base)
    if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        raise FuncError(f"strconv.{func}: parsing {go_quote(text)}: value out of range")
    return Int64(value)


def go_parse_uint(text: str) -> Uint64:

    if re.fullmatch(r"[0-9]+", text) is None:
        raise FuncError(f"strconv.ParseUint: parsing {go_quote(text)}: invalid syntax")
    value = int(text)
    if value >= 1 << 64:
        raise FuncError(f"strconv.ParseUint: parsing {go_quote(text)}: value out of range")
    return Uint64(value)


def go_parse_float(text: str) -> float:

    t = text
    low = t.lower().lstrip("+-")
    if low in ("inf", "infinity"):
        return -math.inf if t.startswith("-") else math.inf
    if low == "nan":
        return math.nan
    dec = r"[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?"
    hexf = (r"[+-]?0[xX](?:_?[0-9a-fA-F])*(?:\.[0-9a-fA-F]*)?(?:[pP][+-]?\d+)")
    if re.fullmatch(dec, t):
        value = float(t.replace("_", ""))
    elif re.fullmatch(hexf, t):
        value = float.fromhex(t.replace("_", ""))
    else:
        raise FuncError(f"strconv.ParseFloat: parsing {go_quote(text)}: invalid syntax")
    if math.isinf(value):
        raise FuncError(f"strconv.ParseFloat: parsing {go_quote(text)}: value out of range")
    return value


def go_parse_bool(text: str) -> bool:
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise FuncError(f"strconv.ParseBool: parsing {go_quote(text)}: invalid syntax")
