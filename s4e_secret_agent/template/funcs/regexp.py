"""Go ``regexp`` (RE2 syntax) on top of Python's ``re``.

The common syntax means the same in both; what differs is translated or rejected so that a
pattern never silently matches differently:

* rejected (Go has no such syntax): look-around ``(?=``, ``(?!``, ``(?<=``, ``(?<!``,
  back-references ``\\1``, possessive/atomic groups, conditionals, ``\\Z``;
* translated: ``(?P<name>``/``(?<name>`` groups, ``\\z`` (end of text), ``\\Q...\\E`` quoting,
  ``[[:alpha:]]``-style classes, ``\\pL``/``\\p{Greek}`` (only the Latin-script-free
  categories Python can express are accepted);
* Go's ``$`` without the ``m`` flag matches only at the very end (Python's ``$`` also before a
  final newline), so it becomes ``\\Z``. ``\\d``, ``\\w``, ``\\s``, ``\\b`` are ASCII-only in
  Go, so patterns are compiled with ``re.ASCII``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from s4e_secret_agent.template.signature import FuncError

_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7F", "blank": "\\t ",
    "cntrl": "\\x00-\\x1F\\x7F", "digit": "0-9", "graph": "!-~", "lower": "a-z",
    "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z",
    "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}


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


def translate(pattern: str) -> str:
    """Translate an RE2 pattern to an equivalent Python pattern, or raise RegexpError."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    multiline = False
    # per open group: how many "(?flags:" groups opened by a bare "(?flags)" must close with it
    pending = [0]
    # per open group: whether it holds a repetition (for the nested-repetition guard)
    repeats = [False]
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise _error("trailing backslash at end of expression", "")
            d = pattern[i + 1]
            if d == "Q":
                end = pattern.find("\\E", i + 2)
                literal = pattern[i + 2:] if end < 0 else pattern[i + 2:end]
                out.append(re.escape(literal))
                i = n if end < 0 else end + 2
                continue
            if d == "z":
                out.append("\\Z")
                i += 2
                continue
            if d in "123456789" or d in "ZGXRKNhHVgk" or False:
                raise _error("invalid escape sequence", pattern[i:i + 2])
            if d in "pP":
                cls, length = _unicode_class(pattern, i)
                out.append(cls if d == "p" else _negate_class(cls))
                i += length
                continue
            if d == "C":
                out.append("[\\s\\S]")
                i += 2
                continue
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[":
            j, text = _char_class(pattern, i)
            out.append(text)
            i = j
            continue
        if c == "(":
            if pattern.startswith("(?", i):
                rest = pattern[i + 2:]
                if rest.startswith(("=", "!", "<=", "<!", ">", "#", "(")):
                    raise _error("invalid or unsupported Perl syntax",
                                 pattern[i:i + 3])
                if rest.startswith("P<") or rest.startswith("<"):
                    start = i + (4 if rest.startswith("P<") else 3)
                    end = pattern.find(">", start)
                    if end < 0:
                        raise _error("invalid named capture", pattern[i:])
                    name = pattern[start:end]
                    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
                        raise _error("invalid named capture", pattern[i:end + 1])
                    out.append(f"(?P<{name}>")
                    i = end + 1
                    pending.append(0)
                    repeats.append(False)
                    continue
                # flags: (?i) (?s) (?m) (?U) (?i:...)
                m = re.match(r"\(\?([imsU]*)(?:-([imsU]*))?([:)])", pattern[i:])
                if not m:
                    raise _error("invalid or unsupported Perl syntax", pattern[i:i + 3])
                on, off, kind = m.group(1), m.group(2) or "", m.group(3)
                if "U" in on or "U" in off:
                    raise _error("invalid or unsupported Perl syntax", m.group(0))
                if "m" in on and kind == ")":
                    multiline = True
                flags = on.replace("U", "")
                off_flags = off.replace("U", "")
                scoped = f"(?{flags}" + (f"-{off_flags}" if off_flags else "") + ":"
                if scoped == "(?:":
                    scoped = "(?:"
                out.append(scoped)
                i += len(m.group(0))
                if kind == ")":
                    # A bare "(?i)" applies to the rest of the enclosing group: open a scoped
                    # group now and close it together with the enclosing one.
                    pending[-1] += 1
                else:
                    pending.append(0)
                    repeats.append(False)
                continue
            pending.append(0)
            repeats.append(False)
            out.append("(")
            i += 1
            continue
        if c == ")":
            if len(pending) == 1:
                raise _error("unexpected )", pattern)
            out.append(")" * pending.pop() + ")")
            inner_repeats = repeats.pop()
            i += 1
            if inner_repeats and i < n and (pattern[i] in "*+" or pattern[i] == "{"):
                # Go's RE2 matches (a+)+ in linear time; Python's backtracking engine can take
                # exponential time on it, so such patterns are refused instead.
                raise _error("nested repetition is not supported by this agent "
                             "(it can take exponential time)", pattern)
            if inner_repeats:
                repeats[-1] = True
            continue
        if c == "$" and not multiline:
            out.append("\\Z")
            i += 1
            continue
        if c in "*+{":
            repeats[-1] = True
        if c in "*+?" or (c == "{" and _repeat_length(pattern, i)):
            _check_repetition(pattern, i)
        if c == "{":
            m = re.match(r"\{(\d+)(,(\d*))?\}", pattern[i:])
            if m:
                lo = int(m.group(1))
                hi = m.group(3)
                if lo > 1000 or (hi and int(hi) > 1000):
                    raise _error("invalid repeat count", m.group(0))
                if hi and int(hi) < lo:
                    raise _error("invalid repeat count", m.group(0))
                out.append(m.group(0))
                i += len(m.group(0))
                continue
            out.append("\\{")
            i += 1
            continue
        out.append(c)
        i += 1
    if len(pending) > 1:
        raise _error("missing closing )", pattern)
    out.append(")" * pending[0])
    return "".join(out)


def _negate_class(cls: str) -> str:
    if cls.startswith("[") and not cls.startswith("[^"):
        return "[^" + cls[1:]
    return "[^" + cls + "]"


_UNICODE_CATEGORIES = {
    "L": "[^\\W\\d_]", "Lu": "[A-Z\u00c0-\u00de]", "Ll": "[a-z\u00df-\u00ff]",
    "N": "\\d", "Nd": "\\d",
}


def _unicode_class(pattern: str, i: int) -> tuple[str, int]:
    if i + 2 >= len(pattern) + 0 and i + 2 > len(pattern) - 1 and i + 2 >= len(pattern):
        raise _error("invalid character class range", pattern[i:])
    if pattern[i + 2] == "{":
        end = pattern.find("}", i + 3)
        if end < 0:
            raise _error("invalid character class range", pattern[i:])
        name = pattern[i + 3:end]
        length = end + 1 - i
    else:
        name = pattern[i + 2]
        length = 3
    if name not in _UNICODE_CATEGORIES:
        raise _error("invalid character class range", pattern[i:i + length])
    return _UNICODE_CATEGORIES[name], length


def _char_class(pattern: str, i: int) -> tuple[int, str]:
    out = ["["]
    j = i + 1
    n = len(pattern)
    if j < n and pattern[j] == "^":
        out.append("^")
        j += 1
    first = True
    while j < n:
        c = pattern[j]
        if c == "]" and not first:
            out.append("]")
            return j + 1, "".join(out)
        first = False
        if c == "[" and pattern.startswith("[:", j):
            end = pattern.find(":]", j + 2)
            if end > 0:
                name = pattern[j + 2:end]
                negate = name.startswith("^")
                name = name.lstrip("^")
                if name not in _POSIX_CLASSES:
                    raise _error("invalid character class range",
                                 pattern[j:end + 2])
                if negate:
                    raise _error("invalid character class range",
                                 pattern[j:end + 2])
                out.append(_POSIX_CLASSES[name])
                j = end + 2
                continue
        if c == "[":
            out.append("\\[")
            j += 1
            continue
        if c == "\\":
            if j + 1 >= n:
                break
            d = pattern[j + 1]
            if d in "pP":
                raise _error("invalid character class range", pattern[j:j + 3])
            out.append(pattern[j:j + 2])
            j += 2
            continue
        if c in "&~|-" and j + 1 < n and pattern[j + 1] == c:
            out.append("\\" + c)
            j += 1
            continue
        out.append(c)
        j += 1
    raise _error("missing closing ]", pattern[i:])


@lru_cache(maxsize=256)
def compile_go_regexp(pattern: str) -> re.Pattern[str]:
    """Compile an RE2 pattern (cached); raises FuncError with Go's message on bad syntax."""
    translated = translate(pattern)
    try:
        return re.compile(translated, re.ASCII)
    except re.error as exc:
        from s4e_secret_agent.template.gofmt import go_quote

        raise RegexpError(f"error parsing regexp: {exc.msg}: {go_quote(pattern)}") from None


def expand_replacement(match: re.Match[str], template: str) -> str:
    """Go's ``Regexp.ReplaceAllString`` template: ``$1``, ``${1}``, ``$name``, ``$$``."""
    out: list[str] = []
    i = 0
    n = len(template)
    while i < n:
        c = template[i]
        if c != "$":
            out.append(c)
            i += 1
            continue
        if i + 1 < n and template[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        name = ""
        j = i + 1
        if j < n and template[j] == "{":
            end = template.find("}", j + 1)
            if end < 0:
                out.append(c)
                i += 1
                continue
            name = template[j + 1:end]
            if not name or not re.fullmatch(r"[A-Za-z0-9_]+", name):
                out.append(c)
                i += 1
                continue
            j = end + 1
        else:
            m = re.match(r"[A-Za-z0-9_]+", template[j:])
            if not m:
                out.append(c)
                i += 1
                continue
            name = m.group(0)
            j += len(name)
        out.append(_group(match, name))
        i = j
    return "".join(out)


def _group(match: re.Match[str], name: str) -> str:
    if name.isdigit():
        index = int(name)
        if index <= (match.re.groups or 0):
            return match.group(index) or ""
        return ""
    try:
        return match.group(name) or ""
    except IndexError:
        return ""
