"""What every template function shares: its Go signature, its error type, what it may ask of
the executor.

Go's ``text/template`` checks each argument against the function's parameter types before the
call, and its error messages name those types. So every function is registered as a
:class:`GoFunc` with Go's parameter kinds. This module is the only thing the function groups
and the executor both import, which keeps the engine free of import cycles: groups never
import the executor, the executor loads groups through :mod:`s4e_secret_agent.template.funcs`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from s4e_secret_agent.template.context import RenderContext

# Parameter kinds of Go function signatures (what Go's validateType checks against).
ANY = "interface {}"
VALUE = "reflect.Value"
STRING = "string"
INT = "int"
BOOL = "bool"
LIST = "[]interface {}"
STRINGS = "[]string"
MAP = "map[string]interface {}"


class FuncError(Exception):
    """Raised by a template function: the executor reports ``error calling NAME: <message>``."""


@dataclass(frozen=True, slots=True)
class GoFunc:
    """A template function with its Go signature (parameter kinds, variadic tail).

    ``needs_state``: the function receives the running :class:`ExecutionState` first (data
    sources such as ``secret`` and ``env`` reach the :class:`RenderContext` through it).
    """

    fn: Callable[..., Any]
    params: tuple[str, ...]
    variadic: str | None = None
    needs_state: bool = False


class ExecutionState(Protocol):
    """What a ``needs_state`` function may use of the execution that calls it."""

    ctx: RenderContext
    # Vault responses by (path, write args): one read per render, like consul-template.
    cache: dict[tuple[str, tuple[str, ...]], Any]
    scratch: Any

    def execute_nested(self, name: str, dot: Any) -> str:
        """``executeTemplate``: render the named template into a string."""
        ...

    def env(self, name: str) -> str | None:
        """An environment variable (``None`` when unset), recorded for redaction."""
        ...

    def read_file(self, path: str) -> str:
        """A file's content, recorded for redaction and held to the size limit."""
        ...

    def step(self) -> None:
        """Count one step of work (a long-running function calls it as it goes); raises
        past the render's CPU-time budget."""
        ...


__all__ = ["ANY", "BOOL", "INT", "LIST", "MAP", "STRING", "STRINGS", "VALUE", "ExecutionState",
           "FuncError", "GoFunc"]
