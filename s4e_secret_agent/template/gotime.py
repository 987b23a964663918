"""Go's reference-time layouts (``2006-01-02T15:04:05Z07:00``) for ``timestamp``."""

from __future__ import annotations

import datetime

_TOKENS = (
    "January", "Monday", "2006", "-07:00:00", "-070000", "Z07:00:00", "Z070000", "-07:00",
    "Z07:00", "-0700", "Z0700", "Jan", "Mon", "MST", "002", "__2", "_2", "01", "02", "03",
    "04", "05", "06", "-07", "Z07", "15", "PM", "pm", "1", "2", "3", "4", "5",
)


def _offset(moment: datetime.datetime, sep: str, seconds: bool, z: bool, short: bool) -> str:
    off = moment.utcoffset() or datetime.timedelta(0)
    total = int(off.total_seconds())
    if z and total == 0:
        return "Z"
    sign = "-" if total < 0 else "+"
    total = abs(total)
    hh, rem = divmod(total, 3600)
    mm, ss = divmod(rem, 60)
    if short:
        return f"{sign}{hh:02d}"
    text = f"{sign}{hh:02d}{sep}{mm:02d}"
    if seconds:
        text += f"{sep}{ss:02d}"
    return text


def format_go_time(moment: datetime.datetime, layout: str) -> str:
    out: list[str] = []
    i = 0
    n = len(layout)
    while i < n:
        # fractional seconds: .000 / .999 / ,000
        if layout[i] in ".," and i + 1 < n and layout[i + 1] in "09":
            j = i + 1
            digit = layout[j]
            while j < n and layout[j] == digit:
                j += 1
            if not (j < n and layout[j].isdigit()):
                count = j - i - 1
                frac = f"{moment.microsecond:06d}000"[:count]
                if digit == "9":
                    frac = frac.rstrip("0")
                    if frac:
                        out.append(layout[i] + frac)
                else:
                    out.append(layout[i] + frac)
                i = j
                continue
        for tok in _TOKENS:
            if layout.startswith(tok, i):
                out.append(_render(moment, tok))
                i += len(tok)
                break
        else:
            out.append(layout[i])
            i += 1
    return "".join(out)


def _render(m: datetime.datetime, tok: str) -> str:
    hour12 = m.hour % 12 or 12
    table = {
        "January": m.strftime("%B"), "Monday": m.strftime("%A"), "2006": f"{m.year:04d}",
        "Jan": m.strftime("%b"), "Mon": m.strftime("%a"), "MST": m.tzname() or "UTC",
        "002": f"{m.timetuple().tm_yday:03d}", "__2": f"{m.timetuple().tm_yday:3d}",
        "_2": f"{m.day:2d}", "01": f"{m.month:02d}", "02": f"{m.day:02d}",
        "03": f"{hour12:02d}", "04": f"{m.minute:02d}", "05": f"{m.second:02d}",
        "06": f"{m.year % 100:02d}", "15": f"{m.hour:02d}", "PM": "PM" if m.hour >= 12 else "AM",
        "pm": "pm" if m.hour >= 12 else "am", "1": str(m.month), "2": str(m.day),
        "3": str(hour12), "4": str(m.minute), "5": str(m.second),
    }
    if tok in table:
        return table[tok]
    z = tok.startswith("Z")
    body = tok[1:]
    if tok in ("-07", "Z07"):
        return _offset(m, "", False, z, True)
    seconds = body.count("0") + body.count("7") > 4
    sep = ":" if ":" in body else ""
    return _offset(m, sep, seconds, z, False)
