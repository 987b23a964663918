"""The ``cert`` auth method, as Vault Agent's: the TLS client certificate is the credential.

``POST <mount>/login`` with ``{"name": <name>}`` (an empty body without ``name``: Vault then
tries every certificate role that matches). The certificate is the one the connection
presents: the method's own ``client_cert``/``client_key`` (and ``ca_cert`` to verify Vault)
when set, for the login request only, or else the agent's ``vault.client_cert`` /
``VAULT_CLIENT_CERT``. The files are read at every login, so a renewed certificate is used by
the next login; with ``reload = true`` a changed certificate file also starts a new login, as
Vault Agent's ``reload`` does.
"""

from __future__ import annotations

import os

from s4e_secret_agent.config.model import AuthMethodConfig
from s4e_secret_agent.errors import AuthError
from s4e_secret_agent.vault.auth.base import (
    LoginPlan,
    LoginRequest,
    LoginTLS,
    WrappingClient,
    login_path,
    text_param,
)


class CertAuth:
    """``auto_auth.method "cert"``: ``name``, ``ca_cert``, ``client_cert``, ``client_key``,
    ``reload``."""

    def __init__(self, config: AuthMethodConfig) -> None:
        self.config = config
        self.name = text_param(config, "name")
        self.ca_cert = text_param(config, "ca_cert")
        self.client_cert = text_param(config, "client_cert")
        self.client_key = text_param(config, "client_key")

    @property
    def tls(self) -> LoginTLS | None:
        """The login's own TLS settings, when the method has any (as Vault Agent decides:
        a CA file, or both a certificate and its key)."""
        has_pair = bool(self.client_cert and self.client_key)
        if not (self.ca_cert or has_pair):
            return None
        return LoginTLS(ca_cert=self.ca_cert or None,
                        client_cert=self.client_cert if has_pair else None,
                        client_key=self.client_key if has_pair else None)

    def build(self, vault: WrappingClient) -> LoginPlan:
        tls = self.tls
        if tls is not None:
            for key, path in (("client_cert", tls.client_cert), ("client_key", tls.client_key),
                              ("ca_cert", tls.ca_cert)):
                if path and not os.access(path, os.R_OK):
                    state = "cannot be read" if os.path.exists(path) else "does not exist"
                    raise AuthError(f"the cert auth {key} file {path} {state}",
                                    hint=f"mount the file or fix auto_auth.method.config.{key}")
        body = {"name": self.name} if self.name else {}
        return LoginRequest(login_path(self.config), body, tls=tls)
