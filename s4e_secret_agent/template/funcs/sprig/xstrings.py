"""Sprig's case conversions and ``shuffle``, which it takes from huandu/xstrings v1.4.0.

``snakecase``/``kebabcase`` decide where words start (``HTTPServer`` is ``http_server``,
``Bld4Floor`` is ``bld4_floor``) with xstrings' own word scanner, and ``camelcase`` keeps
leading connectors and repeats a trailing one; this module follows that scanner step by step
so a key name built from a secret comes out the same.
"""

from __future__ import annotations

from s4e_secret_agent.template.funcs.sprig.strings import (
    is_space,
    lower_rune,
    runes,
    upper_rune,
)
from s4e_secret_agent.template.signature import STRING, GoFunc

# Word kinds of xstrings' scanner.
_INVALID, _NUMBER, _UPPER, _ALPHABET, _CONNECTOR, _PUNCT, _OTHER = range(7)


def _category(ch: str) -> str:
    import unicodedata

    return unicodedata.category(ch)


def _is_rune_error(ch: str) -> bool:
    # utf8.DecodeRune reports an invalid byte and a real U+FFFD alike.
    return ch == "\ufffd" or 0xDC80 <= ord(ch) <= 0xDCFF


def _is_connector(ch: str) -> bool:
    return ch in "-_" or is_space(ch)


def _is_upper(ch: str) -> bool:
    return _category(ch) == "Lu"


def _is_letter(ch: str) -> bool:
    return _category(ch)[0] == "L"


def _is_alphabet(ch: str) -> bool:
    # A letter that is not a CJK ideograph.
    if not _is_letter(ch):
        return False
    code = ord(ch)
    if code < 0x3400:
        return True
    return not (0x4E00 <= code <= 0x9FCC or 0x3400 <= code <= 0x4D85
                or 0x20000 <= code <= 0x2B81D)


def _is_number(ch: str) -> bool:
    return _category(ch)[0] == "N"


def _is_punct(ch: str) -> bool:
    return _category(ch)[0] == "P"


def _next_valid_rune(s: str, prev: str) -> tuple[str, int]:
    size = 0
    for ch in s:
        size += 1
        if not _is_rune_error(ch):
            return ch, size
    return prev, size


def _next_word(s: str) -> tuple[int, str, str]:
    """(kind, word, remaining) of the first word of ``s``."""
    if not s:
        return _INVALID, "", ""
    r, size = _next_valid_rune(s, "\ufffd")
    offset = size
    if _is_rune_error(r):
        return _INVALID, s[:offset], s[offset:]
    remaining = s[size:]

    def extend(keep: object) -> None:
        nonlocal offset, remaining, r
        while remaining:
            r, step = _next_valid_rune(remaining, r)
            if not keep(r):  # type: ignore[operator]
                break
            offset += step
            remaining = remaining[step:]

    if _is_connector(r):
        kind = _CONNECTOR
        extend(_is_connector)
    elif _is_punct(r):
        kind = _PUNCT
        extend(_is_punct)
    elif _is_upper(r):
        kind = _UPPER
        if remaining:
            r, step = _next_valid_rune(remaining, r)
            if _is_upper(r):
                previous_step = step
                offset += step
                remaining = remaining[step:]
                while remaining:
                    r, step = _next_valid_rune(remaining, r)
                    if not _is_upper(r):
                        break
                    previous_step = step
                    offset += step
                    remaining = remaining[step:]
                # "HTTPStatus" is "HTTP" then "Status": the last capital starts the next word.
                if remaining and _is_alphabet(r):
                    offset -= previous_step
                    remaining = s[offset:]
            elif _is_alphabet(r):
                offset += step
                remaining = remaining[step:]
                extend(lambda ch: _is_alphabet(ch) and not _is_upper(ch))
    elif _is_alphabet(r):
        kind = _ALPHABET
        extend(lambda ch: _is_alphabet(ch) and not _is_upper(ch))
    elif _is_number(r):
        kind = _NUMBER
        extend(_is_number)
    else:
        kind = _OTHER
        extend(lambda ch: not (_is_connector(ch) or _is_alphabet(ch) or _is_number(ch)
                               or _is_punct(ch)))
    return kind, s[:offset], s[offset:]


def _to_lower(out: list[str], kind: int, word: str, connector: str) -> None:
    if kind not in (_UPPER, _CONNECTOR):
        out.append(word)
        return
    for ch in runes(word):
        if _is_connector(ch):
            out.append(connector)
        elif _is_upper(ch):
            out.append(lower_rune(ch))
        else:
            out.append(ch)


def _camel_to_lower(s: str, connector: str) -> str:
    if not s:
        return ""
    out: list[str] = []
    kind, word, remaining = _next_word(s)
    while remaining:
        if kind != _CONNECTOR:
            _to_lower(out, kind, word, connector)
        prev, last = kind, word
        kind, word, remaining = _next_word(remaining)
        if prev == _NUMBER:
            while kind in (_ALPHABET, _NUMBER):
                _to_lower(out, kind, word, connector)
                kind, word, remaining = _next_word(remaining)
            if kind not in (_INVALID, _PUNCT, _CONNECTOR):
                out.append(connector)
        elif prev == _CONNECTOR:
            _to_lower(out, prev, last, connector)
        elif prev == _PUNCT:
            pass
        else:
            if kind != _NUMBER:
                if kind not in (_CONNECTOR, _PUNCT):
                    out.append(connector)
                continue
            if not remaining:
                continue
            number = word
            kind, word, remaining = _next_word(remaining)
            # A number belongs to the word before it ("Bld4Floor" is "bld4_floor") unless
            # lower-case letters follow it ("HTTP2xx" is "http_2xx").
            if kind != _ALPHABET:
                _to_lower(out, _NUMBER, number, connector)
                if kind not in (_CONNECTOR, _PUNCT):
                    out.append(connector)
                continue
            out.append(connector)
            _to_lower(out, _NUMBER, number, connector)
            while kind in (_ALPHABET, _NUMBER):
                _to_lower(out, kind, word, connector)
                kind, word, remaining = _next_word(remaining)
            if kind not in (_INVALID, _CONNECTOR, _PUNCT):
                out.append(connector)
    _to_lower(out, kind, word, connector)
    return "".join(out)


def _to_camel(s: str) -> str:
    if not s:
        return ""
    chars = runes(s)
    out: list[str] = []
    i = 0
    r0 = ""
    while i < len(chars):
        r0 = chars[i]
        i += 1
        if not _is_connector(r0):
            r0 = upper_rune(r0)
            break
        out.append(r0)
    if i == len(chars):
        # xstrings writes the last rune once more when the input is all connectors.
        out.append(r0)
        return "".join(out)
    while i < len(chars):
        r1, r0 = r0, chars[i]
        i += 1
        if _is_connector(r0) and _is_connector(r1):
            out.append(r1)
            continue
        if _is_connector(r1):
            r0 = upper_rune(r0)
        else:
            out.append(r1)
    out.append(r0)
    return "".join(out)


def _shuffle(s: str) -> str:
    import random

    chars = list(runes(s))
    random.SystemRandom().shuffle(chars)
    return "".join(chars)


def functions() -> dict[str, GoFunc]:
    return {
        "sprig_snakecase": GoFunc(lambda s: _camel_to_lower(s, "_"), (STRING,)),
        "sprig_kebabcase": GoFunc(lambda s: _camel_to_lower(s, "-"), (STRING,)),
        "sprig_camelcase": GoFunc(_to_camel, (STRING,)),
        "sprig_shuffle": GoFunc(_shuffle, (STRING,)),
    }
