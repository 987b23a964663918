"""The ``sprig_*`` functions consul-template exposes (Sprig's hermetic text functions).

Only the commonly used subset is implemented (see docs/templates.md for the list); every other
``sprig_*`` name still parses and fails with a clear error when called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from s4e_secret_agent.template.gofmt import format_value
from s4e_secret_agent.template.signature import ANY, INT, MAP, STRING, FuncError, GoFunc
from s4e_secret_agent.template.values import MISSING, Number, StringList, is_true


def _strval(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, Number):
        return v.text
    if v is None or v is MISSING:
        return "<nil>"
    return format_value(v)


def _empty(v: Any) -> bool:
    return not is_true(v)


def _default(d: Any, *given: Any) -> Any:
    if not given or _empty(given[0]):
        return d
    return given[0]


def _coalesce(*values: Any) -> Any:
    for v in values:
        if not _empty(v):
            return v
    return None


def _ternary(v_true: Any, v_false: Any, cond: bool) -> Any:
    return v_true if cond else v_false


def _quote(*values: Any) -> str:
    from s4e_secret_agent.template.gofmt import go_quote

    return " ".join(go_quote(_strval(v)) for v in values if v is not None and v is not MISSING)


def _squote(*values: Any) -> str:
    return " ".join(f"'{_strval(v)}'" for v in values if v is not None and v is not MISSING)


def _cat(*values: Any) -> str:
    return " ".join(_strval(v) for v in values if v is not None and v is not MISSING)


def _indent(spaces: int, s: str) -> str:
    pad = " " * spaces
    return pad + s.replace("\n", "\n" + pad)


def _nindent(spaces: int, s: str) -> str:
    return "\n" + _indent(spaces, s)


def _repeat(count: int, s: str) -> str:
    if count * len(s) > 16 * 1024 * 1024:
        raise FuncError("repeat result is too large")
    return s * max(count, 0)


def _b64enc(s: str) -> str:
    import base64

    return base64.b64encode(s.encode("utf-8", "surrogateescape")).decode("ascii")


def _b64dec(s: str) -> str:
    import base64
    import binascii

    try:
        return base64.b64decode(s, validate=True).decode("utf-8", "surrogateescape")
    except (binascii.Error, ValueError) as exc:
        return str(exc)


def _sha256sum(s: str) -> str:
    import hashlib

    return hashlib.sha256(s.encode("utf-8", "surrogateescape")).hexdigest()


def _sha1sum(s: str) -> str:
    import hashlib

    return hashlib.sha1(s.encode("utf-8", "surrogateescape"), usedforsecurity=False).hexdigest()


def _to_string(v: Any) -> str:
    return _strval(v)


def _join(sep: str, v: Any) -> str:
    if isinstance(v, list):
        return sep.join(_strval(x) for x in v if x is not None)
    if isinstance(v, str):
        return v
    return _strval(v)


def _split_list(sep: str, s: str) -> StringList:
    return StringList(s.split(sep) if sep else list(s))


def _list(*values: Any) -> list[Any]:
    return list(values)


def _dict(*values: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(values), 2):
        key = _strval(values[i])
        out[key] = values[i + 1] if i + 1 < len(values) else ""
    return out


def _has_key(d: dict[str, Any], key: str) -> bool:
    return key in d


def _get(d: dict[str, Any], key: str) -> Any:
    return d.get(key, "")


def _keys(*dicts: dict[str, Any]) -> StringList:
    out = StringList()
    for d in dicts:
        out.extend(d.keys())
    return out


def _to_json(v: Any) -> str:
    from s4e_secret_agent.template.gojson import JSONError, encode

    try:
        return encode(v, escape_html=True)
    except JSONError:
        return ""


def _to_pretty_json(v: Any) -> str:
    from s4e_secret_agent.template.gojson import JSONError, encode

    try:
        return encode(v, escape_html=True, indent="  ")
    except JSONError:
        return ""


def _trunc(c: int, s: str) -> str:
    if c < 0 and len(s) + c > 0:
        return s[len(s) + c:]
    if c >= 0 and len(s) > c:
        return s[:c]
    return s


def _substr(start: int, end: int, s: str) -> str:
    if start < 0:
        return s[:end]
    if end < 0 or end > len(s):
        return s[start:]
    return s[start:end]


def _contains(substr: str, s: str) -> bool:
    return substr in s


def _has_prefix(prefix: str, s: str) -> bool:
    return s.startswith(prefix)


def _has_suffix(suffix: str, s: str) -> bool:
    return s.endswith(suffix)


def _replace(old: str, new: str, src: str) -> str:
    return src.replace(old, new) if old else src


def _trim_all(cutset: str, s: str) -> str:
    return s.strip(cutset) if cutset else s


def _title(s: str) -> str:
    from s4e_secret_agent.template.gostrings import to_title

    return to_title(s)


def _nospace(s: str) -> str:
    return "".join(ch for ch in s if not ch.isspace())


def _first(v: Any) -> Any:
    if isinstance(v, list):
        return v[0] if v else None
    return None


def _last(v: Any) -> Any:
    if isinstance(v, list):
        return v[-1] if v else None
    return None


def _to_int(v: Any) -> int:
    try:
        text = _strval(v) if isinstance(v, (str, Number)) else None
        if text is not None:
            return int(float(text)) if "." in text or "e" in text.lower() else int(text)
        if isinstance(v, (int, float)):
            return int(v)
    except ValueError:
        return 0
    return 0


def _sort_alpha(v: Any) -> StringList:
    if isinstance(v, list):
        return StringList(sorted(_strval(x) for x in v))
    return StringList([_strval(v)])


_SPRIG: dict[str, GoFunc] = {
    "upper": GoFunc(lambda s: s.upper(), (STRING,)),
    "lower": GoFunc(lambda s: s.lower(), (STRING,)),
    "title": GoFunc(_title, (STRING,)),
    "trim": GoFunc(lambda s: s.strip(" \t\n\r\v\f"), (STRING,)),
    "trimAll": GoFunc(_trim_all, (STRING, STRING)),
    "trimPrefix": GoFunc(lambda p, s: s[len(p):] if p and s.startswith(p) else s,
                         (STRING, STRING)),
    "trimSuffix": GoFunc(lambda p, s: s[:-len(p)] if p and s.endswith(p) else s,
                         (STRING, STRING)),
    "nospace": GoFunc(_nospace, (STRING,)),
    "trunc": GoFunc(_trunc, (INT, STRING)),
    "substr": GoFunc(_substr, (INT, INT, STRING)),
    "contains": GoFunc(_contains, (STRING, STRING)),
    "hasPrefix": GoFunc(_has_prefix, (STRING, STRING)),
    "hasSuffix": GoFunc(_has_suffix, (STRING, STRING)),
    "replace": GoFunc(_replace, (STRING, STRING, STRING)),
    "repeat": GoFunc(_repeat, (INT, STRING)),
    "quote": GoFunc(_quote, (), ANY),
    "squote": GoFunc(_squote, (), ANY),
    "cat": GoFunc(_cat, (), ANY),
    "indent": GoFunc(_indent, (INT, STRING)),
    "nindent": GoFunc(_nindent, (INT, STRING)),
    "default": GoFunc(_default, (ANY,), ANY),
    "empty": GoFunc(_empty, (ANY,)),
    "coalesce": GoFunc(_coalesce, (), ANY),
    "ternary": GoFunc(_ternary, (ANY, ANY, "bool")),
    "b64enc": GoFunc(_b64enc, (STRING,)),
    "b64dec": GoFunc(_b64dec, (STRING,)),
    "sha256sum": GoFunc(_sha256sum, (STRING,)),
    "sha1sum": GoFunc(_sha1sum, (STRING,)),
    "toString": GoFunc(_to_string, (ANY,)),
    "toJson": GoFunc(_to_json, (ANY,)),
    "toPrettyJson": GoFunc(_to_pretty_json, (ANY,)),
    "join": GoFunc(_join, (STRING, ANY)),
    "splitList": GoFunc(_split_list, (STRING, STRING)),
    "list": GoFunc(_list, (), ANY),
    "dict": GoFunc(_dict, (), ANY),
    "hasKey": GoFunc(_has_key, (MAP, STRING)),
    "get": GoFunc(_get, (MAP, STRING)),
    "keys": GoFunc(_keys, (), MAP),
    "first": GoFunc(_first, (ANY,)),
    "last": GoFunc(_last, (ANY,)),
    "int": GoFunc(_to_int, (ANY,)),
    "atoi": GoFunc(lambda s: _to_int(s), (STRING,)),
    "sortAlpha": GoFunc(_sort_alpha, (ANY,)),
}


def functions() -> dict[str, GoFunc]:
    from s4e_secret_agent.template.funcs import GROUPS

    funcs = {"sprig_" + name: fn for name, fn in _SPRIG.items()}
    for name in GROUPS["sprig"]:
        if name not in funcs:
            funcs[name] = GoFunc(_not_implemented(name), (), ANY)
    return funcs


def _not_implemented(name: str) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        del args
        raise FuncError(f"{name} is not implemented by this agent")

    return call
