"""Go's ``regexp`` for the template functions, on Google's RE2 library (``google-re2``).

Go's regexp package is RE2: matching takes time linear in the input whatever the pattern.
Python's ``re`` backtracks, so a pattern such as ``(a|a)*c`` against a few dozen characters
would stall a render for hours. Every regex-taking template function (``regexMatch``,
``regexReplaceAll``, the ``sprig_regex*`` family, the sockaddr filters) goes through
:func:`compile_go_regexp`, which compiles with RE2 itself.

RE2's C++ parser and Go's ``regexp/syntax`` accept almost the same language. A short pass over
the pattern first rejects what Go rejects and RE2 would accept (``\\C``), and RE2's own
rejections are reworded the way Go words them, ``error parsing regexp: <what>: `<arg>```, so a
template sees Go's message for back-references and look-around (``invalid or unsupported Perl
syntax``) as with Vault Agent.

Matching runs on the UTF-8 bytes of the text, as Go's strings are bytes: match positions, the
rule that no empty match directly follows another one (``FindAll``, ``ReplaceAll``, ``Split``)
and the one-character step after an empty match are Go's. The library is imported when a
regex function is first called: most templates use none, and init's start-up time counts.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from s4e_secret_agent.template.signature import FuncError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# (start, end) of the whole match and of each group, in bytes; (-1, -1) for a group that did
# not take part in the match.
Spans = list[tuple[int, int]]

# RE2's error codes (re2/re2.cc) and Go's words for the same error (regexp/syntax).
_RE2_TO_GO = {
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class": "invalid character class",
    "invalid character class range": "invalid character class range",
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid UTF-8": "invalid UTF-8",
    "invalid named capture group": "invalid named capture",
    "pattern too large - compile failed": "expression too large",
    "pattern too large - reverse compile failed": "expression too large",
}
# RE2's default memory budget for one compiled pattern (8 MiB): a pattern that needs more is
# refused ("expression too large") instead of taking the pod's memory.
_MAX_MEM = 8 << 20


class RegexpError(FuncError):
    pass


def _error(what: str, arg: str) -> RegexpError:
    """Go's regexp/syntax error text: "error parsing regexp: <what>: `<arg>`"."""
    return RegexpError(f"error parsing regexp: {what}: `{arg}`")


def _repeat_length(pattern: str, i: int) -> int:
    """The length of the repetition operator at ``i`` (``*``, ``{2,3}``, ...), or 0."""
    if i >= len(pattern):
        return 0
    if pattern[i] in "*+?":
        return 1
    m = re.match(r"\{\d+(?:,\d*)?\}", pattern[i:]) if pattern[i] == "{" else None
    return len(m.group(0)) if m else 0


def _check_repetition(pattern: str, i: int) -> None:
    """Go rejects a repetition of nothing and a repetition of a repetition (``a**``)."""
    length = _repeat_length(pattern, i)
    if (i == 0 or pattern[i - 1] in "(|") and (i < 2 or pattern[i - 2] != "\\"):
        raise _error("missing argument to repetition operator", pattern[i:i + length])
    end = i + length
    if end < len(pattern) and pattern[end] == "?":
        end += 1
    following = _repeat_length(pattern, end)
    if following:
        end += following
        if end < len(pattern) and pattern[end] == "?":
            end += 1
        raise _error("invalid nested repetition operator", pattern[i:end])


def check_go_syntax(pattern: str) -> list[str]:
    """Raise :class:`RegexpError` with Go's message for the errors Go reports first (in the
    order its parser meets them); what is left is checked by RE2 when compiling.

    Returns the name of each capturing group in order ("" for an unnamed one): Go allows a
    name twice, and ``$name`` then means the first such group that took part in the match,
    which RE2's name table (one index per name) cannot say."""
    names: list[str] = []
    i = 0
    n = len(pattern)
    depth = 0
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise _error("trailing backslash at end of expression", "")
            d = pattern[i + 1]
            if d == "Q":
                end = pattern.find("\\E", i + 2)
                i = n if end < 0 else end + 2
                continue
            if d == "C" or d in "ZGXRKNhHVgk":
                # \C (any byte) is RE2's alone; Go has none of these escapes.
                raise _error("invalid escape sequence", pattern[i:i + 2])
            if d in "pP" and i + 2 < n and pattern[i + 2] == "{":
                end = pattern.find("}", i + 3)
                i = n if end < 0 else end + 1
                continue
            i += 3 if d in "pP" else 2
            continue
        if c == "[":
            i = _skip_char_class(pattern, i)
            continue
        if c == "(":
            if pattern.startswith("(?", i):
                rest = pattern[i + 2:]
                # "(?<=" and "(?<!" read as a named group to Go, and fail as one.
                if rest.startswith(("=", "!", ">", "#", "(")):
                    raise _error("invalid or unsupported Perl syntax", pattern[i:i + 3])
                if rest.startswith(("P<", "<")):
                    start = i + (4 if rest.startswith("P<") else 3)
                    end = pattern.find(">", start)
                    if end < 0:
                        raise _error("invalid named capture", pattern[i:])
                    if not re.fullmatch(r"[A-Za-z0-9_]+", pattern[start:end]):
                        raise _error("invalid named capture", pattern[i:end + 1])
                    names.append(pattern[start:end])
                    i = end + 1
                    depth += 1
                    continue
                m = re.match(r"\(\?([imsU]*)(?:-([imsU]*))?([:)])", pattern[i:])
                if not m:
                    raise _error("invalid or unsupported Perl syntax", pattern[i:i + 3])
                i += len(m.group(0))
                if m.group(3) == ":":
                    depth += 1
                continue
            names.append("")
            depth += 1
            i += 1
            continue
        if c == ")":
            if depth == 0:
                raise _error("unexpected )", pattern)
            depth -= 1
            i += 1
            continue
        if c in "*+?" or (c == "{" and _repeat_length(pattern, i)):
            _check_repetition(pattern, i)
        if c == "{":
            m = re.match(r"\{(\d+)(,(\d*))?\}", pattern[i:])
            if m:
                lo, hi = int(m.group(1)), m.group(3)
                if lo > 1000 or (hi and (int(hi) > 1000 or int(hi) < lo)):
                    raise _error("invalid repeat count", m.group(0))
                i += len(m.group(0))
                continue
        i += 1
    if depth:
        raise _error("missing closing )", pattern)
    return names


def _skip_char_class(pattern: str, i: int) -> int:
    """The index after the character class that opens at ``i``."""
    j = i + 1
    n = len(pattern)
    if j < n and pattern[j] == "^":
        j += 1
    first = True
    while j < n:
        c = pattern[j]
        if c == "]" and not first:
            return j + 1
        first = False
        if pattern.startswith("[:", j):
            end = pattern.find(":]", j + 2)
            if end > 0:
                j = end + 2
                continue
        if c == "\\":
            if j + 1 < n and pattern[j + 1] == "C":
                raise _error("invalid escape sequence", pattern[j:j + 2])
            j += 2
            continue
        j += 1
    raise _error("missing closing ]", pattern[i:])


def _go_message(re2_message: str, pattern: str) -> str:
    """RE2's "<code>: <arg>" as Go's "error parsing regexp: <what>: `<arg>`"."""
    code, sep, arg = re2_message.partition(": ")
    what = _RE2_TO_GO.get(code, code)
    if what in ("missing closing )", "unexpected )") or not sep:
        arg = pattern
    return f"error parsing regexp: {what}: `{arg}`"


def to_bytes(text: str) -> bytes:
    """A Go string's bytes (bytes that are not UTF-8 travel as surrogate escapes)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # A lone surrogate from a JSON "\ud800": Go holds U+FFFD there.
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" and not "\udc80" <= ch <= "\udcff"
                       else ch for ch in text).encode("utf-8", "surrogateescape")


def to_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, carried as an escape
_REPLACEMENT = "\ufffd".encode()


class Subject:
    """The text a pattern runs over. Go reads a byte that is not UTF-8 as U+FFFD (``.``,
    ``[^a]`` and ``\\x{FFFD}`` match it, one byte wide); RE2 does not match such a byte at
    all. So those bytes are matched as U+FFFD, and every position is mapped back to the
    original bytes, which are what the functions return."""

    __slots__ = ("_offsets", "data", "original")

    def __init__(self, text: str) -> None:
        self.original = to_bytes(text)
        self._offsets: list[int] | None = None
        if not _NOT_UTF8.search(text):
            self.data = self.original
            return
        # Each character's bytes, with each invalid byte as the 3 bytes of U+FFFD; offsets
        # maps every position in data to the position in original.
        pieces: list[bytes] = []
        offsets: list[int] = []
        position = 0
        for ch in text:
            if "\udc80" <= ch <= "\udcff":
                pieces.append(_REPLACEMENT)
                offsets += [position] * 3
                position += 1
            else:
                encoded = to_bytes(ch)
                pieces.append(encoded)
                offsets += [position + k for k in range(len(encoded))]
                position += len(encoded)
        offsets.append(position)
        self.data = b"".join(pieces)
        self._offsets = offsets

    def cut(self, start: int, end: int) -> bytes:
        """The original bytes of ``data[start:end]``."""
        if self._offsets is None:
            return self.data[start:end]
        return self.original[self._offsets[start]:self._offsets[end]]


def _rune_width(data: bytes, pos: int) -> int:
    """The width of the UTF-8 character at ``pos`` (1 for an invalid byte, 0 at the end)."""
    if pos >= len(data):
        return 0
    lead = data[pos]
    width = 1 if lead < 0xC2 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4 if lead < 0xF5 \
        else 1
    if width > 1:
        try:
            data[pos:pos + width].decode("utf-8")
        except UnicodeDecodeError:
            return 1
    return width


def _no_tick() -> None:
    pass


class GoRegexp:
    """One compiled pattern with Go's ``regexp.Regexp`` methods the template functions use."""

    __slots__ = ("_match", "_names", "_rx", "_unanchored", "groups", "pattern")

    def __init__(self, pattern: str, compiled: Any, unanchored: Any,
                 group_names: list[str]) -> None:
        self.pattern = pattern
        self._rx = compiled
        # The compiled RE2 object's own Match(anchor, text, pos, endpos) returns the spans in
        # one call: the package's search() builds a generator and a match object per call,
        # which made a scan with many matches ten times slower.
        self._match = compiled._regexp.Match
        self._unanchored = unanchored
        self.groups: int = compiled.groups
        # name -> the indexes of the groups with that name, in order
        self._names: dict[str, list[int]] = {}
        if len(group_names) == self.groups:
            for index, name in enumerate(group_names, 1):
                if name:
                    self._names.setdefault(name, []).append(index)
        else:  # not expected: RE2 counted the groups differently
            self._names = {to_text(k): [v] for k, v in compiled.groupindex.items()}

    def _search(self, data: bytes, pos: int) -> Spans | None:
        spans: Spans = self._match(self._unanchored, data, pos, len(data))
        return None if spans[0][0] < 0 else spans

    def matches(self, text: str) -> bool:
        return self._search(Subject(text).data, 0) is not None

    def find(self, text: str) -> str:
        subject = Subject(text)
        spans = self._search(subject.data, 0)
        return "" if spans is None else to_text(subject.cut(*spans[0]))

    def _all_matches(self, data: bytes, n: int, tick: Callable[[], None]) -> Iterator[Spans]:
        """Go's ``allMatches``: no empty match directly after the previous match. ``tick`` is
        called once per match (the render's CPU budget counts a long scan)."""
        if n < 0:
            n = len(data) + 1
        pos, found, previous_end = 0, 0, -1
        while found < n and pos <= len(data):
            tick()
            spans = self._search(data, pos)
            if spans is None:
                break
            start, end = spans[0]
            accept = True
            if end == pos:
                if start == previous_end:
                    accept = False
                width = _rune_width(data, pos)
                pos = pos + width if width else len(data) + 1
            else:
                pos = end
            previous_end = end
            if accept:
                found += 1
                yield spans

    def find_all(self, text: str, n: int, tick: Callable[[], None] = _no_tick) -> list[str]:
        subject = Subject(text)
        return [to_text(subject.cut(*s[0])) for s in self._all_matches(subject.data, n, tick)]

    def replace_all(self, text: str, replacement: str, *, literal: bool = False,
                    tick: Callable[[], None] = _no_tick) -> str:
        """Go's ``ReplaceAllString`` (``$1``/``${name}`` expanded) or, with ``literal``,
        ``ReplaceAllLiteralString``."""
        subject = Subject(text)
        data = subject.data
        literal_bytes = to_bytes(replacement)
        out: list[bytes] = []
        last_end = search = 0
        while search <= len(data):
            tick()
            spans = self._search(data, search)
            if spans is None:
                break
            start, end = spans[0]
            out.append(subject.cut(last_end, start))
            # No replacement for an empty match right after the previous match.
            if end > last_end or start == 0:
                out.append(literal_bytes if literal else self._expand(replacement, subject, spans))
            last_end = end
            width = _rune_width(data, search)
            if search + width > end:
                search += width
            elif search + 1 > end:
                search += 1
            else:
                search = end
        out.append(subject.cut(last_end, len(data)))
        return to_text(b"".join(out))

    def split(self, text: str, n: int, tick: Callable[[], None] = _no_tick) -> list[str] | None:
        """``Regexp.Split`` (None: Go's nil slice)."""
        if n == 0:
            return None
        if self.pattern and text == "":
            return [""]
        subject = Subject(text)
        data = subject.data
        parts: list[str] = []
        begin = end = 0
        for spans in self._all_matches(data, n, tick):
            if n > 0 and len(parts) == n - 1:
                break
            end = spans[0][0]
            if spans[0][1] != 0:
                parts.append(to_text(subject.cut(begin, end)))
            begin = spans[0][1]
        if end != len(data):
            parts.append(to_text(subject.cut(begin, len(data))))
        return parts

    def _expand(self, template: str, subject: Subject, spans: Spans) -> bytes:
        """Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``; a ``$``
        that starts no reference stays as it is."""
        out: list[bytes] = []
        i, n = 0, len(template)
        while i < n:
            dollar = template.find("$", i)
            if dollar < 0:
                out.append(to_bytes(template[i:]))
                break
            out.append(to_bytes(template[i:dollar]))
            i = dollar + 1
            if template.startswith("$", i):
                out.append(b"$")
                i += 1
                continue
            braced = template.startswith("{", i)
            m = _NAME.match(template, i + 1 if braced else i)
            if m is None or (braced and not template.startswith("}", m.end())):
                out.append(b"$")
                continue
            i = m.end() + (1 if braced else 0)
            for index in self._group_indexes(m.group(0)):
                if spans[index][0] >= 0:
                    out.append(subject.cut(*spans[index]))
                    break
        return b"".join(out)

    def _group_indexes(self, name: str) -> list[int]:
        """The groups ``$name`` may mean: a number (without leading zeros) or a name."""
        if name.isascii() and name.isdigit() and (name == "0" or not name.startswith("0")):
            index = int(name)
            return [index] if index <= self.groups else []
        return self._names.get(name, [])


# A reference's name: letters, digits and "_" (Go: unicode.IsLetter / IsDigit).
_NAME = re.compile(r"[^\W]+")


@lru_cache(maxsize=256)
def compile_go_regexp(pattern: str) -> GoRegexp:
    """Compile a Go (RE2) pattern, cached; raises RegexpError with Go's message."""
    import re2  # imported on first use: most templates have no regex

    group_names = check_go_syntax(pattern)
    options = re2.Options()
    options.log_errors = False  # RE2 would print every bad pattern on stderr
    options.max_mem = _MAX_MEM
    try:
        compiled = re2.compile(to_bytes(pattern), options)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else b""
        message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        raise RegexpError(_go_message(message, pattern)) from None
    return GoRegexp(pattern, compiled, re2._Anchor.UNANCHORED, group_names)

