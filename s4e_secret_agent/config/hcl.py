"""HCL as Vault Agent reads it: HCL version 1, the language of ``hashicorp/hcl`` v1.

Vault and OpenBao read agent configs with HCL1 (Vault's fork ``v1.0.1-vault-7``), not HCL2, and
configs copied from their docs and written by the Vault Agent Injector use forms only HCL1 has:
``auto_auth = { method "kubernetes" { ... } }``, quoted keys (``"auto_auth" = { ... }``),
heredocs whose terminator is indented (HCL1 keeps that indentation at the end of the string,
so a rendered file ends with it) and ``<<-`` heredocs that drop the terminator's indentation.
HCL2 parsers reject or reshape these (python-hcl2 refuses the first two, keeps heredoc
markers and quotes in the values, and takes about 85 ms to import its lark grammar). The HCL1
parser on PyPI, pyhcl, reads them but does not remove a ``<<-`` heredoc's indentation as Vault
does, and builds its ply tables at first use (about 16 ms import, 35 ms first parse). Parsing
must cost next to nothing because ``init`` sits on every pod's start path. So this is a small
recursive-descent reader of exactly HCL1's native syntax, with its quirks (text that starts
with ``{`` is JSON, read by the JSON reader), checked against ``bao agent`` by
``tests/config/test_hcl_differential.py``; it imports in about a millisecond.

:func:`parse` gives a light syntax tree (:class:`Body`); :func:`agent_tree` turns it into the
raw tree in Vault Agent's JSON shape the way Vault Agent's config loader reads each stanza,
with the line of each config path for error messages.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from typing import Any, NoReturn

from s4e_secret_agent.errors import ConfigError

# -- syntax tree -----------------------------------------------------------------------------


# Plain classes with __slots__, not dataclasses: building dataclasses costs milliseconds of
# import time on every pod start.
class Key:
    """One key of an item: ``name`` is the identifier or the unquoted string, ``text`` the key
    as written (HCL1 compares those when it looks for an argument set twice)."""

    __slots__ = ("name", "offset", "text")

    def __init__(self, name: str, text: str, offset: int) -> None:
        self.name, self.text, self.offset = name, text, offset


class Literal:
    """A string, heredoc, number, float or bool; ``text`` is the token as written."""

    __slots__ = ("kind", "offset", "text", "value")

    def __init__(self, kind: str, value: str | int | float | bool, text: str,
                 offset: int) -> None:
        self.kind, self.value, self.text, self.offset = kind, value, text, offset


class ListValue:
    __slots__ = ("elements", "offset")

    def __init__(self, elements: list[Value], offset: int) -> None:
        self.elements, self.offset = elements, offset


class Body:
    """The items of a file or of a ``{ ... }`` object."""

    __slots__ = ("items", "offset")

    def __init__(self, items: list[Item], offset: int) -> None:
        self.items, self.offset = items, offset


Value = Literal | ListValue | Body


class Item:
    """``keys[0] keys[1:] { body }`` (a block with labels) or ``key = value``."""

    __slots__ = ("assigned", "keys", "value")

    def __init__(self, keys: list[Key], value: Value, *, assigned: bool) -> None:
        self.keys, self.value, self.assigned = keys, value, assigned


class Source:
    """The text being read and how to turn an offset into ``line:column`` (both from 1)."""

    __slots__ = ("_starts", "label", "text")

    def __init__(self, text: str, label: str) -> None:
        self.text, self.label = text, label
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(self, offset: int) -> tuple[int, int]:
        row = bisect.bisect_right(self._starts, offset) - 1
        return row + 1, offset - self._starts[row] + 1

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)

    def syntax_error(self, offset: int, message: str, hint: str = "") -> NoReturn:
        line, column = self.position(offset)
        raise ConfigError(message, source=self.label, line=line, column=column, hint=hint)


# -- scanner ---------------------------------------------------------------------------------
EOF, IDENT, BOOL, NUMBER, FLOAT, STRING, HEREDOC = (
    "end of file", "identifier", "bool", "number", "float", "string", "heredoc")
LBRACK, RBRACK, LBRACE, RBRACE, COMMA, ASSIGN = "[", "]", "{", "}", ",", "="
PERIOD, ADD, SUB = ".", "+", "-"
_LITERALS = frozenset({BOOL, NUMBER, FLOAT, STRING, HEREDOC})
_PUNCTUATION = {"[": LBRACK, "]": RBRACK, "{": LBRACE, "}": RBRACE, ",": COMMA, "=": ASSIGN,
                "+": ADD}


class Token:
    __slots__ = ("kind", "offset", "text")

    def __init__(self, kind: str, text: str, offset: int) -> None:
        self.kind, self.text, self.offset = kind, text, offset


_SPACE = re.compile(r"[ \t\n\r]*")
_IDENT_ASCII = re.compile(r"[A-Za-z0-9_.\-]*")
_DIGITS = re.compile(r"[0-9]*")
_HEX_DIGITS = re.compile(r"[0-9a-fA-F]*")
_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92,
                   '"': 34}
_ESCAPE_WIDTH = {"x": 2, "u": 4, "U": 8}


def _is_letter(char: str) -> bool:
    return char.isalpha() or char == "_"


def _is_anchor_char(char: str) -> bool:
    """Letters, ``_`` and decimal digits (Unicode ones too, as Go's ``unicode`` package)."""
    return char.isalpha() or char == "_" or char.isdecimal()


def _is_ident_char(char: str) -> bool:
    return _is_anchor_char(char) or char in "-."


class Scanner:
    """Tokens of HCL1's native syntax, one at a time; comments are skipped."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.text = source.text
        self.pos = 0

    def scan(self) -> Token:
        text, size = self.text, len(self.text)
        i = self.pos
        while True:
            i = _SPACE.match(text, i).end()  # type: ignore[union-attr]
            if i >= size:
                self.pos = i
                return Token(EOF, "", i)
            char = text[i]
            if char == "#" or text.startswith("//", i):
                end = text.find("\n", i)
                i = size if end < 0 else end
                continue
            if text.startswith("/*", i):
                end = text.find("*/", i + 2)
                if end < 0:
                    self.source.syntax_error(size, "comment not terminated", "close it with */")
                i = end + 2
                continue
            break
        start = i
        if _is_letter(char):
            end = self._ident_end(i + 1)
            word = text[i:end]
            kind = BOOL if word in ("true", "false") else IDENT
        elif "0" <= char <= "9" or (char == "-" and "0" <= text[i + 1:i + 2] <= "9"):
            kind, end = self._number(i + 1 if char == "-" else i)
        elif char == '"':
            kind, end = STRING, self._string_end(i)
        elif char == "<":
            kind, end = HEREDOC, self._heredoc_end(i)
        elif char == ".":
            if "0" <= text[i + 1:i + 2] <= "9":
                # ".5" is a float; like HCL1, an exponent after it keeps only its "e".
                end = _DIGITS.match(text, i + 1).end()  # type: ignore[union-attr]
                if text[end:end + 1] in ("e", "E") and end < size:
                    end += 1
                kind = FLOAT
            else:
                kind, end = PERIOD, i + 1
        elif char in _PUNCTUATION:
            kind, end = _PUNCTUATION[char], i + 1
        elif char == "-":
            kind, end = SUB, i + 1
        elif char == "/":
            self.source.syntax_error(i, "a single '/' (comments start with // or /*)")
        else:
            self.source.syntax_error(i, f"unexpected character {_show(char)}")
        self.pos = end
        return Token(kind, text[start:end], start)

    def _ident_end(self, i: int) -> int:
        text, size = self.text, len(self.text)
        while True:
            i = _IDENT_ASCII.match(text, i).end()  # type: ignore[union-attr]
            if i < size and not text[i].isascii() and _is_ident_char(text[i]):
                i += 1
                continue
            return i

    def _number(self, i: int) -> tuple[str, int]:
        text = self.text
        if text.startswith(("0x", "0X"), i):
            end = _HEX_DIGITS.match(text, i + 2).end()  # type: ignore[union-attr]
            if end == i + 2:
                self.source.syntax_error(i, "a hexadecimal number without digits")
            return NUMBER, end
        end = _DIGITS.match(text, i).end()  # type: ignore[union-attr]
        kind = NUMBER
        if text[end:end + 1] == ".":
            kind = FLOAT
            end = _DIGITS.match(text, end + 1).end()  # type: ignore[union-attr]
        if text[end:end + 1] in ("e", "E") and end < len(text):
            kind = FLOAT
            end += 1
            if text[end:end + 1] in ("+", "-") and end < len(text):
                end += 1
            end = _DIGITS.match(text, end).end()  # type: ignore[union-attr]
        return kind, end

    def _string_end(self, start: int) -> int:
        """Where the string starting at ``start`` ends; quotes and newlines inside ``${...}``
        do not end it, as in HCL1."""
        text, size = self.text, len(self.text)
        braces = 0
        i = start + 1
        while True:
            if i >= size or (text[i] == "\n" and braces == 0):
                self.source.syntax_error(start, "string not terminated",
                                 'close it with " on the same line, or use a heredoc')
            char = text[i]
            if char == '"' and braces == 0:
                return i + 1
            if braces == 0 and char == "$" and text.startswith("{", i + 1):
                braces = 1
                i += 2
                continue
            if braces > 0 and char == "{":
                braces += 1
            elif braces > 0 and char == "}":
                braces -= 1
            elif char == "\\":
                i = self._escape_end(i)
                continue
            i += 1

    def _escape_end(self, i: int) -> int:
        """Where the escape sequence at ``i`` (a backslash) ends; unknown ones are errors."""
        text = self.text
        kind = text[i + 1:i + 2]
        if kind in _SIMPLE_ESCAPES:
            return i + 2
        if kind in _ESCAPE_WIDTH:
            end = i + 2 + _ESCAPE_WIDTH[kind]
            if end <= len(text) and _HEX_DIGITS.fullmatch(text, i + 2, end):
                return end
        elif kind and kind in "01234567" and re.fullmatch("[0-7]{3}", text[i + 1:i + 4]):
            return i + 4
        self.source.syntax_error(i, f"unknown escape sequence \\{kind}",
                         'use \\n \\t \\" \\\\ \\xHH \\uHHHH or \\ooo')

    def _heredoc_end(self, start: int) -> int:
        """Where the heredoc starting at ``start`` ends: after the newline of the first line
        that is (any leading space, then) the anchor. The anchor line needs that newline."""
        text, size = self.text, len(self.text)
        if not text.startswith("<", start + 1):
            self.source.syntax_error(start, "expected '<<' to start a heredoc")
        i = start + 2
        anchor_start = i
        if text.startswith("-", i):
            i += 1
        while i < size and _is_anchor_char(text[i]):
            i += 1
        if i >= size:
            self.source.syntax_error(size, "heredoc not terminated")
        if text.startswith("\r\n", i):
            i += 1
        if text[i] != "\n":
            self.source.syntax_error(i, "a heredoc anchor (<<EOF or <<-EOF) must end its line")
        ident = text[anchor_start:i]
        if ident in ("", "-"):
            self.source.syntax_error(start, "a heredoc needs an anchor name, e.g. <<EOF")
        anchor = ident[1:] if ident.startswith("-") else ident
        terminator = re.compile(r"[\t\n\v\f\r ]*" + re.escape(anchor) + r"\r*")
        minimum = len(ident.encode("utf-8", "surrogatepass"))
        line_start = i + 1
        while True:
            newline = text.find("\n", line_start)
            if newline < 0:
                hint = (f"end it with a line holding {anchor} followed by a newline"
                        + (f" (with <<-, {anchor} must be indented)" if ident[0] == "-"
                           else ""))
                self.source.syntax_error(size, "heredoc not terminated", hint)
            row = text[line_start:newline]
            if len(row.encode("utf-8", "surrogatepass")) >= minimum \
                    and terminator.fullmatch(row):
                return newline + 1
            line_start = newline + 1


def _show(char: str) -> str:
    if char == "\ufeff":
        return "U+FEFF (a byte-order mark; save the file without it)"
    return repr(char) if char.isprintable() else f"U+{ord(char):04X}"


# -- literal values --------------------------------------------------------------------------
def heredoc_value(token_text: str) -> str:
    """The string a heredoc token stands for, computed as HCL1 does: the lines between the
    anchor and the terminator; a terminator's indentation stays at the end of the string for
    ``<<EOF``; for ``<<-EOF`` the terminator's indentation is cut from every line when every
    line starts with it (otherwise the text is kept and only that trailing indentation goes)."""
    raw = token_text.encode("utf-8", "surrogateescape")
    idx = raw.index(b"\n")
    if raw[2:3] != b"-":
        body = raw[idx + 1:len(raw) - idx + 1]
    else:
        rows = raw[idx + 1:len(raw) - idx + 2].split(b"\n")
        prefix = rows[-1]
        if all(row.startswith(prefix) for row in rows):
            body = b"\n".join([row[len(prefix):] for row in rows[:-1]] + [b""])
        else:
            body = raw[idx + 1:len(raw) - idx + 1].rstrip(b" \t")
    return body.decode("utf-8", "surrogateescape")


def string_value(token_text: str) -> str:
    """The value of a quoted HCL1 string: Go-style escapes, ``\\x`` and octal escapes give
    bytes, and ``${...}`` is kept exactly as written (Vault Agent does not interpolate)."""
    body = token_text[1:-1]
    out = bytearray()
    i, size = 0, len(body)
    while i < size:
        char = body[i]
        if char == "$" and body.startswith("{", i + 1):
            depth, j = 1, i + 2
            while j < size and depth:
                if body[j] == "\ufffd":
                    raise ValueError("U+FFFD inside ${...}")
                depth += {"{": 1, "}": -1}.get(body[j], 0)
                j += 1
            if depth:
                raise ValueError("unbalanced ${...}")
            out += body[i:j].encode("utf-8", "surrogateescape")
            i = j
            continue
        if char != "\\":
            out += char.encode("utf-8", "surrogateescape")
            i += 1
            continue
        kind = body[i + 1]
        if kind in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[kind])
            i += 2
        elif kind in _ESCAPE_WIDTH:
            width = _ESCAPE_WIDTH[kind]
            number = int(body[i + 2:i + 2 + width], 16)
            if kind == "x":
                out.append(number)
            elif number > 0x10FFFF:
                raise ValueError(f"\\{kind}{body[i + 2:i + 2 + width]} is not a character")
            else:
                # Go encodes a surrogate code point as U+FFFD.
                out += ("\ufffd" if 0xD800 <= number < 0xE000 else chr(number)).encode()
            i += 2 + width
        else:
            number = int(body[i + 1:i + 4], 8)
            if number > 255:
                raise ValueError(f"octal escape \\{body[i + 1:i + 4]} is over \\377")
            out.append(number)
            i += 4
    return out.decode("utf-8", "surrogateescape")


def go_int(text: str) -> int:
    """``strconv.ParseInt(text, 0, 64)``: ``0x`` hexadecimal, a leading ``0`` octal."""
    body = text[1:] if text.startswith("-") else text
    if body[:2] in ("0x", "0X"):
        number = int(body[2:], 16)
    elif len(body) > 1 and body[0] == "0":
        if not re.fullmatch("[0-7]+", body[1:]):
            raise ValueError("a number with a leading 0 is octal, and 8 and 9 are not octal "
                             "digits")
        number = int(body[1:], 8)
    else:
        number = int(body, 10)
    number = -number if text.startswith("-") else number
    if not -(2**63) <= number < 2**63:
        raise ValueError("out of range for a 64-bit integer")
    return number


# -- parser ----------------------------------------------------------------------------------
class Parser:
    """HCL1's grammar: a body is items ``keys... { body }`` or ``key = value``, optionally
    separated by commas; values are literals, ``{ body }`` or ``[ values ]``."""

    def __init__(self, source: Source, *, allow_duplicate_attributes: bool) -> None:
        self.source = source
        self.scanner = Scanner(source)
        self.allow_duplicates = allow_duplicate_attributes
        self.token = Token(EOF, "", 0)
        self.pushed_back = False
        self.ignored: list[tuple[str, int]] = []  # "key =" at the end of the file

    def next(self) -> Token:
        if self.pushed_back:
            self.pushed_back = False
        else:
            self.token = self.scanner.scan()
        return self.token

    def back(self) -> None:
        self.pushed_back = True

    def body(self, *, braced: bool, offset: int) -> Body:
        items: list[Item] = []
        seen: dict[str, int] = {}
        while True:
            if braced:
                token = self.next()
                self.back()
                if token.kind == RBRACE:
                    break
            item = self.item(top_level=not braced)
            if item is None:
                break
            if item.assigned and not self.allow_duplicates:
                key = item.keys[0]
                if key.text in seen:
                    line, column = self.source.position(seen[key.text])
                    self.source.syntax_error(
                        key.offset, f"{key.name} is set twice in one block (first at "
                        f"{line}:{column})",
                        "remove one: Vault rejects an argument set twice (OpenBao keeps the "
                        "last; set VAULT_ALLOW_PENDING_REMOVAL_DUPLICATE_HCL_ATTRIBUTES=true "
                        "to do the same)")
                seen[key.text] = key.offset
            items.append(item)
            if self.next().kind != COMMA:
                self.back()
        return Body(items, offset)

    def item(self, *, top_level: bool) -> Item | None:
        keys: list[Key] = []
        while True:
            token = self.next()
            if token.kind in (IDENT, STRING):
                name = token.text if token.kind == IDENT else self._string(token)
                keys.append(Key(name, token.text, token.offset))
                continue
            if token.kind == EOF and not keys:
                return None
            if token.kind == ASSIGN:
                if not keys:
                    self.source.syntax_error(token.offset, "'=' without a key before it")
                if len(keys) > 1:
                    self.source.syntax_error(
                        token.offset, f"{_names(keys)} = : a block with labels takes {{ ... }}, "
                        "not =")
                value = self.value(keys[0], token.offset)
                if value is None:
                    if top_level:
                        self.ignored.append((keys[0].name, keys[0].offset))
                        return None
                    self.source.syntax_error(token.offset, f"{keys[0].name} = has no value")
                return Item(keys, value, assigned=True)
            if token.kind == LBRACE:
                if not keys:
                    self.source.syntax_error(token.offset, "'{' without a key before it")
                return Item(keys, self.object(token.offset), assigned=False)
            if keys:
                self.source.syntax_error(
                    token.offset, f"after {_names(keys)} expected '=' or '{{', got "
                    f"{_describe(token)}")
            self.source.syntax_error(token.offset, f"expected a key, got {_describe(token)}")

    def value(self, key: Key, assign_offset: int) -> Value | None:
        """The value after ``key =``; None at the end of the file (HCL1 then drops the key)."""
        token = self.next()
        if token.kind in _LITERALS:
            return self.literal(token, key.name)
        if token.kind == LBRACE:
            return self.object(token.offset)
        if token.kind == LBRACK:
            return self.list(token.offset, key.name)
        if token.kind == EOF:
            return None
        hint = ('quote it: "' + token.text + '"') if token.kind == IDENT else ""
        if token.kind in (RBRACE, RBRACK, COMMA):
            self.source.syntax_error(assign_offset, f"{key.name} = has no value")
        self.source.syntax_error(
            token.offset, f"{key.name} = needs a string, number, bool, heredoc, {{ ... }} or "
            f"[ ... ], got {_describe(token)}", hint)

    def object(self, offset: int) -> Body:
        body = self.body(braced=True, offset=offset)
        token = self.next()
        if token.kind != RBRACE:
            line, column = self.source.position(offset)
            self.source.syntax_error(
                token.offset, f"expected '}}' to close the '{{' at {line}:{column}, got "
                f"{_describe(token)}")
        return body

    def list(self, offset: int, key: str) -> ListValue:
        elements: list[Value] = []
        need_comma = False
        while True:
            token = self.next()
            if need_comma and token.kind not in (COMMA, RBRACK):
                self.source.syntax_error(token.offset, f"expected ',' or ']' in the list, got "
                                 f"{_describe(token)}")
            if token.kind in _LITERALS:
                elements.append(self.literal(token, key))
                need_comma = True
            elif token.kind == COMMA:
                need_comma = False
            elif token.kind == LBRACE:
                elements.append(self.object(token.offset))
                need_comma = True
            elif token.kind == LBRACK:
                elements.append(self.list(token.offset, key))  # HCL1 needs no comma after
            elif token.kind == RBRACK:
                return ListValue(elements, offset)
            else:
                self.source.syntax_error(token.offset, f"unexpected {_describe(token)} in a list")

    def literal(self, token: Token, key: str) -> Literal:
        try:
            value: str | int | float | bool
            if token.kind == STRING:
                value = string_value(token.text)
            elif token.kind == HEREDOC:
                value = heredoc_value(token.text)
            elif token.kind == BOOL:
                value = token.text == "true"
            elif token.kind == NUMBER:
                value = go_int(token.text)
            else:
                if token.text[-1:] in ("e", "E", "+", "-"):
                    raise ValueError("the exponent has no digits")
                value = float(token.text)
                if value in (float("inf"), float("-inf")):
                    raise ValueError("out of range for a 64-bit float")
        except ValueError as err:
            self.source.syntax_error(token.offset,
                                     f"{key}: bad {token.kind} {token.text[:40]}: {err}")
        return Literal(token.kind, value, token.text, token.offset)

    def _string(self, token: Token) -> str:
        try:
            return string_value(token.text)
        except ValueError as err:
            self.source.syntax_error(token.offset, f"bad string {token.text[:40]}: {err}")


def _names(keys: list[Key]) -> str:
    return " ".join(key.text for key in keys)


def _describe(token: Token) -> str:
    if token.kind == EOF:
        return "the end of the file"
    if token.kind in (IDENT, NUMBER, FLOAT, BOOL):
        return f"{token.kind} {token.text}"
    if token.kind in (STRING, HEREDOC):
        return f"a {token.kind}"
    return f"'{token.text}'"


def parse(text: str, label: str, *, allow_duplicate_attributes: bool = False
          ) -> tuple[Body, Source, list[str]]:
    """Parse HCL1 native syntax. Returns the file's body, its :class:`Source` (for positions)
    and warnings. Raises :class:`ConfigError` naming ``label``, line and column."""
    text = text.replace("\r\n", "\n")  # as HCL1 does before scanning
    source = Source(text, label)
    for bad in ("\x00", "\ue123"):
        where = text.find(bad)
        if where >= 0:
            source.syntax_error(where, f"the file contains {_show(bad)}")
    parser = Parser(source, allow_duplicate_attributes=allow_duplicate_attributes)
    try:
        body = parser.body(braced=False, offset=0)
    except RecursionError:
        raise ConfigError("HCL nests too deeply", source=label) from None
    warnings = []
    for name, offset in parser.ignored:
        line, column = source.position(offset)
        warnings.append(f"{label}:{line}:{column}: {name} = has no value at the end of the "
                        "file and is ignored (as Vault does)")
    return body, source, warnings


# -- Vault Agent's reading of the tree -------------------------------------------------------
# Paths (without indices) of blocks Vault Agent collects into a list.
_REPEATED = frozenset({"template", "listener", "env_template", "auto_auth.sink"})
# Blocks whose single label is their type (``method "kubernetes" {}``), lower-cased by Vault.
_TYPED_BY_LABEL = frozenset({"auto_auth.method", "auto_auth.sink", "listener", "cache.persist"})
# Stanzas Vault decodes from the block body alone: a label on them is ignored.
_LABEL_IGNORED = frozenset({"vault", "vault.retry", "auto_auth", "template", "template_config",
                            "cache", "api_proxy", "exec", "telemetry"})
# In a template, consul-template keeps the last of several wait or exec blocks.
_LAST_WINS = frozenset({"template.wait", "template.exec"})
# Numbers kept as written: "0640" must stay octal, not become 416 or 640.
_VERBATIM_KEYS = frozenset({"perms", "mode"})

Lines = dict[str, tuple[str, int | None]]


class _TreeBuilder:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.lines: Lines = {}
        self.warnings: list[str] = []

    def note(self, path: str, offset: int) -> None:
        self.lines.setdefault(path, (self.source.label, self.source.line(offset)))

    def body(self, body: Body, path: str, schema: str) -> dict[str, Any]:
        groups: dict[str, list[Item]] = {}
        for item in body.items:
            groups.setdefault(item.keys[0].name, []).append(item)
        result: dict[str, Any] = {}
        for name, items in groups.items():
            child = f"{path}.{name}" if path else name
            child_schema = f"{schema}.{name}" if schema else name
            if child_schema in _REPEATED or (len(items) > 1 and child_schema not in _LAST_WINS
                                             and all(not i.assigned or isinstance(i.value, Body)
                                                     for i in items)):
                result[name] = list(self._repeated(items, child, child_schema))
            else:
                item = items[-1]  # Vault decodes every one in turn: the last wins
                self.note(child, item.keys[0].offset)
                result[name] = self.item(item, child, child_schema)
        return result

    def _repeated(self, items: list[Item], path: str, schema: str) -> Iterator[Any]:
        index = 0
        for item in items:
            if item.assigned and isinstance(item.value, ListValue):
                for element in item.value.elements:
                    self.note(f"{path}[{index}]", element.offset)
                    yield self.value(element, f"{path}[{index}]", schema, path)
                    index += 1
                continue
            self.note(f"{path}[{index}]", item.keys[0].offset)
            yield self.item(item, f"{path}[{index}]", schema)
            index += 1

    def item(self, item: Item, path: str, schema: str) -> Any:
        name, labels = item.keys[0].name, item.keys[1:]
        if not labels:
            return self.value(item.value, path, schema, name)
        if schema in _TYPED_BY_LABEL:
            if len(labels) > 1:
                self.source.syntax_error(
                    labels[1].offset, f"{name} takes one label (its type), got {len(labels)}")
            self.note(f"{path}.type", labels[0].offset)
            return {"type": labels[0].name.lower(), **self.value(item.value, path, schema, name)}
        if schema in _LABEL_IGNORED:
            line = self.source.line(labels[0].offset)
            self.warnings.append(f"{self.source.label}:{line}: {path}: the label "
                                 f"{labels[0].text} is ignored (as Vault does)")
            return self.value(item.value, path, schema, name)
        # Elsewhere labels nest, as in JSON: a "b" { } is {"a": {"b": {...}}}.
        inner_path, inner_schema = path, schema
        for label in labels:
            inner_path, inner_schema = f"{inner_path}.{label.name}", f"{inner_schema}.{label.name}"
            self.note(inner_path, label.offset)
        value = self.value(item.value, inner_path, inner_schema, labels[-1].name)
        for label in reversed(labels):
            value = {label.name: value}
        return value

    def value(self, node: Value, path: str, schema: str, key: str) -> Any:
        if isinstance(node, Literal):
            if key in _VERBATIM_KEYS and node.kind == NUMBER:
                return node.text
            return node.value
        if isinstance(node, Body):
            return self.body(node, path, schema)
        result = []
        for index, element in enumerate(node.elements):
            self.note(f"{path}[{index}]", element.offset)
            result.append(self.value(element, f"{path}[{index}]", schema, key))
        return result


def agent_tree(body: Body, source: Source) -> tuple[dict[str, Any], Lines, list[str]]:
    """The raw config tree in Vault Agent's JSON shape, read the way Vault Agent reads each
    stanza: ``method "kubernetes" {}`` becomes ``{"type": "kubernetes", ...}``; repeated blocks
    (``template``, ``sink``, ``listener``) are lists; other stanzas are mappings (several
    blocks of one become a list, which validation reports). Also returns the line of each
    config path and warnings."""
    builder = _TreeBuilder(source)
    tree = builder.body(body, "", "")
    return tree, builder.lines, builder.warnings


def loads(text: str, label: str, *, allow_duplicate_attributes: bool = False
          ) -> tuple[dict[str, Any], Lines, list[str]]:
    """:func:`parse` then :func:`agent_tree`."""
    body, source, warnings = parse(text, label,
                                   allow_duplicate_attributes=allow_duplicate_attributes)
    tree, lines, more = agent_tree(body, source)
    return tree, lines, warnings + more
