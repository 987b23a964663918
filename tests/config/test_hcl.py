"""The HCL1 reader: every form of HCL1's native syntax Vault Agent configs use, read into the
raw tree the way Vault Agent reads it, and the errors (file:line:column) for what HCL1 refuses.

What HCL1 gives for each form was taken from hashicorp/hcl v1 (Vault's fork) and checked against
``bao agent`` where it shows in rendered files (see tests/config/test_hcl_differential.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from s4e_secret_agent.config import hcl
from s4e_secret_agent.config.files import parse_config_text, parse_hcl, parse_json
from s4e_secret_agent.errors import ConfigError


def tree(text: str) -> dict[str, Any]:
    return hcl.loads(text, "agent.hcl")[0]


def error(text: str, **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        hcl.loads(text, "agent.hcl", **kwargs)
    return err.value


# -- blocks, objects, keys -------------------------------------------------------------------
def test_block_with_label_becomes_its_type() -> None:
    assert tree('auto_auth {\n  method "Kubernetes" {\n    mount_path = "auth/k8s"\n  }\n}\n') \
        == {"auto_auth": {"method": {"type": "kubernetes", "mount_path": "auth/k8s"}}}


def test_a_type_in_the_body_wins_over_the_label() -> None:
    assert tree('auto_auth { method "x" { type = "approle" } }')["auto_auth"]["method"] == {
        "type": "approle"}


def test_object_assignment_is_the_same_as_a_block() -> None:
    block = tree('auto_auth {\n  method "kubernetes" {\n    config { role = "r" }\n  }\n}\n')
    assigned = tree('auto_auth = {\n  method "kubernetes" {\n    config = { role = "r" }\n'
                    '  }\n}\n')
    assert block == assigned == {"auto_auth": {"method": {"type": "kubernetes",
                                                          "config": {"role": "r"}}}}


def test_quoted_keys_as_the_injector_writes_them() -> None:
    assert tree('"auto_auth" = {\n  "method" "kubernetes" {\n    "config" = { "role" = "r" }'
                '\n  }\n}\n"exit_after_auth" = true\n') == {
        "auto_auth": {"method": {"type": "kubernetes", "config": {"role": "r"}}},
        "exit_after_auth": True}


def test_repeated_blocks_and_single_stanzas() -> None:
    result = tree('vault { address = "https://v:8200" }\n'
                  'template {\n  destination = "/a"\n}\ntemplate {\n  destination = "/b"\n}\n'
                  'auto_auth {\n  method "token_file" {}\n'
                  '  sink "file" { config = { path = "/t" } }\n}\n')
    assert result["vault"] == {"address": "https://v:8200"}  # a mapping, not a list
    assert result["template"] == [{"destination": "/a"}, {"destination": "/b"}]
    assert result["auto_auth"]["sink"] == [{"type": "file", "config": {"path": "/t"}}]


def test_one_template_is_a_list_of_one() -> None:
    assert tree('template { destination = "/a" }')["template"] == [{"destination": "/a"}]


def test_a_list_of_objects() -> None:
    assert tree('template = [{ destination = "/a" }, { destination = "/b" },]\n'
                'x = [{ a = 1 }]\n') == {
        "template": [{"destination": "/a"}, {"destination": "/b"}], "x": [{"a": 1}]}


def test_two_blocks_of_a_single_stanza_stay_a_list_for_validation_to_refuse() -> None:
    assert tree("vault {}\nvault {}\n")["vault"] == [{}, {}]


def test_labels_nest_elsewhere_and_are_ignored_where_vault_ignores_them() -> None:
    assert tree('foo "a" "b" { x = 1 }') == {"foo": {"a": {"b": {"x": 1}}}}
    result, _, warnings = hcl.loads('vault "main" { address = "https://v" }', "agent.hcl")
    assert result == {"vault": {"address": "https://v"}}
    assert warnings == ['agent.hcl:1: vault: the label "main" is ignored (as Vault does)']


def test_items_may_be_separated_by_commas() -> None:
    assert tree('template { destination = "/a", contents = "c", }') == {
        "template": [{"destination": "/a", "contents": "c"}]}


def test_identifiers_may_hold_dots_and_dashes() -> None:
    assert tree("a.b-c = 1\n_x9 = 2") == {"a.b-c": 1, "_x9": 2}


def test_in_a_template_the_last_exec_block_wins_as_in_consul_template() -> None:
    assert tree('template {\n exec { command = ["a"] }\n exec { command = ["b"] }\n}')[
        "template"] == [{"exec": {"command": ["b"]}}]


# -- literals --------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "value"), [
    ("0x1F", 31), ("0X1f", 31), ("-7", -7), ("010", 8), ("0", 0), ("1.5", 1.5), ("1e3", 1000.0),
    ("2.5E-2", 0.025), ("1.", 1.0), (".5", 0.5), ("1e+2", 100.0), ("-0x10", -16),
    ("9223372036854775807", 2**63 - 1), ("true", True), ("false", False)])
def test_numbers_and_bools(text: str, value: object) -> None:
    got = tree(f"a = {text}")["a"]
    assert got == value and type(got) is type(value)


def test_file_modes_keep_the_digits_as_written() -> None:
    result = tree('template {\n  perms = 0640\n}\nauto_auth {\n  sink "file" {\n'
                  '    config = { mode = 0600 }\n  }\n}\n')
    assert result["template"][0]["perms"] == "0640"
    assert result["auto_auth"]["sink"][0]["config"]["mode"] == "0600"


@pytest.mark.parametrize(("literal", "value"), [
    (r'"plain"', "plain"), (r'"q\"uote"', 'q"uote'), (r'"back\\slash"', "back\\slash"),
    (r'"\a\b\f\n\r\t\v"', "\a\b\f\n\r\t\v"), (r'"\u00e9\U0001F600"', "é😀"),
    (r'"\x41\101"', "AA"), (r'"\xc3\xa9"', "é"), (r'"\ud800"', "\ufffd"),
    (r'"${x}"', "${x}"), (r'"${foo("bar")} \n"', '${foo("bar")} \n'),
    (r'"${a \n b}"', r"${a \n b}"), ('"${f(\n1)}"', "${f(\n1)}"), (r'"$${x}"', "$${x}"),
    (r'"{{ .Data }}"', "{{ .Data }}"), ('"é"', "é"), ('""', "")])
def test_strings(literal: str, value: str) -> None:
    assert tree(f"a = {literal}")["a"] == value


def test_escapes_that_make_bytes_survive_to_the_file() -> None:
    # HCL1's \x and octal escapes give bytes; one that is not UTF-8 reaches the file as is.
    value = tree(r'a = "\xff"')["a"]
    assert value.encode("utf-8", "surrogateescape") == b"\xff"


def test_lists() -> None:
    assert tree('a = [1, "two", 3.0, true, [4], [5] [6], { k = "v" }]\nb = []\nc = [,]\n') == {
        "a": [1, "two", 3.0, True, [4], [5], [6], {"k": "v"}], "b": [], "c": []}


def test_comments() -> None:
    assert tree("# hash\n// slashes\n/* block\n comment */ a = 1 # tail\nb = /* in */ 2\n"
                "c = [1, // one\n 2]\n") == {"a": 1, "b": 2, "c": [1, 2]}


def test_windows_line_endings() -> None:
    assert tree('a = "x"\r\nb = <<EOF\r\nline\r\nEOF\r\n') == {"a": "x", "b": "line\n"}


# -- heredocs --------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "value"), [
    ("<<EOF\nline1\n  line2\nEOF\n", "line1\n  line2\n"),
    ("<<EOF\nEOF\n", ""),
    # The terminator may be indented; HCL1 keeps that indentation at the end of the string.
    ("<<EOF\nhello\n    EOF\n", "hello\n    "),
    ("<<EOF\n\thello\n\tEOF\n", "\thello\n\t"),
    # <<-: every line loses the terminator's indentation...
    ("<<-EOT\n    a\n      b\n    EOT\n", "a\n  b\n"),
    ("<<-EOT\n\t\ta\n\t\tEOT\n", "a\n"),
    # ...unless a line (an empty one too) is less indented: then only the trailing one goes.
    ("<<-EOT\n    a\n\n    b\n    EOT\n", "    a\n\n    b\n"),
    ("<<-EOT\n    hello\n  x\n    EOT\n", "    hello\n  x\n"),
    ("<<-EOT\n  EOT\n", ""),
    # A line that only contains the anchor further on is content.
    ("<<EOF\nEOF2\nxEOF\nEOF \nEOF\n", "EOF2\nxEOF\nEOF \n"),
    ('<<EOF\n{{ with secret "x" }}${not} "q" \\n{{ end }}\nEOF\n',
     '{{ with secret "x" }}${not} "q" \\n{{ end }}\n'),
    ("<<EOT_1\nx\nEOT_1\n", "x\n"),
])
def test_heredocs(text: str, value: str) -> None:
    assert tree(f"a = {text}") == {"a": value}


def test_heredoc_in_a_template_block_keeps_the_final_newline() -> None:
    assert tree('template {\n  contents = <<EOT\nline\nEOT\n  destination = "/x"\n}\n') == {
        "template": [{"contents": "line\n", "destination": "/x"}]}


@pytest.mark.parametrize(("text", "where", "fragment"), [
    # <<-EOF's terminator must be indented: HCL1 does not see EOF at column 1 as its end.
    ("a = <<-EOF\n  x\nEOF\n", "4:1", "heredoc not terminated"),
    # The terminator needs its newline.
    ("a = <<EOF\nx\nEOF", "3:4", "heredoc not terminated"),
    ("a = <<EOF x\ny\nEOF\n", "1:10", "must end its line"),
    ("a = <<\nEOF\n", "1:5", "needs an anchor name"),
    ("a = <EOF\n", "1:5", "expected '<<'"),
])
def test_heredoc_errors(text: str, where: str, fragment: str) -> None:
    message = str(error(text))
    assert message.startswith(f"agent.hcl:{where}: ") and fragment in message, message


# -- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ('vault {\n  address = \n}\n', "agent.hcl:2:11: address = has no value"),
    ("a = foo\n", 'agent.hcl:1:5: a = needs a string, number, bool, heredoc, { ... } or [ ... ], '
                  'got identifier foo (fix: quote it: "foo")'),
    ('a = "x\ny"\n', "agent.hcl:1:5: string not terminated"),
    ('a = "\\q"\n', "agent.hcl:1:6: unknown escape sequence \\q"),
    ('a = "\\x4"\n', "agent.hcl:1:6: unknown escape sequence \\x"),
    ("a = 1 ; b = 2\n", "agent.hcl:1:7: unexpected character ';'"),
    ("a: 1\n", "agent.hcl:1:2: unexpected character ':'"),
    ("a = 'x'\n", "agent.hcl:1:5: unexpected character \"'\""),
    ("a = 1 / 2\n", "agent.hcl:1:7: a single '/'"),
    ("/* open\n", "agent.hcl:2:1: comment not terminated"),
    ("a {\n  b = 1\n", "agent.hcl:3:1: expected '}' to close the '{' at 1:3, got the end of the "
                     "file"),
    ("a b = 1\n", "agent.hcl:1:5: a b = : a block with labels takes { ... }, not ="),
    ("a\n", "agent.hcl:2:1: after a expected '=' or '{', got the end of the file"),
    ("}\n", "agent.hcl:1:1: expected a key, got '}'"),
    ("= 1\n", "agent.hcl:1:1: '=' without a key before it"),
    ("a = [1 2]\n", "agent.hcl:1:8: expected ',' or ']' in the list, got number 2"),
    ("a = [foo]\n", "agent.hcl:1:6: unexpected identifier foo in a list"),
    ("a = 08\n", "agent.hcl:1:5: a: bad number 08: a number with a leading 0 is octal"),
    ("a = 0x\n", "agent.hcl:1:5: a hexadecimal number without digits"),
    ("a = 1e\n", "agent.hcl:1:5: a: bad float 1e: the exponent has no digits"),
    ("a = 99999999999999999999\n", "out of range for a 64-bit integer"),
    ("a = True\n", "got identifier True"),
    ("\ufeffa = 1\n", "agent.hcl:1:1: unexpected character U+FEFF (a byte-order mark"),
    ("a = \"\x00\"\n", "agent.hcl:1:6: the file contains U+0000"),
    ('auto_auth { method "a" "b" {} }', "agent.hcl:1:24: method takes one label"),
])
def test_syntax_errors_name_file_line_and_column(text: str, expected: str) -> None:
    message = str(error(text))
    assert expected in message, message
    assert message.startswith("agent.hcl:")


def test_error_carries_line_and_column() -> None:
    err = error('vault {\n  address = "x"\n  retry { num_retries = }\n}\n')
    assert (err.source, err.line, err.column) == ("agent.hcl", 3, 23)


def test_an_argument_set_twice_fails_as_in_vault() -> None:
    text = 'template {\n  contents = "one"\n  contents = "two"\n}\n'
    err = error(text)
    assert str(err).startswith("agent.hcl:3:3: contents is set twice in one block (first at "
                               "2:3)")
    assert "VAULT_ALLOW_PENDING_REMOVAL_DUPLICATE_HCL_ATTRIBUTES" in str(err)
    # The switch Vault offers: the last one wins, as OpenBao does.
    assert hcl.loads(text, "agent.hcl", allow_duplicate_attributes=True)[0] == {
        "template": [{"contents": "two"}]}


def test_duplicates_are_compared_as_written_like_hcl1() -> None:
    # "contents" and contents are different keys to HCL1's duplicate check: the last wins.
    assert tree('template {\n  contents = "one"\n  "contents" = "two"\n}\n') == {
        "template": [{"contents": "two"}]}
    # Blocks may repeat, in different blocks a key may repeat.
    assert tree("a { x = 1 }\nb { x = 1 }\n") == {"a": {"x": 1}, "b": {"x": 1}}


def test_a_key_without_value_at_the_end_of_the_file_is_dropped_with_a_warning() -> None:
    result, _, warnings = hcl.loads('exit_after_auth = true\npid_file =', "agent.hcl")
    assert result == {"exit_after_auth": True}
    assert warnings == ["agent.hcl:2:1: pid_file = has no value at the end of the file and is "
                        "ignored (as Vault does)"]


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    err = error("a = " + "[" * 5000 + "]" * 5000)
    assert "nests too deeply" in str(err)


# -- lines -----------------------------------------------------------------------------------
def test_lines_of_config_paths() -> None:
    text = ('vault {\n  address = "https://v"\n}\n'
            'auto_auth {\n  method "kubernetes" {\n    config = {\n      role = "r"\n    }\n'
            '  }\n}\n'
            'template {\n  destination = "/a"\n}\n'
            'template {\n  destination = "/b"\n  perms = 0640\n}\n')
    _, lines, _ = hcl.loads(text, "agent.hcl")
    expect = {"vault": 1, "vault.address": 2, "auto_auth": 4, "auto_auth.method": 5,
              "auto_auth.method.type": 5, "auto_auth.method.config": 6,
              "auto_auth.method.config.role": 7, "template[0]": 11,
              "template[0].destination": 12, "template[1]": 14, "template[1].perms": 16}
    assert {path: lines[path] for path in expect} == {
        path: ("agent.hcl", line) for path, line in expect.items()}


# -- front ends ------------------------------------------------------------------------------
def test_json_is_read_as_json(tmp_path: Path) -> None:
    text = '{"vault": {"address": "https://v"}, "template": [{"destination": "/a"}]}'
    assert parse_hcl(text, "agent.hcl").tree == parse_json(text, "agent.json").tree == {
        "vault": {"address": "https://v"}, "template": [{"destination": "/a"}]}


def test_hcl_and_json_give_the_same_tree() -> None:
    hcl_text = ('"vault" = { address = "https://v" }\n'
                'auto_auth = {\n  method "kubernetes" {\n    config = { role = "r" }\n  }\n'
                '  sink "file" { config = { path = "/t" } }\n}\n'
                'template {\n  destination = "/a"\n  contents = <<-EOT\n    x\n    EOT\n}\n'
                'template_config { exit_on_retry_failure = true }\n')
    json_text = ('{"vault": {"address": "https://v"}, "auto_auth": {"method": {"type": '
                 '"kubernetes", "config": {"role": "r"}}, "sink": [{"type": "file", "config": '
                 '{"path": "/t"}}]}, "template": [{"destination": "/a", "contents": "x\\n"}], '
                 '"template_config": {"exit_on_retry_failure": true}}')
    assert parse_hcl(hcl_text, "a.hcl").tree == parse_json(json_text, "a.json").tree


def test_hcl_is_recognised_without_an_extension() -> None:
    layer = parse_config_text('vault {\n  address = "https://v"\n}\n', "agent-config")
    assert layer.tree == {"vault": {"address": "https://v"}}


def test_the_reader_imports_nothing_heavy() -> None:
    import subprocess
    import sys

    code = ("import sys; import s4e_secret_agent.config.hcl as h; h.loads('a = 1', 'x'); "
            "print(sorted(m for m in ('yaml', 'lark', 'hcl2', 'dataclasses') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
