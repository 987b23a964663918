"""The public API others code against: parse once, render many, static secret references."""

from __future__ import annotations

from typing import Any

import pytest

from s4e_secret_agent.errors import SecretNotFoundError, TemplateError
from s4e_secret_agent.template import RenderContext, SecretRef, Template, decode_json

DB_TEMPLATE = """{{- with secret "s4e/data/database" -}}
export DB_HOST={{ .Data.data.host }}
export DB_PORT={{ .Data.data.port }}
export DB_PASS={{ .Data.data.password }}
{{- end }}
"""

DB_BODY = decode_json(
    '{"request_id":"r1","lease_id":"","lease_duration":0,"renewable":false,'
    '"data":{"data":{"host":"db.example","port":5432,"password":"s3cr3t-value"},'
    '"metadata":{"version":3}},"warnings":null,"auth":null,"wrap_info":null}'
)


def test_render_the_s4e_env_file() -> None:
    calls: list[tuple[str, tuple[str, ...]]] = []

    def secret(path: str, args: tuple[str, ...]) -> Any:
        calls.append((path, args))
        return DB_BODY

    tmpl = Template.parse(DB_TEMPLATE, name="db")
    out = tmpl.render(RenderContext(secret=secret))
    assert out == ("export DB_HOST=db.example\nexport DB_PORT=5432\n"
                   "export DB_PASS=s3cr3t-value\n")
    assert calls == [("s4e/data/database", ())]
    # parse once, render many
    assert tmpl.render(RenderContext(secret=secret)) == out


def test_secret_refs_are_found_statically() -> None:
    tmpl = Template.parse('{{ with secret "/a/b/" }}{{ end }}\n  {{ range secrets "kv/" }}'
                          '{{ end }}{{ secret "db/creds/x" "ttl=1h" }}{{ secret .Dyn }}')
    assert tmpl.secret_refs() == [
        SecretRef("secret", "a/b", (), 1, 8),
        SecretRef("secrets", "kv", (), 2, 11),
        SecretRef("secret", "db/creds/x", ("ttl=1h",), 2, 39),
    ]


def test_agent_errors_from_the_secret_callable_propagate_unchanged() -> None:
    def secret(path: str, args: tuple[str, ...]) -> Any:
        raise SecretNotFoundError("missing", path=path)

    with pytest.raises(SecretNotFoundError):
        Template.parse('{{ secret "x/y" }}').render(RenderContext(secret=secret))


def test_other_callable_failures_become_template_errors() -> None:
    def secret(path: str, args: tuple[str, ...]) -> Any:
        raise OSError("boom")

    with pytest.raises(TemplateError, match=r'executing "t" at <secret "x/y">'):
        Template.parse('{{ secret "x/y" }}', name="t").render(RenderContext(secret=secret))


def test_parse_errors_name_template_and_line() -> None:
    with pytest.raises(TemplateError, match=r"^template: db:2: unexpected \"}\" in operand$"):
        Template.parse("ok\n{{ .x }", name="db")


def test_json_numbers_are_kept_exact() -> None:
    value = decode_json('{"a": 1.0, "b": 1e3, "c": 123456789012345678901234567890}')
    out = Template.parse("{{ .a }} {{ .b }} {{ .c }}").render()
    assert out == "<no value> <no value> <no value>"
    tmpl = Template.parse('{{ with secret "p" }}{{ .Data.a }} {{ .Data.b }} {{ .Data.c }}'
                          "{{ end }}")
    out = tmpl.render(RenderContext(secret=lambda p, a: {"data": value}))
    assert out == "1.0 1e3 123456789012345678901234567890"


def test_binary_output_round_trips_as_bytes() -> None:
    body = decode_json('{"data": {"data": {"keystore": "/+7dzLuqmYg="}}}')
    tmpl = Template.parse('{{ with secret "kv/app" }}{{ base64Decode .Data.data.keystore }}'
                          "{{ end }}")
    ctx = RenderContext(secret=lambda path, args: body)
    assert tmpl.render_bytes(ctx) == bytes.fromhex("ffeeddccbbaa9988")
