"""Sprig's arithmetic (numeric.go and functions.go): ``add``, ``sub``, ``mul``, ``div``,
``mod``, ``max``, ``min``, the float variants ``addf``..``divf``, ``maxf``, ``minf``,
``ceil``, ``floor``, ``round``, and the sequences ``until``, ``untilStep``, ``seq``.

Templates compute ports, pool sizes and TTLs with these. The integer functions convert every
operand with spf13/cast (``"0x10"`` is 16, ``"1.5"`` is 0, a float truncates) and compute in
int64 with Go's wrap-around, truncating division and its divide-by-zero panic. The float
variants go through shopspring/decimal as Sprig does (exact sums of the shortest decimal
forms, division to 16 places), and ``round`` is Sprig's own rounding, which rounds negative
numbers down.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from s4e_secret_agent.template.funcs.sprig.conversion import (
    to_float64,
    to_int64,
    wrap_int64,
)
from s4e_secret_agent.template.funcs.sprig.panics import INTEGER_DIVIDE_BY_ZERO
from s4e_secret_agent.template.gofmt import format_float
from s4e_secret_agent.template.signature import ANY, INT, FuncError, GoFunc
from s4e_secret_agent.template.values import Int64, IntList

if TYPE_CHECKING:
    from fractions import Fraction

# Lists longer than this are refused (Go would build them; a template never needs to).
MAX_SEQUENCE_LENGTH = 1_000_000


def _add(*values: Any) -> Int64:
    total = 0
    for v in values:
        total = wrap_int64(total + to_int64(v))
    return Int64(total)


def _add1(value: Any) -> Int64:
    return Int64(wrap_int64(to_int64(value) + 1))


def _sub(a: Any, b: Any) -> Int64:
    return Int64(wrap_int64(to_int64(a) - to_int64(b)))


def _mul(a: Any, *rest: Any) -> Int64:
    product = to_int64(a)
    for v in rest:
        product = wrap_int64(product * to_int64(v))
    return Int64(product)


def go_divide(a: int, b: int) -> int:
    """Go's int64 ``/``: truncation toward zero."""
    if b == 0:
        raise FuncError(INTEGER_DIVIDE_BY_ZERO)
    quotient = abs(a) // abs(b)
    return wrap_int64(quotient if (a >= 0) == (b >= 0) else -quotient)


def _div(a: Any, b: Any) -> Int64:
    return Int64(go_divide(to_int64(a), to_int64(b)))


def _mod(a: Any, b: Any) -> Int64:
    x, y = to_int64(a), to_int64(b)
    if y == 0:
        raise FuncError(INTEGER_DIVIDE_BY_ZERO)
    remainder = abs(x) % abs(y)
    return Int64(-remainder if x < 0 else remainder)


def _max(a: Any, *rest: Any) -> Int64:
    best = to_int64(a)
    for v in rest:
        best = max(best, to_int64(v))
    return Int64(best)


def _min(a: Any, *rest: Any) -> Int64:
    best = to_int64(a)
    for v in rest:
        best = min(best, to_int64(v))
    return Int64(best)


def go_max(x: float, y: float) -> float:
    """``math.Max``: NaN wins, +0 beats -0."""
    if (math.isinf(x) and x > 0) or (math.isinf(y) and y > 0):
        return math.inf
    if math.isnan(x) or math.isnan(y):
        return math.nan
    if x == 0 and x == y:
        return y if math.copysign(1, x) < 0 else x
    return x if x > y else y


def go_min(x: float, y: float) -> float:
    """``math.Min``: NaN wins, -0 beats +0."""
    if (math.isinf(x) and x < 0) or (math.isinf(y) and y < 0):
        return -math.inf
    if math.isnan(x) or math.isnan(y):
        return math.nan
    if x == 0 and x == y:
        return x if math.copysign(1, x) < 0 else y
    return x if x < y else y


def _maxf(a: Any, *rest: Any) -> float:
    best = to_float64(a)
    for v in rest:
        best = go_max(best, to_float64(v))
    return best


def _minf(a: Any, *rest: Any) -> float:
    best = to_float64(a)
    for v in rest:
        best = go_min(best, to_float64(v))
    return best


def _decimal(value: Any) -> Fraction:
    """decimal.NewFromFloat(cast.ToFloat64(value)): the float's shortest decimal form."""
    from fractions import Fraction

    f = to_float64(value)
    if math.isnan(f) or math.isinf(f):
        raise FuncError(f"Cannot create a Decimal from {format_float(f)}")
    if f == 0:
        return Fraction(0)
    return Fraction(repr(f))


def _decimal_divide(a: Fraction, b: Fraction) -> Fraction:
    # decimal.Div: 16 decimal places, the last rounded half away from zero.
    from fractions import Fraction

    if b == 0:
        raise FuncError("decimal division by 0")
    scaled = a / b * 10**16
    truncated = math.trunc(scaled)
    if abs(scaled - truncated) * 2 >= 1:
        truncated += 1 if scaled > 0 else -1
    return Fraction(truncated, 10**16)


def _decimal_op(first: Any, rest: tuple[Any, ...], op: str) -> float:
    total = _decimal(first)
    for v in rest:
        operand = _decimal(v)
        if op == "+":
            total += operand
        elif op == "-":
            total -= operand
        elif op == "*":
            total *= operand
        else:
            total = _decimal_divide(total, operand)
    try:
        return float(total)
    except OverflowError:
        return math.inf if total > 0 else -math.inf  # big.Rat's Float64 saturates


def _go_ceil(x: float) -> float:
    if math.isnan(x) or math.isinf(x):
        return x
    return math.copysign(float(math.ceil(x)), x)


def _go_floor(x: float) -> float:
    if math.isnan(x) or math.isinf(x):
        return x
    return math.copysign(float(math.floor(x)), x)


def go_pow10(places: float) -> float:
    """``math.Pow(10, places)`` for a whole number of places, as Go computes it."""
    if places == 0:
        return 1.0
    if places == 1:
        return 10.0
    whole = abs(places)
    if whole >= 1 << 63:
        return 0.0 if places < 0 else math.inf
    a1, ae = 1.0, 0
    x1, xe = math.frexp(10.0)
    i = int(whole)
    while i:
        if xe < -(1 << 12) or xe > 1 << 12:
            ae += xe
            break
        if i & 1:
            a1 *= x1
            ae += xe
        x1 *= x1
        xe <<= 1
        if x1 < 0.5:
            x1 += x1
            xe -= 1
        i >>= 1
    if places < 0:
        a1 = 1 / a1
        ae = -ae
    try:
        return math.ldexp(a1, ae)
    except OverflowError:
        return math.inf


def _round(value: Any, places: int, *round_on: float) -> float:
    threshold = round_on[0] if round_on else 0.5
    x = to_float64(value)
    power = go_pow10(float(places))
    digit = power * x
    fraction = math.fmod(digit, 1.0) if not math.isinf(digit) else math.nan
    rounded = _go_ceil(digit) if fraction >= threshold else _go_floor(digit)
    if power == 0:
        return math.nan if rounded == 0 else math.copysign(math.inf, rounded)
    return rounded / power


def until_step(start: int, stop: int, step: int) -> IntList:
    out = IntList()
    if stop < start:
        if step >= 0:
            return out
        i = start
        while i > stop:
            _append_bounded(out, i)
            i = wrap_int64(i + step)
        return out
    if step <= 0:
        return out
    i = start
    while i < stop:
        _append_bounded(out, i)
        i = wrap_int64(i + step)
    return out


def _append_bounded(out: IntList, value: int) -> None:
    if len(out) >= MAX_SEQUENCE_LENGTH:
        raise FuncError(f"sequence longer than {MAX_SEQUENCE_LENGTH} elements")
    out.append(value)


def _until(count: int) -> IntList:
    return until_step(0, count, -1 if count < 0 else 1)


def _seq(*params: int) -> str:
    if len(params) == 1:
        start, end = 1, params[0]
        step = -1 if end < start else 1
        numbers = until_step(start, wrap_int64(end + step), step)
    elif len(params) == 2:
        start, end = params
        step = -1 if end < start else 1
        numbers = until_step(start, wrap_int64(end + step), step)
    elif len(params) == 3:
        start, step, end = params
        increment = 1
        if end < start:
            increment = -1
            if step > 0:
                return ""
        numbers = until_step(start, wrap_int64(end + increment), step)
    else:
        return ""
    return " ".join(str(n) for n in numbers)


def functions() -> dict[str, GoFunc]:
    table = {
        "add1": GoFunc(_add1, (ANY,)),
        "add": GoFunc(_add, (), ANY),
        "sub": GoFunc(_sub, (ANY, ANY)),
        "div": GoFunc(_div, (ANY, ANY)),
        "mod": GoFunc(_mod, (ANY, ANY)),
        "mul": GoFunc(_mul, (ANY,), ANY),
        "add1f": GoFunc(lambda v: _decimal_op(v, (1,), "+"), (ANY,)),
        "addf": GoFunc(lambda *v: _decimal_op(0.0, v, "+"), (), ANY),
        "subf": GoFunc(lambda a, *v: _decimal_op(a, v, "-"), (ANY,), ANY),
        "divf": GoFunc(lambda a, *v: _decimal_op(a, v, "/"), (ANY,), ANY),
        "mulf": GoFunc(lambda a, *v: _decimal_op(a, v, "*"), (ANY,), ANY),
        "biggest": GoFunc(_max, (ANY,), ANY),
        "max": GoFunc(_max, (ANY,), ANY),
        "min": GoFunc(_min, (ANY,), ANY),
        "maxf": GoFunc(_maxf, (ANY,), ANY),
        "minf": GoFunc(_minf, (ANY,), ANY),
        "ceil": GoFunc(lambda v: _go_ceil(to_float64(v)), (ANY,)),
        "floor": GoFunc(lambda v: _go_floor(to_float64(v)), (ANY,)),
        "round": GoFunc(_round, (ANY, INT), "float64"),
        "until": GoFunc(_until, (INT,)),
        "untilStep": GoFunc(until_step, (INT, INT, INT)),
        "seq": GoFunc(_seq, (), INT),
    }
    return {"sprig_" + name: fn for name, fn in table.items()}
