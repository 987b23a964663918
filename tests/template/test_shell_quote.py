"""``shellQuote``: every value comes back byte for byte after a real shell sources the file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from s4e_secret_agent.errors import TemplateError
from s4e_secret_agent.template import RenderContext, Template, decode_json

VALUES = {
    "PLAIN": "s4e_app",
    "SPACES": "  two  spaces  ",
    "QUOTES": "it's \"quoted\"",
    "DOLLAR": "$HOME ${PATH} $(id) `id`",
    "BACKSLASH": "a\\b\\\\c\\n",
    "NEWLINES": "line1\nline2\n",
    "GLOB": "* ? [a-z] ~",
    "SEMICOLON": "a; rm -rf / && echo pwned | cat > x",
    "UNICODE": "héllo ✓ 日本",
    "EMPTY": "",
    "DASH": "-n",
    "EQUALS": "a=b=c",
    "HASH": "#not a comment",
    "TAB": "a\tb",
}

TEMPLATE = """{{- with secret "s4e/data/app" }}{{ range $k, $v := .Data.data }}
export {{ $k }}={{ shellQuote $v }}
{{- end }}{{ end }}
export NUMBER={{ with secret "s4e/data/app" }}{{ shellQuote .Data.metadata.version }}{{ end }}
"""


def _render() -> str:
    body = {"data": {"data": VALUES, "metadata": {"version": 3}}}
    envelope = decode_json(__import__("json").dumps(body))
    return Template.parse(TEMPLATE).render(RenderContext(secret=lambda p, a: envelope))


@pytest.mark.parametrize("shell", ["sh", "bash", "dash"])
def test_shell_reads_back_every_value_exactly(shell: str, tmp_path: Path) -> None:
    binary = shutil.which(shell)
    if binary is None:
        pytest.skip(f"{shell} is not installed")
    env_file = tmp_path / "db.env"
    env_file.write_text(_render(), encoding="utf-8")
    names = [*VALUES, "NUMBER"]
    script = f". {env_file}\n" + "".join(f'printf "%s\\0" "${name}"\n' for name in names)
    out = subprocess.run([binary, "-c", script], capture_output=True, check=True,
                         env={"PATH": "/usr/bin:/bin"}).stdout
    got = dict(zip(names, out.decode("utf-8").split("\0")[:-1], strict=True))
    assert got == {**VALUES, "NUMBER": "3"}


def test_plain_words_stay_unquoted() -> None:
    out = Template.parse('{{ shellQuote "abc-1.2_x:y,z@h/p%+=" }}').render()
    assert out == "abc-1.2_x:y,z@h/p%+="


def test_nul_bytes_are_refused_without_echoing_the_value() -> None:
    envelope = decode_json('{"data": {"data": {"pw": "top\\u0000secret-value"}}}')
    tmpl = Template.parse('{{ shellQuote (secret "p").Data.data.pw }}')
    with pytest.raises(TemplateError, match="NUL byte") as info:
        tmpl.render(RenderContext(secret=lambda p, a: envelope))
    assert "secret-value" not in str(info.value)
