"""Fuzzing the template engine: any text parses and renders, or raises TemplateError, quickly.

``tests/template/`` checks the engine against Go (a differential corpus) and
``tests/config/test_fuzz.py`` fuzzes the configuration front ends; this adds random and
grammar-shaped templates. Inputs are built from the tokens templates are made of (actions,
keywords, pipelines, variables, fields, function names, literals, trim markers, comments) so
that most examples get past the lexer and exercise the parser and the executor. Every example
must finish within hypothesis' deadline (no hang) and fail, if at all, with a TemplateError
(no IndexError, RecursionError, ... escaping from the engine).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s4e_secret_agent.errors import TemplateError
from s4e_secret_agent.template import RenderContext, Template, decode_json
from s4e_secret_agent.template.funcs import function_names
from tests.fuzz import examples

ENVELOPE = decode_json(
    '{"request_id": "r", "lease_id": "database/creds/app/abc", "renewable": true,'
    ' "lease_duration": 3600, "data": {"data": {"password": "pw", "n": 42, "f": 1.5,'
    ' "list": [1, "two", null, {"k": "v"}], "nested": {"a": {"b": "c"}}, "empty": ""},'
    ' "metadata": {"version": 3}, "username": "u", "keys": ["a", "b/"]}, "warnings": null}')
LISTING = decode_json('{"data": {"keys": ["a", "b/", "c"]}}')

CONTEXT = RenderContext(
    secret=lambda path, args: ENVELOPE,
    secrets=lambda path: LISTING,
    env=lambda name: {"HOME": "/root", "EMPTY": ""}.get(name),
    file=lambda path: "file contents\n",
    now=lambda: 1_700_000_000.0,
)
STRICT = RenderContext(secret=CONTEXT.secret, secrets=CONTEXT.secrets, env=CONTEXT.env,
                       file=CONTEXT.file, now=CONTEXT.now, error_on_missing_key=True)

FUNCTIONS = sorted(function_names())
WORDS = [
    "{{", "}}", "{{- ", " -}}", "{{/* c */}}", "if", "else", "else if", "end", "range",
    "with", "define", "template", "block", "break", "continue", "nil", "true", "false",
    "$", "$x", "$y", ":=", "=", ",", "|", "(", ")", ".", ".Data", ".Data.data",
    ".Data.data.password", ".Data.data.list", ".Data.data.nested.a", ".LeaseID", ".missing",
    '"s4e/data/app"', '"database/creds/app"', '"%s-%d"', '"x"', '""', "`raw`", "'a'", "0",
    "1", "-1", "3", "1e3", "0x1F", "1.5", "200001", "9223372036854775808", " ", "\n", "\t",
    "text", "\"", "\\",
]
LITERALS = [w for w in WORDS if w[:1] in "\"`'0123456789-" and w not in ("-1",)] + ["-1"]
ARGUMENTS = [*LITERALS, ".Data.data", ".Data.data.list", "nil"]
TOKENS = st.sampled_from(WORDS + FUNCTIONS)


@st.composite
def actions(draw: st.DrawFn) -> str:
    """``{{ word word ... }}`` with plain text around: mostly lexable, often parseable."""
    parts = []
    for _ in range(draw(st.integers(1, 8))):
        inner = " ".join(draw(st.lists(TOKENS, min_size=1, max_size=6)))
        parts.append(draw(st.sampled_from(["", "a", "\n", "x=", " "])) + "{{ " + inner + " }}")
    return "".join(parts)


@st.composite
def blocks(draw: st.DrawFn) -> str:
    """Well-nested control structures around random pipelines (reach the executor)."""
    pipeline = " ".join(draw(st.lists(TOKENS, min_size=1, max_size=4)))
    body = draw(st.one_of(actions(), st.just("body"), st.text(max_size=20)))
    keyword = draw(st.sampled_from(["if", "with", "range", "range $i, $v :="]))
    middle = draw(st.sampled_from(["", "{{ else }}alt", "{{ else if .Data }}alt"]))
    return f"{{{{ {keyword} {pipeline} }}}}{body}{middle}{{{{ end }}}}"


def _render(text: str, context: RenderContext) -> None:
    try:
        template = Template.parse(text, name="fuzz")
    except TemplateError:
        return
    try:
        out = template.render(context)
    except TemplateError:
        return
    assert isinstance(out, str)


FUZZ = settings(max_examples=examples(150), deadline=2000,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@FUZZ
@given(st.text(max_size=200))
def test_any_text(text: str) -> None:
    _render(text, CONTEXT)


@FUZZ
@given(st.one_of(actions(), blocks(), st.lists(st.one_of(actions(), blocks()), max_size=4)
                 .map("".join)))
def test_token_soup(text: str) -> None:
    _render(text, CONTEXT)
    _render(text, STRICT)


@FUZZ
@given(st.sampled_from(FUNCTIONS), st.lists(st.sampled_from(ARGUMENTS), max_size=3))
def test_every_function_with_odd_arguments(name: str, args: list[str]) -> None:
    _render("{{ " + " ".join([name, *args]) + " }}", CONTEXT)
    _render("{{ with secret \"p\" }}{{ .Data.data.list | " + name + " }}{{ end }}", STRICT)


@settings(max_examples=25, deadline=2000)
@given(st.integers(0, 400))
def test_deep_nesting_is_an_error_not_a_crash(depth: int) -> None:
    _render("{{ if 1 }}" * depth + "x" + "{{ end }}" * depth, CONTEXT)
    _render("(" * depth + ")" * depth, CONTEXT)
    _render("{{ " + "(" * depth + "1" + ")" * depth + " }}", CONTEXT)
    _render('{{ define "t" }}{{ template "t" . }}{{ end }}{{ template "t" . }}', CONTEXT)


def test_known_expensive_shapes_are_bounded() -> None:
    # Each must stop with a TemplateError (iteration, depth or output caps), not run away.
    cases: list[Any] = [
        "{{ range loop 100000000 }}x{{ end }}",
        "{{ range loop 100000 }}{{ range loop 100000 }}{{ end }}{{ end }}",
        '{{ define "t" }}{{ template "t" . }}{{ end }}{{ template "t" . }}',
    ]
    for text in cases:
        try:
            Template.parse(text, name="fuzz").render(CONTEXT)
        except TemplateError:
            continue
        raise AssertionError(f"{text!r} rendered without hitting a limit")
