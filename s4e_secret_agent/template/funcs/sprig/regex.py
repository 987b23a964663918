"""Sprig's regular expressions: ``regexMatch``, ``regexFind``, ``regexFindAll``,
``regexReplaceAll``, ``regexReplaceAllLiteral``, ``regexSplit``, ``regexQuoteMeta`` and
their ``must`` variants.

Patterns are Go RE2 syntax, compiled and matched with Go's semantics by the engine's regexp
module (RE2 itself, linear-time). The plain variants call ``MustCompile``, so a bad pattern is
Go's panic ``regexp: Compile("..."): error parsing regexp: ...``; the ``must`` variants return
the error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from s4e_secret_agent.template.gofmt import go_quote
from s4e_secret_agent.template.signature import INT, STRING, ExecutionState, FuncError, GoFunc
from s4e_secret_agent.template.values import NilStringList, StringList

if TYPE_CHECKING:
    from s4e_secret_agent.template.funcs.regexp import GoRegexp


def _compile(pattern: str) -> GoRegexp:
    from s4e_secret_agent.template.funcs.regexp import compile_go_regexp

    return compile_go_regexp(pattern)


def _must_compile(pattern: str) -> GoRegexp:
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


def _regex_match(pattern: str, s: str) -> bool:
    try:
        return _compile(pattern).matches(s)
    except FuncError:
        return False


def _must_regex_match(pattern: str, s: str) -> bool:
    return _compile(pattern).matches(s)


# The functions that scan a whole text take the execution state: a scan of a large value
# counts towards the render's CPU budget as it goes.
def _find_all(compile_: Callable[[str], GoRegexp]
              ) -> Callable[[ExecutionState, str, str, int], StringList]:
    def find(state: ExecutionState, pattern: str, s: str, n: int) -> StringList:
        found = compile_(pattern).find_all(s, n, state.step)
        # Go returns a nil slice when nothing matches (JSON null).
        return StringList(found) if found else NilStringList()

    return find


def _find(compile_: Callable[[str], GoRegexp]) -> Callable[[str, str], str]:
    def find(pattern: str, s: str) -> str:
        return compile_(pattern).find(s)

    return find


def _replace(compile_: Callable[[str], GoRegexp], literal: bool
             ) -> Callable[[ExecutionState, str, str, str], str]:
    def replace(state: ExecutionState, pattern: str, s: str, repl: str) -> str:
        return compile_(pattern).replace_all(s, repl, literal=literal, tick=state.step)

    return replace


def _split(compile_: Callable[[str], GoRegexp]
           ) -> Callable[[ExecutionState, str, str, int], StringList]:
    def do_split(state: ExecutionState, pattern: str, s: str, n: int) -> StringList:
        parts = compile_(pattern).split(s, n, state.step)
        return NilStringList() if parts is None else StringList(parts)

    return do_split


def quote_meta(s: str) -> str:
    """``regexp.QuoteMeta``."""
    return "".join("\\" + ch if ch in "\\.+*?()|[]{}^$" else ch for ch in s)


def functions() -> dict[str, GoFunc]:
    table = {
        "regexMatch": GoFunc(_regex_match, (STRING, STRING)),
        "mustRegexMatch": GoFunc(_must_regex_match, (STRING, STRING)),
        "regexFindAll": GoFunc(_find_all(_must_compile), (STRING, STRING, INT), needs_state=True),
        "mustRegexFindAll": GoFunc(_find_all(_compile), (STRING, STRING, INT), needs_state=True),
        "regexFind": GoFunc(_find(_must_compile), (STRING, STRING)),
        "mustRegexFind": GoFunc(_find(_compile), (STRING, STRING)),
        "regexReplaceAll": GoFunc(_replace(_must_compile, False), (STRING, STRING, STRING),
                                  needs_state=True),
        "mustRegexReplaceAll": GoFunc(_replace(_compile, False), (STRING, STRING, STRING),
                                      needs_state=True),
        "regexReplaceAllLiteral": GoFunc(_replace(_must_compile, True),
                                         (STRING, STRING, STRING), needs_state=True),
        "mustRegexReplaceAllLiteral": GoFunc(_replace(_compile, True),
                                             (STRING, STRING, STRING), needs_state=True),
        "regexSplit": GoFunc(_split(_must_compile), (STRING, STRING, INT), needs_state=True),
        "mustRegexSplit": GoFunc(_split(_compile), (STRING, STRING, INT), needs_state=True),
        "regexQuoteMeta": GoFunc(quote_meta, (STRING,)),
    }
    return {"sprig_" + name: fn for name, fn in table.items()}
