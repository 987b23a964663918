"""Sprig's encodings: ``b64enc``/``b64dec``, ``b32enc``/``b32dec`` and the JSON functions
(``toJson``, ``toPrettyJson``, ``toRawJson``, ``fromJson`` and their ``must`` variants).

Secrets are often stored base64-encoded and rendered as JSON, so the output is Go's:
``b64dec`` of bad input renders Go's error text *as its result* ("illegal base64 data at
input byte 4"), ``fromJson`` decodes numbers to float64, ``toJson`` escapes ``<``, ``>`` and
``&`` while ``toRawJson`` does not, and a value JSON cannot encode gives ``""`` or Go's error.
"""

from __future__ import annotations

from typing import Any

from s4e_secret_agent.template.signature import ANY, STRING, FuncError, GoFunc

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _bytes(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


class CorruptInput(ValueError):
    """encoding/base64's and base32's CorruptInputError (the offset of the bad byte)."""

    def __init__(self, offset: int, encoding: str = "base64") -> None:
        super().__init__(f"illegal {encoding} data at input byte {offset}")
        self.offset = offset


def base64_decode(data: bytes) -> bytes:
    """``base64.StdEncoding.DecodeString``, quantum by quantum as Go reads it."""
    out = bytearray()
    si = 0
    n = len(data)
    while si < n:
        quantum = [0, 0, 0, 0]
        length = 4
        j = 0
        trailing_error: int | None = None
        while j < 4:
            if si == n:
                if j == 0:
                    return bytes(out)
                raise CorruptInput(si - j)
            ch = data[si]
            si += 1
            index = _B64.find(chr(ch)) if ch < 0x80 else -1
            if index >= 0:
                quantum[j] = index
                j += 1
                continue
            if ch in (0x0A, 0x0D):
                continue
            if ch != 0x3D:
                raise CorruptInput(si - 1)
            # Padding: only after two or three symbols, and nothing but newlines after it.
            if j in (0, 1):
                raise CorruptInput(si - 1)
            if j == 2:
                while si < n and data[si] in (0x0A, 0x0D):
                    si += 1
                if si == n:
                    raise CorruptInput(n)
                if data[si] != 0x3D:
                    raise CorruptInput(si - 1)
                si += 1
            while si < n and data[si] in (0x0A, 0x0D):
                si += 1
            if si < n:
                trailing_error = si
            length = j
            break
        value = quantum[0] << 18 | quantum[1] << 12 | quantum[2] << 6 | quantum[3]
        out += value.to_bytes(3, "big")[:length - 1]
        if trailing_error is not None:
            raise CorruptInput(trailing_error)
    return bytes(out)


def base32_decode(data: bytes) -> bytes:
    """``base32.StdEncoding.DecodeString`` (newlines are dropped first, as Go does)."""
    src = data.replace(b"\r", b"").replace(b"\n", b"")
    total = len(src)
    out = bytearray()
    pos = 0
    end = False
    while pos < total and not end:
        quantum = [0] * 8
        length = 8
        j = 0
        while j < 8:
            if pos == total:
                raise CorruptInput(total - j, "base32")
            ch = src[pos]
            pos += 1
            left = total - pos
            if ch == 0x3D and j >= 2 and left < 8:
                if left + j < 7:
                    raise CorruptInput(total, "base32")
                for k in range(7 - j):
                    if left > k and src[pos + k] != 0x3D:
                        raise CorruptInput(total - left + k - 1, "base32")
                length, end = j, True
                if length in (1, 3, 6):
                    raise CorruptInput(total - left - 1, "base32")
                break
            index = _B32.find(chr(ch)) if ch < 0x80 else -1
            if index < 0:
                raise CorruptInput(total - left - 1, "base32")
            quantum[j] = index
            j += 1
        value = 0
        for symbol in quantum:
            value = value << 5 | symbol
        produced = {8: 5, 7: 4, 5: 3, 4: 2, 2: 1}.get(length, 0)
        out += value.to_bytes(5, "big")[:produced]
    return bytes(out)


def _b64enc(s: str) -> str:
    import base64

    return base64.b64encode(_bytes(s)).decode("ascii")


def _b64dec(s: str) -> str:
    try:
        return _text(base64_decode(_bytes(s)))
    except CorruptInput as exc:
        return str(exc)


def _b32enc(s: str) -> str:
    import base64

    return base64.b32encode(_bytes(s)).decode("ascii")


def _b32dec(s: str) -> str:
    try:
        return _text(base32_decode(_bytes(s)))
    except CorruptInput as exc:
        return str(exc)


def _must_from_json(s: str) -> Any:
    from s4e_secret_agent.template.gojson import JSONError, decode

    try:
        return decode(s, use_number=False)
    except JSONError as exc:
        raise FuncError(str(exc)) from None


def _from_json(s: str) -> Any:
    try:
        return _must_from_json(s)
    except FuncError:
        return None


def _encode(value: Any, *, escape_html: bool, indent: str = "") -> str:
    from s4e_secret_agent.template.gojson import JSONError, encode

    try:
        return encode(value, escape_html=escape_html, indent=indent)
    except JSONError as exc:
        raise FuncError(str(exc)) from None


def _must_to_json(value: Any) -> str:
    return _encode(value, escape_html=True)


def _must_to_pretty_json(value: Any) -> str:
    return _encode(value, escape_html=True, indent="  ")


def _must_to_raw_json(value: Any) -> str:
    return _encode(value, escape_html=False)


def _swallowing(encoder: Any) -> Any:
    def encode(value: Any) -> str:
        try:
            result: str = encoder(value)
        except FuncError:
            return ""
        return result

    return encode


def functions() -> dict[str, GoFunc]:
    return {
        "sprig_b64enc": GoFunc(_b64enc, (STRING,)),
        "sprig_b64dec": GoFunc(_b64dec, (STRING,)),
        "sprig_b32enc": GoFunc(_b32enc, (STRING,)),
        "sprig_b32dec": GoFunc(_b32dec, (STRING,)),
        "sprig_fromJson": GoFunc(_from_json, (STRING,)),
        "sprig_mustFromJson": GoFunc(_must_from_json, (STRING,)),
        "sprig_toJson": GoFunc(_swallowing(_must_to_json), (ANY,)),
        "sprig_mustToJson": GoFunc(_must_to_json, (ANY,)),
        "sprig_toPrettyJson": GoFunc(_swallowing(_must_to_pretty_json), (ANY,)),
        "sprig_mustToPrettyJson": GoFunc(_must_to_pretty_json, (ANY,)),
        # toRawJson panics where toJson swallows the error: the template sees it.
        "sprig_toRawJson": GoFunc(_must_to_raw_json, (ANY,)),
        "sprig_mustToRawJson": GoFunc(_must_to_raw_json, (ANY,)),
    }
