"""Command-line entry point: argv -> command; logging set-up; exceptions -> exit codes.

This is the only module that turns exceptions into exit codes. Each subcommand lives in
``s4e_secret_agent.commands.<module>`` with two functions, ``configure(parser)`` (argparse only,
no heavy imports, so ``--help`` and start-up stay fast) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from s4e_secret_agent import __version__
from s4e_secret_agent.errors import AgentError, ExitCode

log = logging.getLogger("s4e_secret_agent")

# (command words, module under s4e_secret_agent.commands, one-line help)
COMMANDS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("init",), "init", "log in, render every template once, write the files, exit"),
    (("sidecar",), "sidecar", "render, then keep tokens, leases and files fresh until stopped"),
    (("template", "render"), "template", "render one template offline from JSON fixtures"),
    (("config", "check"), "config_check", "validate the configuration offline and print the plan"),
    (("doctor",), "doctor", "diagnose configuration, Vault connectivity, auth and secret access"),
    (("bootstrap",), "bootstrap", "configure a Vault/OpenBao server the way S4E's guide describes"),
    (("dev",), "dev", "run a local OpenBao dev server and the agent against it (no Vault needed)"),
    (("version",), "version", "print the version"),
)


class CommandModule(Protocol):
    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _command_module(name: str) -> CommandModule:
    return cast(CommandModule, importlib.import_module(f"s4e_secret_agent.commands.{name}"))


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("logging")
    group.add_argument("--log-level", default=None,
                       choices=["trace", "debug", "info", "warn", "warning", "error"],
                       help="log verbosity (default: info; env S4E_LOG_LEVEL)")
    group.add_argument("--log-format", default=None, choices=["auto", "text", "json"],
                       help="text on a terminal, JSON lines otherwise (default: auto)")


def build_parser(only: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line. ``only`` (the command words a run starts with): configure just
    that command's options, so that ``init`` on a pod's start path neither imports nor builds
    the other commands; every command is still listed, so help and errors read the same."""
    parser = argparse.ArgumentParser(
        prog="s4e-secret-agent",
        description="Delivers Vault secrets into pods: an init container or a sidecar, "
        "compatible with Vault Agent templates, configs and injector annotations.",
    )
    parser.add_argument("--version", action="version", version=f"s4e-secret-agent {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for words, module, help_text in COMMANDS:
        if len(words) == 1:
            sub = top.add_parser(words[0], help=help_text, description=help_text)
        else:
            group = groups.get(words[0])
            if group is None:
                holder = top.add_parser(words[0], help=f"{words[0]} subcommands",
                                        description=f"{words[0]} subcommands")
                group = holder.add_subparsers(dest=f"{words[0]}_command", metavar="SUBCOMMAND")
                holder.set_defaults(_holder=holder)
                groups[words[0]] = group
            sub = group.add_parser(words[1], help=help_text, description=help_text)
        if only is not None and tuple(only[:len(words)]) != words:
            continue
        add_logging_options(sub)
        _command_module(module).configure(sub)
        sub.set_defaults(_module=module)
    return parser


def _command_words(argv: Sequence[str]) -> tuple[str, ...] | None:
    """The command words at the start of ``argv`` when they name a command, else None."""
    for words, _, _ in COMMANDS:
        if tuple(argv[:len(words)]) == words:
            return words
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_words(args_list))
    args = parser.parse_args(args_list)
    module = getattr(args, "_module", None)
    if module is None:
        holder = getattr(args, "_holder", parser)
        holder.print_help(sys.stderr)
        return int(ExitCode.USAGE)
    from s4e_secret_agent.logs import setup_logging

    setup_logging(level=args.log_level, fmt=args.log_format)
    try:
        return _command_module(module).run(args)
    except AgentError as err:
        log.error("%s", err, extra={"event": "error", "exit_code": int(err.exit_code)})
        return int(err.exit_code)
    except KeyboardInterrupt:
        return 130
