"""What every auth method shares: the login plan it builds, the Vault calls it may make, and
the credential-file helpers.

An auth method only *builds* a login: a :class:`LoginRequest` (``POST <mount>/login`` with a
body, optionally over a connection with other TLS settings, as the ``cert`` method needs) or an
:class:`ExistingToken` to use as is. The Vault client sends it. Credential values live only in
fields that are never shown (``repr=False``); messages name the file or parameter to fix.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from s4e_secret_agent.config.model import AuthMethodConfig
from s4e_secret_agent.errors import AuthError
from s4e_secret_agent.vault.types import LoginTLS as LoginTLS  # the login plan names it
from s4e_secret_agent.vault.types import TokenInfo

log = logging.getLogger("s4e_secret_agent.vault.auth")


@dataclass(frozen=True)
class LoginRequest:
    """``POST <path>`` with ``body``; the response's ``auth`` block holds the new token."""

    path: str
    body: Mapping[str, Any] = field(repr=False)  # holds credentials: never log it
    tls: LoginTLS | None = None


@dataclass(frozen=True)
class ExistingToken:
    """A token to use as is (token_file, token); ``source`` says where it came from."""

    token: str = field(repr=False)
    source: str


LoginPlan = LoginRequest | ExistingToken


class WrappingClient(Protocol):
    """The Vault calls an auth method may make while building its login request."""

    @property
    def address(self) -> str:
        """Vault's address (the gce method puts it in the identity token's audience)."""
        ...

    def wrapping_lookup(self, wrapping_token: str) -> Mapping[str, Any]:
        """``sys/wrapping/lookup``: the wrapping token's ``data`` (creation_path, ...)."""
        ...

    def unwrap(self, wrapping_token: str) -> Any:
        """``sys/wrapping/unwrap``: the wrapped response's envelope (consumes the token)."""
        ...


class LoginClient(WrappingClient, Protocol):
    """The Vault calls a login needs (implemented by the Vault client)."""

    def send_login(self, method: AuthMethodConfig, path: str,
                   body: Mapping[str, Any], *, tls: LoginTLS | None = None) -> TokenInfo:
        """``POST <path>`` with ``body``; the client uses the new token from then on."""
        ...

    def adopt_token(self, token: str, source: str) -> TokenInfo:
        """Look ``token`` up and use it from then on."""
        ...


class AuthMethod(Protocol):
    """One configured auth method. ``build`` is called for every login attempt."""

    config: AuthMethodConfig

    def build(self, vault: WrappingClient) -> LoginPlan: ...


def mount_path(config: AuthMethodConfig) -> str:
    """The auth mount without surrounding slashes (``auth/<type>`` when not configured)."""
    path = (config.mount_path or "").strip().strip("/")
    return path or f"auth/{config.type}"


def login_path(config: AuthMethodConfig) -> str:
    """``<mount>/login``, where every method Vault Agent provides logs in."""
    return f"{mount_path(config)}/login"


def read_file(path: str) -> str | None:
    """The file's text stripped of surrounding whitespace; ``None`` if it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return None


def read_credential(path: str, what: str, cached: str, hint: str) -> str:
    """Read a credential file now, falling back to the value cached from an earlier read.

    A missing or empty file is not an error while a cached value exists (Vault Agent does the
    same: the secret-id file is usually removed after the first read).
    """
    try:
        value = read_file(path)
    except OSError as exc:
        if cached:
            log.warning("cannot read %s file; reusing the value read before", what,
                        extra={"event": "credential_file_unreadable", "file": path,
                               "reason": exc.strerror or type(exc).__name__})
            return cached
        raise AuthError(f"cannot read the {what} file {path}: "
                        f"{exc.strerror or type(exc).__name__}", hint=hint) from None
    if value:
        return value
    if cached:
        if value is not None:
            log.warning("%s file is empty; reusing the value read before", what,
                        extra={"event": "credential_file_empty", "file": path})
        return cached
    state = "is empty" if value is not None else "does not exist"
    raise AuthError(f"the {what} file {path} {state}", hint=hint)


def remove_file(path: str, what: str) -> None:
    """Delete a credential file once read; a failure is logged, never fatal."""
    try:
        os.remove(path)
    except OSError as exc:
        log.error("could not remove the %s file after reading it", what,
                  extra={"event": "credential_file_remove_failed", "file": path,
                         "reason": exc.strerror or type(exc).__name__})


def text_param(config: AuthMethodConfig, name: str) -> str:
    """A text parameter as declared (``""`` when unset)."""
    value = config.params.get(name)
    return str(value) if value not in (None, "") else ""
