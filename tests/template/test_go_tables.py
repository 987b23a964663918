"""Table tests taken from Go's own text/template tests (parse_test.go, exec_test.go).

Go's "die" function (it panics) is replaced by ``len 3``, which fails the same way.

Inputs and expected outputs are Go's. Go's tests run against a struct ``tVal``; where a case
only reads data, the same data is given here as a JSON-like map (templates only ever see maps
from Vault), and cases whose meaning depends on Go methods or typed maps are left out.
"""

from __future__ import annotations

from typing import Any

import pytest

from s4e_secret_agent.errors import TemplateError
from s4e_secret_agent.template import RenderContext, Template
from s4e_secret_agent.template import parse as p
from s4e_secret_agent.template.execute import Executor
from s4e_secret_agent.template.funcs import DEFAULT_FUNCTIONS
from s4e_secret_agent.template.values import MISSING

TVAL: dict[str, Any] = {
    "True": True, "I": 17, "U16": 16, "X": "x", "S": "xyz", "FloatZero": 0.0,
    "ComplexZero": 0j, "SI": [3, 4, 5], "SIEmpty": [], "SB": [True, False], "AI": [3, 4, 5],
    "MSI": {"one": 1, "two": 2, "three": 3}, "MSIone": {"one": 1}, "MSIEmpty": {},
    "MXI": {}, "SMSI": [{"one": 1, "two": 2}, {"eleven": 11, "twelve": 12}],
    "Empty0": None, "Empty1": 3, "Empty2": "empty2", "Empty3": [7, 8],
    "PS": "a string", "PSI": [21, 22, 23], "U": {"V": "v"},
}


def execute(text: str, data: Any = MISSING, *, name: str = "", left: str = "{{",
            right: str = "}}") -> str:
    tmpl = Template.parse(text, name=name, left_delim=left, right_delim=right)
    executor = Executor(tmpl._trees, name, DEFAULT_FUNCTIONS, error_on_missing_key=False,
                        text=text, ctx=RenderContext())
    return executor.execute(name, data)


# --------------------------------------------------------------------------------------------
# parse_test.go: numberTests

NUMBERS = [
    # text, is_int, is_uint, is_float, is_complex, int64, uint64, float64, complex128
    ("0", True, True, True, False, 0, 0, 0, 0),
    ("-0", True, True, True, False, 0, 0, 0, 0),
    ("73", True, True, True, False, 73, 73, 73, 0),
    ("7_3", True, True, True, False, 73, 73, 73, 0),
    ("0b10_010_01", True, True, True, False, 73, 73, 73, 0),
    ("0B10_010_01", True, True, True, False, 73, 73, 73, 0),
    ("073", True, True, True, False, 0o73, 0o73, 0o73, 0),
    ("0o73", True, True, True, False, 0o73, 0o73, 0o73, 0),
    ("0O73", True, True, True, False, 0o73, 0o73, 0o73, 0),
    ("0x73", True, True, True, False, 0x73, 0x73, 0x73, 0),
    ("0X73", True, True, True, False, 0x73, 0x73, 0x73, 0),
    ("0x7_3", True, True, True, False, 0x73, 0x73, 0x73, 0),
    ("-73", True, False, True, False, -73, 0, -73, 0),
    ("+73", True, False, True, False, 73, 0, 73, 0),
    ("100", True, True, True, False, 100, 100, 100, 0),
    ("1e9", True, True, True, False, 10**9, 10**9, 1e9, 0),
    ("-1e9", True, False, True, False, -(10**9), 0, -1e9, 0),
    ("-1.2", False, False, True, False, 0, 0, -1.2, 0),
    ("1e19", False, True, True, False, 0, 10**19, 1e19, 0),
    ("1e1_9", False, True, True, False, 0, 10**19, 1e19, 0),
    ("1E19", False, True, True, False, 0, 10**19, 1e19, 0),
    ("-1e19", False, False, True, False, 0, 0, -1e19, 0),
    ("0x_1p4", True, True, True, False, 16, 16, 16, 0),
    ("0X_1P4", True, True, True, False, 16, 16, 16, 0),
    ("0x_1p-4", False, False, True, False, 0, 0, 1 / 16, 0),
    ("4i", False, False, False, True, 0, 0, 0, 4j),
    ("-1.2+4.2i", False, False, False, True, 0, 0, 0, -1.2 + 4.2j),
    ("073i", False, False, False, True, 0, 0, 0, 73j),
    ("0i", True, True, True, True, 0, 0, 0, 0),
    ("-1.2+0i", False, False, True, True, 0, 0, -1.2, -1.2),
    ("-12+0i", True, False, True, True, -12, 0, -12, -12),
    ("13+0i", True, True, True, True, 13, 13, 13, 13),
    ("0123", True, True, True, False, 0o123, 0o123, 0o123, 0),
    ("-0x0", True, True, True, False, 0, 0, 0, 0),
    ("0xdeadbeef", True, True, True, False, 0xDEADBEEF, 0xDEADBEEF, 0xDEADBEEF, 0),
    ("'a'", True, True, True, False, 97, 97, 97, 0),
    ("'\\n'", True, True, True, False, 10, 10, 10, 0),
    ("'\\\\'", True, True, True, False, 92, 92, 92, 0),
    ("'\\''", True, True, True, False, 39, 39, 39, 0),
    ("'\\xFF'", True, True, True, False, 255, 255, 255, 0),
    ("'パ'", True, True, True, False, 0x30D1, 0x30D1, 0x30D1, 0),
    ("'\\u30d1'", True, True, True, False, 0x30D1, 0x30D1, 0x30D1, 0),
    ("'\\U000030d1'", True, True, True, False, 0x30D1, 0x30D1, 0x30D1, 0),
    ("0xef", True, True, True, False, 0xEF, 0xEF, 0xEF, 0),
]
BAD_NUMBERS = ["+-2", "0x123.", "1e.", "0xi.", "1+2.", "'x", "'xx'",
               "'433937734937734969526500969526500'"]


@pytest.mark.parametrize("case", NUMBERS, ids=lambda c: c[0])
def test_number_literals(case: tuple[Any, ...]) -> None:
    text, is_int, is_uint, is_float, is_complex, i64, u64, f64, c128 = case
    if text.startswith("'"):
        kind = p.CHAR_CONST
    elif text.endswith("i") and any(s in text[1:] for s in "+-"):
        kind = p.COMPLEX
    else:
        kind = p.NUMBER
    node = p.new_number(0, text, kind)
    assert (node.is_int, node.is_uint, node.is_float, node.is_complex) == (
        is_int, is_uint, is_float, is_complex)
    if is_int:
        assert node.int64 == i64
    if is_uint:
        assert node.uint64 == u64
    if is_float:
        assert node.float64 == f64
    if is_complex:
        assert node.complex128 == c128


@pytest.mark.parametrize("text", BAD_NUMBERS)
def test_bad_number_literals(text: str) -> None:
    with pytest.raises(TemplateError):
        Template.parse("{{ " + text + " }}")


# --------------------------------------------------------------------------------------------
# parse_test.go: parseTests (the tree printed back, Go's textFormat %q)

PARSES = [
    ("", ""),
    ("{{/*\n\n\n*/}}", ""),
    (" \t\n", '" \\t\\n"'),
    ("some text", '"some text"'),
    ("{{.X}}", "{{.X}}"),
    ("{{printf}}", "{{printf}}"),
    ("{{$}}", "{{$}}"),
    ("{{with $x := 3}}{{$x 23}}{{end}}", "{{with $x := 3}}{{$x 23}}{{end}}"),
    ("{{$.I}}", "{{$.I}}"),
    ("{{printf `%d` 23}}", "{{printf `%d` 23}}"),
    ("{{.X|.Y}}", "{{.X | .Y}}"),
    ("{{$x := .X|.Y}}", "{{$x := .X | .Y}}"),
    ("{{.X (.Y .Z) (.A | .B .C) (.E)}}", "{{.X (.Y .Z) (.A | .B .C) (.E)}}"),
    ("{{(.Y .Z).Field}}", "{{(.Y .Z).Field}}"),
    ("{{if .X}}hello{{end}}", '{{if .X}}"hello"{{end}}'),
    ("{{if .X}}true{{else}}false{{end}}", '{{if .X}}"true"{{else}}"false"{{end}}'),
    ("{{if .X}}true{{else if .Y}}false{{end}}",
     '{{if .X}}"true"{{else}}{{if .Y}}"false"{{end}}{{end}}'),
    ("+{{if .X}}X{{else if .Y}}Y{{else if .Z}}Z{{end}}+",
     '"+"{{if .X}}"X"{{else}}{{if .Y}}"Y"{{else}}{{if .Z}}"Z"{{end}}{{end}}{{end}}"+"'),
    ("{{range .X}}hello{{end}}", '{{range .X}}"hello"{{end}}'),
    ("{{range .X.Y.Z}}hello{{end}}", '{{range .X.Y.Z}}"hello"{{end}}'),
    ("{{range .X}}hello{{range .Y}}goodbye{{end}}{{end}}",
     '{{range .X}}"hello"{{range .Y}}"goodbye"{{end}}{{end}}'),
    ("{{range .X}}true{{else}}false{{end}}", '{{range .X}}"true"{{else}}"false"{{end}}'),
    ("{{range .X|.M}}true{{else}}false{{end}}", '{{range .X | .M}}"true"{{else}}"false"{{end}}'),
    ("{{range .SI}}{{.}}{{end}}", "{{range .SI}}{{.}}{{end}}"),
    ("{{range $x := .SI}}{{.}}{{end}}", "{{range $x := .SI}}{{.}}{{end}}"),
    ("{{range $x, $y := .SI}}{{.}}{{end}}", "{{range $x, $y := .SI}}{{.}}{{end}}"),
    ("{{range .SI}}{{.}}{{break}}{{end}}", "{{range .SI}}{{.}}{{break}}{{end}}"),
    ("{{range .SI}}{{.}}{{continue}}{{end}}", "{{range .SI}}{{.}}{{continue}}{{end}}"),
    ("{{range .SI 1 -3.2i true false 'a' nil}}{{end}}",
     "{{range .SI 1 -3.2i true false 'a' nil}}{{end}}"),
    ("{{template `x`}}", '{{template "x"}}'),
    ("{{template `x` .Y}}", '{{template "x" .Y}}'),
    ("{{with .X}}hello{{end}}", '{{with .X}}"hello"{{end}}'),
    ("{{with .X}}hello{{else}}goodbye{{end}}", '{{with .X}}"hello"{{else}}"goodbye"{{end}}'),
    ("{{with .X}}hello{{else with .Y}}goodbye{{end}}",
     '{{with .X}}"hello"{{else}}{{with .Y}}"goodbye"{{end}}{{end}}'),
    ("{{with .X}}X{{else with .Y}}Y{{else with .Z}}Z{{end}}",
     '{{with .X}}"X"{{else}}{{with .Y}}"Y"{{else}}{{with .Z}}"Z"{{end}}{{end}}{{end}}'),
    ("x \r\n\t{{- 3}}", '"x"{{3}}'),
    ("{{3 -}}\n\n\ty", '{{3}}"y"'),
    ("x \r\n\t{{- 3 -}}\n\n\ty", '"x"{{3}}"y"'),
    ("x\n{{-  3   -}}\ny", '"x"{{3}}"y"'),
    ("x \r\n\t{{- /* hi */}}", '"x"'),
    ("{{/* hi */ -}}\n\n\ty", '"y"'),
    ("x \r\n\t{{- /* */ -}}\n\n\ty", '"x""y"'),
    ('{{block "foo" .}}hello{{end}}', '{{template "foo" .}}'),
    ("{{ $x \n := \n 1 \n }}", "{{$x := 1}}"),
    ('{{\n"x"\n|\nprintf\n}}', '{{"x" | printf}}'),
    ("{{/*\nhello\n*/}}", ""),
    ("{{-\n/*\nhello\n*/\n-}}", ""),
    ("{{range .SI}}{{.}}{{ continue }}{{end}}", "{{range .SI}}{{.}}{{continue}}{{end}}"),
    ("{{range .SI}}{{.}}{{ break }}{{end}}", "{{range .SI}}{{.}}{{break}}{{end}}"),
    ("{{$x := 0}}{{$x}}", "{{$x := 0}}{{$x}}"),
    ("{{$x:=.}}{{$x +2}}", "{{$x := .}}{{$x +2}}"),
    ("{{range $x := 0}}{{$x}}{{end}}", "{{range $x := 0}}{{$x}}{{end}}"),
    ("{{range $x = 0}}{{$x}}{{end}}", "{{range $x = 0}}{{$x}}{{end}}"),
    ("{{ (( 1 )) }}", "{{((1))}}"),
    ("{{ ((( 1 ))) | printf }}", "{{(((1))) | printf}}"),
    ("{{ if ((( true ))) }}YES{{ end }}", '{{if (((true)))}}"YES"{{end}}'),
    ("{{if .X}}{{with .Y}}{{range .Z}}x{{end}}{{end}}{{end}}",
     '{{if .X}}{{with .Y}}{{range .Z}}"x"{{end}}{{end}}{{end}}'),
]

PARSE_ERRORS = [
    "{{}}", "{{\n}}", "hello{{range", "{{end}}", "{{else}}", "{{if .X}}hello{{end}}{{else}}",
    "{{if .X}}1{{else}}2{{else}}3{{end}}", "hello{{range .x}}", "hello{{range .x}}{{else}}",
    "hello{{undefined}}", "{{$x}}", "{{with $x := 4}}{{end}}{{$x}}", "{{template $v}}",
    "{{with $x.Y := 4}}{{end}}", "{{template .X}}", "{{printf 3, 4}}",
    "{{with $v, $u := 3}}{{end}}", "{{range $u, $v, $w := 3}}{{end}}",
    "{{printf (printf .).}}", "{{printf 3`x`}}", "{{printf `x`.}}",
    "{{if .X}}a{{else if .Y}}b{{end}}{{end}}", "{{range .}}{{end}} {{break}}",
    "{{range .}}{{end}} {{continue}}", "{{range .}}{{else}}{{break}}{{end}}",
    "{{range .}}{{else}}{{continue}}{{end}}", "{{$x += 1}}{{$x}}", "{{$x ! 2}}{{$x}}",
    "{{$x % 3}}{{$x}}", "{{range $x := $y := 3}}{{end}}", "{{$x:=.}}{{$x!2}}",
    "{{$x:=.}}{{$x+2}}", "{{1.E}}", "{{0.1.E}}", "{{true.E}}", "{{'a'.any}}",
    '{{"hello".guys}}', "{{..E}}", "{{nil.E}}", "{{12|.}}", "{{.|12|printf}}",
    '{{.|printf|"error"}}', "{{12|printf|'e'}}", "{{.|true}}", "{{'c'|nil}}",
    '{{printf "%d" ( ) }}', '{{block "foo"}}hello{{end}}',
]


@pytest.mark.parametrize(("text", "tree"), PARSES, ids=[t for t, _ in PARSES])
def test_parse_tree_prints_back_like_go(text: str, tree: str) -> None:
    parsed = Template.parse(text, name="t")
    assert p.node_string(parsed._trees["t"].root) == tree


@pytest.mark.parametrize("text", PARSE_ERRORS)
def test_parse_errors_like_go(text: str) -> None:
    with pytest.raises(TemplateError, match=r"^template: t:\d+: "):
        Template.parse(text, name="t")


# --------------------------------------------------------------------------------------------
# exec_test.go: execTests (data-only cases)

EXECS: list[tuple[str, str, Any, str]] = [
    # name, template, data, expected output
    ("empty", "", MISSING, ""),
    ("text", "some text", MISSING, "some text"),
    ("field on interface", "{{.foo}}", MISSING, "<no value>"),
    ("field on parenthesized interface", "{{(.).foo}}", MISSING, "<no value>"),
    ("parenthesized non-function with no args", "{{(1)}}", MISSING, "1"),
    ("empty nil", "{{.Empty0}}", TVAL, "<no value>"),
    ("empty with int", "{{.Empty1}}", TVAL, "3"),
    ("empty with string", "{{.Empty2}}", TVAL, "empty2"),
    ("empty with slice", "{{.Empty3}}", TVAL, "[7 8]"),
    ("$ int", "{{$}}", 123, "123"),
    ("$.I", "{{$.I}}", TVAL, "17"),
    ("$.U.V", "{{$.U.V}}", TVAL, "v"),
    ("declare in action", "{{$x := $.U.V}}{{$x}}", TVAL, "v"),
    ("simple assignment", "{{$x := 2}}{{$x = 3}}{{$x}}", TVAL, "3"),
    ("nested assignment", "{{$x := 2}}{{if true}}{{$x = 3}}{{end}}{{$x}}", TVAL, "3"),
    ("nested assignment changes the last declaration",
     "{{$x := 1}}{{if true}}{{$x := 2}}{{if true}}{{$x = 3}}{{end}}{{end}}{{$x}}", TVAL, "1"),
    ("V{6666}.String()", "-{{.V0}}-", {"V0": "<6666>"}, "-<6666>-"),
    ("if true", "{{if true}}TRUE{{end}}", TVAL, "TRUE"),
    ("if false", "{{if false}}TRUE{{else}}FALSE{{end}}", TVAL, "FALSE"),
    ("if 1", "{{if 1}}NON-ZERO{{else}}ZERO{{end}}", TVAL, "NON-ZERO"),
    ("if 0", "{{if 0}}NON-ZERO{{else}}ZERO{{end}}", TVAL, "ZERO"),
    ("if 1.5", "{{if 1.5}}NON-ZERO{{else}}ZERO{{end}}", TVAL, "NON-ZERO"),
    ("if 0.0", "{{if .FloatZero}}NON-ZERO{{else}}ZERO{{end}}", TVAL, "ZERO"),
    ("if 1.5i", "{{if 1.5i}}NON-ZERO{{else}}ZERO{{end}}", TVAL, "NON-ZERO"),
    ("if 0.0i", "{{if .ComplexZero}}NON-ZERO{{else}}ZERO{{end}}", TVAL, "ZERO"),
    ("if emptystring", "{{if ``}}NON-EMPTY{{else}}EMPTY{{end}}", TVAL, "EMPTY"),
    ("if string", "{{if `notempty`}}NON-EMPTY{{else}}EMPTY{{end}}", TVAL, "NON-EMPTY"),
    ("if emptyslice", "{{if .SIEmpty}}NON-EMPTY{{else}}EMPTY{{end}}", TVAL, "EMPTY"),
    ("if slice", "{{if .SI}}NON-EMPTY{{else}}EMPTY{{end}}", TVAL, "NON-EMPTY"),
    ("if emptymap", "{{if .MSIEmpty}}NON-EMPTY{{else}}EMPTY{{end}}", TVAL, "EMPTY"),
    ("if map", "{{if .MSI}}NON-EMPTY{{else}}EMPTY{{end}}", TVAL, "NON-EMPTY"),
    ("if map unset", "{{if .MXI.none}}NON-ZERO{{else}}ZERO{{end}}", TVAL, "ZERO"),
    ("if map not unset", "{{if not .MXI.none}}ZERO{{else}}NON-ZERO{{end}}", TVAL, "ZERO"),
    ("if $x with $y int", "{{if $x := true}}{{with $y := .I}}{{$x}},{{$y}}{{end}}{{end}}",
     TVAL, "true,17"),
    ("if $x with $x int", "{{if $x := true}}{{with $x := .I}}{{$x}},{{end}}{{$x}}{{end}}",
     TVAL, "17,true"),
    ("if else if", "{{if false}}FALSE{{else if true}}TRUE{{end}}", TVAL, "TRUE"),
    ("if else chain", "{{if eq 1 3}}1{{else if eq 2 3}}2{{else if eq 3 3}}3{{end}}", TVAL, "3"),
    ("print", '{{print "hello, print"}}', TVAL, "hello, print"),
    ("print 123", "{{print 1 2 3}}", TVAL, "1 2 3"),
    ("print nil", "{{print nil}}", TVAL, "<nil>"),
    ("println", "{{println 1 2 3}}", TVAL, "1 2 3\n"),
    ("printf int", '{{printf "%04x" 127}}', TVAL, "007f"),
    ("printf float", '{{printf "%g" 3.5}}', TVAL, "3.5"),
    ("printf complex", '{{printf "%g" 1+7i}}', TVAL, "(1+7i)"),
    ("printf string", '{{printf "%s" "hello"}}', TVAL, "hello"),
    ("printf field", '{{printf "%s" .U.V}}', TVAL, "v"),
    ("printf dot", '{{with .I}}{{printf "%d" .}}{{end}}', TVAL, "17"),
    ("printf var", '{{with $x := .I}}{{printf "%d" $x}}{{end}}', TVAL, "17"),
    ("printf lots", '{{printf "%d %s %g %s" 127 "hello" 7-3i .X}}', TVAL,
     "127 hello (7-3i) x"),
    ("html", '{{html "<script>alert(\\"XSS\\");</script>"}}', MISSING,
     "&lt;script&gt;alert(&#34;XSS&#34;);&lt;/script&gt;"),
    ("html pipeline", '{{printf "<script>alert(\\"XSS\\");</script>" | html}}', MISSING,
     "&lt;script&gt;alert(&#34;XSS&#34;);&lt;/script&gt;"),
    ("html", "{{html .PS}}", TVAL, "a string"),
    ("html untyped nil", "{{html .Empty0}}", TVAL, "&lt;no value&gt;"),
    ("js", "{{js .}}", "It'd be nice.", "It\\'d be nice."),
    ("urlquery", '{{"http://www.example.org/"|urlquery}}', MISSING,
     "http%3A%2F%2Fwww.example.org%2F"),
    ("not", "{{not true}} {{not false}}", MISSING, "false true"),
    ("and", "{{and false 0}} {{and 1 0}} {{and 0 true}} {{and 1 1}}", MISSING, "false 0 0 1"),
    ("or", "{{or 0 0}} {{or 1 0}} {{or 0 true}} {{or 1 1}}", MISSING, "0 1 true 1"),
    ("or short-circuit", "{{or 0 1 (len 3)}}", MISSING, "1"),
    ("and short-circuit", "{{and 1 0 (len 3)}}", MISSING, "0"),
    ("and pipe-true", "{{1 | and 1}}", MISSING, "1"),
    ("and pipe-false", "{{0 | and 1}}", MISSING, "0"),
    ("or pipe-true", "{{1 | or 0}}", MISSING, "1"),
    ("or pipe-false", "{{0 | or 0}}", MISSING, "0"),
    ("and undef", "{{and 1 .Unknown}}", MISSING, "<no value>"),
    ("or undef", "{{or 0 .Unknown}}", MISSING, "<no value>"),
    ("boolean if", "{{if and true 1 `hi`}}TRUE{{else}}FALSE{{end}}", TVAL, "TRUE"),
    ("boolean if not", "{{if and true 1 `hi` | not}}TRUE{{else}}FALSE{{end}}", MISSING,
     "FALSE"),
    ("boolean if pipe", "{{if true | not | and 1}}TRUE{{else}}FALSE{{end}}", MISSING, "FALSE"),
    ("slice[0]", "{{index .SI 0}}", TVAL, "3"),
    ("slice[1]", "{{index .SI 1}}", TVAL, "4"),
    ("map[one]", "{{index .MSI `one`}}", TVAL, "1"),
    ("map[two]", "{{index .MSI `two`}}", TVAL, "2"),
    ("double index", "{{index .SMSI 1 `eleven`}}", TVAL, "11"),
    ("index of an interface field", "{{index .Empty3 0}}", TVAL, "7"),
    ("slice[:]", "{{slice .SI}}", TVAL, "[3 4 5]"),
    ("slice[1:]", "{{slice .SI 1}}", TVAL, "[4 5]"),
    ("slice[1:2]", "{{slice .SI 1 2}}", TVAL, "[4]"),
    ("array[:]", "{{slice .AI}}", TVAL, "[3 4 5]"),
    ("string[:]", "{{slice .S}}", TVAL, "xyz"),
    ("string[0:1]", "{{slice .S 0 1}}", TVAL, "x"),
    ("string[1:]", "{{slice .S 1}}", TVAL, "yz"),
    ("string[1:2]", "{{slice .S 1 2}}", TVAL, "y"),
    ("slice of an interface field", "{{slice .Empty3 0 1}}", TVAL, "[7]"),
    ("len slice", "{{len .SI}}", TVAL, "3"),
    ("len map", "{{len .MSI }}", TVAL, "3"),
    ("len of an interface field", "{{len .Empty3}}", TVAL, "2"),
    ("with true", "{{with true}}{{.}}{{end}}", TVAL, "true"),
    ("with false", "{{with false}}{{.}}{{else}}FALSE{{end}}", TVAL, "FALSE"),
    ("with 1", "{{with 1}}{{.}}{{else}}ZERO{{end}}", TVAL, "1"),
    ("with 0", "{{with 0}}{{.}}{{else}}ZERO{{end}}", TVAL, "ZERO"),
    ("with 1.5", "{{with 1.5}}{{.}}{{else}}ZERO{{end}}", TVAL, "1.5"),
    ("with 0.0", "{{with .FloatZero}}{{.}}{{else}}ZERO{{end}}", TVAL, "ZERO"),
    ("with 1.5i", "{{with 1.5i}}{{.}}{{else}}ZERO{{end}}", TVAL, "(0+1.5i)"),
    ("with 0.0i", "{{with .ComplexZero}}{{.}}{{else}}ZERO{{end}}", TVAL, "ZERO"),
    ("with emptystring", "{{with ``}}{{.}}{{else}}EMPTY{{end}}", TVAL, "EMPTY"),
    ("with string", "{{with `notempty`}}{{.}}{{else}}EMPTY{{end}}", TVAL, "notempty"),
    ("with emptyslice", "{{with .SIEmpty}}{{.}}{{else}}EMPTY{{end}}", TVAL, "EMPTY"),
    ("with slice", "{{with .SI}}{{.}}{{else}}EMPTY{{end}}", TVAL, "[3 4 5]"),
    ("with emptymap", "{{with .MSIEmpty}}{{.}}{{else}}EMPTY{{end}}", TVAL, "EMPTY"),
    ("with map", "{{with .MSIone}}{{.}}{{else}}EMPTY{{end}}", TVAL, "map[one:1]"),
    ("with $x int", "{{with $x := .I}}{{$x}}{{end}}", TVAL, "17"),
    ("with $x struct.U.V", "{{with $x := $}}{{$x.U.V}}{{end}}", TVAL, "v"),
    ("with variable and action", "{{with $x := $}}{{$y := $.U.V}}{{$y}}{{end}}", TVAL, "v"),
    ("with else with", "{{with 0}}{{.}}{{else with true}}{{.}}{{end}}", TVAL, "true"),
    ("with else with chain",
     "{{with 0}}{{.}}{{else with false}}{{.}}{{else with `notempty`}}{{.}}{{end}}", TVAL,
     "notempty"),
    ("range []int", "{{range .SI}}-{{.}}-{{end}}", TVAL, "-3--4--5-"),
    ("range empty no else", "{{range .SIEmpty}}-{{.}}-{{end}}", TVAL, ""),
    ("range []int else", "{{range .SI}}-{{.}}-{{else}}EMPTY{{end}}", TVAL, "-3--4--5-"),
    ("range empty else", "{{range .SIEmpty}}-{{.}}-{{else}}EMPTY{{end}}", TVAL, "EMPTY"),
    ("range []int break else", "{{range .SI}}-{{.}}-{{break}}NOTREACHED{{else}}EMPTY{{end}}",
     TVAL, "-3-"),
    ("range []int continue else",
     "{{range .SI}}-{{.}}-{{continue}}NOTREACHED{{else}}EMPTY{{end}}", TVAL, "-3--4--5-"),
    ("range []bool", "{{range .SB}}-{{.}}-{{end}}", TVAL, "-true--false-"),
    ("range map", "{{range .MSI}}-{{.}}-{{end}}", TVAL, "-1--3--2-"),
    ("range empty map no else", "{{range .MSIEmpty}}-{{.}}-{{end}}", TVAL, ""),
    ("range map else", "{{range .MSI}}-{{.}}-{{else}}EMPTY{{end}}", TVAL, "-1--3--2-"),
    ("range empty map else", "{{range .MSIEmpty}}-{{.}}-{{else}}EMPTY{{end}}", TVAL, "EMPTY"),
    ("range empty interface", "{{range .Empty3}}-{{.}}-{{else}}EMPTY{{end}}", TVAL, "-7--8-"),
    ("range empty nil", "{{range .Empty0}}-{{.}}-{{end}}", TVAL, ""),
    ("range $x SI", "{{range $x := .SI}}<{{$x}}>{{end}}", TVAL, "<3><4><5>"),
    ("range $x $y SI", "{{range $x, $y := .SI}}<{{$x}}={{$y}}>{{end}}", TVAL,
     "<0=3><1=4><2=5>"),
    ("range $x MSIone", "{{range $x := .MSIone}}<{{$x}}>{{end}}", TVAL, "<1>"),
    ("range $x $y MSIone", "{{range $x, $y := .MSIone}}<{{$x}}={{$y}}>{{end}}", TVAL,
     "<one=1>"),
    ("range $x PSI", "{{range $x := .PSI}}<{{$x}}>{{end}}", TVAL, "<21><22><23>"),
    ("declare in range", "{{range $x := .PSI}}<{{$foo:=$x}}{{$x}}>{{end}}", TVAL,
     "<21><22><23>"),
    ("range int", '{{range $v := .}}{{printf "%T%d" $v $v}}{{end}}', 5,
     "int0int1int2int3int4"),
    ("range 5", '{{range $v := 5}}{{printf "%T%d" $v $v}}{{end}}', MISSING,
     "int0int1int2int3int4"),
    ("or as if true", '{{or .SI "slice is empty"}}', TVAL, "[3 4 5]"),
    ("or as if false", '{{or .SIEmpty "slice is empty"}}', TVAL, "slice is empty"),
    ("decimal", "{{print 1234}}", TVAL, "1234"),
    ("decimal _", "{{print 12_34}}", TVAL, "1234"),
    ("binary", "{{print 0b101}}", TVAL, "5"),
    ("binary _", "{{print 0b_1_0_1}}", TVAL, "5"),
    ("BINARY", "{{print 0B101}}", TVAL, "5"),
    ("octal0", "{{print 0377}}", TVAL, "255"),
    ("octal", "{{print 0o377}}", TVAL, "255"),
    ("octal _", "{{print 0o_3_7_7}}", TVAL, "255"),
    ("OCTAL", "{{print 0O377}}", TVAL, "255"),
    ("hex", "{{print 0x123}}", TVAL, "291"),
    ("hex _", "{{print 0x1_23}}", TVAL, "291"),
    ("HEX", "{{print 0X123ABC}}", TVAL, "1194684"),
    ("float", "{{print 123.4}}", TVAL, "123.4"),
    ("float _", "{{print 0_0_1_2_3.4}}", TVAL, "123.4"),
    ("hex float", "{{print +0x1.ep+2}}", TVAL, "7.5"),
    ("hex float _", "{{print +0x_1.e_0p+0_2}}", TVAL, "7.5"),
    ("HEX float", "{{print +0X1.EP+2}}", TVAL, "7.5"),
    ("print multi", "{{print 1_2_3_4 7.5_00_00_00}}", TVAL, "1234 7.5"),
    ("print multi2", "{{print 1234 0x0_1.e_0p+02}}", TVAL, "1234 7.5"),
    ("bug9", "{{.cause}}", {"cause": "neglect"}, "neglect"),
    ("bug12xe", "{{printf `%T` 0xef}}", MISSING, "int"),
    ("bug12xE", "{{printf `%T` 0xEE}}", MISSING, "int"),
    ("bug12Xe", "{{printf `%T` 0Xef}}", MISSING, "int"),
    ("bug12XE", "{{printf `%T` 0XEE}}", MISSING, "int"),
    ("bug16j", '{{1+2i|printf "%v"}}', TVAL, "(1+2i)"),
    ("bug16k", '{{"aaa"|printf }}', TVAL, "aaa"),
    ("bug18a", "{{eq . '.'}}", 46, "true"),
    ("bug18b", "{{eq . 'e'}}", 101, "true"),
    ("issue56490", "{{$i := 0}}{{$x := 0}}{{range $i = .AI}}{{end}}{{$i}}", TVAL, "5"),
    ("issue60801", "{{$k := 0}}{{$v := 0}}{{range $k, $v = .AI}}{{$k}}={{$v}} {{end}}", TVAL,
     "0=3 1=4 2=5 "),
]

EXEC_ERRORS: list[tuple[str, str, Any]] = [
    ("unparenthesized non-function", "{{1 2}}", MISSING),
    ("parenthesized non-function", "{{(1) 2}}", MISSING),
    ("call nil", "{{call nil}}", TVAL),
    ("if nil", "{{if nil}}TRUE{{end}}", TVAL),
    ("or short-circuit2", "{{or 0 0 (len 3)}}", MISSING),
    ("and short-circuit2", "{{and 1 1 (len 3)}}", MISSING),
    ("slice[HUGE]", "{{index .SI 10}}", TVAL),
    ("slice[WRONG]", "{{index .SI `hello`}}", TVAL),
    ("slice[nil]", "{{index .SI nil}}", TVAL),
    ("map[WRONG]", "{{index .MSI 10}}", TVAL),
    ("nil[1]", "{{index nil 1}}", TVAL),
    ("slice[-1:]", "{{slice .SI -1}}", TVAL),
    ("slice[1:-2]", "{{slice .SI 1 -2}}", TVAL),
    ("slice[1:2:-1]", "{{slice .SI 1 2 -1}}", TVAL),
    ("slice[2:1]", "{{slice .SI 2 1}}", TVAL),
    ("slice[2:2:1]", "{{slice .SI 2 2 1}}", TVAL),
    ("out of range", "{{slice .SI 4 5}}", TVAL),
    ("string out of range", "{{slice .S 1 5}}", TVAL),
    ("3-index slice of string", "{{slice .S 1 2 2}}", TVAL),
    ("len of int", "{{len 3}}", TVAL),
    ("len of nothing", "{{len .Empty0}}", TVAL),
    ("bug7a", "{{3 2}}", TVAL),
    ("bug7b", "{{$x := 1}}{{$x 2}}", TVAL),
    ("bug7c", "{{$x := 1}}{{3 | $x}}", TVAL),
    ("bug14a", "{{(nil).True}}", TVAL),
    ("bug14b", "{{$x := nil}}{{$x.anything}}", TVAL),
    ("bug16a", "{{true|printf}}", TVAL),
    ("bug16b", "{{1|printf}}", TVAL),
    ("bug16c", "{{1.1|printf}}", TVAL),
    ("bug16d", "{{'x'|printf}}", TVAL),
    ("bug16e", "{{0i|printf}}", TVAL),
    ("range over two vars of an int", "{{range $i, $c := 3}}{{end}}", MISSING),
]


@pytest.mark.parametrize(("name", "text", "data", "want"), EXECS, ids=[e[0] for e in EXECS])
def test_exec_like_go(name: str, text: str, data: Any, want: str) -> None:
    assert execute(text, data) == want


@pytest.mark.parametrize(("name", "text", "data"), EXEC_ERRORS,
                         ids=[e[0] for e in EXEC_ERRORS])
def test_exec_errors_like_go(name: str, text: str, data: Any) -> None:
    with pytest.raises(TemplateError):
        execute(text, data)


def test_exec_error_names_the_nested_template_and_position() -> None:
    # exec_test.go TestExecError
    text = ('line 1\nline 2\nline 3\n{{template "one" .}}\n'
            '{{define "one"}}{{template "two" .}}{{end}}\n'
            '{{define "two"}}{{template "three" .}}{{end}}\n'
            '{{define "three"}}{{index "hi" $}}{{end}}')
    with pytest.raises(TemplateError) as info:
        execute(text, 5, name="top")
    assert str(info.value) == ('template: top:7:20: executing "three" at <index "hi" $>: '
                               "error calling index: index out of range: 5")


JS_ESCAPES = [
    ("a", "a"),
    ("'foo", "\\'foo"),
    ('Go "jump" \\', 'Go \\"jump\\" \\\\'),
    ('Yukihiro says "今日は世界"', 'Yukihiro says \\"今日は世界\\"'),
    ("unprintable \ufffe", "unprintable \\uFFFE"),
    ("<html>", "\\u003Chtml\\u003E"),
    ("no = in attributes", "no \\u003D in attributes"),
    ("&#x27; does not become HTML entity", "\\u0026#x27; does not become HTML entity"),
]


@pytest.mark.parametrize(("text", "want"), JS_ESCAPES)
def test_js_escaping_like_go(text: str, want: str) -> None:
    assert execute("{{js .}}", text) == want


@pytest.mark.parametrize(("left", "right"), [("", ""), ("{{", "}}"), ("<<", ">>"), ("|", "|"),
                                             ("(日)", "(本)")])
def test_delimiters_like_go(left: str, right: str) -> None:
    true_left = left or "{{"
    true_right = right or "}}"
    text = (true_left + ".Str" + true_right + true_left + "/*comment*/" + true_right
            + true_left + '"' + true_left + '"' + true_right)
    out = execute(text, {"Str": "Hello, world"}, left=left, right=right)
    assert out == "Hello, world" + true_left


def test_tree_template_with_trim_markers_and_custom_delimiters() -> None:
    # exec_test.go TestTree (a binary tree as maps)
    tree_template = """
	(- define "tree" -)
	[
		(- .Val -)
		(- with .Left -)
			(template "tree" . -)
		(- end -)
		(- with .Right -)
			(- template "tree" . -)
		(- end -)
	]
	(- end -)
"""
    def node(val: int, left: Any = None, right: Any = None) -> dict[str, Any]:
        return {"Val": val, "Left": left, "Right": right}

    tree = node(1, node(2, node(3, node(4)), node(5)), node(6, node(7), node(8, node(9))))
    text = tree_template + '(template "tree" .)'
    assert execute(text, tree, left="(", right=")").strip() == "[1[2[3[4]][5]][6[7][8[9]]]]"


# parse_test.go: errorTests (the message must contain the given text)
ERROR_MESSAGES = [
    ("unclosed1", "line1\n{{", "unclosed1:2: unclosed action"),
    ("unclosed2", "line1\n{{define `x`}}line2\n{{", "unclosed2:3: unclosed action"),
    ("unclosed3", "line1\n{{\"x\"\n\"y\"\n", "unclosed3:4: unclosed action started at unclosed3:2"),
    ("unclosed4", "{{\n\n\n\n\n", "unclosed4:6: unclosed action started at unclosed4:1"),
    ("var1", "line1\n{{\nx\n}}", 'var1:3: function "x" not defined'),
    ("function", "{{foo}}", 'function "foo" not defined'),
    ("comment1", "{{/*}}", "comment1:1: unclosed comment"),
    ("comment2", "{{/*\nhello\n}}", "comment2:1: unclosed comment"),
    ("lparen", "{{.X (1 2 3}}", "unclosed left paren"),
    ("rparen", "{{.X 1 2 3 ) }}", "unexpected right paren"),
    ("rparen2", "{{(.X 1 2 3", "unclosed action"),
    ("space", "{{`x`3}}", "in operand"),
    ("idchar", "{{a#}}", "'#'"),
    ("charconst", "{{'a}}", "unterminated character constant"),
    ("stringconst", '{{"a}}', "unterminated quoted string"),
    ("rawstringconst", "{{`a}}", "unterminated raw quoted string"),
    ("number", "{{0xi}}", "number syntax"),
    ("multidefine", "{{define `a`}}a{{end}}{{define `a`}}b{{end}}",
     "multiple definition of template"),
    ("eof", "{{range .X}}", "unexpected EOF"),
    ("variable", "{{$x := 23}}{{with $x.y := 3}}{{$x 23}}{{end}}", 'unexpected ":="'),
    ("multidecl", "{{$a,$b,$c := 23}}", "too many declarations"),
    ("undefvar", "{{$a}}", "undefined variable"),
    ("wrongdot", "{{true.any}}", "unexpected . after term"),
    ("wrongpipeline", "{{12|false}}", "non executable command in pipeline"),
    ("emptypipeline", "{{ ( ) }}", "missing value for parenthesized pipeline"),
    ("multilinerawstring", "{{ $v := `\n` }} {{", "multilinerawstring:2: unclosed action"),
    ("rangeundefvar", "{{range $k}}{{end}}", "undefined variable"),
    ("rangeundefvars", "{{range $k, $v}}{{end}}", "undefined variable"),
    ("rangemissingvalue1", "{{range $k,}}{{end}}", "missing value for range"),
    ("rangemissingvalue2", "{{range $k, $v := }}{{end}}", "missing value for range"),
    ("rangenotvariable1", "{{range $k, .}}{{end}}", "range can only initialize variables"),
    ("rangenotvariable2", "{{range $k, 123 := .}}{{end}}", "range can only initialize variables"),
]


@pytest.mark.parametrize(("name", "text", "message"), ERROR_MESSAGES,
                         ids=[e[0] for e in ERROR_MESSAGES])
def test_parse_error_messages_like_go(name: str, text: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        Template.parse(text, name=name)
    assert message in str(info.value)


def test_block_defines_a_template_like_go() -> None:
    # parse_test.go TestBlock (text printed in the %q form, as the other parse tests do)
    tmpl = Template.parse('a{{block "inner" .}}bar{{.}}baz{{end}}b', name="outer")
    assert p.node_string(tmpl._trees["outer"].root) == '"a"{{template "inner" .}}"b"'
    assert p.node_string(tmpl._trees["inner"].root) == '"bar"{{.}}"baz"'
