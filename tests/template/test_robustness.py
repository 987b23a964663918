"""Any input either renders or fails with TemplateError, quickly; errors never leak secrets."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s4e_secret_agent.errors import TemplateError
from s4e_secret_agent.template import RenderContext, Template, decode_json

SECRET_BODY = decode_json(
    '{"request_id":"r","lease_id":"database/creds/app/lease-xyz","lease_duration":3600,'
    '"renewable":true,"data":{"data":{"password":"hunter2-very-secret","port":5432,'
    '"nested":{"token":"s.nested-token-value"},"list":["list-secret-item"]},'
    '"metadata":{"version":1}},"warnings":null,"auth":null,"wrap_info":null}'
)
SECRET_VALUES = ["hunter2-very-secret", "s.nested-token-value", "list-secret-item",
                 "database/creds/app/lease-xyz"]


def context() -> RenderContext:
    return RenderContext(secret=lambda path, args: SECRET_BODY,
                         secrets=lambda path: decode_json('{"data":{"keys":["a","b/"]}}'),
                         env=lambda name: "env-value", file=lambda path: "file-content")


# Fragments that make random templates hit the interesting parts of the engine.
FRAGMENTS = st.sampled_from([
    "{{", "}}", "{{-", "-}}", " ", "\n", ".", "$", "$x", ":=", "=", "|", "(", ")", '"', "`",
    "'", "if", "else", "end", "range", "with", "define", "template", "block", "break",
    "continue", "nil", "true", "1", "-1", "1e3", "0x1F", "1.5", "'a'", '"s"', ".Data",
    ".Data.data", ".Data.data.password", "secret \"a/b\"", "secrets \"kv/\"", "printf",
    '"%d %s %v"', "index", "slice", "len", "eq", "lt", "and", "or", "not", "toJSON",
    "toYAML", "toTOML", "parseJSON", "split", "join", "regexMatch", "regexReplaceAll",
    '"(a+)+"', "loop", "add", "divide", "indent", "scratch.Set", "executeTemplate",
    "env", "file", "base64Decode", "sprig_repeat", "range 100000000", "shellQuote", "{{/*",
    "*/}}", "100000000", "9999999999999999999999",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FRAGMENTS, max_size=40).map("".join))
def test_fragments_render_or_raise_template_error_quickly(text: str) -> None:
    _render_or_template_error(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_renders_or_raises_template_error_quickly(text: str) -> None:
    _render_or_template_error(text)


def _render_or_template_error(text: str) -> None:
    start = time.monotonic()
    try:
        Template.parse(text, name="t").render(context())
    except TemplateError as exc:
        for value in SECRET_VALUES:
            assert value not in str(exc)
    assert time.monotonic() - start < 1.0


@pytest.mark.parametrize("text", [
    "{{ range 1000000000 }}x{{ end }}",
    "{{ range loop 100000000 }}{{ end }}",
    '{{ define "a" }}{{ template "a" }}{{ end }}{{ template "a" }}',
    '{{ define "a" }}{{ executeTemplate "a" }}{{ end }}{{ template "a" }}',
    "{{" + "(" * 3000 + "1" + ")" * 3000 + "}}",
    "{{ if 1 }}" * 2000 + "{{ end }}" * 2000,
    '{{ indent 100000000 "x\\ny\\nz" }}',
    '{{ sprig_repeat 100000000 "abc" }}',
    '{{ printf "%99999999d" 1 }}',
    '{{ regexMatch "(a+)+$" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!" }}',
])
def test_hostile_templates_stop_with_a_template_error(text: str) -> None:
    start = time.monotonic()
    try:
        out = Template.parse(text, name="t").render(context())
    except TemplateError:
        pass
    else:
        assert len(out) < 64 * 1024 * 1024
    assert time.monotonic() - start < 5.0


ERROR_TEMPLATES = [
    # Go would print the offending value in each of these messages.
    '{{ with secret "db" }}{{ range .Data.data.password }}{{ end }}{{ end }}',
    '{{ with secret "db" }}{{ add 1 .Data.data.password }}{{ end }}',
    '{{ with secret "db" }}{{ .Data.data.nested.token.x }}{{ end }}',
    '{{ with secret "db" }}{{ .Data.data.password | parseInt }}{{ end }}',
    '{{ with secret "db" }}{{ .Data.data.password | base64Decode }}{{ end }}',
    '{{ with secret "db" }}{{ .Data.data.password | parseJSON }}{{ end }}',
    '{{ with secret "db" }}{{ index .Data.data.list 0 | parseBool }}{{ end }}',
    '{{ with secret "db" }}{{ .Data.data.nested.token | parseFloat }}{{ end }}',
    '{{ with secret "db" }}{{ eq .Data.data.nested 1 }}{{ end }}',
    '{{ with secret "db" }}{{ if .LeaseID | parseUint }}{{ end }}{{ end }}',
    '{{ with secret "db" }}{{ regexMatch (printf "(%s" .Data.data.password) "x" }}{{ end }}',
    '{{ with secret "db" }}{{ executeTemplate .Data.data.password }}{{ end }}',
    '{{ with secret "db" }}{{ template "x" }}{{ end }}',
]


@pytest.mark.parametrize("text", ERROR_TEMPLATES)
def test_error_messages_never_contain_secret_values(text: str) -> None:
    with pytest.raises(TemplateError) as info:
        Template.parse(text, name="db").render(context())
    message = str(info.value)
    assert message.startswith("template: db:")
    for value in SECRET_VALUES:
        assert value not in message


def test_secret_values_stay_out_of_errors_in_nested_templates() -> None:
    tmpl = Template.parse('{{ define "x" }}{{ range . }}{{ end }}{{ end }}'
                          '{{ template "x" (secret "db").Data.data.password }}', name="db")
    with pytest.raises(TemplateError) as info:
        tmpl.render(context())
    assert str(info.value) == ('template: db:1:25: executing "x" at <.>: '
                               "range can't iterate over [redacted]")
