"""Go's ``time`` package for Sprig's date functions: ``time.Time`` values with a location,
layouts (``2006-01-02T15:04:05Z07:00``) for formatting and parsing, ``time.Duration``.

Certificates, tokens and cache entries carry dates, and templates print them with Go
layouts, so this follows Go's time package closely: nanosecond instants, the layout scanner
(``Jan`` is a month only when no lower-case letter follows, ``.999`` trims zeros), zone
abbreviations from the system's tz database, the "m=+..." monotonic suffix of ``now``,
``ParseDuration``'s grammar and ``Parse``'s error messages. Time zones come from
``zoneinfo``; where a zone is unknown (or the image has no tz data) Sprig falls back to UTC.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from s4e_secret_agent.template.signature import INT, FuncError, GoFunc
from s4e_secret_agent.template.values import GoMethodValue, Int64

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

NANOSECOND = 1
MICROSECOND = 1000
MILLISECOND = 1000 * MICROSECOND
SECOND = 1000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
MAX_DURATION = (1 << 63) - 1
MIN_DURATION = -(1 << 63)

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
# Seconds from 0001-01-01 to 1970-01-01 (Go's zero Time is the former).
ZERO_TIME_UNIX = -62135596800
# The monotonic clock reading of ``now`` counts from the first use of this module.
_MONOTONIC_START: list[int] = []


# ------------------------------------------------------------------------------------------
# locations


@dataclass(frozen=True)
class Location:
    """A ``*time.Location``: a tz database zone, or a fixed offset (``zone`` None)."""

    name: str
    zone: ZoneInfo | None = None
    offset: int = 0

    def lookup(self, unix: int) -> tuple[str, int]:
        """The zone abbreviation and UTC offset (seconds) in effect at ``unix``."""
        if self.zone is None:
            return self.name, self.offset
        import datetime

        # datetime covers years 1..9999; Go extends the outermost rules beyond them.
        unix = max(min(unix, 253402214400), -62135510400)
        naive = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=unix)
        local = self.zone.fromutc(naive.replace(tzinfo=self.zone))
        offset = local.utcoffset()
        return local.tzname() or "", int(offset.total_seconds()) if offset else 0


UTC = Location("UTC")


def _zoneinfo(key: str) -> ZoneInfo | None:
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


@cache
def local_location() -> Location:
    """Go's ``time.Local``: ``$TZ`` if set (empty is UTC), else ``/etc/localtime``."""
    import os

    tz = os.environ.get("TZ")
    if tz is not None:
        key = tz[1:] if tz.startswith(":") else tz
        if key in ("", "UTC"):
            return Location("UTC")
        zone = _zoneinfo(key)
        return Location("Local", zone) if zone is not None else Location("UTC")
    try:
        import zoneinfo

        with open("/etc/localtime", "rb") as f:
            return Location("Local", zoneinfo.ZoneInfo.from_file(f, key="localtime"))
    except (OSError, ValueError):
        return Location("UTC")


def load_location(name: str) -> Location | None:
    """``time.LoadLocation`` (None where Go returns an error)."""
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        return local_location()
    if ".." in name or name[0] in "/\\":
        return None
    zone = _zoneinfo(name)
    return Location(name, zone) if zone is not None else None


# ------------------------------------------------------------------------------------------
# civil dates


def _days_from_civil(year: int, month: int, day: int) -> int:
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (month <= 2), month, day


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if is_leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def date_to_unix(year: int, month: int, day: int, hour: int, minute: int, second: int,
                 nsec: int, loc: Location) -> tuple[int, int]:
    """``time.Date``: (unix seconds, nanoseconds), normalising overflowing fields."""
    month -= 1
    year += month // 12
    month = month % 12 + 1
    second += nsec // SECOND
    nsec %= SECOND
    wall = (_days_from_civil(year, month, 1) + day - 1) * 86400 + hour * 3600 + minute * 60 \
        + second
    _, offset = loc.lookup(wall)
    if offset:
        utc = wall - offset
        _, at_utc = loc.lookup(utc)
        if at_utc != offset:
            offset = at_utc
        wall -= offset
    return wall, nsec


# ------------------------------------------------------------------------------------------
# time.Time


class GoTimeValue(GoMethodValue):
    """A Go ``time.Time``: an instant (unix seconds and nanoseconds) shown in a location."""

    go_type_name = "time.Time"
    go_kind = "struct"

    def __init__(self, sec: int, nsec: int = 0, loc: Location = UTC,
                 mono: int | None = None) -> None:
        self.sec = sec
        self.nsec = nsec
        self.loc = loc
        self.mono = mono

    def clock(self) -> tuple[int, int, int, int, int, int, int, int, str, int]:
        """year, month, day, hour, minute, second, weekday, yday, zone name, offset."""
        name, offset = self.loc.lookup(self.sec)
        local = self.sec + offset
        days, secs = divmod(local, 86400)
        year, month, day = _civil_from_days(days)
        yday = days - _days_from_civil(year, 1, 1) + 1
        return (year, month, day, secs // 3600, secs % 3600 // 60, secs % 60, (days + 4) % 7,
                yday, name, offset)

    def in_location(self, loc: Location) -> GoTimeValue:
        return GoTimeValue(self.sec, self.nsec, loc)  # Go drops the monotonic reading

    def add(self, duration: int) -> GoTimeValue:
        seconds, nsec = divmod(self.nsec + duration, SECOND)
        mono = None if self.mono is None else self.mono + duration
        return GoTimeValue(self.sec + seconds, nsec, self.loc, mono)

    def sub(self, other: GoTimeValue) -> int:
        if self.mono is not None and other.mono is not None:
            return max(MIN_DURATION, min(MAX_DURATION, self.mono - other.mono))
        d = (self.sec - other.sec) * SECOND + self.nsec - other.nsec
        return max(MIN_DURATION, min(MAX_DURATION, d))

    def format(self, layout: str) -> str:
        return format_time(self, layout)

    def go_string(self) -> str:
        text = self.format("2006-01-02 15:04:05.999999999 -0700 MST")
        if self.mono is not None:
            sign = "-" if self.mono < 0 else "+"
            m = abs(self.mono)
            text += f" m={sign}{m // SECOND}.{m % SECOND:09d}"
        return text

    def go_json(self, escape_html: bool) -> str:
        from s4e_secret_agent.template.gojson import JSONError

        year = self.clock()[0]
        if not 0 <= year <= 9999:
            raise JSONError("json: error calling MarshalJSON for type time.Time: "
                            "Time.MarshalJSON: year outside of range [0,9999]")
        return '"' + self.format("2006-01-02T15:04:05.999999999Z07:00") + '"'

    def go_deep_equal(self, other: Any) -> bool:
        return isinstance(other, GoTimeValue) and (self.sec, self.nsec, self.mono, self.loc) \
            == (other.sec, other.nsec, other.mono, other.loc)

    def go_method(self, name: str) -> Any:
        clock = self.clock
        methods: dict[str, GoFunc] = {
            "String": GoFunc(self.go_string, ()),
            "Format": GoFunc(self.format, ("string",)),
            "Unix": GoFunc(lambda: Int64(self.sec), ()),
            "UnixMilli": GoFunc(lambda: Int64(self.sec * 1000 + self.nsec // MILLISECOND), ()),
            "UnixMicro": GoFunc(lambda: Int64(self.sec * 1000000 + self.nsec // MICROSECOND),
                                ()),
            "UnixNano": GoFunc(lambda: Int64(self.sec * SECOND + self.nsec), ()),
            "Year": GoFunc(lambda: clock()[0], ()),
            "Month": GoFunc(lambda: GoEnum("time.Month", clock()[1], _MONTHS[clock()[1] - 1]),
                            ()),
            "Day": GoFunc(lambda: clock()[2], ()),
            "Hour": GoFunc(lambda: clock()[3], ()),
            "Minute": GoFunc(lambda: clock()[4], ()),
            "Second": GoFunc(lambda: clock()[5], ()),
            "Nanosecond": GoFunc(lambda: self.nsec, ()),
            "Weekday": GoFunc(lambda: GoEnum("time.Weekday", clock()[6], _DAYS[clock()[6]]),
                              ()),
            "YearDay": GoFunc(lambda: clock()[7], ()),
            "IsZero": GoFunc(lambda: self.sec == ZERO_TIME_UNIX and self.nsec == 0, ()),
            "UTC": GoFunc(lambda: self.in_location(UTC), ()),
            "Local": GoFunc(lambda: self.in_location(local_location()), ()),
            "AddDate": GoFunc(self._add_date, (INT, INT, INT)),
        }
        return methods.get(name)

    def _add_date(self, years: int, months: int, days: int) -> GoTimeValue:
        year, month, day, hour, minute, second, *_ = self.clock()
        sec, nsec = date_to_unix(year + years, month + months, day + days, hour, minute,
                                 second, self.nsec, self.loc)
        return GoTimeValue(sec, nsec, self.loc)


class GoEnum(GoMethodValue):
    """A named Go integer with a String method (``time.Month``, ``time.Weekday``)."""

    go_kind = "int"

    def __init__(self, type_name: str, value: int, name: str) -> None:
        self.go_type_name = type_name
        self.value = value
        self.name = name

    def go_string(self) -> str:
        return self.name


def now(ctx_now: Any) -> GoTimeValue:
    """``time.Now()`` in the local zone, from the render context's clock."""
    if not _MONOTONIC_START:
        _MONOTONIC_START.append(time.monotonic_ns() - 1)
    mono = time.monotonic_ns() - _MONOTONIC_START[0]
    # The default clock gives nanoseconds; an injected one gives float seconds, which hold
    # microseconds at best.
    ns = time.time_ns() if ctx_now is time.time else round(ctx_now() * 1e6) * MICROSECOND
    sec, nsec = divmod(ns, SECOND)
    return GoTimeValue(sec, nsec, local_location(), mono)


def zero_time() -> GoTimeValue:
    return GoTimeValue(ZERO_TIME_UNIX, 0, UTC)


# ------------------------------------------------------------------------------------------
# layouts


def _next_chunk(layout: str) -> tuple[str, str, str, int]:
    """Go's nextStdChunk: (literal prefix, element, rest, fraction digits)."""
    n = len(layout)
    i = 0
    while i < n:
        c = layout[i]
        if c == "J" and layout.startswith("Jan", i):
            if layout.startswith("January", i):
                return layout[:i], "January", layout[i + 7:], 0
            if not _starts_lower(layout[i + 3:]):
                return layout[:i], "Jan", layout[i + 3:], 0
        elif c == "M" and i + 3 <= n:
            if layout.startswith("Mon", i):
                if layout.startswith("Monday", i):
                    return layout[:i], "Monday", layout[i + 6:], 0
                if not _starts_lower(layout[i + 3:]):
                    return layout[:i], "Mon", layout[i + 3:], 0
            if layout.startswith("MST", i):
                return layout[:i], "MST", layout[i + 3:], 0
        elif c == "0":
            if i + 1 < n and "1" <= layout[i + 1] <= "6":
                return layout[:i], layout[i:i + 2], layout[i + 2:], 0
            if layout.startswith("002", i):
                return layout[:i], "002", layout[i + 3:], 0
        elif c == "1":
            if layout.startswith("15", i):
                return layout[:i], "15", layout[i + 2:], 0
            return layout[:i], "1", layout[i + 1:], 0
        elif c == "2":
            if layout.startswith("2006", i):
                return layout[:i], "2006", layout[i + 4:], 0
            return layout[:i], "2", layout[i + 1:], 0
        elif c == "_":
            if i + 1 < n and layout[i + 1] == "2":
                if layout.startswith("2006", i + 1):
                    return layout[:i + 1], "2006", layout[i + 5:], 0
                return layout[:i], "_2", layout[i + 2:], 0
            if layout.startswith("__2", i):
                return layout[:i], "__2", layout[i + 3:], 0
        elif c in "345":
            return layout[:i], c, layout[i + 1:], 0
        elif c == "P" and layout.startswith("PM", i):
            return layout[:i], "PM", layout[i + 2:], 0
        elif c == "p" and layout.startswith("pm", i):
            return layout[:i], "pm", layout[i + 2:], 0
        elif c in "-Z":
            for token in ("070000", "07:00:00", "0700", "07:00", "07"):
                if layout.startswith(c + token, i):
                    return layout[:i], c + token, layout[i + 1 + len(token):], 0
        elif c in ".," and i + 1 < n and layout[i + 1] in "09":
            digit = layout[i + 1]
            j = i + 1
            while j < n and layout[j] == digit:
                j += 1
            if not (j < n and layout[j].isdigit() and layout[j].isascii()):
                return layout[:i], c + digit, layout[j:], j - (i + 1)
        i += 1
    return layout, "", "", 0


def _starts_lower(s: str) -> bool:
    return bool(s) and "a" <= s[0] <= "z"


def _pad(value: int, width: int) -> str:
    sign = "-" if value < 0 else ""
    return sign + str(abs(value)).rjust(width, "0")


def _zone_text(element: str, offset: int, name: str) -> str:
    if element == "MST":
        if name:
            return name
        minutes = int(offset / 60)
        return ("-" if minutes < 0 else "+") + _pad(abs(minutes) // 60, 2) + \
            _pad(abs(minutes) % 60, 2)
    if offset == 0 and element[0] == "Z":
        return "Z"
    body = element[1:]
    minutes = int(offset / 60)
    text = ("-" if minutes < 0 else "+") + _pad(abs(minutes) // 60, 2)
    if body != "07":
        text += (":" if ":" in body else "") + _pad(abs(minutes) % 60, 2)
    if body in ("070000", "07:00:00"):
        text += (":" if ":" in body else "") + _pad(abs(offset) % 60, 2)
    return text


def format_time(t: GoTimeValue, layout: str) -> str:
    """``Time.Format``."""
    year, month, day, hour, minute, second, weekday, yday, name, offset = t.clock()
    out: list[str] = []
    while layout:
        prefix, element, layout, digits = _next_chunk(layout)
        out.append(prefix)
        if not element:
            break
        if element == "06":
            out.append(_pad(year % 100, 2))
        elif element == "2006":
            out.append(_pad(year, 4))
        elif element == "Jan":
            out.append(_MONTHS[month - 1][:3])
        elif element == "January":
            out.append(_MONTHS[month - 1])
        elif element == "1":
            out.append(str(month))
        elif element == "01":
            out.append(_pad(month, 2))
        elif element == "Mon":
            out.append(_DAYS[weekday][:3])
        elif element == "Monday":
            out.append(_DAYS[weekday])
        elif element == "2":
            out.append(str(day))
        elif element == "_2":
            out.append(str(day).rjust(2))
        elif element == "02":
            out.append(_pad(day, 2))
        elif element == "__2":
            out.append(str(yday).rjust(3))
        elif element == "002":
            out.append(_pad(yday, 3))
        elif element == "15":
            out.append(_pad(hour, 2))
        elif element in ("3", "03"):
            hour12 = hour % 12 or 12
            out.append(str(hour12) if element == "3" else _pad(hour12, 2))
        elif element == "4":
            out.append(str(minute))
        elif element == "04":
            out.append(_pad(minute, 2))
        elif element == "5":
            out.append(str(second))
        elif element == "05":
            out.append(_pad(second, 2))
        elif element == "PM":
            out.append("PM" if hour >= 12 else "AM")
        elif element == "pm":
            out.append("pm" if hour >= 12 else "am")
        elif element[0] in "-Z" or element == "MST":
            out.append(_zone_text(element, offset, name))
        else:
            out.append(_fraction(t.nsec, element, digits))
    return "".join(out)


def _fraction(nsec: int, element: str, digits: int) -> str:
    separator, kind = element[0], element[1]
    if kind == "9" and (digits == 0 or nsec == 0):
        return ""
    text = f"{nsec:09d}"[:min(digits, 9)]
    if kind == "9":
        text = text.rstrip("0")
        if not text:
            return ""
    return separator + text


# ------------------------------------------------------------------------------------------
# parsing


def time_quote(s: str) -> str:
    """The time package's own quoting: non-ASCII and control bytes as \\x escapes."""
    out = ['"']
    for ch in s:
        code = ord(ch)
        if code >= 0x80 or code < 0x20:
            for b in ch.encode("utf-8", "surrogateescape"):
                out.append(f"\\x{b:02x}")
        else:
            if ch in '"\\':
                out.append("\\")
            out.append(ch)
    out.append('"')
    return "".join(out)


class TimeParseError(ValueError):
    pass


def _parse_error(layout: str, value: str, layout_elem: str, value_elem: str,
                 message: str = "") -> TimeParseError:
    if message:
        return TimeParseError(f"parsing time {time_quote(value)}{message}")
    return TimeParseError(f"parsing time {time_quote(value)} as {time_quote(layout)}: cannot "
                          f"parse {time_quote(value_elem)} as {time_quote(layout_elem)}")


class _Bad(Exception):
    pass


def _is_digit(s: str, i: int) -> bool:
    return i < len(s) and "0" <= s[i] <= "9"


def _getnum(s: str, fixed: bool) -> tuple[int, str]:
    if not _is_digit(s, 0):
        raise _Bad
    if not _is_digit(s, 1):
        if fixed:
            raise _Bad
        return int(s[0]), s[1:]
    return int(s[:2]), s[2:]


def _getnum3(s: str, fixed: bool) -> tuple[int, str]:
    n = 0
    i = 0
    while i < 3 and _is_digit(s, i):
        n = n * 10 + int(s[i])
        i += 1
    if i == 0 or (fixed and i != 3):
        raise _Bad
    return n, s[i:]


def _lookup(names: tuple[str, ...], value: str, short: bool) -> tuple[int, str]:
    for index, full in enumerate(names):
        name = full[:3] if short else full
        if len(value) >= len(name) and value[:len(name)].lower() == name.lower():
            return index, value[len(name):]
    raise _Bad


def _skip(value: str, prefix: str) -> str:
    """Match the literal ``prefix``; on a mismatch _SkipError holds what was left of value."""
    while prefix:
        if prefix[0] == " ":
            if value and value[0] != " ":
                raise _SkipError(value)
            prefix = prefix.lstrip(" ")
            value = value.lstrip(" ")
            continue
        if not value or value[0] != prefix[0]:
            raise _SkipError(value)
        prefix, value = prefix[1:], value[1:]
    return value


class _SkipError(Exception):
    def __init__(self, rest: str) -> None:
        super().__init__(rest)
        self.rest = rest


def _atoi(s: str) -> int:
    body = s[1:] if s[:1] in ("+", "-") else s
    if not all("0" <= ch <= "9" for ch in body):
        raise _Bad
    if not body:
        return 0  # Go's leadingInt accepts no digits at all
    value = int(body)
    if value > 1 << 63:
        raise _Bad
    return -value if s[:1] == "-" else value


def _parse_nanoseconds(value: str, nbytes: int) -> int:
    if value[0] not in ".,":
        raise _Bad
    if nbytes > 10:
        value, nbytes = value[:10], 10
    ns = _atoi(value[1:nbytes])
    return int(ns * 10 ** (10 - nbytes))


def _parse_signed_offset(value: str) -> int:
    if value[0] not in "+-":
        return 0
    i = 1
    while i < len(value) and "0" <= value[i] <= "9":
        i += 1
    if i == 1 or int(value[1:i]) > 12:
        return 0
    return i


def _parse_zone_name(value: str) -> int:
    """Go's parseTimeZone: the length of a zone abbreviation at the start of value, or 0."""
    if len(value) < 3:
        return 0
    if value[:4] in ("ChST", "MeST"):
        return 4
    if value[:3] == "GMT":
        return 3 + (_parse_signed_offset(value[3:]) if len(value) > 3 else 0)
    if value[0] in "+-":
        return _parse_signed_offset(value)
    upper = 0
    while upper < 6 and upper < len(value) and "A" <= value[upper] <= "Z":
        upper += 1
    if upper == 5 and value[4] == "T":
        return 5
    if upper == 4 and (value[3] == "T" or value[:4] == "WITA"):
        return 4
    return 3 if upper == 3 else 0


def parse_time(layout: str, value: str, local: Location) -> GoTimeValue:
    """``time.ParseInLocation(layout, value, local)``; raises TimeParseError."""
    original_layout, original_value = layout, value
    am = pm = False
    year, month, day, yday, hour, minute, sec, nsec = 0, -1, -1, -1, 0, 0, 0, 0
    zone: Location | None = None
    zone_offset = -1
    zone_name = ""
    while True:
        prefix, element, suffix, digits = _next_chunk(layout)
        element_text = layout[len(prefix):len(layout) - len(suffix)]
        try:
            value = _skip(value, prefix)
        except _SkipError as exc:
            raise _parse_error(original_layout, original_value, prefix, exc.rest) from None
        if not element:
            if value:
                raise _parse_error(original_layout, original_value, "", value,
                                   ": extra text: " + time_quote(value))
            break
        layout = suffix
        hold = value
        range_error = ""
        try:
            if element == "06":
                if len(value) < 2:
                    raise _Bad
                year = _atoi(value[:2])
                value = value[2:]
                year += 1900 if year >= 69 else 2000
            elif element == "2006":
                if len(value) < 4 or not _is_digit(value, 0):
                    raise _Bad
                year = _atoi(value[:4])
                value = value[4:]
            elif element in ("Jan", "January"):
                month, value = _lookup(_MONTHS, value, element == "Jan")
                month += 1
            elif element in ("1", "01"):
                month, value = _getnum(value, element == "01")
                if not 0 < month <= 12:
                    range_error = "month"
            elif element in ("Mon", "Monday"):
                _, value = _lookup(_DAYS, value, element == "Mon")
            elif element in ("2", "_2", "02"):
                if element == "_2" and value[:1] == " ":
                    value = value[1:]
                day, value = _getnum(value, element == "02")
            elif element in ("__2", "002"):
                for _ in range(2):
                    if element == "__2" and value[:1] == " ":
                        value = value[1:]
                yday, value = _getnum3(value, element == "002")
            elif element == "15":
                hour, value = _getnum(value, False)
                if not 0 <= hour < 24:
                    range_error = "hour"
            elif element in ("3", "03"):
                hour, value = _getnum(value, element == "03")
                if not 0 <= hour <= 12:
                    range_error = "hour"
            elif element in ("4", "04"):
                minute, value = _getnum(value, element == "04")
                if not 0 <= minute < 60:
                    range_error = "minute"
            elif element in ("5", "05"):
                sec, value = _getnum(value, element == "05")
                if not 0 <= sec < 60:
                    range_error = "second"
                elif len(value) >= 2 and value[0] in ".," and _is_digit(value, 1):
                    following = _next_chunk(layout)[1]
                    if not (following[:1] in ".," and following[1:] in ("0", "9")):
                        n = 2
                        while _is_digit(value, n):
                            n += 1
                        nsec = _parse_nanoseconds(value, n)
                        value = value[n:]
            elif element in ("PM", "pm"):
                if len(value) < 2:
                    raise _Bad
                marker, value = value[:2], value[2:]
                if marker == ("PM" if element == "PM" else "pm"):
                    pm = True
                elif marker == ("AM" if element == "PM" else "am"):
                    am = True
                else:
                    raise _Bad
            elif element[0] in "-Z":
                if element[0] == "Z" and value[:1] == "Z":
                    value = value[1:]
                    zone = UTC
                else:
                    zone_offset, value, range_error = _parse_offset(element[1:], value)
            elif element == "MST":
                if value[:3] == "UTC":
                    zone = UTC
                    value = value[3:]
                else:
                    length = _parse_zone_name(value)
                    if not length:
                        raise _Bad
                    zone_name, value = value[:length], value[length:]
            elif element[1] == "0":
                if len(value) < 1 + digits:
                    raise _Bad
                nsec = _parse_nanoseconds(value, 1 + digits)
                value = value[1 + digits:]
            elif len(value) >= 2 and value[0] in ".," and _is_digit(value, 1):
                i = 0
                while _is_digit(value, i + 1):
                    i += 1
                nsec = _parse_nanoseconds(value, 1 + i)
                value = value[1 + i:]
        except _Bad:
            raise _parse_error(original_layout, original_value, element_text, hold) from None
        if range_error:
            raise _parse_error(original_layout, original_value, element_text, value,
                               f": {range_error} out of range")
    if pm and hour < 12:
        hour += 12
    elif am and hour == 12:
        hour = 0
    if yday >= 0:
        month, day = _from_year_day(year, yday, month, day, original_value, value)
    else:
        month = 1 if month < 0 else month
        day = 1 if day < 0 else day
    if day < 1 or day > days_in(month, year):
        raise TimeParseError(f"parsing time {time_quote(original_value)}: day out of range")
    if zone is not None:
        return GoTimeValue(*date_to_unix(year, month, day, hour, minute, sec, nsec, zone), zone)
    if zone_offset != -1:
        unix, ns = date_to_unix(year, month, day, hour, minute, sec, nsec, UTC)
        unix -= zone_offset
        name, offset = local.lookup(unix)
        if offset == zone_offset and (zone_name == "" or name == zone_name):
            return GoTimeValue(unix, ns, local)
        return GoTimeValue(unix, ns, Location(zone_name, None, zone_offset))
    if zone_name:
        unix, ns = date_to_unix(year, month, day, hour, minute, sec, nsec, UTC)
        name, offset = local.lookup(unix - local.lookup(unix)[1])
        if name == zone_name:
            return GoTimeValue(unix - offset, ns, local)
        offset = 0
        if len(zone_name) > 3 and zone_name[:3] == "GMT":
            offset = _atoi(zone_name[3:]) * 3600
        return GoTimeValue(unix, ns, Location(zone_name, None, offset))
    return GoTimeValue(*date_to_unix(year, month, day, hour, minute, sec, nsec, local), local)


def _parse_offset(kind: str, value: str) -> tuple[int, str, str]:
    if kind == "07:00":
        if len(value) < 6 or value[3] != ":":
            raise _Bad
        sign, hh, mm, ss, value = value[0], value[1:3], value[4:6], "00", value[6:]
    elif kind == "07":
        if len(value) < 3:
            raise _Bad
        sign, hh, mm, ss, value = value[0], value[1:3], "00", "00", value[3:]
    elif kind == "07:00:00":
        if len(value) < 9 or value[3] != ":" or value[6] != ":":
            raise _Bad
        sign, hh, mm, ss, value = value[0], value[1:3], value[4:6], value[7:9], value[9:]
    elif kind == "070000":
        if len(value) < 7:
            raise _Bad
        sign, hh, mm, ss, value = value[0], value[1:3], value[3:5], value[5:7], value[7:]
    else:
        if len(value) < 5:
            raise _Bad
        sign, hh, mm, ss, value = value[0], value[1:3], value[3:5], "00", value[5:]
    hours = _getnum(hh, True)[0]
    minutes = _getnum(mm, True)[0]
    seconds = _getnum(ss, True)[0]
    range_error = ""
    if hours > 24:
        range_error = "time zone offset hour"
    if minutes > 60:
        range_error = "time zone offset minute"
    if seconds > 60:
        range_error = "time zone offset second"
    offset = (hours * 60 + minutes) * 60 + seconds
    if sign == "-":
        offset = -offset
    elif sign != "+" and not range_error:  # Go reports a range error first
        raise _Bad
    return offset, value, range_error


def _from_year_day(year: int, yday: int, month: int, day: int, original: str,
                   rest: str) -> tuple[int, int]:
    m = d = 0
    if is_leap(year):
        if yday == 31 + 29:
            m, d = 2, 29
        elif yday > 31 + 29:
            yday -= 1
    if yday < 1 or yday > 365:
        raise TimeParseError(f"parsing time {time_quote(original)}: day-of-year out of range")
    if m == 0:
        cumulative = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365)
        m = (yday - 1) // 31 + 1
        if cumulative[m] < yday:
            m += 1
        d = yday - cumulative[m - 1]
    if month >= 0 and month != m:
        raise TimeParseError(f"parsing time {time_quote(original)}: day-of-year does not "
                             "match month")
    if day >= 0 and day != d:
        raise TimeParseError(f"parsing time {time_quote(original)}: day-of-year does not "
                             "match day")
    del rest
    return m, d


# ------------------------------------------------------------------------------------------
# durations


def format_duration(d: int) -> str:
    """``Duration.String``."""
    neg = d < 0
    u = -d if neg else d
    if u < SECOND:
        if u == 0:
            return "0s"
        if u < MICROSECOND:
            text = f"{u}ns"
        elif u < MILLISECOND:
            text = _frac(u, 3) + "µs"
        else:
            text = _frac(u, 6) + "ms"
    else:
        seconds, frac = divmod(u, SECOND)
        text = _frac(frac + (seconds % 60) * SECOND, 9) + "s"
        minutes = seconds // 60
        if minutes:
            text = f"{minutes % 60}m" + text
            if minutes // 60:
                text = f"{minutes // 60}h" + text
    return ("-" if neg else "") + text


def _frac(value: int, precision: int) -> str:
    whole, frac = divmod(value, 10 ** precision)
    digits = f"{frac:0{precision}d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


_UNITS = {"ns": NANOSECOND, "us": MICROSECOND, "µs": MICROSECOND, "μs": MICROSECOND,
          "ms": MILLISECOND, "s": SECOND, "m": MINUTE, "h": HOUR}


def parse_duration(text: str) -> int:
    """``time.ParseDuration``; raises FuncError with Go's message."""
    original = text
    invalid = FuncError("time: invalid duration " + time_quote(original))
    neg = False
    if text and text[0] in "+-":
        neg = text[0] == "-"
        text = text[1:]
    if text == "0":
        return 0
    if text == "":
        raise invalid
    total = 0
    while text:
        if not (text[0] == "." or "0" <= text[0] <= "9"):
            raise invalid
        i = 0
        whole = 0
        while i < len(text) and "0" <= text[i] <= "9":
            whole = whole * 10 + int(text[i])
            if whole > 1 << 63:
                raise invalid
            i += 1
        before = i > 0
        text = text[i:]
        frac, scale, after = 0, 1.0, False
        if text.startswith("."):
            text = text[1:]
            i = 0
            overflow = False
            while i < len(text) and "0" <= text[i] <= "9":
                if not overflow:
                    candidate = frac * 10 + int(text[i])
                    if frac > ((1 << 63) - 1) // 10 or candidate > 1 << 63:
                        overflow = True
                    else:
                        frac = candidate
                        scale *= 10
                i += 1
            after = i > 0
            text = text[i:]
        if not before and not after:
            raise invalid
        i = 0
        while i < len(text) and not (text[i] == "." or "0" <= text[i] <= "9"):
            i += 1
        if i == 0:
            raise FuncError("time: missing unit in duration " + time_quote(original))
        unit_text, text = text[:i], text[i:]
        unit = _UNITS.get(unit_text)
        if unit is None:
            raise FuncError(f"time: unknown unit {time_quote(unit_text)} in duration "
                            f"{time_quote(original)}")
        if whole > (1 << 63) // unit:
            raise invalid
        whole *= unit
        if frac > 0:
            whole += int(float(frac) * (float(unit) / scale))
            if whole > 1 << 63:
                raise invalid
        total += whole
        if total > 1 << 63:
            raise invalid
    if neg:
        return -total
    if total > MAX_DURATION:
        raise invalid
    return total


def round_duration(d: int, m: int) -> int:
    """``Duration.Round``."""
    if m <= 0:
        return d
    r = abs(d) % m
    if d < 0:
        if r + r < m:
            return d + r
        d1 = d - m + r
        return d1 if d1 >= MIN_DURATION else MIN_DURATION
    if r + r < m:
        return d - r
    d1 = d + m - r
    return d1 if d1 <= MAX_DURATION else MAX_DURATION
