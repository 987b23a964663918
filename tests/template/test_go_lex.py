"""Lexer table from Go's text/template/parse/lex_test.go.

Two cases follow the Go release Vault Agent is built with (checked against ``bao agent``) rather
than the older table: newlines are allowed inside actions, and an extra right parenthesis is
reported as "unexpected right paren". Comments are kept as tokens here (Go drops them unless
asked); the table compares without them.
"""

from __future__ import annotations

import pytest

from s4e_secret_agent.template import parse as p

L = (p.LEFT_DELIM, "{{")
R = (p.RIGHT_DELIM, "}}")
SP = (p.SPACE, " ")
EOF = (p.EOF, "")
LP = (p.LEFT_PAREN, "(")
RP = (p.RIGHT_PAREN, ")")
PIPE = (p.PIPE, "|")
RAW = "`abc\\n\\t\\\" `"
RAW_NL = "`now is{{\n}}the time`"

LEX_TESTS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("empty", "", [EOF]),
    ("spaces", " \t\n", [(p.TEXT, " \t\n"), EOF]),
    ("text", "now is the time", [(p.TEXT, "now is the time"), EOF]),
    ("text with comment", "hello-{{/* this is a comment */}}-world",
     [(p.TEXT, "hello-"), (p.TEXT, "-world"), EOF]),
    ("punctuation", "{{,@% }}", [L, (p.CHAR, ","), (p.CHAR, "@"), (p.CHAR, "%"), SP, R, EOF]),
    ("parens", "{{((3))}}", [L, LP, LP, (p.NUMBER, "3"), RP, RP, R, EOF]),
    ("empty action", "{{}}", [L, R, EOF]),
    ("for", "{{for}}", [L, (p.IDENTIFIER, "for"), R, EOF]),
    ("quote", '{{"abc \\n\\t\\" "}}', [L, (p.STRING, '"abc \\n\\t\\" "'), R, EOF]),
    ("raw quote", "{{" + RAW + "}}", [L, (p.RAW_STRING, RAW), R, EOF]),
    ("raw quote with newline", "{{" + RAW_NL + "}}", [L, (p.RAW_STRING, RAW_NL), R, EOF]),
    ("numbers", "{{1 02 0x14 -7.2i 1e3 +1.2e-4 4.2i 1+2i}}", [
        L, (p.NUMBER, "1"), SP, (p.NUMBER, "02"), SP, (p.NUMBER, "0x14"), SP,
        (p.NUMBER, "-7.2i"), SP, (p.NUMBER, "1e3"), SP, (p.NUMBER, "+1.2e-4"), SP,
        (p.NUMBER, "4.2i"), SP, (p.COMPLEX, "1+2i"), R, EOF]),
    ("characters", "{{'a' '\\n' '\\'' '\\\\' '\\u00FF' '\\xFF' '本'}}", [
        L, (p.CHAR_CONST, "'a'"), SP, (p.CHAR_CONST, "'\\n'"), SP, (p.CHAR_CONST, "'\\''"), SP,
        (p.CHAR_CONST, "'\\\\'"), SP, (p.CHAR_CONST, "'\\u00FF'"), SP,
        (p.CHAR_CONST, "'\\xFF'"), SP, (p.CHAR_CONST, "'本'"), R, EOF]),
    ("bools", "{{true false}}", [L, (p.BOOL, "true"), SP, (p.BOOL, "false"), R, EOF]),
    ("dot", "{{.}}", [L, (p.DOT, "."), R, EOF]),
    ("nil", "{{nil}}", [L, (p.NIL, "nil"), R, EOF]),
    ("dots", "{{.x . .2 .x.y.z}}", [
        L, (p.FIELD, ".x"), SP, (p.DOT, "."), SP, (p.NUMBER, ".2"), SP, (p.FIELD, ".x"),
        (p.FIELD, ".y"), (p.FIELD, ".z"), R, EOF]),
    ("keywords", "{{range if else end with}}", [
        L, (p.KEYWORD, "range"), SP, (p.KEYWORD, "if"), SP, (p.KEYWORD, "else"), SP,
        (p.KEYWORD, "end"), SP, (p.KEYWORD, "with"), R, EOF]),
    ("variables", "{{$c := printf $ $hello $23 $ $var.Field .Method}}", [
        L, (p.VARIABLE, "$c"), SP, (p.DECLARE, ":="), SP, (p.IDENTIFIER, "printf"), SP,
        (p.VARIABLE, "$"), SP, (p.VARIABLE, "$hello"), SP, (p.VARIABLE, "$23"), SP,
        (p.VARIABLE, "$"), SP, (p.VARIABLE, "$var"), (p.FIELD, ".Field"), SP,
        (p.FIELD, ".Method"), R, EOF]),
    ("variable invocation", "{{$x 23}}", [L, (p.VARIABLE, "$x"), SP, (p.NUMBER, "23"), R, EOF]),
    ("pipeline", 'intro {{echo hi 1.2 |noargs|args 1 "hi"}} outro', [
        (p.TEXT, "intro "), L, (p.IDENTIFIER, "echo"), SP, (p.IDENTIFIER, "hi"), SP,
        (p.NUMBER, "1.2"), SP, PIPE, (p.IDENTIFIER, "noargs"), PIPE, (p.IDENTIFIER, "args"),
        SP, (p.NUMBER, "1"), SP, (p.STRING, '"hi"'), R, (p.TEXT, " outro"), EOF]),
    ("declaration", "{{$v := 3}}", [L, (p.VARIABLE, "$v"), SP, (p.DECLARE, ":="), SP,
                                      (p.NUMBER, "3"), R, EOF]),
    ("2 declarations", "{{$v , $w := 3}}", [
        L, (p.VARIABLE, "$v"), SP, (p.CHAR, ","), SP, (p.VARIABLE, "$w"), SP,
        (p.DECLARE, ":="), SP, (p.NUMBER, "3"), R, EOF]),
    ("field of parenthesized expression", "{{(.X).Y}}", [
        L, LP, (p.FIELD, ".X"), RP, (p.FIELD, ".Y"), R, EOF]),
    ("badchar", "#{{\x01}}", [(p.TEXT, "#"), L,
                              (p.ERROR, "unrecognized character in action: U+0001")]),
    ("newline in action", "{{\n}}", [L, (p.SPACE, "\n"), R, EOF]),
    ("EOF in action", "{{range", [L, (p.KEYWORD, "range"), (p.ERROR, "unclosed action")]),
    ("unclosed quote", '{{"\n"}}', [L, (p.ERROR, "unterminated quoted string")]),
    ("unclosed raw quote", "{{`xx}}", [L, (p.ERROR, "unterminated raw quoted string")]),
    ("unclosed char constant", "{{'\n}}", [L, (p.ERROR, "unterminated character constant")]),
    ("bad number", "{{3k}}", [L, (p.ERROR, 'bad number syntax: "3k"')]),
    ("unclosed paren", "{{(3}}", [L, LP, (p.NUMBER, "3"), (p.ERROR, "unclosed left paren")]),
    ("extra right paren", "{{3)}}", [L, (p.NUMBER, "3"), (p.ERROR, "unexpected right paren")]),
    ("long pipeline deadlock", "{{|||||}}", [L, PIPE, PIPE, PIPE, PIPE, PIPE, R, EOF]),
    ("text with bad comment", "hello-{{/*/}}-world",
     [(p.TEXT, "hello-"), (p.ERROR, "unclosed comment")]),
    ("text with comment close separated from delim", "hello-{{/* */ }}-world",
     [(p.TEXT, "hello-"), (p.ERROR, "comment ends before closing delimiter")]),
    ("unmatched right delimiter", "hello-{.}}-world", [(p.TEXT, "hello-{.}}-world"), EOF]),
]

DELIM_TESTS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("punctuation", "$$,@%{{}}@@", [
        (p.LEFT_DELIM, "$$"), (p.CHAR, ","), (p.CHAR, "@"), (p.CHAR, "%"), (p.CHAR, "{"),
        (p.CHAR, "{"), (p.CHAR, "}"), (p.CHAR, "}"), (p.RIGHT_DELIM, "@@"), EOF]),
    ("empty action", "$$@@", [(p.LEFT_DELIM, "$$"), (p.RIGHT_DELIM, "@@"), EOF]),
    ("for", "$$for@@", [(p.LEFT_DELIM, "$$"), (p.IDENTIFIER, "for"), (p.RIGHT_DELIM, "@@"),
                        EOF]),
    ("raw quote", "$$" + RAW + "@@", [(p.LEFT_DELIM, "$$"), (p.RAW_STRING, RAW),
                                      (p.RIGHT_DELIM, "@@"), EOF]),
]


def lex(text: str, left: str = "{{", right: str = "}}") -> list[tuple[str, str]]:
    return [(t.kind, t.value) for t in p.Lexer(text, left, right).run() if t.kind != p.COMMENT]


@pytest.mark.parametrize(("name", "text", "want"), LEX_TESTS, ids=[t[0] for t in LEX_TESTS])
def test_lex_like_go(name: str, text: str, want: list[tuple[str, str]]) -> None:
    assert lex(text) == want


@pytest.mark.parametrize(("name", "text", "want"), DELIM_TESTS, ids=[t[0] for t in DELIM_TESTS])
def test_lex_custom_delimiters_like_go(name: str, text: str, want: list[tuple[str, str]]) -> None:
    assert lex(text, "$$", "@@") == want


def test_token_positions_like_go() -> None:
    tokens = p.Lexer("0123{{hello}}xyz", "{{", "}}").run()
    assert [(t.kind, t.pos, t.value) for t in tokens] == [
        (p.TEXT, 0, "0123"), (p.LEFT_DELIM, 4, "{{"), (p.IDENTIFIER, 6, "hello"),
        (p.RIGHT_DELIM, 11, "}}"), (p.TEXT, 13, "xyz"), (p.EOF, 16, "")]
