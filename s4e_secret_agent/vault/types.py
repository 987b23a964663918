"""The values the Vault client hands to the rest of the agent, and the calls the runtime makes.

Kept apart from the client so that the runtime and the tests can name these types without
loading hvac and requests: the runner imports them for type checking only, and the fake Vault
of the unit tests implements :class:`VaultAPI` without any HTTP at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from s4e_secret_agent.config.model import AuthMethodConfig


@dataclass(frozen=True)
class RequestEvent:
    """One HTTP request to Vault, reported to ``on_request`` (metrics, audit log).

    ``path`` is the Vault path requested (``secret/data/app``, ``sys/leases/renew``); it never
    holds a token, lease id or body. ``status`` is ``None`` when no HTTP answer arrived.
    ``result`` is ``ok`` or one of ``unavailable``, ``tls_error``, ``auth_failed``,
    ``invalid_token``, ``denied``, ``not_found``, ``bad_request``, ``error``.
    """

    operation: str
    path: str
    status: int | None
    duration_s: float
    result: str


@dataclass(frozen=True)
class TokenInfo:
    """What the agent knows about its token. ``ttl`` 0 means it never expires (root token).

    ``issued_at_monotonic``/``issued_at_wall`` are when this TTL was observed (the response
    arrived), on ``time.monotonic()`` and ``time.time()``.
    """

    accessor: str
    ttl: int
    renewable: bool
    policies: tuple[str, ...]
    issued_at_monotonic: float
    issued_at_wall: float
    entity_id: str | None = None
    orphan: bool | None = None
    token_type: str = "service"
    warnings: tuple[str, ...] = ()

    @property
    def expires_at_monotonic(self) -> float | None:
        return self.issued_at_monotonic + self.ttl if self.ttl > 0 else None


@dataclass(frozen=True)
class SecretResponse:
    """One Vault response for a template's ``secret``/``secrets`` call.

    ``envelope`` is the decoded body (``{"data": ..., "lease_id": ..., ...}``), or ``None``
    when Vault answered without a body (a write answered 204, a LIST answered 404).
    ``kv_version`` is 1 or 2 for KV mounts, ``None`` for other engines or when unknown.
    """

    requested_path: str
    read_path: str
    envelope: Any = field(repr=False)
    lease_id: str = field(default="", repr=False)
    lease_duration: int = 0
    renewable: bool = False
    kv_version: int | None = None
    fetched_at: float = 0.0
    fetched_monotonic: float = 0.0
    warnings: tuple[str, ...] = ()

    @property
    def data(self) -> Any:
        """The envelope's ``data`` (for KV v2 this holds ``data`` and ``metadata``)."""
        return self.envelope.get("data") if isinstance(self.envelope, Mapping) else None

    @property
    def list_keys(self) -> list[str]:
        """For a LIST: the keys, sorted as consul-template does (empty when nothing there)."""
        data = self.data
        keys = data.get("keys") if isinstance(data, Mapping) else None
        return sorted(str(k) for k in keys) if isinstance(keys, list) else []


@dataclass(frozen=True)
class LeaseRenewal:
    """The result of a lease renewal: the new TTL counted from now."""

    lease_id: str = field(repr=False)
    ttl: int
    renewable: bool
    warnings: tuple[str, ...] = ()


def as_int(value: Any) -> int:
    """An integer from whatever the decoder produced: int, Decimal, numeric text, or an exact
    JSON number object that keeps its literal in ``.text`` (the template engine's Number)."""
    if value is None or isinstance(value, bool):
        return 0
    literal = getattr(value, "text", None)
    if isinstance(literal, str):
        value = literal
    try:
        return int(value)
    except OverflowError:  # json.loads turns 1e400 into float("inf")
        return 0
    except (TypeError, ValueError):
        try:
            return int(float(str(value)))
        except (ValueError, OverflowError):  # "1e400" or "inf": no usable duration
            return 0


def as_bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def str_tuple(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


@dataclass(frozen=True)
class LoginTLS:
    """TLS settings for one login request that differ from the client's (the cert method's
    own ``ca_cert`` / ``client_cert`` / ``client_key``); ``None`` fields keep the client's."""

    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None


class VaultAPI(Protocol):
    """The Vault calls the token keeper and the runner make (what :class:`VaultClient` does
    over HTTP; a typed fake in the tests does it in memory)."""

    @property
    def address(self) -> str: ...

    @property
    def token(self) -> str | None: ...

    def use_token(self, token: str) -> None: ...

    def set_deadline(self, seconds: float | None) -> None: ...

    def send_login(self, method: AuthMethodConfig, path: str, body: Mapping[str, Any], *,
                   tls: LoginTLS | None = None) -> TokenInfo: ...

    def adopt_token(self, token: str, source: str) -> TokenInfo: ...

    def wrapping_lookup(self, wrapping_token: str) -> Mapping[str, Any]: ...

    def unwrap(self, wrapping_token: str) -> Any: ...

    def wrap_token(self, token: str, ttl: float) -> Mapping[str, Any]: ...

    def renew_self(self, increment: int | None = None) -> TokenInfo: ...

    def revoke_self(self) -> None: ...

    def read(self, path: str, args: Mapping[str, str] | None = None) -> SecretResponse: ...

    def list(self, path: str) -> SecretResponse: ...

    def renew_lease(self, lease_id: str, increment: int | None = None) -> LeaseRenewal: ...

    def revoke_lease(self, lease_id: str) -> None: ...

    def close(self) -> None: ...


__all__ = ["LeaseRenewal", "RequestEvent", "SecretResponse", "TokenInfo", "VaultAPI", "as_bool",
           "as_int", "str_tuple"]
