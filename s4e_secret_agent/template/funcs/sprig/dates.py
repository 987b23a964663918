"""Sprig's date functions (date.go): ``now``, ``date``, ``dateInZone``, ``htmlDate``,
``htmlDateInZone``, ``dateModify``, ``toDate``, ``unixEpoch``, ``ago``, ``duration``,
``durationRound`` and their aliases and ``must`` variants.

Templates stamp rendered files and compute expiry dates with them. Sprig accepts only some
Go types and silently uses the current time for anything else: ``date`` takes a
``time.Time`` or an ``int``/``int64``/``int32`` of Unix seconds (a JSON number from Vault
is none of these), ``duration`` takes an ``int64`` or a string (a literal ``90`` is an
``int`` and gives ``0s``). Those rules are kept; the clock is the render context's.
"""

from __future__ import annotations

from typing import Any

from s4e_secret_agent.template.funcs.sprig.timeval import (
    HOUR,
    MINUTE,
    SECOND,
    UTC,
    GoTimeValue,
    TimeParseError,
    format_duration,
    load_location,
    local_location,
    now,
    parse_duration,
    parse_time,
    round_duration,
    zero_time,
)
from s4e_secret_agent.template.signature import ANY, STRING, ExecutionState, FuncError, GoFunc
from s4e_secret_agent.template.values import Int32, Int64

_TIME = "time.Time"


def _as_time(state: ExecutionState, value: Any, *, int32: bool = True) -> GoTimeValue:
    if isinstance(value, GoTimeValue):
        return value
    if isinstance(value, bool):
        return now(state.ctx.now)
    if isinstance(value, Int64) or (type(value) is int) or (int32 and isinstance(value, Int32)):
        return GoTimeValue(int(value), 0, local_location())
    return now(state.ctx.now)


def _date_in_zone(state: ExecutionState, layout: str, value: Any, zone: str) -> str:
    t = _as_time(state, value)
    loc = load_location(zone) or UTC
    return t.in_location(loc).format(layout)


def _date(state: ExecutionState, layout: str, value: Any) -> str:
    return _date_in_zone(state, layout, value, "Local")


def _html_date(state: ExecutionState, value: Any) -> str:
    return _date_in_zone(state, "2006-01-02", value, "Local")


def _html_date_in_zone(state: ExecutionState, value: Any, zone: str) -> str:
    return _date_in_zone(state, "2006-01-02", value, zone)


def _date_modify(modifier: str, t: GoTimeValue) -> GoTimeValue:
    try:
        return t.add(parse_duration(modifier))
    except FuncError:
        return t


def _must_date_modify(modifier: str, t: GoTimeValue) -> GoTimeValue:
    return t.add(parse_duration(modifier))


def _ago(state: ExecutionState, value: Any) -> str:
    t = _as_time(state, value, int32=False)
    elapsed = now(state.ctx.now).sub(t)
    return format_duration(round_duration(elapsed, SECOND))


def _duration(seconds: Any) -> str:
    from s4e_secret_agent.template.funcs.sprig.conversion import NumError, parse_int, wrap_int64

    n = 0
    if isinstance(seconds, str):
        try:
            n = parse_int(seconds, 10)
        except NumError as exc:
            n = exc.clamped
    elif isinstance(seconds, Int64):
        n = int(seconds)
    return format_duration(wrap_int64(n * SECOND))


def _duration_round(state: ExecutionState, value: Any) -> str:
    d = 0
    if isinstance(value, str):
        try:
            d = parse_duration(value)
        except FuncError:
            d = 0
    elif isinstance(value, Int64):
        d = int(value)
    elif isinstance(value, GoTimeValue):
        d = now(state.ctx.now).sub(value)
    u = abs(d) % (1 << 64)
    year, month, day = 365 * 24 * HOUR, 30 * 24 * HOUR, 24 * HOUR
    for size, unit in ((year, "y"), (month, "mo"), (day, "d"), (HOUR, "h"), (MINUTE, "m"),
                       (SECOND, "s")):
        if u > size:
            return f"{u // size}{unit}"
    return "0s"


def _to_date(layout: str, value: str) -> GoTimeValue:
    try:
        return parse_time(layout, value, local_location())
    except TimeParseError:
        return zero_time()


def _must_to_date(layout: str, value: str) -> GoTimeValue:
    try:
        return parse_time(layout, value, local_location())
    except TimeParseError as exc:
        raise FuncError(str(exc)) from None


def _unix_epoch(t: GoTimeValue) -> str:
    return str(t.sec)


def _now(state: ExecutionState) -> GoTimeValue:
    return now(state.ctx.now)


def functions() -> dict[str, GoFunc]:
    date_in_zone = GoFunc(_date_in_zone, (STRING, ANY, STRING), needs_state=True)
    date_modify = GoFunc(_date_modify, (STRING, _TIME))
    must_date_modify = GoFunc(_must_date_modify, (STRING, _TIME))
    table = {
        "ago": GoFunc(_ago, (ANY,), needs_state=True),
        "date": GoFunc(_date, (STRING, ANY), needs_state=True),
        "date_in_zone": date_in_zone,
        "dateInZone": date_in_zone,
        "date_modify": date_modify,
        "dateModify": date_modify,
        "must_date_modify": must_date_modify,
        "mustDateModify": must_date_modify,
        "duration": GoFunc(_duration, (ANY,)),
        "durationRound": GoFunc(_duration_round, (ANY,), needs_state=True),
        "htmlDate": GoFunc(_html_date, (ANY,), needs_state=True),
        "htmlDateInZone": GoFunc(_html_date_in_zone, (ANY, STRING), needs_state=True),
        "mustToDate": GoFunc(_must_to_date, (STRING, STRING)),
        "now": GoFunc(_now, (), needs_state=True),
        "toDate": GoFunc(_to_date, (STRING, STRING)),
        "unixEpoch": GoFunc(_unix_epoch, (_TIME,)),
    }
    return {"sprig_" + name: fn for name, fn in table.items()}
