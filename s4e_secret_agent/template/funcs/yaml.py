"""YAML and TOML as consul-template produces and reads them (gopkg.in/yaml.v2, BurntSushi/toml).

``toYAML`` uses PyYAML's emitter (a port of the same libyaml emitter yaml.v2 uses) and applies
yaml.v2's own choices on top: map keys in yaml.v2's "natural" order, strings that would read
back as another type (``"5432"``, ``"yes"``, ``""``) double-quoted, multi-line strings as
literal blocks, json.Number written as the int or float it holds, struct fields lower-cased.
"""

from __future__ import annotations

import math
import re
from typing import Any

from s4e_secret_agent.template.gofmt import format_float
from s4e_secret_agent.template.signature import FuncError
from s4e_secret_agent.template.values import (
    MISSING,
    GoStruct,
    GoTime,
    IfaceMap,
    NilPointer,
    Number,
)

# --------------------------------------------------------------------------------------------
# yaml.v2 resolution (what a plain scalar would read back as)

_V2_NULL = {"", "~", "null", "Null", "NULL"}
_V2_BOOL = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
            "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}
_V2_FLOAT_WORDS = {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
                   "-.inf", "-.Inf", "-.INF"}
_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_YAML_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_TIMESTAMP = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}(?:(?:[Tt]|[ \t]+)\d{1,2}:\d{1,2}:\d{1,2}(?:\.\d*)?"
    r"(?:[ \t]*(?:Z|[-+]\d{1,2}(?::?\d{2})?))?)?$")


def _v2_non_string(s: str) -> bool:
    if s in _V2_NULL or s in _V2_BOOL or s in _V2_FLOAT_WORDS or s == "<<":
        return True
    if not s or s[0] not in "0123456789+-.":
        return False
    if _BASE60.match(s):
        return True
    plain = s.replace("_", "")
    from s4e_secret_agent.template.parse import _parse_go_int

    if _parse_go_int(plain) is not None:
        return True
    if plain.startswith(("0b", "-0b", "+0b")):
        return True
    if _YAML_FLOAT.match(plain):
        return True
    return bool(_TIMESTAMP.match(s))


def _v2_key_cmp(a: Any, b: Any) -> int:
    """yaml.v2's keyList.Less as a comparison."""
    af, bf = _key_float(a), _key_float(b)
    if af is not None and bf is not None:
        if af != bf:
            return -1 if af < bf else 1
        return 0
    if not isinstance(a, str) or not isinstance(b, str):
        ka, kb = _kind_rank(a), _kind_rank(b)
        return -1 if ka < kb else (1 if ka > kb else 0)
    ar, br = a, b
    for i in range(min(len(ar), len(br))):
        if ar[i] == br[i]:
            continue
        al, bl = ar[i].isalpha(), br[i].isalpha()
        if al and bl:
            return -1 if ar[i] < br[i] else 1
        if al or bl:
            return -1 if bl else 1
        an = bn = 0
        if ar[i] == "0" or br[i] == "0":
            j = i - 1
            while j >= 0 and ar[j].isdigit():
                if ar[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(ar) and ar[ai].isdigit():
            an = an * 10 + int(ar[ai])
            ai += 1
        bi = i
        while bi < len(br) and br[bi].isdigit():
            bn = bn * 10 + int(br[bi])
            bi += 1
        if an != bn:
            return -1 if an < bn else 1
        if ai != bi:
            return -1 if ai < bi else 1
        return -1 if ar[i] < br[i] else 1
    if len(ar) != len(br):
        return -1 if len(ar) < len(br) else 1
    return 0


def _key_float(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    return None


def _kind_rank(v: Any) -> int:
    # reflect.Kind order: Bool=1, Int=2, ..., Float64=14, ..., String=24
    if isinstance(v, bool):
        return 1
    if isinstance(v, int):
        return 2
    if isinstance(v, float):
        return 14
    if isinstance(v, str):
        return 24
    return 25


def sorted_v2_keys(mapping: dict[Any, Any]) -> list[Any]:
    from functools import cmp_to_key

    return sorted(mapping, key=cmp_to_key(_v2_key_cmp))




# --------------------------------------------------------------------------------------------
# toYAML
def _prepare(value: Any) -> Any:
    """Convert template values to plain Python objects for the YAML representer."""
    if value is None or value is MISSING or isinstance(value, NilPointer):
        return None
    if isinstance(value, Number):
        from s4e_secret_agent.template.parse import _parse_go_int

        iv = _parse_go_int(value.text) if re.fullmatch(r"[+-]?\d+", value.text) else None
        if iv is not None and -(1 << 63) <= iv < 1 << 63:
            return iv
        try:
            fv = float(value.text)
        except ValueError:
            return value.text
        return _Float(fv)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _Float(value)
    if isinstance(value, dict):
        return _OrderedMap((k, _prepare(value[k])) for k in sorted_v2_keys(value))
    if isinstance(value, list):
        return [_prepare(v) for v in value]
    if isinstance(value, GoStruct):
        return _OrderedMap((name.lower(), _prepare(v)) for name, v in value.fields.items())
    if isinstance(value, GoTime):
        return value.text
    if isinstance(value, str):
        return value
    return str(value)


class _Float(float):
    pass


class _OrderedMap(list[tuple[Any, Any]]):
    pass


def to_yaml(value: Any) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):
        def check_simple_key(self) -> bool:
            # libyaml (and so yaml.v2) writes an empty string as a simple key ('"": 1');
            # PyYAML would fall back to the "? ..." complex-key form.
            if isinstance(self.event, yaml.ScalarEvent) and self.event.value == "":
                return True
            return bool(super().check_simple_key())

    def represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
        style: str | None = None
        if "\n" in data:
            style = "|"
        elif _v2_non_string(data):
            style = '"'
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    def represent_float(dumper: yaml.SafeDumper, data: float) -> yaml.Node:
        if math.isnan(data):
            text = ".nan"
        elif math.isinf(data):
            text = ".inf" if data > 0 else "-.inf"
        else:
            text = format_float(data, "g", -1)
        # Use whatever tag PyYAML would infer so that the scalar is written plain, untagged.
        tag = str(dumper.resolve(yaml.ScalarNode, text, (True, False)))  # type: ignore[no-untyped-call]
        return dumper.represent_scalar(tag, text)

    def represent_map(dumper: yaml.SafeDumper, data: _OrderedMap) -> yaml.Node:
        return dumper.represent_mapping("tag:yaml.org,2002:map", list(data),
                                        flow_style=not data)

    def represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
        return dumper.represent_sequence("tag:yaml.org,2002:seq", data,
                                         flow_style=not data)

    def represent_none(dumper: yaml.SafeDumper, data: None) -> yaml.Node:
        del data
        return dumper.represent_scalar("tag:yaml.org,2002:null", "null")

    Dumper.add_representer(str, represent_str)
    Dumper.add_representer(_Float, represent_float)
    Dumper.add_representer(_OrderedMap, represent_map)
    Dumper.add_representer(list, represent_list)
    Dumper.add_representer(type(None), represent_none)
    prepared = _prepare(value)
    text = yaml.dump(prepared, Dumper=Dumper, allow_unicode=True, default_flow_style=False,
                     sort_keys=False, width=80, indent=2)
    # PyYAML ends a document holding a bare scalar with "...": yaml.v2 does not.
    if text.endswith("\n...\n"):
        text = text[:-4]
    return text


def parse_yaml(text: str) -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    # yaml.v2 leaves timestamps as strings when decoding into interface{}.
    Loader.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    for first in "yYnN":
        Loader.add_implicit_resolver("tag:yaml.org,2002:bool",
                                     re.compile(r"^(?:y|Y|n|N)$"), [first])

    def construct_bool(loader: yaml.SafeLoader, node: yaml.Node) -> bool:
        value = loader.construct_scalar(node)  # type: ignore[arg-type]
        return str(value) in {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on",
                              "On", "ON"}

    def construct_map(loader: yaml.SafeLoader, node: yaml.Node) -> IfaceMap:
        loader.flatten_mapping(node)  # type: ignore[arg-type]
        result = IfaceMap()
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            result[key] = loader.construct_object(value_node, deep=True)
        return result

    Loader.add_constructor("tag:yaml.org,2002:bool", construct_bool)
    Loader.add_constructor("tag:yaml.org,2002:map", construct_map)
    try:
        return _from_yaml(yaml.load(text, Loader=Loader))
    except yaml.YAMLError as exc:
        raise FuncError(f"yaml: {_short_yaml_error(exc)}") from None
    except RecursionError:
        raise FuncError("yaml: exceeded max depth") from None


def _short_yaml_error(exc: Exception) -> str:
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem and mark is not None:
        return f"line {mark.line + 1}: {problem}"
    return str(exc).splitlines()[0] if str(exc) else "invalid YAML"


def _from_yaml(value: Any) -> Any:
    import datetime

    if isinstance(value, IfaceMap):
        out = IfaceMap()
        for k, v in value.items():
            out[_from_yaml(k)] = _from_yaml(v)
        return out
    if isinstance(value, dict):
        return IfaceMap((k, _from_yaml(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_from_yaml(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


# --------------------------------------------------------------------------------------------
# toTOML (BurntSushi/toml encoder)

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_string(s: str) -> str:
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        text = format_float(v, "f", -1)
        if "." not in text:
            text += ".0"
        return text
    if isinstance(v, Number):
        if re.fullmatch(r"[+-]?\d+", v.text) and -(1 << 63) <= int(v.text) < 1 << 63:
            return str(int(v.text))
        try:
            return _toml_value(float(v.text))
        except ValueError:
            return _toml_string(v.text)
    if isinstance(v, str):
        return _toml_string(v)
    if isinstance(v, list):
        if any(x is None or x is MISSING for x in v):
            raise FuncError("toTOML: toml: cannot encode array with nil element")
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        items = [f"{_toml_key(str(k))} = {_toml_value(v[k])}" for k in sorted(v)
                 if v[k] is not None]
        return "{" + ", ".join(items) + "}"
    return _toml_string(str(v))


def _is_table(v: Any) -> bool:
    return isinstance(v, dict)


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def to_toml(value: Any) -> str:
    if isinstance(value, GoStruct):
        value = value.fields
    if value is None or value is MISSING:
        raise FuncError("reflect: call of reflect.Value.Type on zero Value")
    if not isinstance(value, dict):
        return _toml_value(value)
    lines: list[str] = []
    _toml_table(value, [], lines, 0)
    return "\n".join(lines) + ("\n" if lines else "")


def _toml_table(table: dict[Any, Any], path: list[str], lines: list[str], depth: int) -> None:
    indent = "  " * depth
    # BurntSushi/toml writes no blank line between a table header and its first sub-table.
    fresh = [bool(path)]
    keys = sorted(table, key=lambda k: str(k))
    for key in keys:
        v = table[key]
        if v is None or v is MISSING or _is_table(v) or _is_table_array(v):
            continue
        lines.append(f"{indent}{_toml_key(str(key))} = {_toml_value(v)}")
        fresh[0] = False
    for key in keys:
        v = table[key]
        if _is_table(v):
            sub = [*path, _toml_key(str(key))]
            if lines and not fresh[0]:
                lines.append("")
            fresh[0] = False
            lines.append(f"{'  ' * depth}[{'.'.join(sub)}]")
            _toml_table(v, sub, lines, depth + 1)
        elif _is_table_array(v):
            sub = [*path, _toml_key(str(key))]
            for item in v:
                if lines and not fresh[0]:
                    lines.append("")
                fresh[0] = False
                lines.append(f"{'  ' * (depth)}[[{'.'.join(sub)}]]")
                _toml_table(item, sub, lines, depth + 1)
