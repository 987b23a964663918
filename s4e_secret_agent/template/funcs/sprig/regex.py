"""Sprig's regular expressions: ``regexMatch``, ``regexFind``, ``regexFindAll``,
``regexReplaceAll``, ``regexReplaceAllLiteral``, ``regexSplit``, ``regexQuoteMeta`` and
their ``must`` variants.

Patterns are Go RE2 syntax, translated by the engine's regexp module. What Python's ``re``
does differently is the iteration: Go never accepts an empty match right after the previous
match, in ``FindAll``, ``ReplaceAll`` and ``Split`` alike, so this module walks the input the
way Go's regexp package does. The plain variants call ``MustCompile``, so a bad pattern is
Go's panic ``regexp: Compile("..."): error parsing regexp: ...``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from s4e_secret_agent.template.gofmt import go_quote
from s4e_secret_agent.template.signature import INT, STRING, FuncError, GoFunc
from s4e_secret_agent.template.values import NilStringList, StringList


def _compile(pattern: str) -> re.Pattern[str]:
    from s4e_secret_agent.template.funcs.regexp import compile_go_regexp

    return compile_go_regexp(pattern)


def _must_compile(pattern: str) -> re.Pattern[str]:
    try:
        return _compile(pattern)
    except FuncError as exc:
        raise FuncError(f"regexp: Compile({_regexp_quote(pattern)}): {exc}") from None


def _regexp_quote(s: str) -> str:
    # regexp's own quote: backquotes when strconv.CanBackquote, else strconv.Quote.
    if all(ch == "\t" or (" " <= ch != "\x7f" and ch != "`" and ch != "\ufeff"
                           and not 0xDC80 <= ord(ch) <= 0xDCFF) for ch in s):
        return "`" + s + "`"
    return go_quote(s)


def find_all(rx: re.Pattern[str], s: str, n: int) -> Iterator[re.Match[str]]:
    """Go's ``allMatches``: no empty match directly after the previous match."""
    if n < 0:
        n = len(s) + 1
    pos, found, previous_end = 0, 0, -1
    while found < n and pos <= len(s):
        match = rx.search(s, pos)
        if match is None:
            break
        accept = True
        if match.end() == pos:
            if match.start() == previous_end:
                accept = False
            pos += 1
        else:
            pos = match.end()
        previous_end = match.end()
        if accept:
            found += 1
            yield match


def replace_all(rx: re.Pattern[str], s: str, replacement: Callable[[re.Match[str]], str]) -> str:
    """Go's ``replaceAll``."""
    out: list[str] = []
    last_end = 0
    search = 0
    while search <= len(s):
        match = rx.search(s, search)
        if match is None:
            break
        out.append(s[last_end:match.start()])
        if match.end() > last_end or match.start() == 0:
            out.append(replacement(match))
        last_end = match.end()
        if search + 1 > match.end():
            search += 1
        else:
            search = match.end()
    out.append(s[last_end:])
    return "".join(out)


def split(rx: re.Pattern[str], s: str, n: int) -> StringList:
    """``Regexp.Split``."""
    if n == 0:
        return NilStringList()
    if rx.pattern and s == "":
        return StringList([""])
    parts = StringList()
    begin = end = 0
    for match in find_all(rx, s, n):
        if n > 0 and len(parts) == n - 1:
            break
        end = match.start()
        if match.end() != 0:
            parts.append(s[begin:end])
        begin = match.end()
    if end != len(s):
        parts.append(s[begin:])
    return parts


def _regex_match(pattern: str, s: str) -> bool:
    try:
        return _compile(pattern).search(s) is not None
    except FuncError:
        return False


def _must_regex_match(pattern: str, s: str) -> bool:
    return _compile(pattern).search(s) is not None


def _find_all(compile_: Callable[[str], re.Pattern[str]]) -> Callable[[str, str, int],
                                                                     StringList]:
    def find(pattern: str, s: str, n: int) -> StringList:
        rx = compile_(pattern)
        found = [m.group(0) for m in find_all(rx, s, n)]
        # Go returns a nil slice when nothing matches (JSON null).
        return StringList(found) if found else NilStringList()

    return find


def _find(compile_: Callable[[str], re.Pattern[str]]) -> Callable[[str, str], str]:
    def find(pattern: str, s: str) -> str:
        match = compile_(pattern).search(s)
        return match.group(0) if match else ""

    return find


def _replace(compile_: Callable[[str], re.Pattern[str]], literal: bool
             ) -> Callable[[str, str, str], str]:
    def replace(pattern: str, s: str, repl: str) -> str:
        from s4e_secret_agent.template.funcs.regexp import expand_replacement

        rx = compile_(pattern)
        if literal:
            return replace_all(rx, s, lambda m: repl)
        return replace_all(rx, s, lambda m: expand_replacement(m, repl))

    return replace


def _split(compile_: Callable[[str], re.Pattern[str]]) -> Callable[[str, str, int], StringList]:
    def do_split(pattern: str, s: str, n: int) -> StringList:
        return split(compile_(pattern), s, n)

    return do_split


def quote_meta(s: str) -> str:
    """``regexp.QuoteMeta``."""
    return "".join("\\" + ch if ch in "\\.+*?()|[]{}^$" else ch for ch in s)


def functions() -> dict[str, GoFunc]:
    table = {
        "regexMatch": GoFunc(_regex_match, (STRING, STRING)),
        "mustRegexMatch": GoFunc(_must_regex_match, (STRING, STRING)),
        "regexFindAll": GoFunc(_find_all(_must_compile), (STRING, STRING, INT)),
        "mustRegexFindAll": GoFunc(_find_all(_compile), (STRING, STRING, INT)),
        "regexFind": GoFunc(_find(_must_compile), (STRING, STRING)),
        "mustRegexFind": GoFunc(_find(_compile), (STRING, STRING)),
        "regexReplaceAll": GoFunc(_replace(_must_compile, False), (STRING, STRING, STRING)),
        "mustRegexReplaceAll": GoFunc(_replace(_compile, False), (STRING, STRING, STRING)),
        "regexReplaceAllLiteral": GoFunc(_replace(_must_compile, True),
                                         (STRING, STRING, STRING)),
        "mustRegexReplaceAllLiteral": GoFunc(_replace(_compile, True),
                                             (STRING, STRING, STRING)),
        "regexSplit": GoFunc(_split(_must_compile), (STRING, STRING, INT)),
        "mustRegexSplit": GoFunc(_split(_compile), (STRING, STRING, INT)),
        "regexQuoteMeta": GoFunc(quote_meta, (STRING,)),
    }
    return {"sprig_" + name: fn for name, fn in table.items()}
