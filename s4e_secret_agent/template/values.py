"""Python stand-ins for the Go values a template sees.

Go's template engine behaves differently for values of different Go types (a ``json.Number`` is
not a ``string``, an ``int64`` is not an ``int``, a missing map key is not a JSON null), so the
engine keeps the Go type next to the value:

============================  ==================================================
Go                            Python
============================  ==================================================
``string``                    ``str`` (bytes that are not UTF-8: surrogate escapes)
``json.Number``               :class:`Number` (the exact JSON text)
``int``                       ``int``
``int64`` / ``uint64``        :class:`Int64` / :class:`Uint64` (``int`` subclasses)
``uint8`` (a string byte)     :class:`Uint8`
``float64``                   ``float``
``complex128``                ``complex``
``bool``                      ``bool``
``nil`` interface             ``None``
missing value (``<no value>``) :data:`MISSING`
``[]interface{}``             ``list``
``[]string``                  :class:`StringList` (:class:`AppendedStringList` when Go
                              built it by appending)
``[]int``                     :class:`IntList`
``[][]interface{}``           :class:`ListOfLists`
``map[string]interface{}``    ``dict``
``map[string]string``         :class:`StringMap`
``*dependency.Secret`` etc.   :class:`GoStruct` (fields in Go order)
typed nil pointer             :class:`NilPointer`
============================  ==================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


class Number:
    """``encoding/json.Number``: the literal text of a JSON number, kept exact."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Number) and other.text == self.text

    def __hash__(self) -> int:
        return hash(("json.Number", self.text))

    def __repr__(self) -> str:
        return f"Number({self.text!r})"


class Int64(int):
    """Go ``int64`` (what ``parseInt`` returns)."""


class Uint64(int):
    """Go ``uint64`` (what ``parseUint`` returns)."""


class Uint8(int):
    """Go ``uint8``/``byte`` (what indexing a string returns)."""


class Int32(int):
    """Go ``int32``/``rune``."""


class StringList(list[str]):
    """Go ``[]string``."""


class AppendedStringList(StringList):
    """A ``[]string`` Go built by appending one element at a time (decoded from a JSON array,
    or collected by consul-template's ``secrets``): go-spew prints its capacity, which then
    follows Go's append growth instead of equalling its length."""


class StringMap(dict[str, str]):
    """Go ``map[string]string``."""


class NilStringMap(StringMap):
    """A nil ``map[string]string``: prints ``map[]`` but encodes to JSON as ``null``."""


class NilStringList(StringList):
    """A nil ``[]string``: prints ``[]`` but encodes to JSON as ``null``."""


class IntList(list[int]):
    """Go ``[]int`` (what Sprig's ``until`` returns)."""


class ListOfLists(list[list[Any]]):
    """Go ``[][]interface{}`` (what Sprig's ``chunk`` returns)."""


class NilList(list[Any]):
    """A nil ``[]interface{}``: prints ``[]`` but encodes to JSON as ``null``."""


class NilMap(dict[str, Any]):
    """A nil ``map[string]interface{}``: prints ``map[]`` but encodes to JSON as ``null``."""


class IfaceMap(dict[Any, Any]):
    """Go ``map[interface{}]interface{}`` (what yaml.v2 decodes mappings to)."""


class _Missing:
    """The invalid ``reflect.Value``: prints as ``<no value>``."""

    __slots__ = ()
    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


class NilPointer:
    """A typed nil pointer such as a ``*dependency.SecretAuth`` that is nil."""

    __slots__ = ("fields", "type_name")

    def __init__(self, type_name: str, fields: tuple[str, ...] = ()) -> None:
        self.type_name = type_name
        self.fields = fields

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NilPointer) and other.type_name == self.type_name

    def __hash__(self) -> int:
        return hash(self.type_name)


class GoStruct:
    """A Go struct value or pointer to struct with exported fields in declaration order."""

    __slots__ = ("fields", "pointer", "type_name")

    def __init__(self, type_name: str, fields: dict[str, Any], *, pointer: bool = True) -> None:
        self.type_name = type_name  # without the leading "*"
        self.fields = fields
        self.pointer = pointer

    @property
    def go_type(self) -> str:
        return ("*" if self.pointer else "") + self.type_name


class GoTime:
    """A ``time.Time`` (only printed: ``2006-01-02 15:04:05.999999999 -0700 MST``)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class RangeChannel:
    """What ``loop`` returns: a receive-only channel of int64 (ranged over once)."""

    __slots__ = ("start", "stop")

    def __init__(self, start: int, stop: int) -> None:
        self.start = start
        self.stop = stop

    def values(self) -> Iterator[Any]:
        for i in range(self.start, self.stop):
            yield Int64(i)


class GoMethodValue:
    """Something with Go methods callable from a template (``scratch``, json.Number, ...)."""

    go_type_name = ""

    def go_method(self, name: str) -> Callable[..., Any] | None:
        del name
        return None


def basic_kind(value: Any) -> str | None:
    """The name of a Go basic numeric or boolean type ``value`` stands for (``bool``,
    ``int64``, ``uint64``, ``uint8``, ``int32``, ``int``, ``float64``, ``complex128``), which
    is both its type name and its ``reflect`` kind; None for anything else."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Int64):
        return "int64"
    if isinstance(value, Uint64):
        return "uint64"
    if isinstance(value, Uint8):
        return "uint8"
    if isinstance(value, Int32):
        return "int32"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, complex):
        return "complex128"
    return None


def go_type_name(value: Any) -> str:
    """The Go type as ``%T`` and error messages print it.

    A list or dict subclass standing for a named Go type (``sockaddr.IfAddrs``, the
    ``map[string][]interface {}`` of ``byTag``) says so in a ``go_type_name`` class attribute.
    """
    if value is None or value is MISSING:
        return "<nil>"
    if isinstance(value, (list, dict)):
        declared = getattr(value, "go_type_name", None)
        if isinstance(declared, str):
            return declared
    if (basic := basic_kind(value)) is not None:
        return basic
    if isinstance(value, str):
        return "string"
    if isinstance(value, Number):
        return "json.Number"
    if isinstance(value, StringList):
        return "[]string"
    if isinstance(value, IntList):
        return "[]int"
    if isinstance(value, ListOfLists):
        return "[][]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, StringMap):
        return "map[string]string"
    if isinstance(value, IfaceMap):
        return "map[interface {}]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, GoStruct):
        return value.go_type
    if isinstance(value, NilPointer):
        return value.type_name
    if isinstance(value, GoTime):
        return "time.Time"
    if isinstance(value, GoMethodValue):
        return value.go_type_name
    if isinstance(value, bytes):
        return "[]uint8"
    return "interface {}"


def is_generic_list(value: Any) -> bool:
    """A Go ``[]interface{}`` (not a slice of a concrete element type)."""
    return isinstance(value, list) and not isinstance(value, (StringList, IntList, ListOfLists))


def is_true(value: Any) -> bool:
    """Go's template truth: not the zero value of its type."""
    if value is None or value is MISSING:
        return False
    if isinstance(value, (str, list, dict, bytes)):
        return len(value) > 0
    if isinstance(value, Number):
        return len(value.text) > 0
    if isinstance(value, (bool, int, float, complex)):
        return value != 0
    return not isinstance(value, NilPointer)


def int_kind(value: Any) -> str:
    """'int', 'uint', 'float', 'complex', 'string', 'bool' or '' (Go's basicKind)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (Uint64, Uint8)):
        return "uint"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, complex):
        return "complex"
    if isinstance(value, (str, Number)):
        return "string"
    return ""


def scalar(value: Any) -> Any:
    """A JSON number as its text (how Go compares and prints a ``json.Number``), else as is."""
    if isinstance(value, Number):
        return value.text
    return value
