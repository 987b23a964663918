"""Lexer and parser for Go ``text/template`` syntax.

The grammar, the token rules and the error texts follow Go's ``text/template/parse`` package so
that a template that Vault Agent rejects is rejected here with the same message. Every node keeps
the byte offset of its first token; the executor turns it into ``line:column`` for errors.
"""

from __future__ import annotations

import bisect

from s4e_secret_agent.errors import TemplateError

# ---------------------------------------------------------------------------------------------
# Tokens

EOF = "EOF"
ERROR = "ERROR"
TEXT = "TEXT"
LEFT_DELIM = "LEFT_DELIM"
RIGHT_DELIM = "RIGHT_DELIM"
SPACE = "SPACE"
BOOL = "BOOL"
CHAR = "CHAR"
CHAR_CONST = "CHAR_CONST"
NUMBER = "NUMBER"
COMPLEX = "COMPLEX"
STRING = "STRING"
RAW_STRING = "RAW_STRING"
IDENTIFIER = "IDENTIFIER"
FIELD = "FIELD"
VARIABLE = "VARIABLE"
DECLARE = "DECLARE"
ASSIGN = "ASSIGN"
PIPE = "PIPE"
LEFT_PAREN = "LEFT_PAREN"
RIGHT_PAREN = "RIGHT_PAREN"
DOT = "DOT"
NIL = "NIL"
COMMENT = "COMMENT"
KEYWORD = "KEYWORD"  # kind; the value says which

KEYWORDS = frozenset(
    {"block", "break", "continue", "define", "else", "end", "if", "range", "nil", "template",
     "with"}
)

TRIM_MARKER = "-"
SPACE_CHARS = " \t\r\n"


def slots_repr(obj: object) -> str:
    """``Name(field=value, ...)`` over the slots of ``obj``'s class and its bases."""
    names = [n for cls in reversed(type(obj).__mro__) for n in getattr(cls, "__slots__", ())]
    return f"{type(obj).__name__}({', '.join(f'{n}={getattr(obj, n)!r}' for n in names)})"


class Token:
    __slots__ = ('kind', 'line', 'pos', 'value')

    def __init__(self, kind: str, value: str, pos: int, line: int) -> None:
        self.kind = kind
        self.value = value
        self.pos = pos
        self.line = line

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Token)
        return (self.kind, self.value, self.pos, self.line) == (
            other.kind, other.value, other.pos, other.line)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return slots_repr(self)


class ParseError(TemplateError):
    """A template did not parse; ``line`` is 1-based."""

    def __init__(self, message: str, *, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or ch.isdigit()


class Lexer:
    """Turns template text into tokens (all at once; templates are small)."""

    def __init__(self, text: str, left: str, right: str) -> None:
        self.input = text
        self.left = left or "{{"
        self.right = right or "}}"
        self.pos = 0
        self.start = 0
        self.paren_depth = 0
        self.tokens: list[Token] = []
        self._newlines: list[int] = [i for i, c in enumerate(text) if c == "\n"]

    def line_of(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1

    # helpers ---------------------------------------------------------------------------
    def _next(self) -> str:
        if self.pos >= len(self.input):
            self.pos = len(self.input) + 1
            return ""
        ch = self.input[self.pos]
        self.pos += 1
        return ch

    def _backup(self) -> None:
        self.pos -= 1

    def _peek(self) -> str:
        return self.input[self.pos] if self.pos < len(self.input) else ""

    def _emit(self, kind: str) -> None:
        end = min(self.pos, len(self.input))
        self.tokens.append(Token(kind, self.input[self.start:end], self.start,
                                 self.line_of(self.start)))
        self.start = end

    def _ignore(self) -> None:
        self.start = min(self.pos, len(self.input))

    def _error(self, message: str) -> None:
        self.tokens.append(Token(ERROR, message, self.start, self.line_of(self.start)))

    def _accept(self, valid: str) -> bool:
        ch = self._next()
        if ch and ch in valid:
            return True
        self._backup()
        return False

    def _accept_run(self, valid: str) -> None:
        while True:
            ch = self._next()
            if not ch or ch not in valid:
                break
        self._backup()

    def _has_left_trim(self, at: int) -> bool:
        return (self.input.startswith(TRIM_MARKER, at) and at + 1 < len(self.input)
                and self.input[at + 1] in SPACE_CHARS)

    def _at_right_delim(self, at: int | None = None) -> tuple[bool, bool]:
        """(at delimiter, with trim marker) at ``at`` (default: the current position)."""
        p = self.pos if at is None else at
        if (p + 1 < len(self.input) and self.input[p] in SPACE_CHARS
                and self.input[p + 1] == TRIM_MARKER
                and self.input.startswith(self.right, p + 2)):
            return True, True
        if self.input.startswith(self.right, p):
            return True, False
        return False, False

    # states ----------------------------------------------------------------------------
    def run(self) -> list[Token]:
        """Lex everything; the list ends with an EOF or an ERROR token."""
        while self._lex_text() and self._lex_left_delim():
            pass
        return self.tokens

    def _lex_text(self) -> bool:
        idx = self.input.find(self.left, self.pos)
        if idx < 0:
            self.pos = len(self.input)
            if self.pos > self.start:
                self._emit(TEXT)
            self.tokens.append(Token(EOF, "", self.pos, self.line_of(self.pos)))
            return False
        if idx > self.pos or idx > self.start:
            self.pos = idx
            text = self.input[self.start:idx]
            if self._has_left_trim(idx + len(self.left)):
                text = text.rstrip(SPACE_CHARS)
            if text:
                self.tokens.append(Token(TEXT, text, self.start, self.line_of(self.start)))
            self.start = idx
        return True

    def _lex_left_delim(self) -> bool:
        self.pos += len(self.left)
        trim = self._has_left_trim(self.pos)
        after = 2 if trim else 0
        if self.input.startswith("/*", self.pos + after):
            self.pos += after
            self._ignore()
            return self._lex_comment()
        self._emit(LEFT_DELIM)
        self.pos += after
        self._ignore()
        self.paren_depth = 0
        return self._lex_inside_action()

    def _lex_comment(self) -> bool:
        self.pos += 2
        end = self.input.find("*/", self.pos)
        if end < 0:
            self._error("unclosed comment")
            return False
        self.pos = end + 2
        at, trim = self._at_right_delim()
        if not at:
            self._error("comment ends before closing delimiter")
            return False
        self._emit(COMMENT)
        if trim:
            self.pos += 2
        self.pos += len(self.right)
        if trim:
            self._skip_spaces()
        self._ignore()
        return True

    def _skip_spaces(self) -> None:
        while self.pos < len(self.input) and self.input[self.pos] in SPACE_CHARS:
            self.pos += 1

    def _lex_right_delim(self, trim: bool) -> bool:
        if trim:
            self.pos += 2
            self._ignore()
        self.pos += len(self.right)
        self._emit(RIGHT_DELIM)
        if trim:
            self._skip_spaces()
            self._ignore()
        return True

    def _lex_inside_action(self) -> bool:
        while True:
            at, trim = self._at_right_delim()
            if at:
                if self.paren_depth == 0:
                    return self._lex_right_delim(trim)
                self._error("unclosed left paren")
                return False
            ch = self._next()
            if ch == "":
                self._error("unclosed action")
                return False
            if ch in SPACE_CHARS:
                self._backup()
                if self._lex_space():
                    return self._lex_right_delim(True)
            elif ch == "=":
                self._emit(ASSIGN)
            elif ch == ":":
                if self._next() != "=":
                    self._error("expected :=")
                    return False
                self._emit(DECLARE)
            elif ch == "|":
                self._emit(PIPE)
            elif ch == '"':
                if not self._lex_quote():
                    return False
            elif ch == "`":
                if not self._lex_raw_quote():
                    return False
            elif ch == "$":
                if not self._lex_field_or_variable(VARIABLE):
                    return False
            elif ch == "'":
                if not self._lex_char():
                    return False
            elif ch == ".":
                nxt = self._peek()
                if not ("0" <= nxt <= "9") or nxt == "":
                    if not self._lex_field_or_variable(FIELD):
                        return False
                    continue
                self._backup()
                if not self._lex_number():
                    return False
            elif ch in "+-" or "0" <= ch <= "9":
                self._backup()
                if not self._lex_number():
                    return False
            elif _is_alnum(ch):
                self._backup()
                if not self._lex_identifier():
                    return False
            elif ch == "(":
                self._emit(LEFT_PAREN)
                self.paren_depth += 1
            elif ch == ")":
                self._emit(RIGHT_PAREN)
                self.paren_depth -= 1
                if self.paren_depth < 0:
                    self.tokens.pop()
                    self._error("unexpected right paren")
                    return False
            elif ch.isascii() and ch.isprintable():
                self._emit(CHAR)
            else:
                self._error(f"unrecognized character in action: {_go_unicode(ch)}")
                return False

    def _lex_space(self) -> bool:
        """Lex a run of spaces; True when they end right at a " -}}" closing delimiter."""
        num = 0
        while True:
            ch = self._peek()
            if not ch or ch not in SPACE_CHARS:
                break
            self._next()
            num += 1
        at, trim = self._at_right_delim(self.pos - 1)
        if at and trim:
            self._backup()
            if num == 1:
                return True
        self._emit(SPACE)
        return False

    def _lex_identifier(self) -> bool:
        while True:
            ch = self._next()
            if ch and _is_alnum(ch):
                continue
            self._backup()
            word = self.input[self.start:self.pos]
            if not self._at_terminator():
                self._error(f"bad character {_go_unicode(self._peek())}")
                return False
            if word == "nil":
                kind = NIL
            elif word in KEYWORDS:
                kind = KEYWORD
            elif word in ("true", "false"):
                kind = BOOL
            else:
                kind = IDENTIFIER
            self._emit(kind)
            return True

    def _lex_field_or_variable(self, kind: str) -> bool:
        if self._at_terminator():
            self._emit(DOT if kind == FIELD else VARIABLE)
            return True
        while True:
            ch = self._next()
            if not (ch and _is_alnum(ch)):
                self._backup()
                break
        if not self._at_terminator():
            self._error(f"bad character {_go_unicode(self._peek())}")
            return False
        self._emit(kind)
        return True

    def _at_terminator(self) -> bool:
        ch = self._peek()
        if ch == "" or ch in SPACE_CHARS or ch in ".,|:)(":
            return True
        return self.input.startswith(self.right, self.pos)

    def _lex_quoted(self, quote: str, message: str, kind: str) -> bool:
        while True:
            ch = self._next()
            if ch == "\\":
                ch2 = self._next()
                if ch2 not in ("", "\n"):
                    continue
                ch = ch2
            if ch in ("", "\n"):
                self._error(message)
                return False
            if ch == quote:
                break
        self._emit(kind)
        return True

    def _lex_char(self) -> bool:
        return self._lex_quoted("'", "unterminated character constant", CHAR_CONST)

    def _lex_quote(self) -> bool:
        return self._lex_quoted('"', "unterminated quoted string", STRING)

    def _lex_raw_quote(self) -> bool:
        end = self.input.find("`", self.pos)
        if end < 0:
            self._error("unterminated raw quoted string")
            return False
        self.pos = end + 1
        self._emit(RAW_STRING)
        return True

    def _scan_number(self) -> bool:
        self._accept("+-")
        digits = "0123456789_"
        if self._accept("0"):
            if self._accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self._accept("oO"):
                digits = "01234567_"
            elif self._accept("bB"):
                digits = "01_"
        self._accept_run(digits)
        if self._accept("."):
            self._accept_run(digits)
        if len(digits) == 11 and self._accept("eE"):
            self._accept("+-")
            self._accept_run("0123456789_")
        if len(digits) == 23 and self._accept("pP"):
            self._accept("+-")
            self._accept_run("0123456789_")
        self._accept("i")
        ch = self._peek()
        return not (ch and _is_alnum(ch))

    def _lex_number(self) -> bool:
        if not self._scan_number():
            self._next()
            self._error(f"bad number syntax: {_go_quote(self.input[self.start:self.pos])}")
            return False
        sign = self._peek()
        if sign in ("+", "-") and sign:
            if not self._scan_number() or self.input[self.pos - 1] != "i":
                self._next()
                self._error(f"bad number syntax: {_go_quote(self.input[self.start:self.pos])}")
                return False
            self._emit(COMPLEX)
            return True
        self._emit(NUMBER)
        return True


def _go_unicode(ch: str) -> str:
    """Go's ``%#U``: ``U+0023 '#'``."""
    if not ch:
        return "U+FFFD"
    code = ord(ch)
    if ch.isprintable():
        return f"U+{code:04X} '{ch}'"
    return f"U+{code:04X}"


def _go_quote(text: str) -> str:
    from s4e_secret_agent.template.gofmt import go_quote

    return go_quote(text)


# ---------------------------------------------------------------------------------------------
# Nodes


class Node:
    # Nodes, tokens and markers are plain classes with slots, not dataclasses: the engine is
    # imported on every pod's start, and 25 dataclasses cost several milliseconds to create.
    __slots__ = ('pos',)

    def __init__(self, pos: int) -> None:
        self.pos = pos

    def __repr__(self) -> str:
        return slots_repr(self)


class TextNode(Node):
    __slots__ = ('text',)

    def __init__(self, pos: int, text: str) -> None:
        self.pos = pos
        self.text = text


class CommentNode(Node):
    __slots__ = ('text',)

    def __init__(self, pos: int, text: str) -> None:
        self.pos = pos
        self.text = text


class ListNode(Node):
    __slots__ = ('nodes',)

    def __init__(self, pos: int, nodes: list[Node] | None = None) -> None:
        self.pos = pos
        self.nodes = list() if nodes is None else nodes


class DotNode(Node):
    __slots__ = ()

    def __init__(self, pos: int) -> None:
        self.pos = pos


class NilNode(Node):
    __slots__ = ()

    def __init__(self, pos: int) -> None:
        self.pos = pos


class BoolNode(Node):
    __slots__ = ('value',)

    def __init__(self, pos: int, value: bool) -> None:
        self.pos = pos
        self.value = value


class StringNode(Node):
    __slots__ = ('quoted', 'text')

    def __init__(self, pos: int, quoted: str, text: str) -> None:
        self.pos = pos
        self.quoted = quoted
        self.text = text


class NumberNode(Node):
    __slots__ = ('complex128', 'float64', 'int64', 'is_complex', 'is_float', 'is_int',
                 'is_uint', 'text', 'uint64')

    def __init__(
            self,
            pos: int,
            text: str,
            is_int: bool = False,
            is_uint: bool = False,
            is_float: bool = False,
            is_complex: bool = False,
            int64: int = 0,
            uint64: int = 0,
            float64: float = 0.0,
            complex128: complex = 0j) -> None:
        self.pos = pos
        self.text = text
        self.is_int = is_int
        self.is_uint = is_uint
        self.is_float = is_float
        self.is_complex = is_complex
        self.int64 = int64
        self.uint64 = uint64
        self.float64 = float64
        self.complex128 = complex128


class IdentifierNode(Node):
    __slots__ = ('ident',)

    def __init__(self, pos: int, ident: str) -> None:
        self.pos = pos
        self.ident = ident


class FieldNode(Node):
    __slots__ = ('ident',)

    def __init__(self, pos: int, ident: list[str]) -> None:
        self.pos = pos
        self.ident = ident


class VariableNode(Node):
    __slots__ = ('ident',)

    def __init__(self, pos: int, ident: list[str]) -> None:
        self.pos = pos
        self.ident = ident


class ChainNode(Node):
    __slots__ = ('fields', 'node')

    def __init__(self, pos: int, node: Node, fields: list[str]) -> None:
        self.pos = pos
        self.node = node
        self.fields = fields


class CommandNode(Node):
    __slots__ = ('args',)

    def __init__(self, pos: int, args: list[Node] | None = None) -> None:
        self.pos = pos
        self.args = list() if args is None else args


class PipeNode(Node):
    __slots__ = ('cmds', 'decl', 'is_assign', 'line')

    def __init__(
            self,
            pos: int,
            line: int,
            is_assign: bool = False,
            decl: list[VariableNode] | None = None,
            cmds: list[CommandNode] | None = None) -> None:
        self.pos = pos
        self.line = line
        self.is_assign = is_assign
        self.decl = list() if decl is None else decl
        self.cmds = list() if cmds is None else cmds


class ActionNode(Node):
    __slots__ = ('line', 'pipe')

    def __init__(self, pos: int, line: int, pipe: PipeNode) -> None:
        self.pos = pos
        self.line = line
        self.pipe = pipe


class BranchNode(Node):
    """if / with / range."""

    __slots__ = ('else_list', 'kind', 'line', 'list', 'pipe')

    def __init__(
            self,
            pos: int,
            kind: str,
            line: int,
            pipe: PipeNode,
            list: ListNode,
            else_list: ListNode | None) -> None:
        self.pos = pos
        self.kind = kind
        self.line = line
        self.pipe = pipe
        self.list = list
        self.else_list = else_list


class BreakNode(Node):
    __slots__ = ('line',)

    def __init__(self, pos: int, line: int) -> None:
        self.pos = pos
        self.line = line


class ContinueNode(Node):
    __slots__ = ('line',)

    def __init__(self, pos: int, line: int) -> None:
        self.pos = pos
        self.line = line


class TemplateNode(Node):
    __slots__ = ('line', 'name', 'pipe')

    def __init__(self, pos: int, line: int, name: str, pipe: PipeNode | None) -> None:
        self.pos = pos
        self.line = line
        self.name = name
        self.pipe = pipe


def node_string(node: Node | None) -> str:
    """Go's ``Node.String()`` (used in error contexts)."""
    if node is None:
        return ""
    if isinstance(node, TextNode):
        return _go_quote(node.text)
    if isinstance(node, DotNode):
        return "."
    if isinstance(node, NilNode):
        return "nil"
    if isinstance(node, BoolNode):
        return "true" if node.value else "false"
    if isinstance(node, StringNode):
        return node.quoted
    if isinstance(node, NumberNode):
        return node.text
    if isinstance(node, IdentifierNode):
        return node.ident
    if isinstance(node, FieldNode):
        return "".join("." + i for i in node.ident)
    if isinstance(node, VariableNode):
        return ".".join(node.ident)
    if isinstance(node, ChainNode):
        inner = node_string(node.node)
        if isinstance(node.node, PipeNode):
            inner = "(" + inner + ")"
        return inner + "".join("." + f for f in node.fields)
    if isinstance(node, CommandNode):
        parts = []
        for arg in node.args:
            if isinstance(arg, PipeNode):
                parts.append("(" + node_string(arg) + ")")
            else:
                parts.append(node_string(arg))
        return " ".join(parts)
    if isinstance(node, PipeNode):
        out = ""
        if node.decl:
            out = ", ".join(node_string(v) for v in node.decl)
            out += " = " if node.is_assign else " := "
        return out + " | ".join(node_string(c) for c in node.cmds)
    if isinstance(node, ActionNode):
        return "{{" + node_string(node.pipe) + "}}"
    if isinstance(node, BranchNode):
        text = "{{" + node.kind + " " + node_string(node.pipe) + "}}" + node_string(node.list)
        if node.else_list is not None:
            text += "{{else}}" + node_string(node.else_list)
        return text + "{{end}}"
    if isinstance(node, ListNode):
        return "".join(node_string(n) for n in node.nodes)
    if isinstance(node, TemplateNode):
        if node.pipe is None:
            return "{{template " + _go_quote(node.name) + "}}"
        return "{{template " + _go_quote(node.name) + " " + node_string(node.pipe) + "}}"
    if isinstance(node, BreakNode):
        return "{{break}}"
    if isinstance(node, ContinueNode):
        return "{{continue}}"
    if isinstance(node, CommentNode):
        return "{{" + node.text + "}}"
    return ""


# ---------------------------------------------------------------------------------------------
# Number and string literals


def _parse_go_int(text: str) -> int | None:
    """``strconv.ParseInt(text, 0, 64)`` without the range check (None: syntax error)."""
    body = text
    sign = 1
    if body[:1] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if not body:
        return None
    base = 10
    digits = body
    prefixed = False
    low = body[:2].lower()
    if low in ("0x", "0o", "0b"):
        base = {"0x": 16, "0o": 8, "0b": 2}[low]
        digits = body[2:]
        prefixed = True
    elif len(body) > 1 and body[0] == "0":
        base = 8
        digits = body[1:]
        prefixed = True
    if not digits:
        return None
    # underscores: only between digits (or right after a base prefix)
    if "_" in digits:
        check = ("0" if prefixed else "") + digits
        if check.startswith("_") and not prefixed:
            return None
        if digits.endswith("_") or "__" in digits:
            return None
        if not prefixed and body.startswith("_"):
            return None
    clean = digits.replace("_", "")
    if not clean:
        return None
    try:
        return sign * int(clean, base)
    except ValueError:
        return None


def _parse_go_float(text: str) -> float | None:
    t = text.replace("_", "")
    low = t.lower().lstrip("+-")
    if low.startswith("0x"):
        if "p" not in low:
            return None
        try:
            return float.fromhex(t)
        except ValueError:
            return None
    if low in ("inf", "infinity", "nan") or not low:
        return None
    try:
        value = float(t)
    except ValueError:
        return None
    return value


def new_number(pos: int, text: str, kind: str) -> NumberNode:
    node = NumberNode(pos, text)
    if kind == CHAR_CONST:
        value, tail = unquote_char(text[1:], "'")
        if tail != "'":
            raise ValueError(f"malformed character constant: {text}")
        code = ord(value)
        if 0xDC80 <= code <= 0xDCFF:  # a "\xFF" byte escape
            code -= 0xDC00
        node.int64 = node.uint64 = code
        node.float64 = float(code)
        node.is_int = node.is_uint = node.is_float = True
        return node
    if kind == COMPLEX:
        split = max(text.rfind("+"), text.rfind("-"))
        real = _parse_go_float(text[:split])
        imag = _parse_go_float(text[split:-1])
        if real is None or imag is None:
            raise ValueError(f"expected integer; found {text}")
        node.is_complex = True
        node.complex128 = complex(real, imag)
        _simplify_complex(node)
        return node
    if text.endswith("i"):
        imag = _parse_go_float(text[:-1])
        if imag is not None:
            node.is_complex = True
            node.complex128 = complex(0, imag)
            _simplify_complex(node)
            return node
    ival = _parse_go_int(text)
    if ival is not None:
        if 0 <= ival < 1 << 64 and not text.startswith(("-", "+")):
            node.is_uint = True
            node.uint64 = ival
        if -(1 << 63) <= ival < 1 << 63:
            node.is_int = True
            node.int64 = ival
            if ival == 0:
                node.is_uint = True
                node.uint64 = 0
    if node.is_int:
        node.is_float = True
        node.float64 = float(node.int64)
    elif node.is_uint:
        node.is_float = True
        node.float64 = float(node.uint64)
    else:
        fval = _parse_go_float(text)
        if fval is not None and fval not in (float("inf"), float("-inf")):
            if not any(c in text for c in ".eEpP"):
                raise ValueError(f"integer overflow: {_go_quote(text)}")
            node.is_float = True
            node.float64 = fval
            if fval == int(fval) and -(1 << 63) <= int(fval) < 1 << 63:
                node.is_int = True
                node.int64 = int(fval)
            if fval == int(fval) and 0 <= int(fval) < 1 << 64:
                node.is_uint = True
                node.uint64 = int(fval)
    if not (node.is_int or node.is_uint or node.is_float):
        raise ValueError(f"illegal number syntax: {_go_quote(text)}")
    return node


def _simplify_complex(node: NumberNode) -> None:
    c = node.complex128
    if c.imag == 0:
        node.is_float = True
        node.float64 = c.real
        if node.float64 == int(node.float64):
            value = int(node.float64)
            if -(1 << 63) <= value < 1 << 63:
                node.is_int = True
                node.int64 = value
            if 0 <= value < 1 << 64:
                node.is_uint = True
                node.uint64 = value


_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                   "\\": "\\"}


def unquote_char(s: str, quote: str) -> tuple[str, str]:
    """``strconv.UnquoteChar``: (decoded char, rest). Raises ValueError on bad syntax."""
    if not s:
        raise ValueError("invalid syntax")
    ch = s[0]
    if ch == quote and quote in "'\"":
        raise ValueError("invalid syntax")
    if ch != "\\":
        return ch, s[1:]
    if len(s) < 2:
        raise ValueError("invalid syntax")
    c = s[1]
    rest = s[2:]
    if c in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[c], rest
    if c in "xuU":
        n = {"x": 2, "u": 4, "U": 8}[c]
        if len(rest) < n:
            raise ValueError("invalid syntax")
        digits = rest[:n]
        try:
            value = int(digits, 16)
        except ValueError:
            raise ValueError("invalid syntax") from None
        if any(d not in "0123456789abcdefABCDEF" for d in digits):
            raise ValueError("invalid syntax")
        if c == "x":
            return _byte_char(value), rest[n:]
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise ValueError("invalid syntax")
        return chr(value), rest[n:]
    if c in "01234567":
        digits = s[1:4]
        if len(digits) < 3 or any(d not in "01234567" for d in digits):
            raise ValueError("invalid syntax")
        value = int(digits, 8)
        if value > 255:
            raise ValueError("invalid syntax")
        return _byte_char(value), s[4:]
    if c in "'\"":
        if c != quote:
            raise ValueError("invalid syntax")
        return c, rest
    raise ValueError("invalid syntax")


def _byte_char(value: int) -> str:
    # Go strings are bytes; a lone byte >= 0x80 is kept as a surrogate escape so that encoding
    # the output with "surrogateescape" reproduces the exact byte.
    return chr(value) if value < 0x80 else chr(0xDC00 + value)


def unquote(text: str) -> str:
    """``strconv.Unquote`` for "..." and `...` literals."""
    if text.startswith("`"):
        if len(text) < 2 or not text.endswith("`"):
            raise ValueError("invalid syntax")
        return text[1:-1].replace("\r", "")
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError("invalid syntax")
    body = text[1:-1]
    if "\\" not in body:
        return body
    out = []
    while body:
        ch, body = unquote_char(body, '"')
        out.append(ch)
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Parser


class Tree:
    __slots__ = ('name', 'root', 'text')

    def __init__(self, name: str, root: ListNode, text: str) -> None:
        self.name = name
        self.root = root
        self.text = text


class Parser:
    """Recursive-descent parser producing one tree per defined template."""

    def __init__(self, name: str, text: str, left: str, right: str,
                 funcs: frozenset[str]) -> None:
        self.name = name
        self.text = text
        self.lexer = Lexer(text, left, right)
        self.tokens = self.lexer.run()
        self.index = 0
        self.last = self.tokens[0]
        self.funcs = funcs
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.action_line = 0
        self.trees: dict[str, Tree] = {}

    # token access -----------------------------------------------------------------------
    def _next(self) -> Token:
        tok = self.tokens[self.index]
        if self.index < len(self.tokens) - 1:
            self.index += 1
        else:
            self.index = len(self.tokens)  # past the end: backup() returns to the EOF
        self.last = tok
        return tok

    def _backup(self, n: int = 1) -> None:
        self.index -= n

    def _peek(self) -> Token:
        tok = self.tokens[min(self.index, len(self.tokens) - 1)]
        self.last = tok
        return tok

    def _next_non_space(self) -> Token:
        while True:
            tok = self._next()
            if tok.kind != SPACE:
                return tok

    def _peek_non_space(self) -> Token:
        tok = self._next_non_space()
        self._backup()
        return tok

    def _errorf(self, message: str) -> ParseError:
        line = self.last.line
        return ParseError(f"template: {self.name}:{line}: {message}", line=line)

    def _unexpected(self, tok: Token, context: str) -> ParseError:
        if tok.kind == ERROR:
            extra = ""
            if self.action_line and self.action_line != tok.line:
                extra = f" in action started at {self.name}:{self.action_line}"
                if tok.value.endswith(" action"):
                    extra = extra[len(" in action"):]
            return self._errorf(f"{tok.value}{extra}")
        return self._errorf(f"unexpected {_token_string(tok)} in {context}")

    def _expect(self, kind: str, context: str) -> Token:
        tok = self._next_non_space()
        if tok.kind != kind:
            raise self._unexpected(tok, context)
        return tok

    # top level ----------------------------------------------------------------------------
    def parse(self) -> dict[str, Tree]:
        root = ListNode(self._peek().pos)
        while self._peek().kind != EOF:
            if self._peek().kind == LEFT_DELIM:
                mark = self.index
                self._next()
                tok = self._next_non_space()
                if tok.kind == KEYWORD and tok.value == "define":
                    self._parse_definition()
                    continue
                self.index = mark
            node = self._text_or_action()
            if isinstance(node, Marker):
                raise self._errorf(f"unexpected {node.label}")
            if not isinstance(node, CommentNode):
                root.nodes.append(node)
        self._add_tree(Tree(self.name, root, self.text))
        return self.trees

    def _add_tree(self, tree: Tree) -> None:
        # Go's Tree.add: an empty definition never replaces a non-empty one, and two
        # non-empty definitions of one name in the same text are an error.
        existing = self.trees.get(tree.name)
        if existing is None or _is_empty_tree(existing.root):
            self.trees[tree.name] = tree
            return
        if not _is_empty_tree(tree.root):
            raise self._errorf(
                f"template: multiple definition of template {_go_quote(tree.name)}")

    def _parse_definition(self) -> None:
        context = "define clause"
        name_tok = self._next_non_space()
        name = self._parse_template_name(name_tok, context)
        self._expect(RIGHT_DELIM, context)
        saved_vars = self.vars
        self.vars = ["$"]
        body, end = self._item_list()
        if not isinstance(end, EndMarker):
            raise self._errorf(f"unexpected {end.label} in {context}")
        self.vars = saved_vars
        self._add_tree(Tree(name, body, self.text))

    def _item_list(self) -> tuple[ListNode, Marker]:
        """Parse until {{end}} or {{else}}; return the list and the marker that stopped it."""
        lst = ListNode(self._peek_non_space().pos)
        while self._peek_non_space().kind != EOF:
            node = self._text_or_action()
            if isinstance(node, Marker):
                return lst, node
            if not isinstance(node, CommentNode):
                lst.nodes.append(node)
        raise self._errorf("unexpected EOF")

    def _text_or_action(self) -> Node | Marker:
        tok = self._next_non_space()
        if tok.kind == TEXT:
            return TextNode(tok.pos, tok.value)
        if tok.kind == LEFT_DELIM:
            saved = self.action_line
            self.action_line = tok.line
            try:
                return self._action()
            finally:
                self.action_line = saved
        if tok.kind == COMMENT:
            return CommentNode(tok.pos, tok.value)
        raise self._unexpected(tok, "input")

    def _action(self) -> Node | Marker:
        tok = self._next_non_space()
        if tok.kind == KEYWORD:
            word = tok.value
            if word == "block":
                return self._block_control(tok)
            if word in ("break", "continue"):
                return self._loop_control(word, tok)
            if word == "else":
                return self._else_control(tok)
            if word == "end":
                self._expect(RIGHT_DELIM, "end")
                return EndMarker(tok)
            if word in ("if", "with", "range"):
                return self._branch_control(word)
            if word == "template":
                return self._template_control()
        self._backup()
        tok = self._peek()
        return ActionNode(tok.pos, tok.line, self._pipeline("command", RIGHT_DELIM))

    def _loop_control(self, word: str, tok: Token) -> Node:
        nxt = self._next_non_space()
        if nxt.kind != RIGHT_DELIM:
            raise self._unexpected(nxt, "{{" + word + "}}")
        if self.range_depth == 0:
            raise self._errorf("{{" + word + "}} outside {{range}}")
        if word == "break":
            return BreakNode(tok.pos, tok.line)
        return ContinueNode(tok.pos, tok.line)

    def _else_control(self, tok: Token) -> Marker:
        peek = self._peek_non_space()
        if peek.kind == KEYWORD and peek.value in ("if", "with"):
            # "{{else if x}}" is "{{else}}{{if x}}...{{end}}{{end}}" with the end shared.
            return ElseMarker(peek, chained=peek.value)
        self._expect(RIGHT_DELIM, "else")
        return ElseMarker(tok)

    def _branch_control(self, kind: str) -> Node:
        mark = len(self.vars)
        pipe = self._pipeline(kind, RIGHT_DELIM)
        if kind == "range":
            self.range_depth += 1
        body, marker = self._item_list()
        if kind == "range":
            self.range_depth -= 1
        else_list: ListNode | None = None
        if isinstance(marker, ElseMarker):
            if marker.chained and marker.chained == kind and kind != "range" \
                    and self._peek().kind == KEYWORD:
                self._next()
                else_list = ListNode(marker.tok.pos)
                else_list.nodes.append(self._branch_control(kind))
            else:
                else_list, end = self._item_list()
                if not isinstance(end, EndMarker):
                    raise self._errorf(f"expected end; found {end.label}")
        del self.vars[mark:]
        return BranchNode(pipe.pos, kind, pipe.line, pipe, body, else_list)

    def _template_control(self) -> Node:
        context = "template clause"
        name_tok = self._next_non_space()
        name = self._parse_template_name(name_tok, context)
        pipe: PipeNode | None = None
        if self._next_non_space().kind != RIGHT_DELIM:
            self._backup()
            pipe = self._pipeline(context, RIGHT_DELIM)
        return TemplateNode(name_tok.pos, name_tok.line, name, pipe)

    def _parse_template_name(self, tok: Token, context: str) -> str:
        if tok.kind in (STRING, RAW_STRING):
            try:
                return unquote(tok.value)
            except ValueError as exc:
                raise self._errorf(str(exc)) from None
        raise self._unexpected(tok, context)

    def _block_control(self, tok: Token) -> Node:
        context = "block clause"
        name = self._parse_template_name(self._next_non_space(), context)
        pipe = self._pipeline(context, RIGHT_DELIM)
        saved_vars, saved_depth = self.vars, self.range_depth
        self.vars = ["$"]
        self.range_depth = 0
        body, end = self._item_list()
        if not isinstance(end, EndMarker):
            raise self._errorf(f"unexpected {end.label} in {context}")
        self.vars, self.range_depth = saved_vars, saved_depth
        self._add_tree(Tree(name, body, self.text))
        return TemplateNode(tok.pos, tok.line, name, pipe)

    # pipelines ---------------------------------------------------------------------------
    def _pipeline(self, context: str, end: str) -> PipeNode:
        token = self._peek_non_space()
        pipe = PipeNode(token.pos, token.line)
        self._declarations(pipe, context)
        while True:
            tok = self._next_non_space()
            if tok.kind == end:
                self._check_pipeline(pipe, context)
                return pipe
            if tok.kind in (BOOL, CHAR_CONST, COMPLEX, DOT, FIELD, IDENTIFIER, NUMBER, NIL,
                            RAW_STRING, STRING, VARIABLE, LEFT_PAREN) or (
                    tok.kind == KEYWORD and tok.value == "."):
                self._backup()
                pipe.cmds.append(self._command())
            else:
                raise self._unexpected(tok, context)

    def _declarations(self, pipe: PipeNode, context: str) -> None:
        while True:
            v = self._peek_non_space()
            if v.kind != VARIABLE:
                return
            mark = self.index
            self._next_non_space()
            next_tok = self._peek_non_space()
            if next_tok.kind in (ASSIGN, DECLARE):
                self._next_non_space()
                pipe.is_assign = next_tok.kind == ASSIGN
                pipe.decl.append(VariableNode(v.pos, v.value.split(".")))
                self.vars.append(v.value)
                return
            if next_tok.kind == CHAR and next_tok.value == ",":
                self._next_non_space()
                pipe.decl.append(VariableNode(v.pos, v.value.split(".")))
                self.vars.append(v.value)
                if context == "range" and len(pipe.decl) < 2:
                    nt = self._peek_non_space()
                    if nt.kind in (VARIABLE, RIGHT_DELIM, RIGHT_PAREN):
                        continue
                    raise self._errorf("range can only initialize variables")
                raise self._errorf(f"too many declarations in {context}")
            self.index = mark
            return

    def _check_pipeline(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            raise self._errorf(f"missing value for {context}")
        for i, cmd in enumerate(pipe.cmds[1:], start=2):
            first = cmd.args[0]
            if isinstance(first, (BoolNode, DotNode, NilNode, NumberNode, StringNode)):
                raise self._errorf(f"non executable command in pipeline stage {i}")

    def _command(self) -> CommandNode:
        cmd = CommandNode(self._peek_non_space().pos)
        while True:
            self._peek_non_space()
            operand = self._operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self._next()
            if tok.kind == SPACE:
                continue
            if tok.kind in (RIGHT_DELIM, RIGHT_PAREN):
                self._backup()
            elif tok.kind != PIPE:
                raise self._unexpected(tok, "operand")
            break
        if not cmd.args:
            raise self._errorf("empty command")
        return cmd

    def _operand(self) -> Node | None:
        node = self._term()
        if node is None:
            return None
        if self._peek().kind == FIELD:
            # Like Go, the combined node is positioned at the first chained field.
            chain_pos = self._peek().pos
            chain_fields: list[str] = []
            while self._peek().kind == FIELD:
                chain_fields.append(self._next().value[1:])
            if isinstance(node, FieldNode):
                return FieldNode(chain_pos, node.ident + chain_fields)
            if isinstance(node, VariableNode):
                return VariableNode(chain_pos, node.ident + chain_fields)
            if isinstance(node, (BoolNode, StringNode, NumberNode, NilNode, DotNode)):
                raise self._errorf(f"unexpected . after term {_go_quote(node_string(node))}")
            return ChainNode(chain_pos, node, chain_fields)
        return node

    def _term(self) -> Node | None:
        tok = self._next_non_space()
        kind = tok.kind
        if kind == IDENTIFIER:
            if tok.value not in self.funcs:
                raise self._errorf(f'function "{tok.value}" not defined')
            return IdentifierNode(tok.pos, tok.value)
        if kind == DOT:
            return DotNode(tok.pos)
        if kind == NIL:
            return NilNode(tok.pos)
        if kind == VARIABLE:
            idents = tok.value.split(".")
            if idents[0] not in self.vars:
                raise self._errorf(f"undefined variable {_go_quote(idents[0])}")
            return VariableNode(tok.pos, idents)
        if kind == FIELD:
            return FieldNode(tok.pos, [tok.value[1:]])
        if kind == BOOL:
            return BoolNode(tok.pos, tok.value == "true")
        if kind in (CHAR_CONST, COMPLEX, NUMBER):
            try:
                return new_number(tok.pos, tok.value, kind)
            except ValueError as exc:
                raise self._errorf(str(exc)) from None
        if kind == LEFT_PAREN:
            return self._pipeline("parenthesized pipeline", RIGHT_PAREN)
        if kind in (STRING, RAW_STRING):
            try:
                text = unquote(tok.value)
            except ValueError as exc:
                raise self._errorf(str(exc)) from None
            return StringNode(tok.pos, tok.value, text)
        self._backup()
        return None


class Marker:
    __slots__ = ('tok',)

    def __init__(self, tok: Token) -> None:
        self.tok = tok


    @property
    def label(self) -> str:
        return ""


class EndMarker(Marker):
    __slots__ = ()

    def __init__(self, tok: Token) -> None:
        self.tok = tok


    @property
    def label(self) -> str:
        return "{{end}}"


class ElseMarker(Marker):
    __slots__ = ('chained',)

    def __init__(self, tok: Token, chained: str = '') -> None:
        self.tok = tok
        self.chained = chained


    @property
    def label(self) -> str:
        return "{{else}}"


def _is_empty_tree(node: Node) -> bool:
    if isinstance(node, ListNode):
        return all(_is_empty_tree(n) for n in node.nodes)
    if isinstance(node, TextNode):
        return node.text.strip() == ""
    return isinstance(node, CommentNode)


def _token_string(tok: Token) -> str:
    """Go's ``item.String()`` used in "unexpected X in Y" errors."""
    if tok.kind == EOF:
        return "EOF"
    if tok.kind == ERROR:
        return tok.value
    if tok.kind in (KEYWORD, NIL, DOT):
        return f"<{tok.value}>"
    if len(tok.value) > 10:
        return f"{_go_quote_trunc(tok.value)}..."
    return _go_quote(tok.value)


def _go_quote_trunc(text: str) -> str:
    # Go: fmt.Sprintf("%.10q...", i.val) -- %.10q truncates the *string* to 10 runes first.
    return _go_quote(text[:10])


def parse_templates(name: str, text: str, left: str, right: str,
                    funcs: frozenset[str]) -> dict[str, Tree]:
    return Parser(name, text, left, right, funcs).parse()
