"""Template functions: Go's builtins, consul-template's library and ``shellQuote``.

Each function is registered with its Go signature (see :class:`GoFunc`) so that argument
checking and error messages match Go's. Behaviour follows Go's ``text/template/funcs.go`` and
consul-template's ``template/funcs.go``. Heavy modules (json, yaml, hashlib, ...) are imported
inside the functions that use them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from s4e_secret_agent.template.execute import (
    ANY,
    INT,
    LIST,
    MAP,
    STRING,
    STRINGS,
    VALUE,
    Executor,
    FuncError,
    GoFunc,
    RangeChannel,
)
from s4e_secret_agent.template.gofmt import (
    format_value,
    go_quote,
    sprint,
    sprintf,
    sprintln,
)
from s4e_secret_agent.template.values import (
    MISSING,
    GoMethodValue,
    GoStruct,
    Int64,
    NilList,
    NilMap,
    NilPointer,
    NilStringList,
    NilStringMap,
    Number,
    StringList,
    StringMap,
    Uint8,
    Uint64,
    go_type_name,
    int_kind,
    is_true,
)

MAX_STRING_CHARS = 64 * 1024 * 1024


# --------------------------------------------------------------------------------------------
# Go builtins (text/template/funcs.go)

_ERR_BAD_TYPE = "invalid type for comparison"
_ERR_BAD_CMP = "incompatible types for comparison"
_ERR_NO_CMP = "missing argument for comparison"


def _indirect_interface(v: Any) -> Any:
    return MISSING if v is None else v


def _basic_kind(v: Any) -> str:
    if v is MISSING:
        raise FuncError(_ERR_BAD_TYPE)
    kind = int_kind(v)
    if not kind:
        raise FuncError(_ERR_BAD_TYPE)
    return kind


def _kind_or_empty(v: Any) -> str:
    if v is MISSING:
        return "invalid"
    return int_kind(v)


def _scalar(v: Any) -> Any:
    if isinstance(v, Number):
        return v.text
    return v


def builtin_eq(arg1: Any, *arg2: Any) -> bool:
    arg1 = _indirect_interface(arg1)
    if not arg2:
        raise FuncError(_ERR_NO_CMP)
    k1 = _kind_or_empty(arg1)
    for arg in arg2:
        arg = _indirect_interface(arg)
        k2 = _kind_or_empty(arg)
        truth = False
        if k1 != k2:
            if k1 == "int" and k2 == "uint":
                truth = arg1 >= 0 and int(arg1) == int(arg)
            elif k1 == "uint" and k2 == "int":
                truth = arg >= 0 and int(arg1) == int(arg)
            elif arg1 is not MISSING and arg is not MISSING:
                raise FuncError(f"{_ERR_BAD_CMP}: {go_type_name(arg1)} and {go_type_name(arg)}")
        elif k1 in ("bool", "int", "uint", "float", "complex", "string"):
            truth = _scalar(arg1) == _scalar(arg)
        else:
            truth = _compare_other(arg1, arg)
        if truth:
            return True
    return False


def _compare_other(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return a is b
    if isinstance(a, NilPointer) or isinstance(b, NilPointer):
        if go_type_name(a) != go_type_name(b):
            raise FuncError(f"non-comparable types {format_value(a)}: {go_type_name(a)}, "
                            f"{go_type_name(b)}: {format_value(b)}")
        return isinstance(a, NilPointer) and isinstance(b, NilPointer)
    if go_type_name(a) != go_type_name(b):
        raise FuncError(f"non-comparable types {format_value(a)}: {go_type_name(a)}, "
                        f"{go_type_name(b)}: {format_value(b)}")
    if isinstance(a, (list, dict)):
        raise FuncError(f"non-comparable type {format_value(b)}: {go_type_name(b)}")
    return a is b


def builtin_ne(arg1: Any, arg2: Any) -> bool:
    return not builtin_eq(arg1, arg2)


def builtin_lt(arg1: Any, arg2: Any) -> bool:
    arg1 = _indirect_interface(arg1)
    k1 = _basic_kind(arg1)
    arg2 = _indirect_interface(arg2)
    k2 = _basic_kind(arg2)
    if k1 != k2:
        if k1 == "int" and k2 == "uint":
            return arg1 < 0 or int(arg1) < int(arg2)
        if k1 == "uint" and k2 == "int":
            return arg2 >= 0 and int(arg1) < int(arg2)
        raise FuncError(f"{_ERR_BAD_CMP}: {go_type_name(arg1)} and {go_type_name(arg2)}")
    if k1 in ("bool", "complex"):
        raise FuncError(_ERR_BAD_TYPE)
    if k1 == "string":
        return bool(_bytes(_scalar(arg1)) < _bytes(_scalar(arg2)))
    return bool(arg1 < arg2)


def _bytes(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def builtin_le(arg1: Any, arg2: Any) -> bool:
    if builtin_lt(arg1, arg2):
        return True
    return builtin_eq(arg1, arg2)


def builtin_gt(arg1: Any, arg2: Any) -> bool:
    return not builtin_le(arg1, arg2)


def builtin_ge(arg1: Any, arg2: Any) -> bool:
    return not builtin_lt(arg1, arg2)


def builtin_not(arg: Any) -> bool:
    return not is_true(arg)


def builtin_len(item: Any) -> int:
    if item is MISSING or item is None or isinstance(item, NilPointer):
        if isinstance(item, NilPointer):
            raise FuncError("len of nil pointer")
        raise FuncError("len of type <nil>" if item is None else "len of nil pointer")
    if isinstance(item, str):
        return len(_bytes(item))
    if isinstance(item, Number):
        return len(item.text)
    if isinstance(item, (list, dict, bytes)):
        return len(item)
    raise FuncError(f"len of type {go_type_name(item)}")


def _index_arg(index: Any, cap: int) -> int:
    index = _indirect_interface(index)
    if isinstance(index, bool):
        raise FuncError("cannot index slice/array with type bool")
    if isinstance(index, int):
        x = int(index)
    elif index is MISSING:
        raise FuncError("cannot index slice/array with nil")
    else:
        raise FuncError(f"cannot index slice/array with type {go_type_name(index)}")
    if x < 0 or x > cap:
        raise FuncError(f"index out of range: {x}")
    return x


def builtin_index(item: Any, *indexes: Any) -> Any:
    item = _indirect_interface(item)
    if item is MISSING:
        raise FuncError("index of untyped nil")
    for index in indexes:
        index = _indirect_interface(index)
        if isinstance(item, NilPointer) or item is None:
            raise FuncError("index of nil pointer")
        if isinstance(item, (list, str, Number, bytes)):
            seq: Any = _bytes(item) if isinstance(item, str) else (
                _bytes(item.text) if isinstance(item, Number) else item)
            x = _index_arg(index, len(seq))
            if x == len(seq):
                raise FuncError(f"index out of range: {x}")
            item = seq[x]
            if isinstance(seq, bytes):
                item = Uint8(item)
        elif isinstance(item, dict):
            key = _prepare_map_key(index)
            item = item[key] if key in item else "" if isinstance(item, StringMap) else None
        else:
            raise FuncError(f"can't index item of type {go_type_name(item)}")
    return item


def _prepare_map_key(index: Any) -> Any:
    """Go's prepareArg for a map[string]... key."""
    if index is MISSING:
        raise FuncError("value is nil; should be of type string")
    if isinstance(index, str):
        return index
    raise FuncError(f"value has type {go_type_name(index)}; should be string")


def builtin_slice(item: Any, *indexes: Any) -> Any:
    item = _indirect_interface(item)
    if item is MISSING:
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, (str, Number)):
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        seq: Any = _bytes(item.text if isinstance(item, Number) else item)
    elif isinstance(item, list):
        seq = item
    else:
        raise FuncError(f"can't slice item of type {go_type_name(item)}")
    cap = len(seq)
    idx = [0, len(seq), 0]
    for i, index in enumerate(indexes):
        idx[i] = _index_arg(index, cap)
    if idx[0] > idx[1]:
        raise FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) < 3:
        result = seq[idx[0]:idx[1]]
    else:
        if idx[1] > idx[2]:
            raise FuncError(f"invalid slice index: {idx[1]} > {idx[2]}")
        result = seq[idx[0]:idx[1]]
    if isinstance(result, bytes):
        text = result.decode("utf-8", "surrogateescape")
        return text if isinstance(item, str) else Number(text)
    if isinstance(item, StringList):
        return StringList(result)
    return list(result)


def _eval_args(args: tuple[Any, ...]) -> str:
    # Go's evalArgs: a nil argument prints as "<no value>" here (not "<nil>").
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(["<no value>" if a is None or a is MISSING else a for a in args])


def _printable(v: Any) -> Any:
    return None if v is MISSING else v


def builtin_html(*args: Any) -> str:
    text = _eval_args(args)
    out = []
    for ch in text:
        if ch == "\x00":
            out.append("\ufffd")
        elif ch == '"':
            out.append("&#34;")
        elif ch == "'":
            out.append("&#39;")
        elif ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        else:
            out.append(ch)
    return "".join(out)


def builtin_js(*args: Any) -> str:
    text = _eval_args(args)
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch == '"':
            out.append('\\"')
        elif ch == "<":
            out.append("\\u003C")
        elif ch == ">":
            out.append("\\u003E")
        elif ch == "&":
            out.append("\\u0026")
        elif ch == "=":
            out.append("\\u003D")
        elif code < 0x20:
            out.append(f"\\u{code:04X}")
        elif code < 0x80 or ch.isprintable():
            out.append(ch)
        else:
            out.append(f"\\u{code:04X}")
    return "".join(out)


def builtin_urlquery(*args: Any) -> str:
    from urllib.parse import quote_plus

    return quote_plus(_eval_args(args), safe="-_.~").replace("%7E", "~")


def builtin_print(*args: Any) -> str:
    return sprint([_printable(a) for a in args])


def builtin_printf(fmt: str, *args: Any) -> str:
    return sprintf(fmt, [_printable(a) for a in args])


def builtin_println(*args: Any) -> str:
    return sprintln([_printable(a) for a in args])


def builtin_call(fn: Any, *args: Any) -> Any:
    del args
    if fn is MISSING or fn is None:
        raise FuncError("call of nil")
    raise FuncError(f"non-function {format_value(fn)} of type {go_type_name(fn)}")


# --------------------------------------------------------------------------------------------
# strconv helpers


def go_parse_int(text: str, base: int, func: str, bits: int = 64) -> Int64:
    import re

    ok = re.fullmatch(r"[+-]?[0-9]+", text) is not None
    if not ok:
        raise FuncError(f"strconv.{func}: parsing {go_quote(text)}: invalid syntax")
    value = int(text, base)
    if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        raise FuncError(f"strconv.{func}: parsing {go_quote(text)}: value out of range")
    return Int64(value)


def go_parse_uint(text: str) -> Uint64:
    import re

    if re.fullmatch(r"[0-9]+", text) is None:
        raise FuncError(f"strconv.ParseUint: parsing {go_quote(text)}: invalid syntax")
    value = int(text)
    if value >= 1 << 64:
        raise FuncError(f"strconv.ParseUint: parsing {go_quote(text)}: value out of range")
    return Uint64(value)


def go_parse_float(text: str) -> float:
    import re

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


# --------------------------------------------------------------------------------------------
# consul-template helpers


def ct_parse_bool(s: str) -> bool:
    if s == "":
        return False
    try:
        return go_parse_bool(s)
    except FuncError as exc:
        raise FuncError(f"parseBool: {exc}") from None


def ct_parse_float(s: str) -> float:
    if s == "":
        return 0.0
    try:
        return go_parse_float(s)
    except FuncError as exc:
        raise FuncError(f"parseFloat: {exc}") from None


def ct_parse_int(s: str) -> Int64:
    if s == "":
        return Int64(0)
    try:
        return go_parse_int(s, 10, "ParseInt")
    except FuncError as exc:
        raise FuncError(f"parseInt: {exc}") from None


def ct_parse_uint(s: str) -> Uint64:
    if s == "":
        return Uint64(0)
    try:
        return go_parse_uint(s)
    except FuncError as exc:
        raise FuncError(f"parseUint: {exc}") from None


def ct_parse_json(s: str) -> Any:
    if s == "":
        return {}
    from s4e_secret_agent.template.gojson import JSONError, decode

    try:
        return decode(s, use_number=False)
    except JSONError as exc:
        raise FuncError(str(exc)) from None


def ct_parse_yaml(s: str) -> Any:
    if s == "":
        return {}
    from s4e_secret_agent.template.goyaml import parse_yaml

    return parse_yaml(s)


def _base64_decode(s: str, urlsafe: bool, name: str) -> str:
    import base64
    import binascii
    import re

    alphabet = r"A-Za-z0-9\-_" if urlsafe else r"A-Za-z0-9+/"
    cleaned = s.replace("\r", "").replace("\n", "")
    if not re.fullmatch(f"[{alphabet}]*={{0,2}}", cleaned) or len(cleaned) % 4 != 0:
        pos = _first_bad_base64(cleaned, urlsafe)
        raise FuncError(f"{name}: illegal base64 data at input byte {pos}")
    try:
        raw = (base64.urlsafe_b64decode(cleaned) if urlsafe else base64.b64decode(
            cleaned, validate=True))
    except (binascii.Error, ValueError):
        raise FuncError(f"{name}: illegal base64 data at input byte 0") from None
    return raw.decode("utf-8", "surrogateescape")


def _first_bad_base64(s: str, urlsafe: bool) -> int:
    valid = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" +
                ("-_" if urlsafe else "+/"))
    for i, ch in enumerate(s):
        if ch == "=":
            # padding must complete the last quantum
            if i % 4 < 2:
                return i
            rest = s[i:]
            if rest not in ("=", "==") or (rest == "=" and i % 4 != 3) or (
                    rest == "==" and i % 4 != 2):
                return i + (1 if rest.startswith("==") and i % 4 == 3 else 0)
            return len(s)
        if ch not in valid:
            return i
    # ran out of input in the middle of a quantum
    full = len(s) - len(s) % 4
    return full


def ct_base64_decode(s: str) -> str:
    return _base64_decode(s, False, "base64Decode")


def ct_base64_url_decode(s: str) -> str:
    return _base64_decode(s, True, "base64URLDecode")


def ct_base64_encode(s: str) -> str:
    import base64

    return base64.b64encode(_bytes(s)).decode("ascii")


def ct_base64_url_encode(s: str) -> str:
    import base64

    return base64.urlsafe_b64encode(_bytes(s)).decode("ascii")


def ct_in(items: Any, value: Any) -> bool:
    items = None if items is MISSING else items
    value = None if value is MISSING else value
    if isinstance(items, list):
        vk = _reflect_kind(value)
        for elem in items:
            ek = _reflect_kind(elem)
            if ek == "int" and vk == "int":
                if int(elem) == int(value):
                    return True
            elif ek == "float" and vk == "float":
                if float(elem) == float(value):
                    return True
            elif (ek == "string" and go_type_name(value) == go_type_name(elem)
                  and _scalar(value) == _scalar(elem)):
                return True
        return False
    if isinstance(items, (str, Number)) and go_type_name(items) == go_type_name(value):
        return _scalar(value) in _scalar(items)
    return False


def _reflect_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (Uint64, Uint8)):
        return "uint"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, (str, Number)):
        return "string"
    return ""


def ct_contains(value: Any, items: Any) -> bool:
    return ct_in(items, value)


def _contains_some(ret_true: bool, invert: bool) -> Callable[[list[Any], Any], bool]:
    def check(values: list[Any], items: Any) -> bool:
        for v in values:
            if ct_in(items, v) != invert:
                return not ret_true
        return ret_true

    return check


def ct_indent(spaces: int, s: str) -> str:
    if spaces < 0:
        raise FuncError("indent value must be a positive integer")
    if spaces * (s.count("\n") + 1) > MAX_STRING_CHARS:
        raise FuncError("indent result is too large")
    prefix = " " * spaces
    out = []
    at_line_start = True
    for ch in s:
        if at_line_start and ch != "\n":
            out.append(prefix)
        out.append(ch)
        at_line_start = ch == "\n"
    return "".join(out)


def ct_loop(*args: Any) -> RangeChannel:
    def to64(v: Any) -> int:
        v = None if v is MISSING else v
        if isinstance(v, bool):
            raise FuncError(f"loop: bad argument type: {go_type_name(v)}")
        if isinstance(v, int):
            return int(v)
        if isinstance(v, (str, Number)):
            return int(ct_parse_int(_scalar(v)))
        raise FuncError(f"loop: bad argument type: {go_type_name(v)}")

    if len(args) == 1:
        start, stop = 0, to64(args[0])
    elif len(args) == 2:
        start, stop = to64(args[0]), to64(args[1])
    else:
        raise FuncError(f"loop: wrong number of arguments, expected 1 or 2, but got {len(args)}")
    return RangeChannel(start, stop)


def ct_join(sep: str, items: StringList) -> str:
    return sep.join(items)


def _go_trim(s: str, cutset: str) -> str:
    return s.strip(cutset) if cutset else s


def ct_trim(cutset: str, s: str) -> str:
    return _go_trim(s, cutset)


def ct_trim_prefix(prefix: str, s: str) -> str:
    return s[len(prefix):] if prefix and s.startswith(prefix) else s


def ct_trim_suffix(suffix: str, s: str) -> str:
    return s[:-len(suffix)] if suffix and s.endswith(suffix) else s


_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007" \
            "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def ct_trim_space(s: str) -> str:
    return s.strip(_GO_SPACE)


def _go_split(s: str, sep: str) -> list[str]:
    if sep == "":
        return list(s)
    return s.split(sep)


def ct_split(sep: str, s: str) -> StringList:
    s = ct_trim_space(s)
    if s == "":
        return StringList()
    return StringList(_go_split(s, sep))


def ct_split_to_map(sep1: str, sep2: str, s: str) -> StringMap:
    s = ct_trim_space(s)
    result = StringMap()
    if s == "":
        return result
    for part in _go_split(s, sep1):
        if sep2 in part:
            k, v = part.split(sep2, 1)
            result[k] = v
        elif sep2 == "":
            result[""] = part
    return result


def ct_replace_all(old: str, new: str, s: str) -> str:
    if old == "":
        # strings.ReplaceAll with an empty "old" inserts "new" around every rune.
        return new + new.join(s) + new if s else new
    return s.replace(old, new)


def ct_regex_replace_all(pattern: str, repl: str, s: str) -> str:
    from s4e_secret_agent.template.goregex import compile_go_regexp, expand_replacement

    rx = compile_go_regexp(pattern)
    return rx.sub(lambda m: expand_replacement(m, repl), s)


def ct_regex_match(pattern: str, s: str) -> bool:
    from s4e_secret_agent.template.goregex import compile_go_regexp

    return compile_go_regexp(pattern).search(s) is not None


def _per_rune(s: str, convert: Callable[[str], str]) -> str:
    # Go maps rune to rune: no "ß" -> "SS" expansion.
    out = []
    for ch in s:
        mapped = convert(ch)
        out.append(mapped if len(mapped) == 1 else ch)
    return "".join(out)


def ct_to_lower(s: str) -> str:
    return s.lower() if s.isascii() else _per_rune(s, str.lower)


def ct_to_upper(s: str) -> str:
    return s.upper() if s.isascii() else _per_rune(s, str.upper)


def ct_to_title(s: str) -> str:
    """``cases.Title(language.Und, cases.NoLower)``: upper-case the first letter of each word.

    Words follow Unicode word segmentation: "_" joins, and "." "'" ":" join when they sit
    between letters or digits; anything else (space, "-", ...) separates. The first *letter*
    of a word is the one title-cased, so "1st" becomes "1St".
    """
    out = list(s)
    n = len(s)
    i = 0
    while i < n:
        if not _word_char(s[i]):
            i += 1
            continue
        start = i
        while i < n and (_word_char(s[i]) or (
                s[i] in ".'\u2019:" and i + 1 < n and _word_char(s[i + 1]) and i > start)):
            i += 1
        for j in range(start, i):
            if s[j].isalpha():
                titled = s[j].title()
                out[j] = titled if len(titled) == 1 else s[j]
                break
    return "".join(out)


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def ct_to_json(value: Any) -> str:
    from s4e_secret_agent.template.gojson import JSONError, encode

    try:
        return encode(value, escape_html=True).strip()
    except JSONError as exc:
        raise FuncError(f"toJSON: {exc}") from None


def ct_to_json_pretty(value: Any) -> str:
    from s4e_secret_agent.template.gojson import JSONError, encode

    try:
        return encode(value, escape_html=True, indent="  ").strip()
    except JSONError as exc:
        raise FuncError(f"toJSONPretty: {exc}") from None


def ct_to_unescaped_json(value: Any) -> str:
    from s4e_secret_agent.template.gojson import JSONError, encode

    try:
        return encode(value, escape_html=False).rstrip("\r\n")
    except JSONError as exc:
        raise FuncError(f"toUnescapedJSON: {exc}") from None


def ct_to_unescaped_json_pretty(value: Any) -> str:
    from s4e_secret_agent.template.gojson import JSONError, encode

    try:
        return encode(value, escape_html=False, indent="  ").rstrip("\r\n")
    except JSONError as exc:
        raise FuncError(f"toUnescapedJSONPretty: {exc}") from None


def ct_to_yaml(value: Any) -> str:
    from s4e_secret_agent.template.goyaml import to_yaml

    return to_yaml(value).strip(_GO_SPACE)


def ct_to_toml(value: Any) -> str:
    from s4e_secret_agent.template.goyaml import to_toml

    return to_toml(value).strip(_GO_SPACE)


def ct_sha256_hex(s: str) -> str:
    import hashlib

    return hashlib.sha256(_bytes(s)).hexdigest()


def ct_md5sum(s: str) -> str:
    import hashlib

    return hashlib.md5(_bytes(s), usedforsecurity=False).hexdigest()


def ct_hmac_sha256_hex(message: str, key: str) -> str:
    import hashlib
    import hmac

    return hmac.new(_bytes(key), _bytes(message), hashlib.sha256).hexdigest()


def _num_kind(v: Any) -> str:
    """Go's reflect kind of a number (bool, uint, int, float), or "" for anything else."""
    kind = _reflect_kind(v)
    return "" if kind == "string" else kind


def _unknown(name: str, v: Any) -> FuncError:
    v = None if v is MISSING else v
    if isinstance(v, (str, Number)):
        shown = go_quote(_scalar(v))
    elif v is None:
        shown = "<invalid reflect.Value>"
        shown = "%!q(<invalid reflect.Value>)"
    else:
        shown = sprintf("%q", [v])
    return FuncError(f"{name}: unknown type for {shown} ({go_type_name(v)})")


def _wrap_u64(v: int) -> Uint64:
    return Uint64(v % (1 << 64))


def _wrap_i64(v: int) -> Int64:
    v %= 1 << 64
    return Int64(v - (1 << 64) if v >= 1 << 63 else v)


def _arith(name: str, op: Callable[[Any, Any], Any], allow_float: bool = True,
           integer_div: bool = False) -> Callable[[Any, Any], Any]:
    def apply(b: Any, a: Any) -> Any:
        ak, bk = _num_kind(a), _num_kind(b)
        if ak not in ("int", "uint", "float") or (ak == "float" and not allow_float):
            raise _unknown(name, a)
        if bk not in ("int", "uint", "float") or (bk == "float" and not allow_float):
            raise _unknown(name, b)
        if ak == "float" or bk == "float":
            return float(op(float(a), float(b)))
        if ak == "uint" and bk == "uint":
            return _wrap_u64(_int_op(op, int(a), int(b), integer_div, name))
        return _wrap_i64(_int_op(op, int(a), int(b), integer_div, name))

    return apply


def _int_op(op: Callable[[Any, Any], Any], a: int, b: int, integer_div: bool, name: str) -> int:
    if integer_div:
        if b == 0:
            raise FuncError("runtime error: integer divide by zero")
        q = abs(a) // abs(b)
        if name == "modulo":
            r = abs(a) - q * abs(b)
            return -r if a < 0 else r
        return q if (a >= 0) == (b >= 0) else -q
    return int(op(a, b))


def _float_div(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _min_max(name: str, want_min: bool) -> Callable[[Any, Any], Any]:
    def apply(b: Any, a: Any) -> Any:
        ak, bk = _num_kind(a), _num_kind(b)
        if ak not in ("int", "uint", "float"):
            raise _unknown(name, a)
        if bk not in ("int", "uint", "float"):
            raise _unknown(name, b)

        def conv(v: Any, kind: str) -> Any:
            if kind == "float":
                return float(v)
            if kind == "uint":
                return Uint64(int(v))
            return Int64(int(v))

        av, bv = float(a) if ak == "float" or bk == "float" else int(a), (
            float(b) if ak == "float" or bk == "float" else int(b))
        pick_a = av < bv if want_min else av > bv
        return conv(a, ak) if pick_a else conv(b, bk)

    return apply


class Scratch(GoMethodValue):
    """consul-template's per-template ``scratch`` store."""

    go_type_name = "*template.Scratch"

    def __init__(self) -> None:
        self.values: dict[str, Any] | None = None

    def go_string(self) -> str:
        return "&{...}"

    def go_method(self, name: str) -> Any:
        methods: dict[str, GoFunc] = {
            "Key": GoFunc(self.key, (STRING,)),
            "Get": GoFunc(self.get, (STRING,)),
            "Set": GoFunc(self.set, (STRING, ANY)),
            "SetX": GoFunc(self.setx, (STRING, ANY)),
            "MapSet": GoFunc(self.map_set, (STRING, STRING, ANY)),
            "MapSetX": GoFunc(self.map_setx, (STRING, STRING, ANY)),
            "MapValues": GoFunc(self.map_values, (STRING,)),
        }
        return methods.get(name)

    def _init(self) -> dict[str, Any]:
        if self.values is None:
            self.values = {}
        return self.values

    def key(self, k: str) -> bool:
        return self.values is not None and k in self.values

    def get(self, k: str) -> Any:
        if self.values is None:
            return None
        return self.values.get(k)

    def set(self, k: str, v: Any) -> str:
        self._init()[k] = v
        return ""

    def setx(self, k: str, v: Any) -> str:
        self._init().setdefault(k, v)
        return ""

    def _map_set(self, k: str, mk: str, v: Any, override: bool) -> str:
        values = self._init()
        if k not in values:
            values[k] = {}
        typed = values[k]
        if not isinstance(typed, dict) or isinstance(typed, StringMap):
            raise FuncError(f"{go_quote(k)} is not a map")
        if override or mk not in typed:
            typed[mk] = v
        return ""

    def map_set(self, k: str, mk: str, v: Any) -> str:
        return self._map_set(k, mk, v, True)

    def map_setx(self, k: str, mk: str, v: Any) -> str:
        return self._map_set(k, mk, v, False)

    def map_values(self, k: str) -> Any:
        values = self._init()
        typed = values.get(k)
        if not isinstance(typed, dict) or isinstance(typed, StringMap):
            return NilList()
        return [typed[key] for key in sorted(typed, key=_bytes)]


def ct_merge_map(dst: dict[str, Any], src: dict[str, Any]) -> dict[str, Any]:
    return _mergo(dst, src, override=False)


def ct_merge_map_with_override(dst: dict[str, Any], src: dict[str, Any]) -> dict[str, Any]:
    return _mergo(dst, src, override=True)


def _mergo(dst: dict[str, Any], src: dict[str, Any], override: bool) -> dict[str, Any]:
    # mergo.Map on map[string]interface{}: deep-merges nested maps, keeps dst values unless
    # override; empty dst values are filled.
    for key, sval in src.items():
        if key in dst:
            dval = dst[key]
            if isinstance(dval, dict) and isinstance(sval, dict):
                _mergo(dval, sval, override)
                continue
            if override or not is_true(dval):
                if override and not is_true(sval) and sval is not None:
                    continue
                dst[key] = sval
        else:
            dst[key] = sval
    return dst


def ct_timestamp(now: Callable[[], float]) -> Callable[..., str]:
    def timestamp(*args: str) -> str:
        import datetime

        moment = datetime.datetime.fromtimestamp(now(), tz=datetime.UTC)
        if len(args) == 0:
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        if len(args) == 1:
            if args[0] == "unix":
                return str(int(now()))
            from s4e_secret_agent.template.gotime import format_go_time

            return format_go_time(moment, args[0])
        raise FuncError("timestamp: wrong number of arguments, expected 0 or 1, but got "
                        f"{len(args)}")

    return timestamp


def shell_quote(value: Any) -> str:
    """One POSIX shell word that expands to exactly ``value`` (printed the Go way).

    Single quotes make every byte literal; an embedded single quote becomes ``'\\''``. The
    empty string is ``''``. Safe inside ``export K=...`` and in ``sh``/``bash``/``dash``.
    """
    text = value if isinstance(value, str) else format_value(None if value is MISSING
                                                             else value)
    if "\x00" in text:
        raise FuncError("shellQuote: the value contains a NUL byte, which no shell variable "
                        "can hold")
    if text == "":
        return "''"
    if all(c.isascii() and (c.isalnum() or c in "@%+=:,./-_") for c in text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


# --------------------------------------------------------------------------------------------
# Vault: the Secret struct consul-template exposes


def _as_int(v: Any) -> int:
    if isinstance(v, Number):
        try:
            return int(v.text)
        except ValueError:
            try:
                return int(float(v.text))
            except ValueError:
                return 0
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)):
        return int(v)
    return 0


def _as_str(v: Any) -> str:
    return v if isinstance(v, str) else ""


_AUTH_FIELDS = ("ClientToken", "Accessor", "Policies", "Metadata", "LeaseDuration", "Renewable")
_WRAP_FIELDS = ("Token", "TTL", "CreationTime", "WrappedAccessor")


def secret_from_envelope(envelope: Any) -> GoStruct:
    """Map a Vault JSON response (decoded with ``decode_json``) to consul-template's Secret."""
    if not isinstance(envelope, dict):
        envelope = {}
    data = envelope.get("data")
    warnings = envelope.get("warnings")
    auth_raw = envelope.get("auth")
    wrap_raw = envelope.get("wrap_info")
    auth: Any = NilPointer("*dependency.SecretAuth", _AUTH_FIELDS)
    if isinstance(auth_raw, dict):
        meta = auth_raw.get("metadata")
        policies = auth_raw.get("policies")
        auth = GoStruct("dependency.SecretAuth", {
            "ClientToken": _as_str(auth_raw.get("client_token")),
            "Accessor": _as_str(auth_raw.get("accessor")),
            "Policies": StringList(p for p in policies if isinstance(p, str))
            if isinstance(policies, list) and policies else NilStringList(),
            "Metadata": StringMap({k: v for k, v in meta.items() if isinstance(v, str)})
            if isinstance(meta, dict) and meta else NilStringMap(),
            "LeaseDuration": _as_int(auth_raw.get("lease_duration")),
            "Renewable": auth_raw.get("renewable") is True,
        })
    wrap: Any = NilPointer("*dependency.SecretWrapInfo", _WRAP_FIELDS)
    if isinstance(wrap_raw, dict):
        from s4e_secret_agent.template.values import GoTime

        wrap = GoStruct("dependency.SecretWrapInfo", {
            "Token": _as_str(wrap_raw.get("token")),
            "TTL": _as_int(wrap_raw.get("ttl")),
            "CreationTime": GoTime(_as_str(wrap_raw.get("creation_time"))),
            "WrappedAccessor": _as_str(wrap_raw.get("wrapped_accessor")),
        })
    return GoStruct("dependency.Secret", {
        "RequestID": _as_str(envelope.get("request_id")),
        "LeaseID": _as_str(envelope.get("lease_id")),
        "LeaseDuration": _as_int(envelope.get("lease_duration")),
        "Renewable": envelope.get("renewable") is True,
        "Data": data if isinstance(data, dict) and data else NilMap(),
        "Warnings": StringList(w for w in warnings if isinstance(w, str))
        if isinstance(warnings, list) and warnings else NilStringList(),
        "Auth": auth,
        "WrapInfo": wrap,
    })


def list_from_envelope(path: str, envelope: Any) -> StringList:
    if not isinstance(envelope, dict):
        return NilStringList()
    data = envelope.get("data")
    if not isinstance(data, dict) or "keys" not in data:
        return NilStringList()
    keys = data["keys"]
    if not isinstance(keys, list):
        raise FuncError(f"vault.list({path}): unexpected response")
    out: StringList = NilStringList() if not keys else StringList()
    for k in keys:
        if not isinstance(k, str):
            raise FuncError(f"vault.list({path}): non-string in list")
        out.append(k)
    out.sort(key=_bytes)
    return out


def normalize_secret_path(path: str) -> str:
    """consul-template's ``NewVaultReadQuery``: trim spaces, then slashes."""
    return ct_trim_space(path).strip("/")


def parse_write_args(args: tuple[str, ...]) -> tuple[str, ...]:
    kept = []
    for arg in args:
        if not arg:
            continue
        if "=" not in arg:
            raise FuncError(f"not k=v pair {go_quote(arg)}")
        kept.append(arg)
    return tuple(kept)


# --------------------------------------------------------------------------------------------
# the function table


def _secret(state: Executor, *args: str) -> Any:
    from s4e_secret_agent.errors import AgentError

    if not args:
        return None
    path = normalize_secret_path(args[0])
    if path == "":
        raise FuncError(f"vault.read: invalid format: {go_quote(path)}")
    rest = parse_write_args(args[1:])
    key = (path, rest)
    cache = state.cache
    if key not in cache:
        try:
            envelope = state.ctx.secret(path, rest)
        except AgentError:
            raise
        except Exception as exc:
            raise FuncError(f"vault.read({path}): {type(exc).__name__}") from None
        cache[key] = secret_from_envelope(envelope)
    return cache[key]


def _secrets(state: Executor, path: str) -> StringList:
    from s4e_secret_agent.errors import AgentError

    if path == "":
        return NilStringList()
    path = ct_trim_space(path).strip("/")
    key = ("\x00list", (path,))
    cache = state.cache
    if key not in cache:
        try:
            envelope = state.ctx.secrets(path)
        except AgentError:
            raise
        except Exception as exc:
            raise FuncError(f"vault.list({path}): {type(exc).__name__}") from None
        cache[key] = list_from_envelope(path, envelope)
    result: StringList = cache[key]
    return result


def _env(state: Executor, name: str) -> str:
    return state.ctx.env(name) or ""


def _must_env(state: Executor, name: str) -> str:
    value = state.ctx.env(name) or ""
    if value == "":
        raise FuncError(f"required environment variable {name} is empty")
    return value


def _env_or_default(state: Executor, name: str, default: str) -> str:
    # The env callable returns None for a variable that is not set; "" is set-but-empty.
    value = state.ctx.env(name)
    return default if value is None else value


def _file(state: Executor, path: str) -> str:
    from s4e_secret_agent.errors import AgentError

    if path == "":
        return ""
    try:
        return state.ctx.file(ct_trim_space(path))
    except AgentError:
        raise
    except Exception as exc:
        raise FuncError(f"file({ct_trim_space(path)}): {type(exc).__name__}") from None


def _scratch(state: Executor) -> Scratch:
    if state.scratch is None:
        state.scratch = Scratch()
    scratch: Scratch = state.scratch
    return scratch


def _execute_template(state: Executor, name: str, *data: Any) -> str:
    if len(data) > 1:
        raise FuncError("executeTemplate: wrong number of arguments, expected 1 or 2, but "
                        f"got {len(data) + 1}")
    dot = data[0] if data else MISSING
    if dot is None:
        dot = MISSING
    return state.execute_nested(name, dot)


def _timestamp(state: Executor, *args: str) -> str:
    return ct_timestamp(state.ctx.now)(*args)


@lru_cache(maxsize=1)
def template_funcs() -> dict[str, GoFunc]:
    """The function table (built once; the context-bound ones get the executor)."""
    funcs: dict[str, GoFunc] = {
        # Go builtins
        "and": GoFunc(lambda *a: a[0], (VALUE,), VALUE),
        "or": GoFunc(lambda *a: a[0], (VALUE,), VALUE),
        "not": GoFunc(builtin_not, (VALUE,)),
        "len": GoFunc(builtin_len, (VALUE,)),
        "index": GoFunc(builtin_index, (VALUE,), VALUE),
        "slice": GoFunc(builtin_slice, (VALUE,), VALUE),
        "print": GoFunc(builtin_print, (), ANY),
        "printf": GoFunc(builtin_printf, (STRING,), ANY),
        "println": GoFunc(builtin_println, (), ANY),
        "html": GoFunc(builtin_html, (), ANY),
        "js": GoFunc(builtin_js, (), ANY),
        "urlquery": GoFunc(builtin_urlquery, (), ANY),
        "call": GoFunc(builtin_call, (VALUE,), VALUE),
        "eq": GoFunc(builtin_eq, (VALUE,), VALUE),
        "ne": GoFunc(builtin_ne, (VALUE, VALUE)),
        "lt": GoFunc(builtin_lt, (VALUE, VALUE)),
        "le": GoFunc(builtin_le, (VALUE, VALUE)),
        "gt": GoFunc(builtin_gt, (VALUE, VALUE)),
        "ge": GoFunc(builtin_ge, (VALUE, VALUE)),
        # consul-template: data sources (they reach the RenderContext through the executor)
        "secret": GoFunc(_secret, (), STRING, needs_state=True),
        "secrets": GoFunc(_secrets, (STRING,), needs_state=True),
        "env": GoFunc(_env, (STRING,), needs_state=True),
        "mustEnv": GoFunc(_must_env, (STRING,), needs_state=True),
        "envOrDefault": GoFunc(_env_or_default, (STRING, STRING), needs_state=True),
        "file": GoFunc(_file, (STRING,), needs_state=True),
        "scratch": GoFunc(_scratch, (), needs_state=True),
        "executeTemplate": GoFunc(_execute_template, (STRING,), ANY, needs_state=True),
        "timestamp": GoFunc(_timestamp, (), STRING, needs_state=True),
        # consul-template: helpers
        "base64Decode": GoFunc(ct_base64_decode, (STRING,)),
        "base64Encode": GoFunc(ct_base64_encode, (STRING,)),
        "base64URLDecode": GoFunc(ct_base64_url_decode, (STRING,)),
        "base64URLEncode": GoFunc(ct_base64_url_encode, (STRING,)),
        "contains": GoFunc(ct_contains, (ANY, ANY)),
        "containsAll": GoFunc(_contains_some(True, True), (LIST, ANY)),
        "containsAny": GoFunc(_contains_some(False, False), (LIST, ANY)),
        "containsNone": GoFunc(_contains_some(True, False), (LIST, ANY)),
        "containsNotAll": GoFunc(_contains_some(False, True), (LIST, ANY)),
        "mergeMap": GoFunc(ct_merge_map, (MAP, MAP)),
        "mergeMapWithOverride": GoFunc(ct_merge_map_with_override, (MAP, MAP)),
        "in": GoFunc(ct_in, (ANY, ANY)),
        "indent": GoFunc(ct_indent, (INT, STRING)),
        "loop": GoFunc(ct_loop, (), ANY),
        "join": GoFunc(ct_join, (STRING, STRINGS)),
        "trim": GoFunc(ct_trim, (STRING, STRING)),
        "trimPrefix": GoFunc(ct_trim_prefix, (STRING, STRING)),
        "trimSuffix": GoFunc(ct_trim_suffix, (STRING, STRING)),
        "trimSpace": GoFunc(ct_trim_space, (STRING,)),
        "parseBool": GoFunc(ct_parse_bool, (STRING,)),
        "parseFloat": GoFunc(ct_parse_float, (STRING,)),
        "parseInt": GoFunc(ct_parse_int, (STRING,)),
        "parseJSON": GoFunc(ct_parse_json, (STRING,)),
        "parseUint": GoFunc(ct_parse_uint, (STRING,)),
        "parseYAML": GoFunc(ct_parse_yaml, (STRING,)),
        "regexReplaceAll": GoFunc(ct_regex_replace_all, (STRING, STRING, STRING)),
        "regexMatch": GoFunc(ct_regex_match, (STRING, STRING)),
        "replaceAll": GoFunc(ct_replace_all, (STRING, STRING, STRING)),
        "sha256Hex": GoFunc(ct_sha256_hex, (STRING,)),
        "md5sum": GoFunc(ct_md5sum, (STRING,)),
        "hmacSHA256Hex": GoFunc(ct_hmac_sha256_hex, (STRING, STRING)),
        "toLower": GoFunc(ct_to_lower, (STRING,)),
        "toJSON": GoFunc(ct_to_json, (ANY,)),
        "toJSONPretty": GoFunc(ct_to_json_pretty, (ANY,)),
        "toUnescapedJSON": GoFunc(ct_to_unescaped_json, (ANY,)),
        "toUnescapedJSONPretty": GoFunc(ct_to_unescaped_json_pretty, (ANY,)),
        "toTitle": GoFunc(ct_to_title, (STRING,)),
        "toTOML": GoFunc(ct_to_toml, (ANY,)),
        "toUpper": GoFunc(ct_to_upper, (STRING,)),
        "toYAML": GoFunc(ct_to_yaml, (ANY,)),
        "split": GoFunc(ct_split, (STRING, STRING)),
        "splitToMap": GoFunc(ct_split_to_map, (STRING, STRING, STRING)),
        "add": GoFunc(_arith("add", lambda a, b: a + b), (ANY, ANY)),
        "subtract": GoFunc(_arith("subtract", lambda a, b: a - b), (ANY, ANY)),
        "multiply": GoFunc(_arith("multiply", lambda a, b: a * b), (ANY, ANY)),
        "divide": GoFunc(_arith("divide", _float_div, integer_div=True), (ANY, ANY)),
        "modulo": GoFunc(_arith("modulo", lambda a, b: a, allow_float=False,
                                integer_div=True), (ANY, ANY)),
        "minimum": GoFunc(_min_max("minimum", True), (ANY, ANY)),
        "maximum": GoFunc(_min_max("maximum", False), (ANY, ANY)),
        # ours
        "shellQuote": GoFunc(shell_quote, (ANY,)),
    }
    for name in _UNSUPPORTED:
        funcs[name] = GoFunc(_unsupported(name), (), ANY)
    from s4e_secret_agent.template.sprig import sprig_funcs

    funcs.update(sprig_funcs())
    return funcs


def _unsupported(name: str) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        del args
        raise FuncError(f"{name} is not supported by this agent (it needs Consul, Nomad or a "
                        "local process)")

    return call


# Names known at parse time (the parser rejects calls to anything else).
def function_names() -> frozenset[str]:
    from s4e_secret_agent.template.sprig import SPRIG_NAMES

    return _BASE_NAMES | _UNSUPPORTED | SPRIG_NAMES


_BASE_NAMES = frozenset({
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "html", "js",
    "urlquery", "call", "eq", "ne", "lt", "le", "gt", "ge", "secret", "secrets", "env", "file",
    "scratch", "executeTemplate", "timestamp", "base64Decode", "base64Encode",
    "base64URLDecode", "base64URLEncode", "contains", "containsAll", "containsAny",
    "containsNone", "containsNotAll", "mergeMap", "mergeMapWithOverride", "in", "indent",
    "loop", "join", "trim", "trimPrefix", "trimSuffix", "trimSpace", "parseBool", "parseFloat",
    "parseInt", "parseJSON", "parseUint", "parseYAML", "regexReplaceAll", "regexMatch",
    "replaceAll", "sha256Hex", "md5sum", "hmacSHA256Hex", "toLower", "toJSON", "toJSONPretty",
    "toUnescapedJSON", "toUnescapedJSONPretty", "toTitle", "toTOML", "toUpper", "toYAML",
    "split", "splitToMap", "add", "subtract", "multiply", "divide", "modulo", "minimum",
    "maximum", "shellQuote",
    "mustEnv", "envOrDefault",
}) | frozenset()

# consul-template functions that exist (so templates parse) but need Consul, Nomad or a local
# process, which this agent does not provide; calling one is an error.
_UNSUPPORTED = frozenset({
    "datacenters", "exportedServices", "importedServices", "key", "keyExists", "keyOrDefault",
    "ls", "safeLs", "node", "nodes", "partitions", "peerings", "service", "connect",
    "services", "tree", "safeTree", "caRoots", "caLeaf", "pkiCert", "nomadServices",
    "nomadService", "nomadVarList", "nomadVarListSafe", "nomadVar", "nomadVarExists",
    "explode", "explodeMap", "byKey", "byPort", "byTag", "byMeta",
    "plugin", "sockaddr", "writeToFile", "spew_dump", "spew_printf", "spew_sdump",
    "spew_sprintf",
})

