"""The layers of the package, checked from the code's own imports.

docs/architecture.md draws them; these tests keep the drawing honest:

- the template engine is pure: it imports nothing of the agent but its own modules and the
  error hierarchy (no Vault, no files, no runtime);
- the lease timing is pure: only the configuration model and the errors;
- only ``vault/`` imports hvac, requests or urllib3, and ``vault/`` knows nothing of the runtime,
  the engine or telemetry (the engine's JSON decoder is passed in);
- the configuration layer never imports the runtime, Vault or telemetry;
- telemetry knows the runtime only through its event and reporting types;
- the API proxy knows Vault only through ``vault/forward.py`` and the runtime only through its
  events (and the owner resolution of ``runtime/writer.py`` for unix sockets);
- nothing on a pod's path imports the operator tools (``tools/``); only the ``doctor``,
  ``bootstrap`` and ``dev`` commands do;
- module-level imports form no cycle;
- and, measured on a real process, ``init`` loads neither the tools nor telemetry nor
  Prometheus, nor YAML for a JSON config.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "s4e_secret_agent"
ROOT = "s4e_secret_agent"


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # what it imports, dotted (a module, or a name inside one)
    top_level: bool  # executed when the module is imported (not inside a function)
    type_only: bool  # under ``if TYPE_CHECKING:``


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> list[Import]:
    found: list[Import] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))

        def visit(node: ast.AST, top: bool, type_only: bool, module: str = module,
                  path: Path = path) -> Iterator[Import]:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                    yield from visit(child, False, type_only)
                elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    yield from visit(child, top, True)
                elif isinstance(child, ast.Import):
                    for alias in child.names:
                        yield Import(module, alias.name, top, type_only)
                elif isinstance(child, ast.ImportFrom):
                    assert child.level == 0, f"{path}: relative import"
                    base = child.module or ""
                    for alias in child.names:
                        yield Import(module, f"{base}.{alias.name}", top, type_only)
                else:
                    yield from visit(child, top, type_only)

        found.extend(visit(tree, True, False))
    return found


IMPORTS = _imports()
MODULES = {_module_name(p) for p in PACKAGE.rglob("*.py")}


def _ours(target: str) -> str | None:
    """The package module ``target`` names (``a.b.name`` -> ``a.b`` when ``name`` is not a
    module), or None for third-party and standard-library imports."""
    if not target.startswith(ROOT):
        return None
    while target not in MODULES and "." in target:
        target = target.rsplit(".", 1)[0]
    return target


def _inside(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _violations(importers: tuple[str, ...], allowed: tuple[str, ...],
                *, type_only_too: bool = True) -> list[str]:
    bad = []
    for imp in IMPORTS:
        if not _inside(imp.module, *importers) or (imp.type_only and not type_only_too):
            continue
        target = _ours(imp.target)
        if target is not None and not _inside(target, *allowed):
            bad.append(f"{imp.module} imports {imp.target}")
    return bad


def test_the_template_engine_imports_only_itself_and_the_errors() -> None:
    assert _violations((f"{ROOT}.template",), (f"{ROOT}.template", f"{ROOT}.errors")) == []


def test_lease_timing_is_pure() -> None:
    allowed = (f"{ROOT}.runtime.leases", f"{ROOT}.config.model", f"{ROOT}.errors")
    assert _violations((f"{ROOT}.runtime.leases",), allowed) == []
    third_party = {imp.target.split(".")[0] for imp in IMPORTS
                   if imp.module == f"{ROOT}.runtime.leases" and _ours(imp.target) is None}
    assert third_party <= {"__future__", "math", "random", "dataclasses", "enum", "typing"}


def test_only_vault_talks_http_and_it_knows_nothing_of_the_runtime() -> None:
    http = [f"{imp.module} imports {imp.target}" for imp in IMPORTS
            if imp.target.split(".")[0] in ("hvac", "requests", "urllib3")
            and not _inside(imp.module, f"{ROOT}.vault")]
    assert http == []
    allowed = (f"{ROOT}.vault", f"{ROOT}.config.model", f"{ROOT}.errors")
    assert _violations((f"{ROOT}.vault",), allowed) == []


def test_the_configuration_layer_does_not_reach_outside() -> None:
    allowed = (f"{ROOT}.config", f"{ROOT}.errors", f"{ROOT}.template")
    assert _violations((f"{ROOT}.config",), allowed) == []


def test_telemetry_knows_the_runtime_only_by_its_events() -> None:
    allowed = (f"{ROOT}.telemetry", f"{ROOT}.errors", f"{ROOT}.runtime.events", ROOT)
    assert _violations((f"{ROOT}.telemetry",), allowed) == []


def test_the_api_proxy_knows_vault_forwarding_and_the_runtimes_events_only() -> None:
    allowed = (f"{ROOT}.proxy", f"{ROOT}.vault.forward", f"{ROOT}.config.model",
               f"{ROOT}.errors", f"{ROOT}.runtime.events", f"{ROOT}.runtime.writer")
    assert _violations((f"{ROOT}.proxy",), allowed) == []


def test_nothing_on_a_pods_path_imports_the_tools() -> None:
    tooling_commands = (f"{ROOT}.commands.doctor", f"{ROOT}.commands.bootstrap",
                        f"{ROOT}.commands.dev")
    bad = [f"{imp.module} imports {imp.target}" for imp in IMPORTS
           if (target := _ours(imp.target)) is not None and _inside(target, f"{ROOT}.tools")
           and not _inside(imp.module, f"{ROOT}.tools", *tooling_commands)]
    assert bad == []


def test_module_level_imports_form_no_cycle() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in IMPORTS:
        target = _ours(imp.target)
        if imp.top_level and not imp.type_only and target is not None and target != imp.module:
            graph[imp.module].add(target)
            # Importing a.b.c runs a/__init__ and a/b/__init__ first.
            parent = target
            while "." in parent:
                parent = parent.rsplit(".", 1)[0]
                if parent in MODULES and not _inside(imp.module, parent):
                    graph[imp.module].add(parent)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def strongly_connected(node: str) -> None:  # Tarjan
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                strongly_connected(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            strongly_connected(node)
    assert cycles == []


def test_every_module_opens_with_a_paragraph_on_why_it_exists() -> None:
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        if path.name != "__main__.py" and (not docstring or len(docstring) < 20):
            missing.append(str(path.relative_to(PACKAGE)))
    assert missing == []


@pytest.mark.integration  # the run needs nothing but a closed port; kept with the e2e runs
def test_init_loads_no_tools_no_telemetry_and_no_yaml_for_a_json_config(tmp_path: Path) -> None:
    config = tmp_path / "agent.json"
    config.write_text(json.dumps({
        "vault": {"address": "http://127.0.0.1:9", "retry": {"num_retries": -1}},
        "auto_auth": {"method": {"type": "token_file",
                                 "config": {"token_file_path": str(tmp_path / "token")}}},
        "template": [{"destination": str(tmp_path / "out"),
                      "contents": '{{ with secret "s4e/data/app" }}{{ .Data.data.k }}{{ end }}'}],
        "agent": {"deadline": "1s"},
    }))
    (tmp_path / "token").write_text("not-a-token")
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('MODULES', ' '.join(sorted(sys.modules)), "
        "file=sys.stderr))\n"
        "from s4e_secret_agent.cli import main\n"
        f"sys.exit(main(['init', '--config', {str(config)!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 7, proc.stderr  # Vault unreachable until the deadline
    loaded = set(proc.stderr.rsplit("MODULES ", 1)[1].split())
    assert {m for m in loaded if m.startswith((f"{ROOT}.tools", f"{ROOT}.telemetry"))} == set()
    assert not loaded & {"prometheus_client", "yaml", "watchfiles", "cryptography",
                         f"{ROOT}.template.funcs.sprig", f"{ROOT}.config.annotations"}
