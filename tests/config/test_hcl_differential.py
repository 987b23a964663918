"""The same Vault Agent HCL configs through ``bao agent`` (OpenBao's Vault Agent, which reads
them with HCL1) and through our ``init``, against one live OpenBao: the files must be the same
bytes. Covers quoted keys, ``key = { ... }`` objects, heredocs (``<<EOF`` and ``<<-EOF``,
indented terminators), string escapes and ``${...}`` left as text, comments, several
``-config`` files and a config directory."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.config.helpers import DIFF_MOUNT, DIFF_SECRET
from tests.integration.conftest import run_agent
from tests.testbed.openbao import OpenBaoServer, bao_binary

pytestmark = pytest.mark.integration

MOUNT, SECRET = DIFF_MOUNT, DIFF_SECRET


def _head(server: OpenBaoServer, directory: Path, extra: str = "") -> str:
    """vault and auto_auth in the forms the Vault Agent Injector and Vault's docs use."""
    token = directory / "token"
    token.write_text(server.root_token)
    return f'''
"vault" = {{
  "address" = "{server.address}"{extra}
  retry {{ num_retries = -1 }}
}}
auto_auth = {{
  method "token_file" {{
    config = {{ token_file_path = "{token}" }}
  }}
}}
exit_after_auth = true
template_config = {{ exit_on_retry_failure = true }}
'''


FORMS = r'''
template {
  destination = "OUT/heredoc_indented_terminator"
  contents = <<EOF
{{ with secret "hcldiff/data/app" }}user={{ .Data.data.user }}{{ end }}
  indented line
    EOF
}
template {
  destination = "OUT/heredoc_plain"
  contents    = <<EOT
{{- with secret "hcldiff/data/app" -}}
pass={{ .Data.data.pass }}
{{- end }}
EOT
}
template {
  destination = "OUT/dash_heredoc"
  contents = <<-EOT
    {{- with secret "hcldiff/data/app" }}
    user={{ .Data.data.user }}
      nested
    {{- end }}
    EOT
}
template {
  destination = "OUT/dash_heredoc_blank_line"
  contents = <<-EOT
    a

      b
    EOT
}
template {
  destination = "OUT/dash_heredoc_tabs"
  contents = <<-EOT
		tab indented
		EOT
}
"template" {
  "destination" = "OUT/escapes"
  "contents" = "tab\there nl\nq=\"x\" bs=\\ u=\u00e9 U=\U0001F600 x=\x41 oct=\101\n"
}
"template" {
  "destination" = "OUT/interpolation_kept"
  "contents" = "${not_interpolated} $${also} ${f("q")} {{ \"lit\" }}\n"
}
template = {
  destination = "OUT/object_form"
  contents = "object form\n"
}
template { destination = "OUT/one_line", contents = "one line", } # a trailing comment
/* a block
   comment */
// a line comment
template {
  destination = "OUT/perms"
  contents = "perms"
  perms = 0600
}
'''


def _bao_agent(configs: list[Path], workdir: Path,
               env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env.update({"HOME": str(workdir), **(env_extra or {})})
    return subprocess.run([bao_binary(), "agent", *(f"-config={c}" for c in configs)],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def _ours(configs: list[Path], env_extra: dict[str, str] | None = None) -> tuple[int, str]:
    args = [arg for config in configs for arg in ("--config", str(config))]
    result = run_agent("init", *args, env=env_extra)
    return result.returncode, result.stderr


def _setup(tmp_path: Path, server: OpenBaoServer, files: dict[str, str]
           ) -> dict[str, tuple[Path, list[Path]]]:
    """The same config files for both agents, each writing into its own OUT directory. A name
    with a "/" puts the file in a directory, and the directory is what -config names."""
    runs = {}
    for who in ("bao", "ours"):
        base = tmp_path / who
        (base / "out").mkdir(parents=True)
        for name, text in files.items():
            path = base / name
            path.parent.mkdir(parents=True, exist_ok=True)
            text = text.replace("HEAD_WITH_NAMESPACE", _head(
                server, base, '\n  namespace = "no-such-namespace"'))
            path.write_text(text.replace("HEAD", _head(server, base))
                            .replace("ADDR", server.address).replace("OUT", str(base / "out")))
        tops = dict.fromkeys(name.split("/")[0] for name in files)
        runs[who] = (base, [base / top for top in tops])
    return runs


def _compare(runs: dict[str, tuple[Path, list[Path]]],
             env_extra: dict[str, str] | None = None) -> dict[str, bytes]:
    base, configs = runs["bao"]
    bao = _bao_agent(configs, base, env_extra)
    assert bao.returncode == 0, bao.stdout[-3000:] + bao.stderr[-3000:]
    code, log = _ours(runs["ours"][1], env_extra)
    assert code == 0, log[-3000:]
    outputs = {}
    for who, (where, _) in runs.items():
        outputs[who] = {p.name: p.read_bytes() for p in sorted((where / "out").iterdir())}
    assert outputs["ours"] == outputs["bao"]
    for name in outputs["bao"]:
        if name.startswith("perms"):  # a mode set in the config: the same on both sides
            modes = {(where / "out" / name).stat().st_mode & 0o777 for where, _ in runs.values()}
            assert len(modes) == 1, (name, modes)
    return outputs["bao"]


def test_hcl1_forms_render_the_same_bytes(tmp_path: Path, server: OpenBaoServer) -> None:
    out = _compare(_setup(tmp_path, server, {"agent.hcl": "HEAD" + FORMS}))
    assert out["heredoc_indented_terminator"] == b"user=app-user\n  indented line\n    "
    assert out["dash_heredoc"] == b"\nuser=app-user\n  nested\n"
    assert out["dash_heredoc_blank_line"] == b"    a\n\n      b\n"
    assert out["escapes"] == 'tab\there nl\nq="x" bs=\\ u=é U=😀 x=A oct=A\n'.encode()
    assert out["interpolation_kept"] == b'${not_interpolated} $${also} ${f("q")} lit\n'
    assert out["heredoc_plain"] == f"pass={SECRET['pass']}\n".encode()
    assert len(out) == 10


def test_several_config_files_and_a_directory_merge_the_same_way(
        tmp_path: Path, server: OpenBaoServer) -> None:
    files = {
        # vault is replaced whole by the second file's, so this namespace never applies.
        "1-base.hcl": "HEAD_WITH_NAMESPACE"
        'template {\n  destination = "OUT/from_first"\n  contents = "first"\n}\n',
        "2-more.hcl": 'vault = {\n  address = "ADDR"\n}\nexit_after_auth = false\n'
                      'template {\n  destination = "OUT/from_second"\n  contents = <<-EOT\n'
                      '    second\n    EOT\n}\n',
        "conf.d/a.hcl": 'template {\n  destination = "OUT/from_dir_hcl"\n'
                        '  contents = "{{ with secret \\"hcldiff/data/app\\" }}'
                        '{{ .Data.data.user }}{{ end }}"\n}\n',
        "conf.d/b.json": '{"template": [{"destination": "OUT/from_dir_json", '
                         '"contents": "json\\n"}]}',
        "conf.d/ignored.hcl~": "this is not read {",
        "conf.d/notes.txt": "neither is this",
    }
    out = _compare(_setup(tmp_path, server, files))
    assert out == {"from_first": b"first", "from_second": b"second\n",
                   "from_dir_hcl": SECRET["user"].encode(), "from_dir_json": b"json\n"}


def test_duplicate_arguments_with_vaults_switch(tmp_path: Path, server: OpenBaoServer) -> None:
    """OpenBao keeps the last of an argument set twice; HashiCorp Vault (and we) refuse it
    unless VAULT_ALLOW_PENDING_REMOVAL_DUPLICATE_HCL_ATTRIBUTES is true."""
    config = ("HEAD" + 'template {\n  destination = "OUT/dup"\n  contents = "one"\n'
              '  contents = "two"\n}\n')
    runs = _setup(tmp_path, server, {"agent.hcl": config})
    code, log = _ours(runs["ours"][1])
    assert code == 3 and "contents is set twice in one block" in log
    out = _compare(runs, {"VAULT_ALLOW_PENDING_REMOVAL_DUPLICATE_HCL_ATTRIBUTES": "true"})
    assert out == {"dup": b"two"}


@pytest.mark.parametrize(("name", "contents"), [
    ("dash_terminator_at_column_one", "<<-EOF\n  x\nEOF\n"),
    ("unknown_escape", '"\\q"\n'),
    ("identifier_value", "bare_word\n"),
])
def test_what_hcl1_refuses_both_refuse(tmp_path: Path, server: OpenBaoServer, name: str,
                                       contents: str) -> None:
    config = "HEAD" + f'template {{\n  destination = "OUT/x"\n  contents = {contents}}}\n'
    runs = _setup(tmp_path, server, {"agent.hcl": config})
    base, configs = runs["bao"]
    bao = _bao_agent(configs, base)
    assert bao.returncode != 0 and "error loading configuration" in bao.stderr + bao.stdout
    code, log = _ours(runs["ours"][1])
    assert code == 3, log[-2000:]
    assert not any((base / "out").iterdir()) and not any((runs["ours"][0] / "out").iterdir())
