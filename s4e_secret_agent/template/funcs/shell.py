"""Our own addition to the function library: ``shellQuote``.

S4E's env files are sourced by a shell; a password with a quote, ``$`` or a backtick must
reach the application unchanged. consul-template has no function that quotes for a shell, so
this is the one function a Vault Agent template does not know (see docs/templates.md).
"""

from __future__ import annotations

from typing import Any

from s4e_secret_agent.template.gofmt import format_value
from s4e_secret_agent.template.signature import ANY, FuncError, GoFunc
from s4e_secret_agent.template.values import MISSING


def shell_quote(value: Any) -> str:
    """One POSIX shell word that expands to exactly ``value`` (printed the Go way).

    Single quotes make every byte literal; an embedded single quote becomes ``'\\''``. The
    empty string is ``''``. Safe inside ``export K=...`` and in ``sh``/``bash``/``dash``.
    """
    text = value if isinstance(value, str) else format_value(None if value is MISSING
                                                             else value)
    if "\x00" in text:
        raise FuncError("shellQuote: the value contains a NUL byte, which no shell variable "
                        "can hold")
    if text == "":
        return "''"
    if all(c.isascii() and (c.isalnum() or c in "@%+=:,./-_") for c in text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def functions() -> dict[str, GoFunc]:
    return {"shellQuote": GoFunc(shell_quote, (ANY,))}
