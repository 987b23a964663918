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


class _NoSecret:
    """The type of :data:`NO_SECRET`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_SECRET"


# What ``secret``, ``secrets`` and ``pki_cert`` callables return when there is no secret to
# show: consul-template's functions return nil for a secret they have not read yet (the
# runner's dependency discovery renders with this, learns what a template needs, and fetches
# it all at once) and for a write that Vault answered without a body.
NO_SECRET: Any = _NoSecret()


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


def _no_pki(path: str, args: tuple[str, ...]) -> Any:
    del args
    raise TemplateError(f"no Vault access is configured to issue a certificate at {path!r}")


def _no_write(request: FileWrite) -> None:
    raise TemplateError(f"no file access is configured to write {request.path!r}")


@dataclass(frozen=True)
class FileWrite:
    """What a template's ``writeToFile`` asks for: ``content`` into ``path`` (appended or
    replacing the file), with the owner, group (names or ids, "" for the agent's) and mode."""

    path: str
    content: str
    user: str
    group: str
    mode: int
    append: bool


@dataclass(frozen=True)
class RenderLimits:
    """What one render may use. A template runs on the agent's loop thread: a render that
    loops for minutes would hold back token and lease renewal, and one that builds gigabytes
    would take the pod's memory. ``cpu_seconds`` is the CPU time of the rendering thread
    (waiting for Vault does not count); ``max_bytes`` bounds the output, every string or
    byte value the template builds on the way, and every ``file`` read."""

    cpu_seconds: float = 10.0
    max_bytes: int = 64 * 1024 * 1024
    # Where the user changes each limit (named in the error).
    cpu_key: str = "agent.render_cpu_limit"
    bytes_key: str = "agent.render_max_bytes"


DEFAULT_LIMITS = RenderLimits()


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
    # pkiCert(path, args): Vault's issue response ``data`` (certificate, private_key,
    # issuing_ca, ca_chain), or what the destination file already holds while it is good.
    pki_cert: Callable[[str, tuple[str, ...]], Any] = _no_pki
    # writeToFile: the one file write a template can ask for (done by the agent's writer).
    write_file: Callable[[FileWrite], None] = _no_write
    limits: RenderLimits = DEFAULT_LIMITS


DEFAULT_CONTEXT = RenderContext()


@dataclass(frozen=True)
class SecretRef:
    """A literal ``secret``/``secrets`` call found by static analysis."""

    kind: str  # "secret", "secrets" or "pkiCert"
    path: str
    args: tuple[str, ...] = ()
    line: int = 0
    col: int = 0
