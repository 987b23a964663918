"""Sprig's reflection functions: ``typeOf``, ``kindOf``, ``typeIs``, ``kindIs``, ``deepEqual``.

Templates use them to branch on what a secret field holds, so the answers must be Go's: a
JSON number from Vault is a ``json.Number`` of kind ``string``, ``sprig_list`` makes an
``[]interface {}``, ``sprig_add`` an ``int64``. The kind and deep-equality helpers are shared
by the list and dict functions, which are built on Go's reflect package too.
"""

from __future__ import annotations

import math
from typing import Any

from s4e_secret_agent.template.signature import ANY, STRING, GoFunc
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
    RangeChannel,
    basic_kind,
    go_type_name,
)


def type_of(value: Any) -> str:
    """``fmt.Sprintf("%T", value)``."""
    if isinstance(value, RangeChannel):
        return "<-chan int64"
    return go_type_name(value)


def kind_of(value: Any) -> str:
    """``reflect.ValueOf(value).Kind().String()``."""
    if value is None or value is MISSING:
        return "invalid"
    if (basic := basic_kind(value)) is not None:
        return basic
    if isinstance(value, (str, Number)):
        return "string"
    if isinstance(value, (list, bytes)):
        return "slice"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, GoStruct):
        return "ptr" if value.pointer else "struct"
    if isinstance(value, GoTime):
        return "struct"
    if isinstance(value, RangeChannel):
        return "chan"
    if isinstance(value, GoMethodValue):
        return str(getattr(value, "go_kind", "ptr"))
    return "ptr"


def is_nil_container(value: Any) -> bool:
    return isinstance(value, (NilList, NilMap, NilStringList, NilStringMap))


def deep_equal(a: Any, b: Any) -> bool:
    """``reflect.DeepEqual``: same types, then same contents (a nil slice is not empty one)."""
    a = None if a is MISSING else a
    b = None if b is MISSING else b
    if a is None or b is None:
        return a is None and b is None
    if type_of(a) != type_of(b):
        return False
    if isinstance(a, (list, dict)) and is_nil_container(a) != is_nil_container(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        if len(a) != len(b):
            return False
        return all(k in b and deep_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, float):
        return a == b and not math.isnan(a)
    if isinstance(a, Number):
        return bool(a.text == b.text)
    if isinstance(a, GoStruct):
        if a is b:
            return True
        return all(deep_equal(v, b.fields.get(k)) for k, v in a.fields.items())
    if isinstance(a, NilPointer):
        return True
    if isinstance(a, GoTime):
        return bool(a.text == b.text)
    if isinstance(a, GoMethodValue):
        same = getattr(a, "go_deep_equal", None)
        return bool(same(b)) if callable(same) else a is b
    return bool(a == b)


def _type_is(target: str, value: Any) -> bool:
    return target == type_of(value)


def _type_is_like(target: str, value: Any) -> bool:
    typ = type_of(value)
    return target in (typ, typ[1:] if typ.startswith("*") else None)


def _kind_is(target: str, value: Any) -> bool:
    return target == kind_of(value)


def functions() -> dict[str, GoFunc]:
    return {
        "sprig_typeOf": GoFunc(type_of, (ANY,)),
        "sprig_typeIs": GoFunc(_type_is, (STRING, ANY)),
        "sprig_typeIsLike": GoFunc(_type_is_like, (STRING, ANY)),
        "sprig_kindOf": GoFunc(kind_of, (ANY,)),
        "sprig_kindIs": GoFunc(_kind_is, (STRING, ANY)),
        "sprig_deepEqual": GoFunc(deep_equal, (ANY, ANY)),
    }
