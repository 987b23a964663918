"""Scalar parsers shared by every front end, matching the Go functions Vault and the injector use.

Each parser raises :class:`ValueError` with a short reason; the caller wraps it in a
``ConfigError`` that names the config path.
"""

from __future__ import annotations

import re
import signal as signal_module
from typing import Any

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
                   "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")
_WHOLE_DAYS = re.compile(r"[+-]?\d+d")
# A decimal float as Go's strconv.ParseFloat writes it (the injector reads
# template-lease-renewal-threshold with it): an exponent is allowed.
_DECIMAL_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def parse_duration(value: Any) -> float:
    """Seconds from a duration written the way Vault's ``parseutil.ParseDurationSecond`` reads
    it, which is what Vault Agent uses for its durations and the client for
    ``VAULT_CLIENT_TIMEOUT``: a Go duration ("1h30m", "250ms"), a whole number of days ("7d"),
    a number of seconds (int, float or numeric string), or the empty string for zero.

    Beyond Vault: surrounding spaces are ignored, and a numeric string may have a fraction
    ("1.5", which Vault refuses); every other text Vault refuses is refused. Negative is
    refused (no duration the agent reads may be negative)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m or 1h30m, got a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _duration_text(value)
    else:
        raise ValueError(f"expected a duration like 30s or 5m, got {type(value).__name__}")
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError(f"{value!r} is not a finite duration")
    if seconds < 0:
        raise ValueError(f"{value!r} is negative")
    return seconds


def _duration_text(value: str) -> float:
    text = value.strip()
    if not text:
        return 0.0  # ParseDurationSecond: "" is zero, which Vault Agent reads as "the default"
    if _PLAIN_NUMBER.fullmatch(text):
        return float(text)
    if text.endswith("d"):
        # Vault's one extension of Go's syntax: a whole number of days, alone ("1.5d" and
        # "1d12h" are refused, by Vault too).
        if not _WHOLE_DAYS.fullmatch(text):
            raise ValueError(f"{value!r} is not a duration: days are written as a whole "
                             "number alone (7d), otherwise use hours (36h)")
        return float(text[:-1]) * 86400.0
    sign = 1.0
    if text[0] in "+-":
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    pos = 0
    total = 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 5m, 1h30m, 250ms or 7d)")
    return sign * total


_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_bool(value: Any) -> bool:
    """A boolean as Go's ``strconv.ParseBool`` reads it (plus real booleans)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"{value!r} is not a boolean (use true or false)")


def parse_weak_bool(value: Any) -> bool:
    """A boolean as Vault's ``parseutil.ParseBool`` reads it (mapstructure's weak decoding),
    which Vault Agent's auth methods use for their flags: the empty string is false, a number
    is true when it is not zero, any other string as ``strconv.ParseBool``."""
    if isinstance(value, str) and not value.strip():
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    return parse_bool(value)


def parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise ValueError(f"{value!r} is not an integer")


def parse_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, int | float) or (
            isinstance(value, str) and _DECIMAL_FLOAT.fullmatch(value.strip())):
        result = float(value)
    else:
        raise ValueError(f"{value!r} is not a number")
    if result != result or result in (float("inf"), float("-inf")):
        raise ValueError(f"{value!r} is not a finite number")
    return result


def parse_mode(value: Any) -> int:
    """A file mode. Strings are octal ("0640", "640", "0o640"); integers are read as the octal
    digits they are written with (640 means 0640), since nobody writes modes in decimal."""
    if isinstance(value, bool):
        raise ValueError("expected a file mode like 0640, got a boolean")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
        if text[:2] in ("0o", "0O"):
            text = text[2:]
    else:
        raise ValueError(f"expected a file mode like 0640, got {type(value).__name__}")
    if not re.fullmatch(r"[0-7]{1,4}", text):
        raise ValueError(f"{value!r} is not an octal file mode (use e.g. 0640 or 0400)")
    mode = int(text, 8)
    if mode > 0o7777:
        raise ValueError(f"{value!r} is not a file mode")
    return mode


def parse_file_mode(value: Any) -> int:
    """The mode of a file that holds a secret (``perms``, a token sink's ``mode``): a
    :func:`parse_mode` without the bits that have no business on it. Setuid, setgid and
    sticky make a data file executable-with-privileges or confuse its owner's tools;
    world-writable lets anyone in the pod replace the secret the application reads."""
    mode = parse_mode(value)
    if mode & 0o7000:
        raise ValueError(f"{value!r} sets the setuid, setgid or sticky bit, which a secret file "
                         "must not have (use e.g. 0640 or 0400)")
    if mode & 0o002:
        raise ValueError(f"{value!r} makes the file world-writable: anyone in the pod could "
                         "replace the secret (use e.g. 0640 or 0400)")
    return mode


def parse_owner(value: Any) -> str | int:
    """A user or group: a name, or a numeric id (int or digits)."""
    if isinstance(value, bool):
        raise ValueError("expected a user/group name or id, got a boolean")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is not a valid id")
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip()
        return int(text) if text.isdigit() else text
    raise ValueError("expected a user/group name or id")


def parse_signal(value: Any) -> signal_module.Signals:
    """A signal: ``"SIGHUP"``, ``"hup"``, ``"HUP"``, ``1`` or ``"1"`` -> ``signal.SIGHUP``."""
    if isinstance(value, bool):
        raise ValueError("expected a signal name like SIGHUP, got a boolean")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        try:
            return signal_module.Signals(int(value))
        except ValueError:
            raise ValueError(f"{value} is not a signal number") from None
    if not isinstance(value, str):
        raise ValueError("expected a signal name like SIGHUP")
    name = value.strip().upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name not in signal_module.Signals.__members__ or name.startswith("SIG_"):
        raise ValueError(f"{value!r} is not a signal name (use e.g. SIGHUP, SIGTERM, SIGUSR1)")
    return signal_module.Signals[name]


def command_argv(value: Any) -> tuple[str, ...]:
    """The argv of a template command, with consul-template's rule (``child.CommandPrep``):
    one string (or a one-item list) with more than one word runs through ``sh -c``, so shell
    syntax works; anything else is the argv itself (``a;b`` without spaces is one program).
    """
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items or not all(
            isinstance(item, str) for item in items):
        raise ValueError("expected a command string or a list of strings")
    if not items[0].strip():
        raise ValueError("the command is empty")
    if len(items) == 1 and len(items[0].split()) > 1:
        return ("sh", "-c", items[0])
    return tuple(items)


_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                   "v": "\v", "\\": "\\", '"': '"', "'": "'"}


def go_unquote(text: str) -> str:
    """The value of a Go double-quoted string literal (``strconv.Unquote``), as the kubelet
    writes annotation values into a downward-API file."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError("value is not a double-quoted string")
    body = text[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        char = body[i]
        if char == '"':
            raise ValueError(f"unescaped quote at column {i + 2}")
        if char == "\n":
            raise ValueError(f"raw newline at column {i + 2}")
        if char != "\\":
            out += char.encode("utf-8", "surrogatepass")
            i += 1
            continue
        if i + 1 >= len(body):
            raise ValueError("value ends with a lone backslash")
        kind = body[i + 1]
        if kind in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[kind].encode()
            i += 2
        elif kind in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[kind]
            digits = body[i + 2:i + 2 + width]
            if len(digits) != width or not re.fullmatch(r"[0-9a-fA-F]+", digits):
                raise ValueError(f"bad \\{kind} escape at column {i + 2}")
            number = int(digits, 16)
            if kind == "x":
                out.append(number)
            else:
                if number > 0x10FFFF or 0xD800 <= number < 0xE000:
                    raise ValueError(f"\\{kind}{digits} is not a valid character")
                out += chr(number).encode()
            i += 2 + width
        elif kind in "01234567":
            digits = body[i + 1:i + 4]
            if len(digits) != 3 or not re.fullmatch(r"[0-7]{3}", digits) or int(digits, 8) > 255:
                raise ValueError(f"bad octal escape at column {i + 2}")
            out.append(int(digits, 8))
            i += 4
        else:
            raise ValueError(f"unknown escape \\{kind} at column {i + 2}")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("value is not valid UTF-8") from None


def format_duration(seconds: float, *, coarse: bool = False) -> str:
    """A Go-style duration string for display ("5m", "1h30m", "250ms").

    ``coarse``: whole seconds, and from 10 minutes on whole minutes, for durations measured
    rather than configured (a TTL looked up a second after issue reads 1h, not 59m59s).
    """
    if coarse:
        total = round(abs(seconds))
        if total >= 600:
            total = round(total / 60) * 60
        h, rest_s = divmod(total, 3600)
        m, s = divmod(rest_s, 60)
        return "".join([f"{h}h" if h else "", f"{m}m" if m else "",
                        f"{s}s" if s or total == 0 else ""])
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    parts = []
    whole = int(seconds)
    rest = seconds - whole
    hours, whole = divmod(whole, 3600)
    minutes, secs = divmod(whole, 60)
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if secs or rest:
        parts.append(f"{secs + rest:g}s")
    return "".join(parts)
