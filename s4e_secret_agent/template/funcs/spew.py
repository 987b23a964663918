"""consul-template's debugging helpers ``spew_dump``, ``spew_sdump``, ``spew_printf`` and
``spew_sprintf``: go-spew's output, byte for byte wherever Go's own output is stable.

Templates use them to see what a secret really holds (which value is a ``json.Number``, which
field is nil, how long a string is), so the output has to be go-spew's with consul-template's
settings, which are go-spew's defaults (one space of indentation, no key sorting, pointer
addresses shown). go-spew prints Go types, so this module knows the Go type behind every value
of the engine (``values.py``), including the capacity Go gives a slice that grew by appends.
What Go does not keep stable cannot match: pointer addresses (ours are made up, Go's change on
every run) and the order of map keys (Go's is random; it is sorted here).

``spew_dump`` and ``spew_printf`` write to the agent's standard output and put nothing into
the template, as in Vault Agent.
"""

from __future__ import annotations

import sys
from typing import Any

from s4e_secret_agent.template.gofmt import format_float, format_value, go_quote, sort_keys, sprintf
from s4e_secret_agent.template.gostrings import as_bytes
from s4e_secret_agent.template.signature import ANY, STRING, GoFunc
from s4e_secret_agent.template.values import (
    MISSING,
    AppendedStringList,
    GoMethodValue,
    GoStruct,
    GoTime,
    IfaceMap,
    NilList,
    NilMap,
    NilPointer,
    NilStringList,
    NilStringMap,
    Number,
    RangeChannel,
    StringList,
    StringMap,
    go_type_name,
)

# go-spew's ConfigState as consul-template uses it (spew.Config): the defaults.
_INDENT = " "

# What Go's %T says of every spew_sprintf argument: each is wrapped in a formatter.
_FORMATTER_TYPE = "*spew.formatState"

# Go's malloc size classes (runtime/sizeclasses.go): a slice grown by append gets the
# capacity that fills the size class its new backing array falls into.
_SIZE_CLASSES = (
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288,
    320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536,
    1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192,
    9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576,
    27264, 28672, 32768,
)
_MAX_SMALL_SIZE = 32768
_PAGE_SIZE = 8192
_MALLOC_HEADER = 8  # objects with pointers above 512 bytes carry an 8-byte header
_MIN_SIZE_FOR_HEADER = 512
# Both []interface{} and []string have 16-byte elements (two words).
_ELEM_SIZE = 16

# A made-up but stable-looking address per object (Go's change from run to run anyway).
_ADDRESS_BASE = 0xC000010000


def _round_up_size(size: int) -> int:
    """``runtime.roundupsize`` for an allocation that holds pointers."""
    request = size
    if request <= _MAX_SMALL_SIZE - _MALLOC_HEADER:
        if request > _MIN_SIZE_FOR_HEADER:
            request += _MALLOC_HEADER
        for class_size in _SIZE_CLASSES:
            if class_size >= request:
                return class_size - (request - size)
    return (request + _PAGE_SIZE - 1) // _PAGE_SIZE * _PAGE_SIZE


def appended_capacity(length: int) -> int:
    """The capacity of a slice of ``length`` two-word elements built by appending one at a time
    from nil (``runtime.growslice``): 1, 2, 4, 4, 8, ..., 32, 71, 71, ..."""
    cap = 0
    while cap < length:
        new_len = cap + 1
        double = cap + cap
        if new_len > double:
            new_cap = new_len
        elif cap < 256:
            new_cap = double
        else:
            new_cap = cap
            while new_cap < new_len:
                new_cap += (new_cap + 3 * 256) >> 2
        cap = _round_up_size(new_cap * _ELEM_SIZE) // _ELEM_SIZE
    return cap


def _capacity(value: list[Any]) -> int:
    # Lists of the engine come from JSON (Vault data, parseJSON), which Go decodes by
    # appending; a plain []string comes from strings.Split and friends, which size it exactly.
    if isinstance(value, StringList) and not isinstance(value, AppendedStringList):
        return len(value)
    return appended_capacity(len(value))


class _Scalar:
    """A number of a Go type the engine has no value for (the ``uint32`` inside a mutex)."""

    __slots__ = ("text", "type_name")

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name = type_name
        self.text = text


def _struct(type_name: str, **fields: Any) -> GoStruct:
    return GoStruct(type_name, fields, pointer=False)


def _mutex() -> GoStruct:
    return _struct("sync.Mutex", _=_struct("sync.noCopy"), mu=_struct(
        "sync.Mutex", state=_Scalar("int32", "0"), sema=_Scalar("uint32", "0")))


def _atomic(type_name: str, value_type: str) -> GoStruct:
    return _struct(type_name, _=_struct("atomic.noCopy"), v=_Scalar(value_type, "0"))


def _scratch_struct(scratch: Any) -> GoStruct:
    """consul-template's ``*template.Scratch`` as go-spew sees it: its sync.Once and
    sync.RWMutex (unlocked; laid out as in the Go release Vault Agent is built with) and the
    values map."""
    values = getattr(scratch, "values", None)
    return GoStruct("template.Scratch", {
        "once": _struct("sync.Once", _=_struct("sync.noCopy"),
                        done=_atomic("atomic.Bool", "uint32"), m=_mutex()),
        "RWMutex": _struct("sync.RWMutex", w=_mutex(), writerSem=_Scalar("uint32", "0"),
                           readerSem=_Scalar("uint32", "0"),
                           readerCount=_atomic("atomic.Int32", "int32"),
                           readerWait=_atomic("atomic.Int32", "int32")),
        "values": NilMap() if values is None else values,
    })


def _type_of(value: Any) -> str:
    if value is None:
        return "interface {}"
    if isinstance(value, _Scalar):
        return value.type_name
    if isinstance(value, RangeChannel):
        return "<-chan int64"
    return go_type_name(value)


def _expand(value: Any) -> Any:
    """Values go-spew looks into that the engine keeps opaque."""
    if isinstance(value, GoMethodValue) and value.go_type_name == "*template.Scratch":
        return _scratch_struct(value)
    return value


def _is_nil(value: Any) -> bool:
    return isinstance(value, (NilList, NilMap, NilStringList, NilStringMap))


def _is_interface_container(value: Any) -> bool:
    """Whether the elements (map values) are interface values: go-spew unpacks those."""
    return not isinstance(value, (StringList, StringMap))


class _Addresses:
    """One made-up address per Go pointer shown in one call (the same object, the same one)."""

    __slots__ = ("by_id", "keep")

    def __init__(self) -> None:
        self.by_id: dict[int, int] = {}
        self.keep: list[Any] = []  # keeps the objects alive so that their ids stay unique

    def of(self, value: Any) -> str:
        key = id(value)
        if key not in self.by_id:
            self.by_id[key] = _ADDRESS_BASE + 0x1000 * len(self.by_id)
            self.keep.append(value)
        return f"0x{self.by_id[key]:x}"


# --------------------------------------------------------------------------------------------
# Dump (spew.Sdump): one value per line, nested values indented.


class _Dumper:
    __slots__ = ("addresses", "depth", "ignore_next_indent", "ignore_next_type", "out")

    def __init__(self, addresses: _Addresses) -> None:
        self.out: list[str] = []
        self.depth = 0
        self.ignore_next_type = False
        self.ignore_next_indent = False
        self.addresses = addresses

    def indent(self) -> None:
        if self.ignore_next_indent:
            self.ignore_next_indent = False
            return
        self.out.append(_INDENT * self.depth)

    def dump(self, value: Any) -> None:
        value = _expand(value)
        if isinstance(value, (GoStruct, NilPointer)) and (
                not isinstance(value, GoStruct) or value.pointer):
            self.indent()
            self.dump_pointer(value)
            return
        type_name = _type_of(value)
        if not self.ignore_next_type:
            self.indent()
            self.out.append(f"({type_name}) ")
        self.ignore_next_type = False
        length = cap = 0
        if isinstance(value, (list, bytes)):
            length = len(value)
            cap = _capacity(value) if isinstance(value, list) else len(value)
        elif isinstance(value, dict):
            length = len(value)
        elif isinstance(value, str):
            length = len(as_bytes(value))
        elif isinstance(value, Number):
            length = len(as_bytes(value.text))
        if length or cap:
            parts = ([f"len={length}"] if length else []) + ([f"cap={cap}"] if cap else [])
            self.out.append("(" + " ".join(parts) + ") ")
        self.dump_body(value)

    def dump_body(self, value: Any) -> None:
        if (text := _scalar_text(value, quote_strings=True)) is not None:
            self.out.append(text)
        elif isinstance(value, bytes):
            self.dump_bytes(value)
        elif isinstance(value, list):
            if _is_nil(value):
                self.out.append("<nil>")
                return
            self.out.append("{\n")
            self.depth += 1
            for i, item in enumerate(value):
                self.dump(item)
                self.out.append(",\n" if i < len(value) - 1 else "\n")
            self.depth -= 1
            self.indent()
            self.out.append("}")
        elif isinstance(value, dict):
            if _is_nil(value):
                self.out.append("<nil>")
                return
            self.out.append("{\n")
            self.depth += 1
            keys = sort_keys(value)
            for i, key in enumerate(keys):
                self.dump(key)
                self.out.append(": ")
                self.ignore_next_indent = True
                self.dump(value[key])
                self.out.append(",\n" if i < len(keys) - 1 else "\n")
            self.depth -= 1
            self.indent()
            self.out.append("}")
        elif isinstance(value, GoStruct):
            self.dump_fields(value.fields)
        elif isinstance(value, RangeChannel):
            self.out.append(self.addresses.of(value))
        else:
            self.out.append(format_value(value))

    def dump_fields(self, fields: dict[str, Any]) -> None:
        self.out.append("{\n")
        self.depth += 1
        names = list(fields)
        for i, name in enumerate(names):
            self.indent()
            self.out.append(f"{name}: ")
            self.ignore_next_indent = True
            self.dump(fields[name])
            self.out.append(",\n" if i < len(names) - 1 else "\n")
        self.depth -= 1
        self.indent()
        self.out.append("}")

    def dump_pointer(self, value: GoStruct | NilPointer) -> None:
        if isinstance(value, NilPointer):
            self.out.append(f"({value.type_name})(<nil>)")
            return
        self.out.append(f"({value.go_type})({self.addresses.of(value)})(")
        self.ignore_next_type = True
        self.dump(GoStruct(value.type_name, value.fields, pointer=False))
        self.out.append(")")

    def dump_bytes(self, data: bytes) -> None:
        # []byte is shown like "hexdump -C", indented to the current depth.
        self.out.append("{\n")
        self.depth += 1
        indent = _INDENT * self.depth
        text = indent + _hex_dump(data)
        text = text.replace("\n", "\n" + indent).rstrip(_INDENT)
        self.out.append(text)
        self.depth -= 1
        self.indent()
        self.out.append("}")


def _time_string(value: GoTime) -> str:
    """``time.Time.String`` of a time Vault sent as RFC 3339 text (as Go's JSON decoder reads
    it): ``2026-01-02 15:04:05.123 +0000 UTC``; other text is shown as it is."""
    import re

    match = re.fullmatch(r"(\d{4}-\d\d-\d\d)[Tt](\d\d:\d\d:\d\d)(\.\d+)?"
                         r"(?:([Zz])|([+-])(\d\d):(\d\d))", value.text)
    if match is None:
        return value.text
    date, clock, fraction, utc, sign, hours, minutes = match.groups()
    fraction = (fraction or "")[:10].rstrip("0").rstrip(".")
    if utc or hours + minutes == "0000":
        zone = "+0000 UTC"
    else:
        # A fixed offset without a zone name prints the offset in both places.
        zone = f"{sign}{hours}{minutes} {sign}{hours}{minutes}"
    return f"{date} {clock}{fraction} {zone}"


def _scalar_text(value: Any, *, quote_strings: bool) -> str | None:
    """How go-spew prints a scalar (nil, bool, number, string, time), as ``Dump`` does
    (``quote_strings``: strings quoted) or as its ``%v`` formatter does; None for anything
    else. Times print through their ``String`` method, as go-spew calls it."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, complex):
        return _complex(value)
    if isinstance(value, str):
        return go_quote(value) if quote_strings else value
    if isinstance(value, GoTime):
        return _time_string(value)
    if isinstance(value, (Number, _Scalar)):
        return str(value.text)
    return None


def _complex(value: complex) -> str:
    imag = format_float(value.imag)
    sign = "+" if value.imag >= 0 or imag == "NaN" else ""
    return f"({format_float(value.real)}{sign}{imag}i)"


def _hex_dump(data: bytes) -> str:
    """``encoding/hex.Dump``: offset, 16 bytes in hex in two groups of 8, then the text."""
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset:offset + 16]
        hexes = ""
        for i in range(16):
            hexes += f"{chunk[i]:02x} " if i < len(chunk) else "   "
            if i == 7:
                hexes += " "
        text = "".join(chr(b) if 32 <= b <= 126 else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexes} |{text}|\n")
    return "".join(lines)


def sdump(args: tuple[Any, ...], addresses: _Addresses | None = None) -> str:
    """``spew.Sdump(args...)``: every argument dumped, each followed by a newline."""
    addresses = addresses or _Addresses()
    out = []
    for arg in args:
        if arg is None or arg is MISSING:
            out.append("(interface {}) <nil>\n")
            continue
        dumper = _Dumper(addresses)
        dumper.dump(arg)
        out.append("".join(dumper.out) + "\n")
    return "".join(out)


# --------------------------------------------------------------------------------------------
# The formatter (spew.Sprintf's %v, %+v, %#v, %#+v): one line, like fmt's %v with extras.


class _Formatter:
    __slots__ = ("addresses", "ignore_next_type", "out", "show_pointers", "show_types")

    def __init__(self, show_types: bool, show_pointers: bool, addresses: _Addresses) -> None:
        self.show_types = show_types
        self.show_pointers = show_pointers
        self.ignore_next_type = False
        self.out: list[str] = []
        self.addresses = addresses

    def unpack(self, value: Any, interface: bool) -> Any:
        # A value taken out of an interface shows its type again under %#v.
        if interface:
            self.ignore_next_type = False
        return value

    def format(self, value: Any) -> None:
        value = _expand(value)
        if isinstance(value, (GoStruct, NilPointer)) and (
                not isinstance(value, GoStruct) or value.pointer):
            self.format_pointer(value)
            return
        if not self.ignore_next_type and self.show_types:
            self.out.append(f"({_type_of(value)})")
        self.ignore_next_type = False
        if (text := _scalar_text(value, quote_strings=False)) is not None:
            self.out.append(text)
        elif isinstance(value, bytes):
            self.out.append("[" + " ".join(str(b) for b in value) + "]")
        elif isinstance(value, list):
            if _is_nil(value):
                self.out.append("<nil>")
                return
            interface = _is_interface_container(value)
            self.out.append("[")
            for i, item in enumerate(value):
                if i:
                    self.out.append(" ")
                self.ignore_next_type = True
                self.format(self.unpack(item, interface))
            self.out.append("]")
        elif isinstance(value, dict):
            if _is_nil(value):
                self.out.append("<nil>")
                return
            interface = _is_interface_container(value)
            self.out.append("map[")
            for i, key in enumerate(sort_keys(value)):
                if i:
                    self.out.append(" ")
                self.ignore_next_type = True
                self.format(self.unpack(key, isinstance(value, IfaceMap)))
                self.out.append(":")
                self.ignore_next_type = True
                self.format(self.unpack(value[key], interface))
            self.out.append("]")
        elif isinstance(value, GoStruct):
            self.format_fields(value.fields)
        elif isinstance(value, RangeChannel):
            self.out.append(self.addresses.of(value))
        else:
            self.out.append(format_value(value))

    def format_fields(self, fields: dict[str, Any]) -> None:
        self.out.append("{")
        for i, (name, field) in enumerate(fields.items()):
            if i:
                self.out.append(" ")
            if self.show_pointers or self.show_types:
                self.out.append(f"{name}:")
            self.format(field)
        self.out.append("}")

    def format_pointer(self, value: GoStruct | NilPointer) -> None:
        if isinstance(value, NilPointer):
            if not self.show_types or self.ignore_next_type:
                self.out.append("<nil>")
            else:
                self.out.append(f"({value.type_name})<nil>")
            return
        if self.show_types and not self.ignore_next_type:
            self.out.append(f"({value.go_type})")
        else:
            self.out.append("<*>")
        if self.show_pointers:
            self.out.append(f"({self.addresses.of(value)})")
        self.ignore_next_type = True
        self.format(GoStruct(value.type_name, value.fields, pointer=False))


def format_spew(value: Any, show_types: bool, show_pointers: bool,
                addresses: _Addresses) -> str:
    """What go-spew's formatter writes for ``%v`` (``+``: pointers, ``#``: types)."""
    if value is None or value is MISSING:
        return ("(interface {})" if show_types else "") + "<nil>"
    formatter = _Formatter(show_types, show_pointers, addresses)
    formatter.format(value)
    return "".join(formatter.out)


_FLAG_ORDER = "0-+# "
_TOO_LARGE = 1_000_000


def sprintf_spew(fmt: str, args: tuple[Any, ...], addresses: _Addresses | None = None) -> str:
    """``spew.Sprintf``: Go's ``fmt.Sprintf`` with every argument wrapped in go-spew's
    formatter, which handles ``%v`` itself and hands every other verb to ``fmt`` unchanged."""
    addresses = addresses or _Addresses()
    values = [None if a is MISSING else a for a in args]
    parser = _FormatParser(fmt, len(values))
    out: list[str] = []
    while parser.i < parser.end:
        j = fmt.find("%", parser.i)
        if j < 0:
            out.append(fmt[parser.i:])
            break
        out.append(fmt[parser.i:j])
        verb = parser.directive(j + 1, out)
        if verb is None:
            out.append("%!(NOVERB)")
            break
        if verb == "%":
            out.append("%")
        elif not parser.good_argnum:
            out.append(f"%!{verb}(BADINDEX)")
        elif parser.argnum >= len(values):
            out.append(f"%!{verb}(MISSING)")
        else:
            out.append(_format_verb(values[parser.argnum], verb, parser.flags, parser.width,
                                    parser.precision, addresses))
            parser.argnum += 1
    if not parser.reordered and parser.argnum < len(values):
        extra = ", ".join(f"{_FORMATTER_TYPE}=" + format_spew(v, False, False, addresses)
                          for v in values[parser.argnum:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


class _FormatParser:
    """Go's ``doPrintf`` reading of one directive: flags, ``[n]`` indexes, width, precision."""

    __slots__ = ("argnum", "count", "end", "flags", "fmt", "good_argnum", "i", "precision",
                 "reordered", "width")

    def __init__(self, fmt: str, count: int) -> None:
        self.fmt = fmt
        self.count = count
        self.i = 0
        self.end = len(fmt)
        self.argnum = 0
        self.reordered = False
        self.good_argnum = True
        self.flags: dict[str, bool] = {}
        self.width: int | None = None
        self.precision: int | None = None

    def parse_num(self, i: int, end: int) -> tuple[int, bool, int]:
        """Go's ``parsenum``: (number, present, next index); past 10**6 it gives up."""
        num, start = 0, i
        while i < end and "0" <= self.fmt[i] <= "9":
            if num > _TOO_LARGE:
                return 0, False, end
            num = num * 10 + ord(self.fmt[i]) - 48
            i += 1
        return num, i > start, i

    def arg_number(self) -> bool:
        """Go's ``argNumber`` at the current position; True when an index was read."""
        fmt, i = self.fmt, self.i
        if i >= self.end or fmt[i] != "[":
            return False
        self.reordered = True
        index, width, ok = 0, 1, False
        if self.end - i >= 3:
            close = fmt.find("]", i + 1)
            if close > 0:
                number, present, after = self.parse_num(i + 1, close)
                width = close - i + 1
                if present and after == close:
                    index, ok = number - 1, True
        self.i = i + width
        if ok and 0 <= index < self.count:
            self.argnum = index
            return True
        self.good_argnum = False
        return ok

    def directive(self, i: int, out: list[str]) -> str | None:
        """Read the directive after ``%`` at ``i``; returns its verb (None at the end)."""
        fmt, end = self.fmt, self.end
        self.i = i
        self.good_argnum = True
        self.flags = dict.fromkeys(_FLAG_ORDER, False)
        self.width = self.precision = None
        while self.i < end and fmt[self.i] in "#0+- ":
            c = fmt[self.i]
            if c == "0":
                self.flags["0"] = not self.flags["-"]  # only pad with zeros on the left
            elif c == "-":
                self.flags["-"] = True
                self.flags["0"] = False
            else:
                self.flags[c] = True
            self.i += 1
        after_index = self.arg_number()
        if self.i < end and fmt[self.i] == "*":
            # The width would come from an int argument; every argument is a formatter.
            self.i += 1
            if self.argnum < self.count:
                self.argnum += 1
            out.append("%!(BADWIDTH)")
            after_index = False
        else:
            width, present, self.i = self.parse_num(self.i, end)
            if present:
                self.width = width
                if after_index:  # "%[3]2d"
                    self.good_argnum = False
        if self.i + 1 < end and fmt[self.i] == ".":
            self.i += 1
            if after_index:  # "%[3].2d"
                self.good_argnum = False
            after_index = self.arg_number()
            if self.i < end and fmt[self.i] == "*":
                self.i += 1
                if self.argnum < self.count:
                    self.argnum += 1
                out.append("%!(BADPREC)")
                after_index = False
            else:
                precision, _present, self.i = self.parse_num(self.i, end)
                self.precision = precision
        if not after_index:
            self.arg_number()
        if self.i >= end:
            return None
        verb = fmt[self.i]
        self.i += 1
        return verb


def _format_verb(value: Any, verb: str, flags: dict[str, bool], width: int | None,
                 precision: int | None, addresses: _Addresses) -> str:
    if verb == "T":
        return _pad(_FORMATTER_TYPE, flags, width)
    if verb == "p":
        return _pad(addresses.of(object()), flags, width)
    if verb == "w":
        # Sprintf refuses %w; fmt then prints the formatter itself with plain %v.
        inner = "<nil>" if value is None else _plain_field(value)
        return (f"%!w({_FORMATTER_TYPE}=&{{{inner} <nil> 0 map[] false "
                f"{addresses.of(_FORMATTER_TYPE)}}})")
    if verb == "v":
        # go-spew ignores width and precision for %v.
        return format_spew(value, flags["#"], flags["+"], addresses)
    # Any other verb: fmt formats the wrapped value with the verb as written.
    spec = "%" + "".join(c for c in _FLAG_ORDER if flags[c])
    if width is not None:
        spec += str(width)
    if precision is not None:
        spec += f".{precision}"
    return sprintf(spec + verb, [value])


def _plain_field(value: Any) -> str:
    # fmt's %v of an interface field: a pointer inside a struct prints as its address.
    if isinstance(value, GoStruct) and value.pointer:
        return "0xc000010000"
    return format_value(value, top=False)


def _pad(text: str, flags: dict[str, bool], width: int | None) -> str:
    if width is None or len(text) >= width:
        return text
    fill = width - len(text)
    return text + " " * fill if flags["-"] else " " * fill + text


# --------------------------------------------------------------------------------------------
# The template functions


def _write_stdout(text: str) -> None:
    """Write to the agent's standard output like Go's ``os.Stdout`` (unbuffered, raw bytes)."""
    stream = sys.stdout
    data = as_bytes(text)
    buffer = getattr(stream, "buffer", None)
    stream.flush()
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:
        stream.write(data.decode("utf-8", "replace"))
        stream.flush()


def spew_sdump(*args: Any) -> str:
    return sdump(args)


def spew_dump(*args: Any) -> str:
    _write_stdout(sdump(args))
    return ""


def spew_sprintf(fmt: str, *args: Any) -> str:
    return sprintf_spew(fmt, args)


def spew_printf(fmt: str, *args: Any) -> str:
    _write_stdout(sprintf_spew(fmt, args))
    return ""


def functions() -> dict[str, GoFunc]:
    return {
        "spew_dump": GoFunc(spew_dump, (), ANY),
        "spew_sdump": GoFunc(spew_sdump, (), ANY),
        "spew_printf": GoFunc(spew_printf, (STRING,), ANY),
        "spew_sprintf": GoFunc(spew_sprintf, (STRING,), ANY),
    }
