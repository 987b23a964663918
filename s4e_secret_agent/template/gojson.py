"""JSON the way Go's ``encoding/json`` reads and writes it.

Reading: with ``use_number`` (how Vault's client decodes responses) every number stays a
:class:`Number` holding its exact text; without it (consul-template's ``parseJSON``) numbers are
float64. Writing: sorted map keys, Go's float format, HTML escaping of ``<``, ``>``, ``&``
(unless disabled), ``MarshalIndent``'s layout.
"""

from __future__ import annotations

import json
import math
from typing import Any

from s4e_secret_agent.template.gofmt import format_json_float, sort_keys
from s4e_secret_agent.template.values import (
    MISSING,
    GoMethodValue,
    GoStruct,
    GoTime,
    NilList,
    NilMap,
    NilPointer,
    NilStringList,
    NilStringMap,
    Number,
)


class JSONError(ValueError):
    """Invalid JSON input, or a value JSON cannot represent."""


def _reject_constant(name: str) -> Any:
    raise JSONError(f"invalid character '{name[0]}' looking for beginning of value")


def decode(text: str, *, use_number: bool = True) -> Any:
    """Decode ``text``; numbers are :class:`Number` (``use_number``) or ``float``."""
    number: Any = Number if use_number else _go_float
    try:
        return json.loads(text, parse_float=number, parse_int=number,
                          parse_constant=_reject_constant)
    except JSONError:
        raise
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()):
            raise JSONError("unexpected end of JSON input") from None
        ch = text[exc.pos]
        what = "looking for beginning of value"
        if exc.msg.startswith("Extra data"):
            what = "after top-level value"
        elif exc.msg.startswith("Expecting ',' delimiter") or exc.msg.startswith(
                "Expecting ':' delimiter"):
            what = "after object key" if "':'" in exc.msg else "after object key:value pair"
        elif exc.msg.startswith("Expecting property name"):
            what = "looking for beginning of object key string"
        raise JSONError(f"invalid character {_go_char(ch)} {what}") from None
    except RecursionError:
        raise JSONError("exceeded max depth") from None


def _go_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise JSONError(f"json: cannot unmarshal number {text} into Go value of type float64")
    return value


def _go_char(ch: str) -> str:
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    if ch.isprintable():
        return f"'{ch}'"
    return f"'\\x{ord(ch):02x}'" if ord(ch) < 0x80 else f"'{ch}'"


def decode_json(text: str | bytes) -> Any:
    """Public helper: a Vault response body as the template engine's Go-semantic values."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return decode(text, use_number=True)


# --------------------------------------------------------------------------------------------
# encoding

_HEX = "0123456789abcdef"


def encode_string(text: str, escape_html: bool) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20:
            if ch == "\n":
                out.append("\\n")
            elif ch == "\r":
                out.append("\\r")
            elif ch == "\t":
                out.append("\\t")
            elif ch == "\b":
                out.append("\\b")
            elif ch == "\f":
                out.append("\\f")
            else:
                out.append("\\u00" + _HEX[code >> 4] + _HEX[code & 15])
        elif escape_html and ch in "<>&":
            out.append("\\u00" + _HEX[code >> 4] + _HEX[code & 15])
        elif ch in "\u2028\u2029":
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            # Bytes that are not UTF-8: the Go agent writes U+FFFD itself, not an escape.
            out.append("\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def encode(value: Any, *, escape_html: bool = True, indent: str = "") -> str:
    """``json.Marshal`` / ``MarshalIndent(v, "", indent)``."""
    parts: list[str] = []
    _encode(value, parts, escape_html, indent, 0)
    return "".join(parts)


def _encode(value: Any, out: list[str], esc: bool, indent: str, level: int) -> None:
    if value is None or value is MISSING or isinstance(
            value, (NilPointer, NilList, NilMap, NilStringList, NilStringMap)):
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            from s4e_secret_agent.template.gofmt import format_float

            raise JSONError(f"json: unsupported value: {format_float(value)}")
        out.append(format_json_float(value))
    elif isinstance(value, str):
        out.append(encode_string(value, esc))
    elif isinstance(value, Number):
        text = value.text or "0"
        try:
            json.loads(text)
        except ValueError:
            raise JSONError(f"json: invalid number literal {encode_string(text, False)}"
                            ) from None
        out.append(text)
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            if indent:
                out.append("\n" + indent * (level + 1))
            _encode(item, out, esc, indent, level + 1)
        if indent:
            out.append("\n" + indent * level)
        out.append("]")
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        out.append("{")
        for i, key in enumerate(sort_keys(value)):
            if i:
                out.append(",")
            if indent:
                out.append("\n" + indent * (level + 1))
            out.append(encode_string(str(key), esc))
            out.append(": " if indent else ":")
            _encode(value[key], out, esc, indent, level + 1)
        if indent:
            out.append("\n" + indent * level)
        out.append("}")
    elif isinstance(value, GoStruct):
        _encode_struct(value, out, esc, indent, level)
    elif isinstance(value, GoTime):
        out.append(encode_string(value.text, esc))
    elif isinstance(value, bytes):
        import base64

        out.append('"' + base64.b64encode(value).decode("ascii") + '"')
    elif isinstance(value, GoMethodValue):
        # A type with its own MarshalJSON (time.Time, *semver.Version) provides go_json.
        marshal = getattr(value, "go_json", None)
        out.append(marshal(esc) if callable(marshal) else "{}")
    else:
        raise JSONError(f"json: unsupported type: {type(value).__name__}")


def _encode_struct(value: GoStruct, out: list[str], esc: bool, indent: str, level: int) -> None:
    fields = value.fields
    if not fields:
        out.append("{}")
        return
    out.append("{")
    for i, (name, item) in enumerate(fields.items()):
        if i:
            out.append(",")
        if indent:
            out.append("\n" + indent * (level + 1))
        out.append(encode_string(name, esc))
        out.append(": " if indent else ":")
        _encode(item, out, esc, indent, level + 1)
    if indent:
        out.append("\n" + indent * level)
    out.append("}")
