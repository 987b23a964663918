"""The configuration model: frozen dataclasses, validated once at load time.

Field names follow Vault Agent's config stanzas so that documentation and migration map 1:1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class VaultConfig:
    """How to reach Vault (Vault Agent's ``vault`` stanza; env ``VAULT_*``)."""

    address: str = "https://127.0.0.1:8200"
    namespace: str | None = None
    ca_cert: str | None = None
    ca_path: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    tls_skip_verify: bool = False
    tls_server_name: str | None = None
    client_timeout: float = 60.0
    max_retries: int = 12  # Vault Agent's default retry count for template requests


@dataclass(frozen=True)
class AuthMethodConfig:
    """``auto_auth.method``: ``type`` is kubernetes | approle | jwt | token_file | token.

    ``params`` holds the method's ``config`` block (e.g. ``role``, ``token_path``,
    ``role_id_file_path``), already validated for that type by the config layer.
    """

    type: str
    mount_path: str
    namespace: str | None = None
    params: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    min_backoff: float = 1.0
    max_backoff: float = 300.0


@dataclass(frozen=True)
class SinkConfig:
    """``auto_auth.sink`` of type file: where the token is written for apps that need it."""

    path: str
    mode: int = 0o640
