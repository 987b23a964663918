"""What bounds one render: linear-time regexes, a CPU-time budget, a size limit on the output
and on every value a function builds, and the Go regexp errors the RE2 engine reports."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from s4e_secret_agent.errors import ExitCode, TemplateError
from s4e_secret_agent.template import RenderContext, RenderLimits, Template

# (a|a)*c against n a's: 2^n paths for a backtracking engine, one pass for RE2.
CATASTROPHIC = [
    '{{ regexMatch "(a|a)*c" "' + "a" * 64 + '" }}',
    '{{ regexReplaceAll "(a|a)*c" "x" "' + "a" * 64 + '" }}',
    '{{ sprig_regexFindAll "(a|a)*c" "' + "a" * 64 + '" -1 | len }}',
    '{{ sprig_regexSplit "(a+)+$" "' + "a" * 64 + '!" -1 | len }}',
    '{{ sprig_regexMatch "(x+x+)+y" "' + "x" * 64 + '" }}',
]


def _render(text: str, limits: RenderLimits | None = None, **ctx: object) -> str:
    context = RenderContext(limits=limits or RenderLimits(), **ctx)  # type: ignore[arg-type]
    return Template.parse(text, name="app.conf").render(context)


@pytest.mark.parametrize("text", CATASTROPHIC)
def test_catastrophic_patterns_return_at_once(text: str) -> None:
    start = time.monotonic()
    out = _render(text)
    assert out in ("false", "0", "1", "a" * 64)
    assert time.monotonic() - start < 0.5


def test_a_scan_with_many_matches_is_linear() -> None:
    start = time.monotonic()
    out = _render('{{ sprig_regexFindAll "b" (sprig_repeat 100000 "ab") -1 | len }}')
    assert out == "100000"
    assert time.monotonic() - start < 5


def test_one_long_regex_scan_counts_towards_the_budget() -> None:
    start = time.monotonic()
    with pytest.raises(TemplateError, match=r"CPU-time budget of 0\.3s"):
        _render('{{ regexReplaceAll "b" "c" (sprig_repeat 20000000 "ab") | len }}',
                RenderLimits(cpu_seconds=0.3))
    assert time.monotonic() - start < 3


@pytest.mark.parametrize(("pattern", "message"), [
    ("(a)\\\\1", "invalid escape sequence: `\\1`"),
    ("a(?=b)", "invalid or unsupported Perl syntax: `(?=`"),
    ("a(?!b)", "invalid or unsupported Perl syntax: `(?!`"),
    ("(?<=a)b", "invalid named capture: `(?<=a)b`"),
    ("(?>a)", "invalid or unsupported Perl syntax: `(?>`"),
    ("a\\\\C", "invalid escape sequence: `\\C`"),
    ("a**", "invalid nested repetition operator: `**`"),
    ("x{1001}", "invalid repeat count: `{1001}`"),
    ("\\\\p{Klingon}", "invalid character class range: `\\p{Klingon}`"),
    ("[z-a]", "invalid character class range: `z-a`"),
])
def test_what_re2_rejects_fails_with_gos_message(pattern: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        _render('{{ regexMatch "' + pattern + '" "x" }}')
    assert str(caught.value).endswith("error calling regexMatch: error parsing regexp: "
                                      + message)


def test_go_replacement_syntax() -> None:
    out = _render('{{ regexReplaceAll "(?P<user>\\\\w+)@(\\\\w+)" "${2}:$user:$1x:$$" '
                  '"bob@host" }}')
    assert out == "host:bob::$"


def test_the_regex_engine_is_imported_only_when_a_regex_function_runs() -> None:
    code = ("import sys\n"
            "from s4e_secret_agent.template import Template\n"
            "Template.parse('{{ \"a\" | toUpper }}', name='t').render()\n"
            "assert 're2' not in sys.modules\n"
            "Template.parse('{{ regexMatch \"a\" \"a\" }}', name='t').render()\n"
            "assert 're2' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


LOOPING = ('{{ range $i := sprig_until 100000 }}{{ range $j := sprig_until 100000 }}'
           '{{ sprig_sha256sum "x" }}{{ end }}{{ end }}')


def test_a_looping_render_stops_at_its_cpu_budget_with_the_key_to_raise() -> None:
    start = time.monotonic()
    with pytest.raises(TemplateError) as caught:
        _render(LOOPING, RenderLimits(cpu_seconds=0.3))
    elapsed = time.monotonic() - start
    assert elapsed < 3.0
    message = str(caught.value)
    assert message.startswith("template: app.conf:1:")
    assert "render exceeded its CPU-time budget of 0.3s" in message
    assert "agent.render_cpu_limit" in message
    assert caught.value.exit_code == ExitCode.RENDER


def test_slow_functions_count_towards_the_budget() -> None:
    with pytest.raises(TemplateError, match=r"CPU-time budget of 0\.2s"):
        _render('{{ range sprig_until 1000 }}{{ sprig_bcrypt "x" | len }}{{ end }}',
                RenderLimits(cpu_seconds=0.2))


def test_waiting_for_data_does_not_count() -> None:
    def slow_secret(path: str, args: tuple[str, ...]) -> object:
        time.sleep(0.3)  # a slow Vault: wall time, not CPU time
        return {"data": {"v": "ok"}}

    out = _render('{{ with secret "kv/a" }}{{ .Data.v }}{{ end }}',
                  RenderLimits(cpu_seconds=0.2), secret=slow_secret)
    assert out == "ok"


def test_output_over_the_size_limit_fails() -> None:
    limits = RenderLimits(max_bytes=1000)
    assert len(_render('{{ range sprig_until 100 }}0123456789{{ end }}', limits)) == 1000
    with pytest.raises(TemplateError) as caught:
        _render('{{ range sprig_until 101 }}0123456789{{ end }}', limits)
    assert "output is larger than 1000 bytes" in str(caught.value)
    assert "agent.render_max_bytes" in str(caught.value)


def test_the_output_limit_counts_bytes_not_characters() -> None:
    limits = RenderLimits(max_bytes=1000)
    template = Template.parse('{{ range sprig_until 600 }}é{{ end }}', name="t")
    with pytest.raises(TemplateError, match="output is larger than 1000 bytes"):
        template.render_bytes(RenderContext(limits=limits))


@pytest.mark.parametrize("text", [
    '{{ $x := sprig_repeat 2000 "ab" }}',
    '{{ $x := printf "%5000d" 1 }}',
    '{{ $x := sprig_until 3000 | sprig_join "," }}',
    '{{ $x := "ab" | sprig_repeat 600 | sprig_repeat 600 }}',
])
def test_intermediate_values_over_the_size_limit_fail(text: str) -> None:
    with pytest.raises(TemplateError) as caught:
        _render(text, RenderLimits(max_bytes=1000))
    assert "returned a value larger than 1000 bytes" in str(caught.value)


def test_a_file_value_over_the_size_limit_fails() -> None:
    with pytest.raises(TemplateError, match="file returned a value larger than 100 bytes"):
        _render('{{ $x := file "/big" }}', RenderLimits(max_bytes=100),
                file=lambda path: "x" * 101)
