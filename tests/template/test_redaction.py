"""Secret values are kept out of template errors, but names and paths stay readable: a value
that is also part of a template name or a Vault path must not hide the hint a user needs."""

from __future__ import annotations

import pytest

from s4e_secret_agent.errors import TemplateError
from s4e_secret_agent.template import RenderContext, Template

RANGE_OVER = '{{ with secret "s4e/data/app" }}{{ range .Data.data.name }}x{{ end }}{{ end }}'


def _error(text: str, name: str, data: dict[str, object]) -> str:
    template = Template.parse(text, name=name)
    with pytest.raises(TemplateError) as caught:
        template.render(RenderContext(secret=lambda path, args: {"data": {"data": data}}))
    return str(caught.value)


def test_a_value_inside_the_template_name_and_path_leaves_them_readable() -> None:
    message = _error(RANGE_OVER, "app_cred.rendered", {"name": "app"})
    assert message.startswith('template: app_cred.rendered:1:46: executing "app_cred.rendered"')
    assert message.endswith("range can't iterate over [redacted]")


def test_the_value_itself_is_still_redacted() -> None:
    message = _error(RANGE_OVER, "db", {"name": "sup3r-s3cret"})
    assert "sup3r-s3cret" not in message and "[redacted]" in message


def test_a_pki_private_key_is_redacted() -> None:
    template = Template.parse('{{ with pkiCert "pki/issue/r" }}{{ range .Key }}{{ end }}'
                              "{{ end }}", name="tls")
    key = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"
    with pytest.raises(TemplateError) as caught:
        template.render(RenderContext(pki_cert=lambda path, args: {"key": key, "cert": "c"}))
    assert "MIIB" not in str(caught.value)


PEM = ("-----BEGIN PRIVATE KEY-----\n"
       "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
       "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n"
       "-----END PRIVATE KEY-----\n")
HOSTILE = {"pem": PEM, "quoted": 'say "open-sesame-4411" now', "tabbed": "col-one\tcol-two-88",
           "unicode": "pässwörd-ünïcode-☃-9"}


def _hostile_error(expression: str, **ctx: object) -> str:
    text = '{{ with secret "kv/app" }}' + expression + "{{ end }}"
    template = Template.parse(text, name="app.conf")
    context = RenderContext(secret=lambda path, args: {"data": HOSTILE}, **ctx)  # type: ignore[arg-type]
    with pytest.raises(TemplateError) as caught:
        template.render(context)
    return str(caught.value)


def _pieces(value: str) -> list[str]:
    """What must not be in a message: the value, its lines, and their escaped forms."""
    import json

    from s4e_secret_agent.template.gofmt import go_quote

    out = [value, *(line for line in value.splitlines() if len(line) >= 8)]
    out += [go_quote(p)[1:-1] for p in list(out)] + [json.dumps(p)[1:-1] for p in list(out)]
    out += [json.dumps(p, ensure_ascii=False)[1:-1] for p in list(out)]
    return out


@pytest.mark.parametrize("expression", [
    "{{ range .Data.pem }}{{ end }}",  # raw value in Go's message
    "{{ .Data.pem | parseInt }}",  # %q: newlines as \\n
    "{{ .Data.quoted | parseFloat }}",  # %q: \\" inside
    "{{ .Data.tabbed | parseBool }}",  # %q: \\t
    "{{ .Data.unicode | parseInt }}",
    "{{ .Data.unicode | toJSON | parseInt }}",  # JSON-escaped, then quoted
    "{{ .Data.pem | toUpper | parseInt }}",
    "{{ .Data.unicode | toLower | parseUint }}",
    '{{ index (.Data.pem | split "\\n") 1 | parseInt }}',  # one line of a PEM key
    '{{ .Data.pem | trimPrefix "-----BEGIN PRIVATE KEY-----\\n" | parseInt }}',
    '{{ regexMatch (printf "(%s" .Data.quoted) "x" }}',  # a pattern built from a secret
    '{{ sprig_regexFind (printf "[%s" .Data.unicode) "x" }}',
    "{{ sprig_trunc 20 .Data.quoted | parseInt }}",
])
def test_secrets_are_redacted_in_every_form_an_error_prints(expression: str) -> None:
    message = _hostile_error(expression)
    assert "[redacted]" in message
    for value in HOSTILE.values():
        for piece in _pieces(value):
            assert piece not in message, (piece, message)
    assert message.startswith("template: app.conf:1:")  # the location stays readable


def test_env_and_file_values_are_redacted() -> None:
    env_value = 'env-secret-"quoted"\n-line-two-value'
    file_value = "file-secret-line-one\nfile-secret-line-two\n"
    message = _hostile_error('{{ env "TOKEN" | parseInt }}', env=lambda name: env_value)
    assert not any(p in message for p in _pieces(env_value)), message
    message = _hostile_error('{{ file "/etc/app/key" | parseInt }}', file=lambda path: file_value)
    assert not any(p in message for p in _pieces(file_value)), message


def test_short_common_words_of_a_secret_stay_readable() -> None:
    # A secret that contains the word "parsing" does not blank Go's own wording.
    message = _error('{{ with secret "kv/app" }}{{ .Data.data.v | parseInt }}{{ end }}',
                     "app", {"v": "x-parsing-y-41"})
    assert message.endswith('strconv.ParseInt: parsing "[redacted]": invalid syntax')
