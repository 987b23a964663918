"""Auth methods: each one only *builds* a login request; :mod:`.client` sends it.

Credential files are read at every login (a Kubernetes service-account token is rotated by the
kubelet; an AppRole secret-id may be delivered late). Behaviour follows Vault Agent's
``auto_auth`` methods:

- ``kubernetes``: ``role``, ``token_path`` (default the pod's service-account token); the file
  is re-read and trimmed at every login; ``POST <mount>/login {"role", "jwt"}``.
- ``approle``: ``role_id_file_path`` (required), ``secret_id_file_path`` (optional: without it
  only the role-id is sent, for roles with ``bind_secret_id=false``),
  ``remove_secret_id_file_after_reading`` (default true), ``secret_id_response_wrapping_path``
  (the file holds a response-wrapping token whose ``creation_path`` must equal this path; it is
  looked up, checked, then unwrapped). Values are cached: a missing or empty file later reuses
  the last value read, which is what lets a removed secret-id file still allow re-logins.
- ``jwt``: ``role``, ``path`` (file holding the JWT), ``remove_jwt_after_reading`` (default
  true, as Vault Agent); the last JWT read is cached the same way.
- ``token_file``: ``token_file_path``; the token is used directly (no login), the caller learns
  its TTL with ``lookup-self``.
- ``token``: a token given directly (``VAULT_TOKEN``), used as is.

Nothing here talks HTTP: the only Vault calls a method may need (looking up and unwrapping a
wrapped secret-id) go through the small :class:`WrappingClient` protocol that
:class:`s4e_secret_agent.vault.VaultClient` implements. Credentials never appear in logs,
reprs or exception messages; messages name the file or parameter to fix.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from s4e_secret_agent.config.model import AuthMethodConfig
from s4e_secret_agent.errors import AuthError, ConfigError, VaultError, is_retryable
from s4e_secret_agent.vault.types import TokenInfo

log = logging.getLogger("s4e_secret_agent.vault.auth")


@dataclass(frozen=True)
class LoginRequest:
    """``POST <path>`` with ``body``; the response's ``auth`` block holds the new token."""

    path: str
    body: Mapping[str, Any] = field(repr=False)  # holds credentials: never log it


@dataclass(frozen=True)
class ExistingToken:
    """A token to use as is (token_file, token); ``source`` says where it came from."""

    token: str = field(repr=False)
    source: str


LoginPlan = LoginRequest | ExistingToken


class WrappingClient(Protocol):
    """The Vault calls an auth method may make while building its login request."""

    def wrapping_lookup(self, wrapping_token: str) -> Mapping[str, Any]:
        """``sys/wrapping/lookup``: the wrapping token's ``data`` (creation_path, ...)."""
        ...

    def unwrap(self, wrapping_token: str) -> Any:
        """``sys/wrapping/unwrap``: the wrapped response's envelope (consumes the token)."""
        ...


class LoginClient(WrappingClient, Protocol):
    """The Vault calls a login needs (implemented by the Vault client)."""

    def send_login(self, method: AuthMethodConfig, path: str,
                   body: Mapping[str, Any]) -> TokenInfo:
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


def _read_file(path: str) -> str | None:
    """The file's text stripped of surrounding whitespace; ``None`` if it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return None


def _read_credential(path: str, what: str, cached: str, hint: str) -> str:
    """Read a credential file now, falling back to the value cached from an earlier read.

    A missing or empty file is not an error while a cached value exists (Vault Agent does the
    same: the secret-id file is usually removed after the first read).
    """
    try:
        value = _read_file(path)
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


def _remove(path: str, what: str) -> None:
    try:
        os.remove(path)
    except OSError as exc:
        log.error("could not remove the %s file after reading it", what,
                  extra={"event": "credential_file_remove_failed", "file": path,
                         "reason": exc.strerror or type(exc).__name__})


class KubernetesAuth:
    def __init__(self, config: AuthMethodConfig) -> None:
        self.config = config
        self.role = str(config.params["role"])
        self.token_path = str(config.params["token_path"])

    def build(self, vault: WrappingClient) -> LoginPlan:
        jwt = _read_credential(
            self.token_path, "service account token", "",
            hint="mount the pod's service account token (automountServiceAccountToken: true "
                 "or a projected volume) or set auto_auth.method.config.token_path")
        return LoginRequest(f"{mount_path(self.config)}/login", {"role": self.role, "jwt": jwt})


class AppRoleAuth:
    def __init__(self, config: AuthMethodConfig) -> None:
        self.config = config
        params = config.params
        self.role_id_file = str(params["role_id_file_path"])
        self.secret_id_file: str | None = params.get("secret_id_file_path") or None
        self.remove_secret_id_file = params.get("remove_secret_id_file_after_reading", True)
        self.wrapping_path: str | None = params.get("secret_id_response_wrapping_path") or None
        self._role_id = ""
        self._secret_id = ""

    def build(self, vault: WrappingClient) -> LoginPlan:
        self._role_id = _read_credential(
            self.role_id_file, "AppRole role_id", self._role_id,
            hint="write the role's role_id (auth/approle/role/<role>/role-id) to "
                 "auto_auth.method.config.role_id_file_path")
        path = f"{mount_path(self.config)}/login"
        if not self.secret_id_file:
            return LoginRequest(path, {"role_id": self._role_id})
        fresh = self._read_fresh_secret_id(self.secret_id_file)
        if fresh:
            if self.wrapping_path:
                fresh = self._unwrap_secret_id(vault, fresh)
            self._secret_id = fresh
            if self.remove_secret_id_file:
                _remove(self.secret_id_file, "AppRole secret_id")
        if not self._secret_id:
            raise AuthError(
                f"no AppRole secret_id: the file {self.secret_id_file} is missing or empty",
                hint="write a secret_id (auth/approle/role/<role>/secret-id) to "
                     "auto_auth.method.config.secret_id_file_path")
        return LoginRequest(path, {"role_id": self._role_id, "secret_id": self._secret_id})

    def _read_fresh_secret_id(self, path: str) -> str:
        """The secret-id file's content if it holds one now, else ``""`` (use the cache)."""
        try:
            value = _read_file(path)
        except OSError as exc:
            if not self._secret_id:
                raise AuthError(f"cannot read the AppRole secret_id file {path}: "
                                f"{exc.strerror or type(exc).__name__}",
                                hint="check the file's permissions") from None
            return ""
        if value == "" and self._secret_id:
            log.warning("AppRole secret_id file is empty; reusing the value read before",
                        extra={"event": "credential_file_empty", "file": path})
        return value or ""

    def _unwrap_secret_id(self, vault: WrappingClient, wrapping_token: str) -> str:
        hint = ("deliver a fresh response-wrapped secret_id (auth/approle/role/<role>/secret-id "
                f"with -wrap-ttl) to {self.secret_id_file}")
        try:
            info = vault.wrapping_lookup(wrapping_token)
        except VaultError as exc:
            if is_retryable(exc):
                raise
            raise AuthError(f"cannot look up the wrapping token in {self.secret_id_file}: "
                            f"{exc.message}", hint=hint, status=exc.status) from None
        creation_path = str(info.get("creation_path") or "")
        if creation_path != self.wrapping_path:
            log.error("SECURITY: the wrapping token's creation path does not match "
                      "secret_id_response_wrapping_path; refusing to unwrap it",
                      extra={"event": "wrapping_creation_path_mismatch",
                             "expected": self.wrapping_path, "found": creation_path})
            raise AuthError(
                f"SECURITY: the wrapping token in {self.secret_id_file} was created at "
                f"{creation_path!r}, not at secret_id_response_wrapping_path "
                f"{self.wrapping_path!r}; it was not unwrapped",
                hint="make sure the secret_id is wrapped by the AppRole secret-id endpoint; "
                     "a mismatch can mean someone substituted the token")
        try:
            envelope = vault.unwrap(wrapping_token)
        except VaultError as exc:
            if is_retryable(exc):
                raise
            raise AuthError(f"cannot unwrap the secret_id in {self.secret_id_file}: "
                            f"{exc.message}", hint=hint, status=exc.status) from None
        data = envelope.get("data") if isinstance(envelope, Mapping) else None
        secret_id = data.get("secret_id") if isinstance(data, Mapping) else None
        if not isinstance(secret_id, str) or not secret_id:
            raise AuthError(f"the wrapped response in {self.secret_id_file} holds no secret_id",
                            hint=hint)
        return secret_id


class JwtAuth:
    def __init__(self, config: AuthMethodConfig) -> None:
        self.config = config
        self.role = str(config.params["role"])
        self.path = str(config.params["path"])
        self.remove_after_reading = config.params.get("remove_jwt_after_reading", True)
        self.remove_follows_symlinks = config.params.get("remove_jwt_follows_symlinks", False)
        self._jwt = ""

    def build(self, vault: WrappingClient) -> LoginPlan:
        jwt = _read_credential(self.path, "JWT", self._jwt,
                               hint="write the JWT to auto_auth.method.config.path")
        if jwt != self._jwt and self.remove_after_reading:
            # Vault Agent removes the link itself unless told to remove what it points to.
            target = os.path.realpath(self.path) if self.remove_follows_symlinks else self.path
            _remove(target, "JWT")
        self._jwt = jwt
        return LoginRequest(f"{mount_path(self.config)}/login", {"role": self.role, "jwt": jwt})


class TokenFileAuth:
    def __init__(self, config: AuthMethodConfig) -> None:
        self.config = config
        self.token_file = str(config.params["token_file_path"])
        self._token = ""

    def build(self, vault: WrappingClient) -> LoginPlan:
        self._token = _read_credential(self.token_file, "token", self._token,
                                       hint="write a Vault token to "
                                            "auto_auth.method.config.token_file_path")
        return ExistingToken(self._token, source=f"token_file {self.token_file}")


class GivenTokenAuth:
    def __init__(self, config: AuthMethodConfig) -> None:
        self.config = config
        raw = config.params.get("token")
        token = getattr(raw, "value", raw)  # SecretText or plain str
        self._token = str(token or "").strip()

    def build(self, vault: WrappingClient) -> LoginPlan:
        return ExistingToken(self._token, source="VAULT_TOKEN")


_METHODS: Mapping[str, type[KubernetesAuth | AppRoleAuth | JwtAuth | TokenFileAuth
                             | GivenTokenAuth]] = {
    "kubernetes": KubernetesAuth,
    "approle": AppRoleAuth,
    "jwt": JwtAuth,
    "token_file": TokenFileAuth,
    "token": GivenTokenAuth,
}


def auth_method(config: AuthMethodConfig) -> AuthMethod:
    """The auth method for ``config`` (raises :class:`ConfigError` for unknown types)."""
    factory = _METHODS.get(config.type)
    if factory is None:
        raise ConfigError(f"unknown auth method type {config.type!r}; use one of "
                          f"{', '.join(sorted(_METHODS))}", path="auto_auth.method.type")
    return factory(config)


class Authenticator:
    """The configured auth method and what it has read so far: logs in through a client.

    One instance lives as long as the configuration: it caches credentials whose files may
    be removed after the first read (an AppRole secret-id, a JWT), so that re-logins work.
    """

    def __init__(self, config: AuthMethodConfig) -> None:
        self.config = config
        self._method: AuthMethod | None = None  # made at the first login

    def login(self, vault: LoginClient) -> TokenInfo:
        """Read the credentials now, log in (or adopt a given token), return the token's info."""
        if self._method is None:
            self._method = auth_method(self.config)
        plan = self._method.build(vault)
        if isinstance(plan, ExistingToken):
            return vault.adopt_token(plan.token, plan.source)
        return vault.send_login(self.config, plan.path, plan.body)


def login_hint(config: AuthMethodConfig) -> str:
    """What to check when Vault refuses a login with this method (no credentials in it)."""
    mount = mount_path(config)
    role = config.params.get("role")
    if config.type == "kubernetes":
        return (f"check that role {role!r} exists at {mount}/role/{role} and that its "
                "bound_service_account_names and bound_service_account_namespaces include "
                "this pod's service account and namespace (and audience, if set, matches the "
                "token)")
    if config.type == "approle":
        role_id_file = config.params.get("role_id_file_path")
        secret_id_file = config.params.get("secret_id_file_path") or "(none)"
        return (f"check the role_id in {role_id_file} and the secret_id in {secret_id_file}: "
                "the secret_id may be expired or used up (secret_id_ttl, secret_id_num_uses) "
                "or belong to another role")
    if config.type == "jwt":
        return (f"check role {role!r} at {mount}/role/{role}: bound_audiences, bound_subject, "
                "bound_claims and user_claim must match the JWT in "
                f"{config.params.get('path')}, and jwt_validation_pubkeys / jwks_url / "
                "oidc_discovery_url must verify its signature")
    return "the token is invalid, expired or revoked: provide a valid token"
