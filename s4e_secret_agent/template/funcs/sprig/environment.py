"""Sprig's ``env`` and ``expandenv`` (Go's ``os.Getenv`` and ``os.ExpandEnv``).

They read the environment through the render context, like consul-template's own ``env``,
so ``template render --env-json`` and tests decide what a template sees. ``expandenv``
follows ``os.Expand``: ``$NAME`` and ``${NAME}``, the one-character shell specials ``$1``,
``$?``, ..., a lone ``$`` kept, and ``${}`` or an unclosed ``${`` dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from s4e_secret_agent.template.signature import STRING, ExecutionState, GoFunc

_SHELL_SPECIAL = "*#$@!?-0123456789"


def _shell_name(s: str) -> tuple[str, int]:
    """``os.getShellName``: the variable name after a ``$`` and how many bytes it spans."""
    if s[0] == "{":
        if len(s) > 2 and s[1] in _SHELL_SPECIAL and s[2] == "}":
            return s[1:2], 3
        for i in range(1, len(s)):
            if s[i] == "}":
                if i == 1:
                    return "", 2
                return s[1:i], i + 1
        return "", 1
    if s[0] in _SHELL_SPECIAL:
        return s[0:1], 1
    i = 0
    while i < len(s) and (s[i] == "_" or (s[i].isascii() and s[i].isalnum())):
        i += 1
    return s[:i], i


def expand(s: str, lookup: Callable[[str], str]) -> str:
    """``os.Expand``."""
    out: list[str] = []
    start = 0
    j = 0
    while j < len(s):
        if s[j] == "$" and j + 1 < len(s):
            out.append(s[start:j])
            name, width = _shell_name(s[j + 1:])
            if name == "" and width > 0:
                pass  # bad syntax: Go drops it
            elif name == "":
                out.append("$")
            else:
                out.append(lookup(name))
            j += width
            start = j + 1
        j += 1
    if not out:
        return s
    return "".join(out) + s[start:]


def _env(state: ExecutionState, name: str) -> str:
    return state.env(name) or ""


def _expandenv(state: ExecutionState, s: str) -> str:
    return expand(s, lambda name: state.env(name) or "")


def functions() -> dict[str, GoFunc]:
    return {
        "sprig_env": GoFunc(_env, (STRING,), needs_state=True),
        "sprig_expandenv": GoFunc(_expandenv, (STRING,), needs_state=True),
    }
