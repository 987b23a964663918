"""What a render reads from the outside world, passed in by the caller.

The engine itself does no I/O: ``secret`` and ``secrets`` reach Vault, ``env`` the process
environment and ``file`` the filesystem only through the callables of a
:class:`RenderContext`. The runner gives each render callables backed by its one Vault client
and shared secret cache; ``template render`` gives callables backed by JSON fixtures; tests
give plain functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from s4e_secret_agent.errors import TemplateError


class _NotYet:
    """The type of :data:`NOT_YET`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_YET"


# What ``secret`` and ``secrets`` callables return for data that is not available yet.
# consul-template's functions return nil then and note the dependency; the runner's
# dependency discovery renders with this, learns what a template needs, and fetches it all
# at once before the real render.
NOT_YET: Any = _NotYet()


def _no_secret(path: str, args: tuple[str, ...]) -> Any:
    del args
    raise TemplateError(f"no Vault access is configured to read {path!r}")


def _no_list(path: str) -> Any:
    raise TemplateError(f"no Vault access is configured to list {path!r}")


def _no_env(name: str) -> str | None:
    del name
    return None


def _no_file(path: str) -> str:
    raise TemplateError(f"no file access is configured to read {path!r}")


@dataclass(frozen=True)
class RenderContext:
    """Where a render gets its data from (all injected; the engine itself does no I/O)."""

    secret: Callable[[str, tuple[str, ...]], Any] = _no_secret
    secrets: Callable[[str], Any] = _no_list
    # name -> value; None (or "") when unset. Only envOrDefault tells None from "".
    env: Callable[[str], str | None] = _no_env
    file: Callable[[str], str] = _no_file
    error_on_missing_key: bool = False
    now: Callable[[], float] = time.time


DEFAULT_CONTEXT = RenderContext()


@dataclass(frozen=True)
class SecretRef:
    """A literal ``secret``/``secrets`` call found by static analysis."""

    kind: str  # "secret" or "secrets"
    path: str
    args: tuple[str, ...] = ()
    line: int = 0
    col: int = 0
