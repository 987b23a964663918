"""Go's own template functions (``text/template/funcs.go``): comparison, ``index``, ``slice``,
``len``, the ``print`` family and the HTML/JS/URL escapers.

They decide what every template's ``if eq``, ``printf`` and ``index`` do, so each follows Go
to the error message: comparing an int with a string is "incompatible types for comparison",
``len`` of a nil pointer is an error, strings are indexed by byte.
"""

from __future__ import annotations

from typing import Any

from s4e_secret_agent.template.gofmt import format_value, sprint, sprintf, sprintln
from s4e_secret_agent.template.gostrings import as_bytes as _bytes
from s4e_secret_agent.template.signature import ANY, STRING, VALUE, FuncError, GoFunc
from s4e_secret_agent.template.values import (
    MISSING,
    NilPointer,
    Number,
    StringList,
    StringMap,
    Uint8,
    go_type_name,
    int_kind,
    is_true,
)

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


def functions() -> dict[str, GoFunc]:
    """This group's table (``and``/``or`` are evaluated lazily by the executor itself)."""
    return {
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
    }
