"""Auth methods whose credentials are files or a given token: ``kubernetes``, ``approle``,
``jwt``, ``token_file`` and ``token``, as Vault Agent's ``auto_auth`` methods of those names.

Credential files are read at every login (a Kubernetes service-account token is rotated by the
kubelet; an AppRole secret-id may be delivered late):

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
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from s4e_secret_agent.config.model import AuthMethodConfig
from s4e_secret_agent.errors import AuthError, VaultError, is_retryable
from s4e_secret_agent.vault.auth.base import (
    ExistingToken,
    LoginPlan,
    LoginRequest,
    WrappingClient,
    log,
    login_path,
    read_credential,
    read_file,
    remove_file,
)


class KubernetesAuth:
    def __init__(self, config: AuthMethodConfig) -> None:
        self.config = config
        self.role = str(config.params["role"])
        self.token_path = str(config.params["token_path"])

    def build(self, vault: WrappingClient) -> LoginPlan:
        jwt = read_credential(
            self.token_path, "service account token", "",
            hint="mount the pod's service account token (automountServiceAccountToken: true "
                 "or a projected volume) or set auto_auth.method.config.token_path")
        return LoginRequest(login_path(self.config), {"role": self.role, "jwt": jwt})


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
        self._role_id = read_credential(
            self.role_id_file, "AppRole role_id", self._role_id,
            hint="write the role's role_id (auth/approle/role/<role>/role-id) to "
                 "auto_auth.method.config.role_id_file_path")
        path = login_path(self.config)
        if not self.secret_id_file:
            return LoginRequest(path, {"role_id": self._role_id})
        fresh = self._read_fresh_secret_id(self.secret_id_file)
        if fresh:
            if self.wrapping_path:
                fresh = self._unwrap_secret_id(vault, fresh)
            self._secret_id = fresh
            if self.remove_secret_id_file:
                remove_file(self.secret_id_file, "AppRole secret_id")
        if not self._secret_id:
            raise AuthError(
                f"no AppRole secret_id: the file {self.secret_id_file} is missing or empty",
                hint="write a secret_id (auth/approle/role/<role>/secret-id) to "
                     "auto_auth.method.config.secret_id_file_path")
        return LoginRequest(path, {"role_id": self._role_id, "secret_id": self._secret_id})

    def _read_fresh_secret_id(self, path: str) -> str:
        """The secret-id file's content if it holds one now, else ``""`` (use the cache)."""
        try:
            value = read_file(path)
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
        jwt = read_credential(self.path, "JWT", self._jwt,
                               hint="write the JWT to auto_auth.method.config.path")
        if jwt != self._jwt and self.remove_after_reading:
            # Vault Agent removes the link itself unless told to remove what it points to.
            target = os.path.realpath(self.path) if self.remove_follows_symlinks else self.path
            remove_file(target, "JWT")
        self._jwt = jwt
        return LoginRequest(login_path(self.config), {"role": self.role, "jwt": jwt})


class TokenFileAuth:
    def __init__(self, config: AuthMethodConfig) -> None:
        self.config = config
        self.token_file = str(config.params["token_file_path"])
        self._token = ""

    def build(self, vault: WrappingClient) -> LoginPlan:
        self._token = read_credential(self.token_file, "token", self._token,
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
