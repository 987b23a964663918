"""Sprig's dictionary functions (dict.go): ``dict``, ``get``, ``set``, ``unset``, ``hasKey``,
``pluck``, ``keys``, ``values``, ``pick``, ``omit``, ``merge``, ``mergeOverwrite``, ``dig``,
``deepCopy``.

Templates assemble configuration maps from several secrets with these, so the semantics are
Sprig's: ``set``, ``unset`` and ``merge`` change the map they are given (a later use of the
variable sees the change), ``merge`` is imdario/mergo v0.3.15's deep merge with its rules
for empty values and slices, and a failed type assertion in ``dig`` is Go's panic message.

Go iterates maps in random order, so Sprig's ``keys`` and ``values`` come out in a random
order; here they follow the sorted keys, one of the orders Go may produce.
"""

from __future__ import annotations

from typing import Any

from s4e_secret_agent.template.funcs.sprig.conversion import strval
from s4e_secret_agent.template.funcs.sprig.panics import interface_conversion
from s4e_secret_agent.template.gofmt import sort_keys
from s4e_secret_agent.template.signature import ANY, MAP, STRING, FuncError, GoFunc
from s4e_secret_agent.template.values import (
    MISSING,
    GoStruct,
    NilList,
    NilMap,
    NilStringList,
    Number,
    StringList,
    go_type_name,
)

_MAP = "map[string]interface {}"


def _dict(*values: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(values), 2):
        key = strval(None if values[i] is MISSING else values[i])
        out[key] = values[i + 1] if i + 1 < len(values) else ""
    return out


def _get(d: dict[str, Any], key: str) -> Any:
    return d.get(key, "")


def _set(d: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    d[key] = value
    return d


def _unset(d: dict[str, Any], key: str) -> dict[str, Any]:
    d.pop(key, None)
    return d


def _has_key(d: dict[str, Any], key: str) -> bool:
    return key in d


def _pluck(key: str, *dicts: dict[str, Any]) -> list[Any]:
    return [d[key] for d in dicts if key in d]


def _keys(*dicts: dict[str, Any]) -> StringList:
    out = StringList()
    for d in dicts:
        out.extend(sort_keys(d))
    return out


def _values(d: dict[str, Any]) -> list[Any]:
    return [d[k] for k in sort_keys(d)]


def _pick(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: d[k] for k in keys if k in d}


def _omit(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    omitted = set(keys)
    return {k: v for k, v in d.items() if k not in omitted}


def _mergo_empty(value: Any) -> bool:
    """mergo's isEmptyValue of a map element (dereferencing interfaces and pointers)."""
    if value is None or value is MISSING:
        return True
    if isinstance(value, (str, list, dict, bytes)):
        return len(value) == 0
    if isinstance(value, Number):
        return value.text == ""
    if isinstance(value, (bool, int, float)):
        return value == 0
    return False


def _is_generic_map(value: Any) -> bool:
    return go_type_name(value) == _MAP


def _empty_like(value: Any) -> Any:
    # reflect.MakeSlice(type of value, 0, n): an empty, non-nil slice of the same type.
    if isinstance(value, bytes):
        return b""
    if isinstance(value, NilStringList):
        return StringList()
    if isinstance(value, NilList):
        return []
    return type(value)()


def mergo_merge(dst: dict[str, Any], src: dict[str, Any], overwrite: bool) -> None:
    """mergo.Merge(&dst, src[, WithOverride]) for Go maps, in place."""
    for key, src_value in list(src.items()):
        present = key in dst
        dst_value = dst.get(key)
        if src_value is None or src_value is MISSING:
            if overwrite:
                dst[key] = None
            continue
        src_is_map = isinstance(src_value, dict)
        if src_is_map:
            # Nested maps merge in place (unless dst holds a nil map, which cannot grow).
            if (present and isinstance(dst_value, dict) and _is_generic_map(dst_value)
                    and not isinstance(dst_value, NilMap)):
                mergo_merge(dst_value, src_value, overwrite)
        elif isinstance(src_value, (list, bytes)):
            # mergo's slice rule looks at the emptiness of the maps, not of the elements.
            replacement = dst_value
            if not present or dst_value is None:
                replacement = _empty_like(src_value)
            if overwrite or not dst:
                replacement = src_value
            dst[key] = replacement
        if present and not _mergo_empty(dst_value):
            if isinstance(src_value, (list, bytes)):
                continue
            if src_is_map and isinstance(dst_value, dict):
                continue
        if overwrite or not present or _mergo_empty(dst_value):
            dst[key] = src_value


def _merge(dst: dict[str, Any], *srcs: dict[str, Any]) -> dict[str, Any]:
    for src in srcs:
        mergo_merge(dst, src, overwrite=False)
    return dst


def _merge_overwrite(dst: dict[str, Any], *srcs: dict[str, Any]) -> dict[str, Any]:
    for src in srcs:
        mergo_merge(dst, src, overwrite=True)
    return dst


def deep_copy(value: Any) -> Any:
    """copystructure.Copy: containers copied all the way down, keeping their Go types."""
    if isinstance(value, dict):
        copied = type(value)()
        for k, v in value.items():
            copied[k] = deep_copy(v)
        return copied
    if isinstance(value, list):
        return type(value)(deep_copy(v) for v in value)
    if isinstance(value, GoStruct):
        return GoStruct(value.type_name, {k: deep_copy(v) for k, v in value.fields.items()},
                        pointer=value.pointer)
    return value


def _deep_copy(value: Any) -> Any:
    if value is None or value is MISSING:
        raise FuncError("reflect: call of reflect.Value.Type on zero Value")
    return deep_copy(value)


def _dig(*args: Any) -> Any:
    if len(args) < 3:
        raise FuncError("dig needs at least three arguments")
    d = args[-1]
    if not _is_generic_map(d):
        raise interface_conversion(_type_name(d), _MAP)
    fallback = args[-2]
    keys = []
    for k in args[:-2]:
        if not isinstance(k, str):
            raise interface_conversion(_type_name(k), "string")
        keys.append(k)
    for i, k in enumerate(keys):
        if k not in d:
            return fallback
        step = d[k]
        if i == len(keys) - 1:
            return step
        if not _is_generic_map(step):
            raise interface_conversion(_type_name(step), _MAP)
        d = step
    return fallback


def _type_name(value: Any) -> str:
    return "<nil>" if value is None or value is MISSING else go_type_name(value)


def functions() -> dict[str, GoFunc]:
    table = {
        "dict": GoFunc(_dict, (), ANY),
        "get": GoFunc(_get, (MAP, STRING)),
        "set": GoFunc(_set, (MAP, STRING, ANY)),
        "unset": GoFunc(_unset, (MAP, STRING)),
        "hasKey": GoFunc(_has_key, (MAP, STRING)),
        "pluck": GoFunc(_pluck, (STRING,), MAP),
        "keys": GoFunc(_keys, (), MAP),
        "pick": GoFunc(_pick, (MAP,), STRING),
        "omit": GoFunc(_omit, (MAP,), STRING),
        "merge": GoFunc(_merge, (MAP,), MAP),
        "mustMerge": GoFunc(_merge, (MAP,), MAP),
        "mergeOverwrite": GoFunc(_merge_overwrite, (MAP,), MAP),
        "mustMergeOverwrite": GoFunc(_merge_overwrite, (MAP,), MAP),
        "values": GoFunc(_values, (MAP,)),
        "deepCopy": GoFunc(_deep_copy, (ANY,)),
        "mustDeepCopy": GoFunc(_deep_copy, (ANY,)),
        "dig": GoFunc(_dig, (), ANY),
    }
    return {"sprig_" + name: fn for name, fn in table.items()}

