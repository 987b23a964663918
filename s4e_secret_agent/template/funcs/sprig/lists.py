"""Sprig's list functions (list.go): ``list``, ``append``, ``first``, ``rest``, ``uniq``,
``has``, ``slice``, ``chunk``, ``sortAlpha``, ... with their ``must`` variants.

Sprig works on any Go slice through reflection and always builds a new ``[]interface {}``;
what it does with something that is not a slice is part of the contract: the ``must``
variant returns an error ("Cannot push on type int"), the plain one panics with the same
text, and a nil argument is a nil-pointer panic. Both reach the template as Go reports them.
"""

from __future__ import annotations

import math
from typing import Any

from s4e_secret_agent.template.funcs.sprig.conversion import strslice, strval, to_int64
from s4e_secret_agent.template.funcs.sprig.defaults import empty
from s4e_secret_agent.template.funcs.sprig.panics import MAKESLICE_LEN, nil_dereference
from s4e_secret_agent.template.funcs.sprig.reflect import deep_equal, kind_of
from s4e_secret_agent.template.signature import ANY, INT, FuncError, GoFunc
from s4e_secret_agent.template.values import (
    MISSING,
    ListOfLists,
    NilList,
    StringList,
    Uint8,
)


def elements(value: Any, error: str) -> list[Any]:
    """The elements of a Go slice, or ``error % kind`` raised for anything else."""
    if value is None or value is MISSING:
        raise nil_dereference()
    if isinstance(value, bytes):
        return [Uint8(b) for b in value]
    if isinstance(value, list):
        return list(value)
    raise FuncError(error % kind_of(value))


def _push(items: Any, value: Any) -> list[Any]:
    return [*elements(items, "Cannot push on type %s"), value]


def _prepend(items: Any, value: Any) -> list[Any]:
    return [value, *elements(items, "Cannot prepend on type %s")]


def _first(items: Any) -> Any:
    values = elements(items, "Cannot find first on type %s")
    return values[0] if values else None


def _last(items: Any) -> Any:
    values = elements(items, "Cannot find last on type %s")
    return values[-1] if values else None


def _rest(items: Any) -> list[Any]:
    values = elements(items, "Cannot find rest on type %s")
    return values[1:] if values else NilList()


def _initial(items: Any) -> list[Any]:
    values = elements(items, "Cannot find initial on type %s")
    return values[:-1] if values else NilList()


def _reverse(items: Any) -> list[Any]:
    return elements(items, "Cannot find reverse on type %s")[::-1]


def _compact(items: Any) -> list[Any]:
    return [v for v in elements(items, "Cannot compact on type %s") if not empty(v)]


def _contains(haystack: list[Any], needle: Any) -> bool:
    return any(deep_equal(needle, item) for item in haystack)


def _uniq(items: Any) -> list[Any]:
    out: list[Any] = []
    for item in elements(items, "Cannot find uniq on type %s"):
        if not _contains(out, item):
            out.append(item)
    return out


def _without(items: Any, *omit: Any) -> list[Any]:
    omitted = list(omit)
    return [v for v in elements(items, "Cannot find without on type %s")
            if not _contains(omitted, v)]


def _has(needle: Any, haystack: Any) -> bool:
    if haystack is None or haystack is MISSING:
        return False
    return _contains(elements(haystack, "Cannot find has on type %s"), needle)


def _slice(items: Any, *indices: Any) -> Any:
    if items is None or items is MISSING:
        raise nil_dereference()
    if not isinstance(items, (list, bytes)):
        raise FuncError(f"list should be type of slice or array but {kind_of(items)}")
    length = len(items)
    if length == 0:
        return None
    start = to_int64(indices[0]) if indices else 0
    end = to_int64(indices[1]) if len(indices) >= 2 else length
    if start < 0 or end < start or end > length:
        raise FuncError("reflect.Value.Slice: slice index out of bounds")
    # The result keeps the slice's own type ([]string stays []string).
    part = items[start:end]
    return part if isinstance(items, bytes) else type(items)(part)


def _concat(*lists: Any) -> list[Any]:
    out: list[Any] = []
    for items in lists:
        if items is None or items is MISSING:
            raise nil_dereference()
        if not isinstance(items, (list, bytes)):
            raise FuncError(f"Cannot concat type {kind_of(items)} as list")
        out.extend(elements(items, "%s"))
    return out if out else NilList()


def _chunk(size: int, items: Any) -> ListOfLists:
    values = elements(items, "Cannot chunk type %s")
    length = len(values)
    chunks = _float_to_int(_go_floor(_divide(length - 1, size)) + 1)
    if chunks < 0:
        raise FuncError(MAKESLICE_LEN)
    out = ListOfLists()
    for i in range(chunks):
        width = size
        if i == chunks - 1:
            width = _float_to_int(_go_floor(math.fmod(length, size) if size else math.nan))
            if width == 0:
                width = size
        if width < 0:
            raise FuncError(MAKESLICE_LEN)
        row = []
        for j in range(width):
            index = i * size + j
            if not 0 <= index < length:
                raise FuncError("reflect: slice index out of range")
            row.append(values[index])
        out.append(row)
    return out


def _divide(a: int, b: int) -> float:
    # float64 division as Go does it: n/0 is ±Inf, 0/0 is NaN.
    if b == 0:
        return math.nan if a == 0 else math.copysign(math.inf, a)
    return a / b


def _go_floor(value: float) -> float:
    return value if math.isnan(value) or math.isinf(value) else float(math.floor(value))


def _float_to_int(value: float) -> int:
    from s4e_secret_agent.template.funcs.sprig.conversion import float_to_int64

    return float_to_int64(value)


def _sort_alpha(items: Any) -> StringList:
    if isinstance(items, (list, bytes)):
        return StringList(sorted(strslice(items),
                                 key=lambda s: s.encode("utf-8", "surrogateescape")))
    return StringList([strval(None if items is MISSING else items)])


def _list(*values: Any) -> list[Any]:
    return list(values)


def functions() -> dict[str, GoFunc]:
    table = {
        "list": GoFunc(_list, (), ANY),
        "tuple": GoFunc(_list, (), ANY),
        "append": GoFunc(_push, (ANY, ANY)),
        "push": GoFunc(_push, (ANY, ANY)),
        "prepend": GoFunc(_prepend, (ANY, ANY)),
        "first": GoFunc(_first, (ANY,)),
        "rest": GoFunc(_rest, (ANY,)),
        "last": GoFunc(_last, (ANY,)),
        "initial": GoFunc(_initial, (ANY,)),
        "reverse": GoFunc(_reverse, (ANY,)),
        "uniq": GoFunc(_uniq, (ANY,)),
        "without": GoFunc(_without, (ANY,), ANY),
        "has": GoFunc(_has, (ANY, ANY)),
        "slice": GoFunc(_slice, (ANY,), ANY),
        "compact": GoFunc(_compact, (ANY,)),
        "chunk": GoFunc(_chunk, (INT, ANY)),
        "concat": GoFunc(_concat, (), ANY),
        "sortAlpha": GoFunc(_sort_alpha, (ANY,)),
    }
    for name in ("append", "push", "prepend", "first", "rest", "last", "initial", "reverse",
                 "uniq", "without", "has", "slice", "compact", "chunk"):
        must = "must" + name[0].upper() + name[1:]
        # The must variant returns as an error what the plain one panics with: same text.
        table[must] = table[name]
    return {"sprig_" + name: fn for name, fn in table.items()}
