"""One exception hierarchy for the whole agent.

Every error the agent reports is an :class:`AgentError`. Each subclass carries the process exit
code the CLI uses for it (the CLI is the only place that turns exceptions into exit codes) and a
message that names what to fix. Messages must never contain a secret value: callers pass paths,
names and keys, never data read from Vault.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented process exit codes (see docs/troubleshooting.md)."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    CONFIG = 3
    AUTH = 4
    SECRET = 5
    RENDER = 6
    DEADLINE = 7
    DOCTOR_FAILED = 8


class AgentError(Exception):
    """Base class: ``str(err)`` is the user-facing message, ``err.hint`` the fix (may be empty)."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} (fix: {self.hint})"
        return self.message


class UsageError(AgentError):
    """Bad command-line usage."""

    exit_code = ExitCode.USAGE


class ConfigError(AgentError):
    """Invalid configuration. ``path`` is where in the config (e.g. ``template[2].destination``).

    ``source``, ``line`` and ``column`` say where in which file."""

    exit_code = ExitCode.CONFIG

    def __init__(
        self,
        message: str,
        *,
        path: str = "",
        source: str = "",
        line: int | None = None,
        column: int | None = None,
        hint: str = "",
    ) -> None:
        where = ""
        if source:
            where = source if line is None else f"{source}:{line}"
            if line is not None and column is not None:
                where += f":{column}"
        prefix = ": ".join(p for p in (where, path) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message, hint=hint)
        self.path = path
        self.source = source
        self.line = line
        self.column = column


class TemplateSyntaxError(ConfigError):
    """A template in the configuration does not parse (the message has its line:column)."""


class TemplateError(AgentError):
    """A template failed to parse or execute; the message says which template, line and column."""

    exit_code = ExitCode.RENDER


class WriteError(AgentError):
    """A rendered file (or the token sink) could not be written; the last good file is kept."""

    exit_code = ExitCode.RENDER


class VaultError(AgentError):
    """Any failure talking to Vault."""

    exit_code = ExitCode.SECRET

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        status: int | None = None,
        path: str = "",
        retry_after: float | None = None,
        reason: str = "",
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.path = path
        self.retry_after = retry_after
        # Vault's own words ("service account name not authorized"), when it gave any.
        self.reason = reason


class VaultUnavailableError(VaultError):
    """Transient: connection refused/reset, timeout, 5xx, 429, sealed or standby. Retried."""

    retryable = True


class TLSError(VaultError):
    """The TLS handshake failed: the CA or server name needs configuring. Not retried."""


class AuthError(VaultError):
    """Login refused (wrong role, unbound service account, bad credentials)."""

    exit_code = ExitCode.AUTH


class PermissionDeniedError(VaultError):
    """403 on a secret path: the token's policy does not grant it."""


class InvalidTokenError(PermissionDeniedError):
    """403 that says the token itself is invalid/expired/revoked: log in again."""


class SecretNotFoundError(VaultError):
    """404: the path does not exist (or the KV v2 version was deleted)."""


class DeadlineExceededError(AgentError):
    """Init mode gave up waiting for Vault before its deadline."""

    exit_code = ExitCode.DEADLINE


def is_retryable(exc: BaseException) -> bool:
    """Whether waiting and trying again can fix ``exc``."""
    return isinstance(exc, VaultUnavailableError)
