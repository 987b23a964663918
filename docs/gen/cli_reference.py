"""The CLI reference (docs/cli.md): every command's ``--help`` and the exit code table; the
``dev --help`` that docs/local-dev.md shows, so that page and the command say the same.

The help text comes from the real parser (``s4e_secret_agent.cli.build_parser``) at a fixed
width, so the page does not depend on the terminal it was generated in.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Iterator

from s4e_secret_agent import cli
from s4e_secret_agent.errors import AgentError, ExitCode

PAGE = "cli.md"
HELP_SECTION = "CLI HELP"
EXIT_SECTION = "EXIT CODES"
DEV_PAGE = "local-dev.md"
DEV_SECTION = "DEV HELP"
WIDTH = 96

# What each exit code means to whoever reads a pod's status; every ExitCode needs an entry.
MEANINGS: dict[ExitCode, tuple[str, str]] = {
    ExitCode.OK: ("success", "init: every file written; sidecar: stopped when asked"),
    ExitCode.INTERNAL: ("internal error", "a bug: report it with the log (it holds no secrets)"),
    ExitCode.USAGE: ("bad command line", "read the usage line printed with it; `--help`"),
    ExitCode.CONFIG: ("configuration invalid",
                      "the message names the file, line and key; "
                      "`s4e-secret-agent config check` shows the same offline"),
    ExitCode.AUTH: ("login refused",
                    "check the Vault role, its bound service accounts/namespaces and the "
                    "auth mount path"),
    ExitCode.SECRET: ("a secret could not be read",
                      "denied (policy), missing (path or KV v2 `data/`), or Vault "
                      "answered an error that waiting cannot fix; the message names the path"),
    ExitCode.RENDER: ("a template or a file write failed",
                      "template errors name the template, line and column; write errors the "
                      "file and the volume/permission to fix"),
    ExitCode.DEADLINE: ("gave up waiting for Vault",
                        "init: Vault stayed unreachable, sealed or overloaded until "
                        "`agent.deadline` (default 5m)"),
    ExitCode.DOCTOR_FAILED: ("doctor found a problem",
                             "`s4e-secret-agent doctor` lists each failed check and its fix"),
}


def import_package() -> None:
    """Import every module of the package, so that every AgentError subclass is defined."""
    import importlib
    import pkgutil

    import s4e_secret_agent

    for module in pkgutil.walk_packages(s4e_secret_agent.__path__, "s4e_secret_agent."):
        if not module.name.endswith(".__main__"):  # __main__ runs the CLI
            importlib.import_module(module.name)


def _fixed_width(parser: argparse.ArgumentParser) -> None:
    base = parser.formatter_class
    if not isinstance(base, functools.partial):
        parser.formatter_class = functools.partial(base, width=WIDTH)  # type: ignore[call-arg]


def _commands(parser: argparse.ArgumentParser,
              words: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...],
                                                           argparse.ArgumentParser]]:
    """(command words, parser) for ``parser`` and every subcommand, depth first, in order."""
    yield words, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*words, name))


def error_classes() -> list[type[AgentError]]:
    """AgentError and every subclass defined anywhere in the package, base classes first."""
    import_package()
    found: list[type[AgentError]] = []
    pending: list[type[AgentError]] = [AgentError]
    while pending:
        cls = pending.pop(0)
        if cls not in found:
            found.append(cls)
            pending.extend(cls.__subclasses__())
    return found


def render_help() -> str:
    parser = cli.build_parser()
    parts: list[str] = []
    for words, sub in _commands(parser):
        _fixed_width(sub)
        title = " ".join(("s4e-secret-agent", *words))
        level = "##" if len(words) <= 1 else "###"
        anchor = "-".join(words) if words else "s4e-secret-agent"
        parts.append(f"{level} `{title}` {{#{anchor}}}\n\n```text\n{sub.format_help().rstrip()}"
                     "\n```\n")
    return "\n".join(parts)


def render_dev_help() -> str:
    parser = cli.build_parser()
    for words, sub in _commands(parser):
        if words == ("dev",):
            _fixed_width(sub)
            return f"```text\n{sub.format_help().rstrip()}\n```\n"
    raise ValueError("the CLI has no dev command")


def render_exit_codes() -> str:
    missing = [code.name for code in ExitCode if code not in MEANINGS]
    if missing:
        raise ValueError(f"docs/gen/cli_reference.py: describe exit code(s) {missing}")
    by_code: dict[ExitCode, list[str]] = {}
    for cls in error_classes():
        by_code.setdefault(cls.exit_code, []).append(f"`{cls.__name__}`")
    rows = ["| code | name | meaning | raised as | what to do |",
            "| --- | --- | --- | --- | --- |"]
    for code in ExitCode:
        meaning, fix = MEANINGS[code]
        raised = ", ".join(by_code.get(code, [])) or ""
        rows.append(f"| {int(code)} | `{code.name}` | {meaning} | {raised} | {fix} |")
    rows.append("| 130 | | interrupted | | SIGINT/SIGTERM arrived before `init` finished; "
                "nothing half-written is left behind |")
    return "\n".join(rows) + "\n"


def update(*, write: bool = True) -> list[str]:
    from docs.gen.markers import update_page

    changed = []
    if update_page(PAGE, HELP_SECTION, render_help(), write=write):
        changed.append(f"{PAGE} ({HELP_SECTION})")
    if update_page(PAGE, EXIT_SECTION, render_exit_codes(), write=write):
        changed.append(f"{PAGE} ({EXIT_SECTION})")
    if update_page(DEV_PAGE, DEV_SECTION, render_dev_help(), write=write):
        changed.append(f"{DEV_PAGE} ({DEV_SECTION})")
    return changed
