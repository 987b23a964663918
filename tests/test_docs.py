"""The documentation site: it builds, every page is reachable, and its examples work.

Conventions for the pages (also described in docs/architecture.md):

* A fenced block with a title (```` ```yaml title="agent.yaml" ````) is a file of that name in a
  scratch directory for the page. A titled YAML/HCL/JSON file whose name contains ``agent`` is
  an agent configuration and must load with the real configuration loader.
* In ```` ```console ```` blocks, ``$ s4e-secret-agent template render ...`` and
  ``$ s4e-secret-agent config check ...`` run in that directory; the lines up to the next ``$``
  are their exact standard output. A command that is meant to fail says so with its exit
  status, ``$ s4e-secret-agent template render typo.ctmpl  # exit 6``; the lines shown under
  it must then appear in its standard error (the error message, without the log prefix).
* ```` ```python ```` blocks run in that directory.
* Every other YAML and JSON block must parse.
* ``<!-- docs-test: skip -->`` on the line before a block exempts it.

The YAML blocks and metric names of metrics.md, health.md and actions.md are checked by
tests/test_telemetry.py, and the chart values in kubernetes.md by tests/ship, so they are not
checked twice here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SKIP_MARK = "<!-- docs-test: skip -->"

# Blocks on pages owned elsewhere that cannot run as they stand: (page, first line) -> why.
NOT_RUNNABLE: dict[tuple[str, str], str] = {
    ("bootstrap.md", "from s4e_secret_agent.tools.bootstrap import BootstrapOptions, "
                     "KubernetesOptions, bootstrap"): "needs a Vault address and admin token",
    ("testing.md", "token = kubernetes_api.token(\"s4e-core\")                     "
                   "# projected, namespace s4e"): "uses test fixtures",
    ("testing.md", "def test_core_reads_database_creds(openbao, kubernetes_api, s4e_database):"):
        "a test function sketch",
    ("testing.md", "from tests.testbed import faultproxy"): "uses the fault_proxy fixture",
    ("configuration.md", "$ s4e-secret-agent config check --config agent.yaml"):
        "shows the output for a configuration that is not on the page",
}

# Pages whose YAML blocks and metric names tests/test_telemetry.py already checks.
CHECKED_ELSEWHERE = frozenset({"metrics.md", "health.md", "actions.md"})

# Commands of console blocks that run offline and are executed.
RUNNABLE_COMMANDS = (("template", "render"), ("config", "check"))


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    title: str | None
    text: str
    skip: bool

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0]

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"


_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")


def blocks_of(page: str, text: str) -> list[Block]:
    """Fenced code blocks of a Markdown page (also those indented inside list items)."""
    lines = text.split("\n")
    found: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"].strip()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not (lines[i].strip().startswith(fence)
                                      and lines[i].strip().strip(fence[0]) == ""):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        lang = info.split()[0].strip("{}.") if info else ""
        title = re.search(r'title="([^"]+)"', info)
        previous = next((line.strip() for line in reversed(lines[:start]) if line.strip()), "")
        found.append(Block(page, start + 1, lang, title[1] if title else None,
                           "\n".join(body) + "\n", previous == SKIP_MARK))
    return found


def doc_pages() -> list[str]:
    return sorted(p.name for p in DOCS.glob("*.md"))


def all_blocks() -> list[Block]:
    return [b for page in doc_pages()
            for b in blocks_of(page, (DOCS / page).read_text(encoding="utf-8"))]


def _runnable(block: Block) -> bool:
    return not block.skip and (block.page, block.first_line) not in NOT_RUNNABLE


def _is_agent_config(block: Block) -> bool:
    return (block.title is not None and "agent" in Path(block.title).name
            and Path(block.title).suffix in (".yaml", ".yml", ".hcl", ".json"))


def _child_env() -> dict[str, str]:
    """A clean environment: no VAULT_*/S4E_* from the developer's shell changes the output."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VAULT_", "S4E_", "BAO_"))}
    env["S4E_LOG_FORMAT"] = "text"
    return env


def _scratch(tmp_path: Path, page: str) -> Path:
    directory = tmp_path / Path(page).stem
    directory.mkdir(exist_ok=True)
    for block in all_blocks():
        if block.page == page and block.title:
            target = directory / block.title
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.text, encoding="utf-8")
    return directory


# -- examples ---------------------------------------------------------------------------------

def _pages_with(predicate: Any) -> list[str]:
    return sorted({b.page for b in all_blocks() if predicate(b)})


@dataclass(frozen=True)
class ConsoleCommand:
    argv: list[str]
    expected: str
    exit_code: int


def _console_commands(block: Block) -> list[ConsoleCommand]:
    """Every runnable command of a console block, with what it should print."""
    commands: list[ConsoleCommand] = []
    lines = block.text.rstrip("\n").split("\n")
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            i += 1
            continue
        command = lines[i][2:]
        while command.endswith("\\") and i + 1 < len(lines):
            i += 1
            command = command[:-1] + lines[i]
        i += 1
        output: list[str] = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        command, _, comment = command.partition(" #")
        status = re.fullmatch(r"\s*exit (\d+)\s*", comment)
        argv = shlex.split(command)
        if argv[:1] == ["s4e-secret-agent"] and tuple(argv[1:3]) in RUNNABLE_COMMANDS:
            commands.append(ConsoleCommand(argv, "\n".join(output).rstrip("\n"),
                                           int(status[1]) if status else 0))
    return commands


def _run_agent(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "s4e_secret_agent", *argv[1:]], cwd=cwd,
                          env=_child_env(), capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.mark.parametrize("page", _pages_with(lambda b: b.lang == "console"))
def test_console_examples_print_what_the_page_shows(page: str, tmp_path: Path) -> None:
    directory = _scratch(tmp_path, page)
    ran = 0
    for block in all_blocks():
        if block.page != page or block.lang != "console" or not _runnable(block):
            continue
        for command in _console_commands(block):
            shown = f"{block.where}: {shlex.join(command.argv)}"
            result = _run_agent(command.argv, directory)
            assert result.returncode == command.exit_code, (
                f"{shown} exited {result.returncode}, not {command.exit_code} (a command meant "
                f"to fail shows its status: '$ ...  # exit N' and its error below)\n"
                f"{result.stderr}")
            if command.exit_code == 0:
                actual = "\n".join(line.rstrip()
                                   for line in result.stdout.rstrip("\n").split("\n"))
                assert actual == command.expected, f"{shown}: the output differs from the page"
            else:
                assert command.expected, f"{shown}: show the error message under the command"
                for line in command.expected.splitlines():
                    assert line.strip() in result.stderr, f"{shown}: stderr lacks {line!r}"
            ran += 1
    assert ran or all(not _console_commands(b) for b in all_blocks()
                      if b.page == page and b.lang == "console" and _runnable(b))


@pytest.mark.parametrize("page", _pages_with(_is_agent_config))
def test_titled_agent_configs_load(page: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from s4e_secret_agent.config.load import load_config
    from s4e_secret_agent.config.model import ConfigSources

    directory = _scratch(tmp_path, page)
    monkeypatch.chdir(directory)  # relative template sources are relative to the example
    for block in all_blocks():
        if block.page == page and _is_agent_config(block) and _runnable(block):
            assert block.title is not None
            loaded = load_config(ConfigSources(config_file=str(directory / block.title),
                                               environ={}))
            assert loaded.config.templates or loaded.config.env_templates, \
                f"{block.where}: no templates"


@pytest.mark.parametrize("page", _pages_with(lambda b: b.lang == "python" and _runnable(b)))
def test_python_examples_run(page: str, tmp_path: Path) -> None:
    directory = _scratch(tmp_path, page)
    for index, block in enumerate(all_blocks()):
        if block.page != page or block.lang != "python" or not _runnable(block):
            continue
        script = directory / (block.title or f"example_{index}.py")
        script.write_text(block.text, encoding="utf-8")
        result = subprocess.run([sys.executable, str(script)], cwd=directory,
                                env={**_child_env(), "PYTHONPATH": str(ROOT)},
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, f"{block.where}:\n{result.stderr[-3000:]}"


def _parses(block: Block) -> None:
    if block.lang in ("yaml", "yml"):
        if any(line.lstrip().startswith("{{") for line in block.text.splitlines()):
            return  # a Helm template, not YAML
        list(yaml.safe_load_all(block.text))
    elif block.lang == "json":
        try:
            json.loads(block.text)
        except json.JSONDecodeError:
            # JSON lines: one document per line.
            for line in block.text.splitlines():
                if line.strip():
                    json.loads(line)
    elif block.lang == "hcl":
        from s4e_secret_agent.config import hcl

        hcl.parse(block.text, f"{block.page} ({block.lang} block)")


def test_every_yaml_json_and_hcl_block_parses() -> None:
    failures = []
    for block in all_blocks():
        if block.skip or (block.page in CHECKED_ELSEWHERE and block.lang == "yaml"):
            continue
        try:
            _parses(block)
        except Exception as exc:
            failures.append(f"{block.where} ({block.lang}): {exc}")
    assert failures == []


def test_not_runnable_list_names_existing_blocks() -> None:
    """An entry that no longer matches a block would silently exempt nothing."""
    present = {(b.page, b.first_line) for b in all_blocks()}
    stale = [key for key in NOT_RUNNABLE
             if key not in present and (DOCS / key[0]).exists()
             and not any(b.page == key[0] and key[1] in b.text for b in all_blocks())]
    assert stale == []


def test_metric_names_in_the_docs_exist() -> None:
    from s4e_secret_agent.telemetry.metrics import COMPAT_METRICS, METRICS

    exposed = {m.name for m in COMPAT_METRICS}
    for spec in METRICS:
        exposed.add(spec.name)
        if spec.type == "histogram":
            exposed.update(spec.name + suffix for suffix in ("_bucket", "_sum", "_count"))
    unknown = []
    for page in sorted(set(doc_pages()) - CHECKED_ELSEWHERE):
        text = (DOCS / page).read_text(encoding="utf-8")
        for name in re.findall(r"\b(s4e_secret_agent_[a-z_]+)", text):
            if name not in exposed:
                unknown.append(f"{page}: {name}")
    assert unknown == []


# -- generated pages ----------------------------------------------------------------------------

def test_cli_reference_is_current() -> None:
    from docs.gen import cli_reference
    from docs.gen.markers import generated_section

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    stale = "docs/cli.md is stale: run python -m docs.gen"
    assert generated_section(text, cli_reference.HELP_SECTION) == \
        cli_reference.render_help(), stale
    assert generated_section(text, cli_reference.EXIT_SECTION) == \
        cli_reference.render_exit_codes(), stale


def test_troubleshooting_tables_are_current() -> None:
    from docs.gen import troubleshooting
    from docs.gen.markers import generated_section

    text = (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    stale = "docs/troubleshooting.md is stale: run python -m docs.gen"
    assert generated_section(text, troubleshooting.ERRORS_SECTION) == \
        troubleshooting.render_errors(), stale
    assert generated_section(text, troubleshooting.EVENTS_SECTION) == \
        troubleshooting.render_events(), stale


def test_compatibility_table_is_current() -> None:
    from docs.gen import compatibility
    from docs.gen.markers import generated_section

    text = (DOCS / "compatibility.md").read_text(encoding="utf-8")
    assert generated_section(text, compatibility.SECTION) == compatibility.render(), \
        "docs/compatibility.md is stale: run python -m docs.gen"


def test_cli_reference_covers_every_command_and_exit_code() -> None:
    from s4e_secret_agent.cli import COMMANDS
    from s4e_secret_agent.errors import ExitCode

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for words, _, _ in COMMANDS:
        assert f"## `s4e-secret-agent {' '.join(words)}`" in text
    for code in ExitCode:
        assert f"| {int(code)} | `{code.name}` |" in text


def test_troubleshooting_lists_known_errors_with_their_fixes() -> None:
    text = (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    # A few errors a user meets first, with the fix the code attaches to them.
    assert "`permission denied on <path> (HTTP 403)`" in text
    assert "grant '&lt;capability&gt;' on path" in text
    assert "bound\\_service\\_account\\_names" in text
    assert "`auto_auth: no auth method configured`" in text
    for heading in ("### Exit code 3: `CONFIG`", "### Exit code 4: `AUTH`",
                    "### Exit code 5: `SECRET`", "### Exit code 6: `RENDER`"):
        assert heading in text


# -- site -------------------------------------------------------------------------------------

class _IgnoreTags(yaml.SafeLoader):
    pass


_IgnoreTags.add_multi_constructor("", lambda loader, suffix, node: None)


def _nav_pages() -> list[str]:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_IgnoreTags)

    def walk(node: Any) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [page for item in node for page in walk(item)]
        if isinstance(node, dict):
            return [page for value in node.values() for page in walk(value)]
        return []

    return walk(config["nav"])


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    nav = _nav_pages()
    assert sorted(set(nav)) == sorted(nav), "a page appears twice in the nav"
    assert sorted(set(doc_pages()) - set(nav)) == [], "add these pages to mkdocs.yml's nav"
    assert sorted(set(nav) - set(doc_pages())) == [], "mkdocs.yml's nav names missing pages"


def _slug(heading: str) -> str:
    """The anchor Python-Markdown's toc extension gives a heading."""
    explicit = re.search(r"\{#([^}]+)\}\s*$", heading)
    if explicit:
        return explicit[1]
    text = re.sub(r"<[^>]+>", "", heading).replace("`", "")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(page: str) -> set[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return {_slug(m[1]) for m in re.finditer(r"^#{1,6}\s+(.*)$", text, flags=re.M)}


def test_internal_links_and_anchors_resolve() -> None:
    broken = []
    for page in doc_pages():
        text = (DOCS / page).read_text(encoding="utf-8")
        text = re.sub(r"^\s*```.*?^\s*```", "", text, flags=re.M | re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = path or page
            if not (DOCS / linked).exists():
                broken.append(f"{page}: {target} (no such file)")
            elif anchor and linked.endswith(".md") and anchor not in _anchors(linked):
                broken.append(f"{page}: {target} (no such heading)")
    assert broken == []


@pytest.mark.slow
def test_site_builds_strict_without_warnings(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, capture_output=True,
        text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "WARNING" not in output, output[-5000:]
    for page in doc_pages():
        built = tmp_path / "site" / ("index.html" if page == "index.md"
                                     else f"{Path(page).stem}/index.html")
        assert built.exists(), page
        # Air-gapped readers: every stylesheet, script, font and image comes with the site.
        html = built.read_text(encoding="utf-8")
        external = re.findall(r'<(?:link|script|img)\b[^>]*(?:href|src)="(https?:[^"]+)"', html)
        assert [url for url in external if "rel=\"canonical\"" not in url] == [], page


# -- the troubleshooting page quotes real messages -------------------------------------------------

def _quoted_message(starts_with: str) -> str:
    """The troubleshooting page's quoted log message that starts with ``starts_with``."""
    for block in all_blocks():
        if (block.page == "troubleshooting.md" and block.lang == "text"
                and block.text.startswith(starts_with)):
            return " ".join(block.text.split())
    raise AssertionError(f"troubleshooting.md quotes no message starting {starts_with!r}")


def _init_error(tmp_path: Path, address: str, token_file: Path, secret: str) -> str:
    config = tmp_path / "agent.yaml"
    config.write_text(yaml.safe_dump({
        "vault": {"address": address},
        "auto_auth": {"method": {"type": "kubernetes",
                                 "config": {"role": "s4e", "token_path": str(token_file)}}},
        "template": [{"destination": str(tmp_path / "out" / "db"),
                      "contents": f'{{{{ with secret "{secret}" }}}}{{{{ .Data }}}}{{{{ end }}}}'}],
        "agent": {"deadline": "30s"},
    }))
    env = {**_child_env(), "S4E_LOG_FORMAT": "json"}
    result = subprocess.run([sys.executable, "-m", "s4e_secret_agent", "init", "--config",
                             str(config)], env=env, capture_output=True, text=True, timeout=90,
                            check=False)
    errors = [record for line in result.stderr.splitlines() if line.startswith("{")
              for record in [json.loads(line)] if record.get("event") == "error"]
    assert errors, result.stderr
    return " ".join(str(errors[-1]["message"]).split())


@pytest.mark.integration
def test_troubleshooting_quotes_what_the_agent_prints(
        tmp_path: Path, openbao: Any, s4e_vault: Any, kubernetes_api: Any) -> None:
    unbound = kubernetes_api.token_file(tmp_path / "unbound", "default")
    printed = _init_error(tmp_path, openbao.address, unbound, "s4e/data/database")
    assert printed == _quoted_message("login with kubernetes"), printed

    bound = kubernetes_api.token_file(tmp_path / "bound", "s4e-core")
    printed = _init_error(tmp_path, openbao.address, bound, "s4e/billing")
    assert printed == _quoted_message("permission denied on"), printed
