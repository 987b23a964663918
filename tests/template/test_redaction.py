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
