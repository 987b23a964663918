"""consul-template's helper functions (``template/funcs.go``): encoding, strings, lists and
maps, parsing, JSON/YAML/TOML output, hashing, arithmetic, ``scratch``, ``env``, ``file``,
``executeTemplate`` and ``timestamp``.

Templates migrated from Vault Agent lean on these for formatting, so each follows
consul-template to the byte, including its quirks: ``split`` trims the input first, ``add``
takes its arguments in pipeline order, ``parseInt ""`` is 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from s4e_secret_agent.errors import AgentError
from s4e_secret_agent.template.context import FileWrite
from s4e_secret_agent.template.gofmt import go_quote, sprintf
from s4e_secret_agent.template.gostrconv import (
    go_parse_bool,
    go_parse_float,
    go_parse_int,
    go_parse_uint,
)
from s4e_secret_agent.template.gostrings import GO_SPACE as _GO_SPACE
from s4e_secret_agent.template.gostrings import as_bytes as _bytes
from s4e_secret_agent.template.gostrings import split as _go_split
from s4e_secret_agent.template.gostrings import trim as _go_trim
from s4e_secret_agent.template.gostrings import trim_space as ct_trim_space
from s4e_secret_agent.template.signature import (
    ANY,
    INT,
    LIST,
    MAP,
    STRING,
    STRINGS,
    ExecutionState,
    FuncError,
    GoFunc,
)
from s4e_secret_agent.template.values import (
    MISSING,
    GoMethodValue,
    Int64,
    NilList,
    Number,
    RangeChannel,
    StringList,
    StringMap,
    Uint8,
    Uint64,
    go_type_name,
    is_true,
)
from s4e_secret_agent.template.values import scalar as _scalar

MAX_STRING_CHARS = 64 * 1024 * 1024


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
    from s4e_secret_agent.template.funcs.yaml import parse_yaml

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


def ct_trim(cutset: str, s: str) -> str:
    return _go_trim(s, cutset)


def ct_trim_prefix(prefix: str, s: str) -> str:
    return s[len(prefix):] if prefix and s.startswith(prefix) else s


def ct_trim_suffix(suffix: str, s: str) -> str:
    return s[:-len(suffix)] if suffix and s.endswith(suffix) else s


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


def ct_regex_replace_all(state: ExecutionState, pattern: str, repl: str, s: str) -> str:
    from s4e_secret_agent.template.funcs.regexp import compile_go_regexp

    # A long scan counts towards the render's CPU budget as it goes.
    return compile_go_regexp(pattern).replace_all(s, repl, tick=state.step)


def ct_regex_match(pattern: str, s: str) -> bool:
    from s4e_secret_agent.template.funcs.regexp import compile_go_regexp

    return compile_go_regexp(pattern).matches(s)


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
    from s4e_secret_agent.template.funcs.yaml import to_yaml

    return to_yaml(value).strip(_GO_SPACE)


def ct_to_toml(value: Any) -> str:
    from s4e_secret_agent.template.funcs.yaml import to_toml

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


def _env(state: ExecutionState, name: str) -> str:
    return state.env(name) or ""


def _must_env(state: ExecutionState, name: str) -> str:
    value = state.env(name) or ""
    if value == "":
        raise FuncError(f"required environment variable {name} is empty")
    return value


def _env_or_default(state: ExecutionState, name: str, default: str) -> str:
    # The env callable returns None for a variable that is not set; "" is set-but-empty.
    value = state.env(name)
    return default if value is None else value


def _file(state: ExecutionState, path: str) -> str:
    if path == "":
        return ""
    try:
        return state.read_file(ct_trim_space(path))
    except AgentError:
        raise
    except Exception as exc:
        raise FuncError(f"file({ct_trim_space(path)}): {type(exc).__name__}") from None


def _scratch(state: ExecutionState) -> Scratch:
    if state.scratch is None:
        state.scratch = Scratch()
    scratch: Scratch = state.scratch
    return scratch


def _execute_template(state: ExecutionState, name: str, *data: Any) -> str:
    if len(data) > 1:
        raise FuncError("executeTemplate: wrong number of arguments, expected 1 or 2, but "
                        f"got {len(data) + 1}")
    dot = data[0] if data else MISSING
    if dot is None:
        dot = MISSING
    return state.execute_nested(name, dot)


def _timestamp(state: ExecutionState, *args: str) -> str:
    return ct_timestamp(state.ctx.now)(*args)


def _write_to_file(state: ExecutionState, path: str, user: str, group: str, permissions: str,
                   *args: str) -> str:
    """``writeToFile PATH USER GROUP PERMS [FLAGS] CONTENT``: FLAGS may hold "append" and
    "newline". The write itself is the agent's (atomic, as every output file)."""
    if not args or len(args) > 2:
        raise FuncError("writeToFile: wrong number of arguments, expected 5 or 6, but got "
                        f"{len(args) + 4}")
    flags = args[0] if len(args) == 2 else ""
    content = args[-1]
    # strconv.ParseUint(permissions, 8, 32)
    if not permissions or any(ch not in "01234567" for ch in permissions):
        raise FuncError(f"strconv.ParseUint: parsing {go_quote(permissions)}: invalid syntax")
    mode = int(permissions, 8)
    if mode >= 1 << 32:
        raise FuncError(f"strconv.ParseUint: parsing {go_quote(permissions)}: value out of "
                        "range")
    if "newline" in flags:
        content += "\n"
    state.ctx.write_file(FileWrite(path=path, content=content, user=user, group=group,
                                   mode=mode & 0o7777, append="append" in flags))
    return ""


def functions() -> dict[str, GoFunc]:
    from s4e_secret_agent.template import gostrings

    return {
        # data sources (they reach the RenderContext through the execution state)
        "env": GoFunc(_env, (STRING,), needs_state=True),
        "mustEnv": GoFunc(_must_env, (STRING,), needs_state=True),
        "envOrDefault": GoFunc(_env_or_default, (STRING, STRING), needs_state=True),
        "file": GoFunc(_file, (STRING,), needs_state=True),
        "scratch": GoFunc(_scratch, (), needs_state=True),
        "executeTemplate": GoFunc(_execute_template, (STRING,), ANY, needs_state=True),
        "timestamp": GoFunc(_timestamp, (), STRING, needs_state=True),
        "writeToFile": GoFunc(_write_to_file, (STRING, STRING, STRING, STRING), STRING,
                              needs_state=True),
        # helpers
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
        "regexReplaceAll": GoFunc(ct_regex_replace_all, (STRING, STRING, STRING),
                                  needs_state=True),
        "regexMatch": GoFunc(ct_regex_match, (STRING, STRING)),
        "replaceAll": GoFunc(ct_replace_all, (STRING, STRING, STRING)),
        "sha256Hex": GoFunc(ct_sha256_hex, (STRING,)),
        "md5sum": GoFunc(ct_md5sum, (STRING,)),
        "hmacSHA256Hex": GoFunc(ct_hmac_sha256_hex, (STRING, STRING)),
        "toLower": GoFunc(gostrings.to_lower, (STRING,)),
        "toJSON": GoFunc(ct_to_json, (ANY,)),
        "toJSONPretty": GoFunc(ct_to_json_pretty, (ANY,)),
        "toUnescapedJSON": GoFunc(ct_to_unescaped_json, (ANY,)),
        "toUnescapedJSONPretty": GoFunc(ct_to_unescaped_json_pretty, (ANY,)),
        "toTitle": GoFunc(gostrings.to_title, (STRING,)),
        "toTOML": GoFunc(ct_to_toml, (ANY,)),
        "toUpper": GoFunc(gostrings.to_upper, (STRING,)),
        "toYAML": GoFunc(ct_to_yaml, (ANY,)),
        "split": GoFunc(ct_split, (STRING, STRING)),
        "splitToMap": GoFunc(ct_split_to_map, (STRING, STRING, STRING)),
        # arithmetic
        "add": GoFunc(_arith("add", lambda a, b: a + b), (ANY, ANY)),
        "subtract": GoFunc(_arith("subtract", lambda a, b: a - b), (ANY, ANY)),
        "multiply": GoFunc(_arith("multiply", lambda a, b: a * b), (ANY, ANY)),
        "divide": GoFunc(_arith("divide", _float_div, integer_div=True), (ANY, ANY)),
        "modulo": GoFunc(_arith("modulo", lambda a, b: a, allow_float=False,
                                integer_div=True), (ANY, ANY)),
        "minimum": GoFunc(_min_max("minimum", True), (ANY, ANY)),
        "maximum": GoFunc(_min_max("maximum", False), (ANY, ANY)),
    }
