"""A typed, in-memory Vault for the runner's and the token keeper's unit tests.

:class:`FakeVault` implements :class:`s4e_secret_agent.vault.types.VaultAPI` (mypy checks it),
answering like the real client does: KV secrets without a lease, dynamic credentials with
renewable leases capped by a max TTL, tokens that renew until their max TTL. Failures are
scripted per operation (``fail("read", VaultUnavailableError(...))``), time comes from a
:class:`ManualClock` the test advances. The integration tests run the same runner against a
real OpenBao; this fake exists so that every decision can be driven in milliseconds, offline.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from s4e_secret_agent.config.model import AuthMethodConfig
from s4e_secret_agent.errors import AuthError, InvalidTokenError, SecretNotFoundError, VaultError
from s4e_secret_agent.template import decode_json
from s4e_secret_agent.vault.types import (
    LeaseRenewal,
    LoginTLS,
    SecretResponse,
    TokenInfo,
    VaultAPI,
)


@dataclass
class ManualClock:
    """Monotonic time that moves only when the test says so."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class _Lease:
    path: str
    issued: float
    expires: float
    max_expires: float
    renewable: bool


@dataclass
class FakeVault:
    """Vault in memory. Tokens last ``token_ttl`` and renew up to ``token_max_ttl``; a read of
    ``database/creds/<role>`` issues a new user with a ``lease_ttl`` lease (max
    ``lease_max_ttl``); other paths are KV v2 secrets from :attr:`kv`."""

    clock: ManualClock
    token_ttl: int = 3600
    token_max_ttl: int = 86400
    token_renewable: bool = True
    lease_ttl: int = 60
    lease_max_ttl: int = 600
    lease_renewable: bool = True
    read_delay: float = 0.0  # seconds a read takes (real time: for the parallel fetch tests)
    # pki/issue/<role>: certificates valid for pki_ttl seconds from wall() (Unix time).
    pki_ttl: int = 3600
    wall: Any = None
    _ca: Any = None
    kv: dict[str, dict[str, Any]] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    revoked: list[str] = field(default_factory=list)
    _token: str | None = None
    _token_issued: float = 0.0
    _token_expires: float = 0.0
    _logins: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _users: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _leases: dict[str, _Lease] = field(default_factory=dict)
    _reading: int = 0
    most_reads_at_once: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- scripting ---------------------------------------------------------------------------

    def fail(self, operation: str, *errors: Exception) -> None:
        """The next calls of ``operation`` raise ``errors``, one each, in order."""
        self.failures.setdefault(operation, []).extend(errors)

    def count(self, operation: str) -> int:
        return sum(1 for op, _ in self.calls if op == operation)

    def paths(self, operation: str) -> list[str]:
        return [path for op, path in self.calls if op == operation]

    def forget_lease(self, lease_id: str) -> None:
        """Vault lost the lease (revoked by an operator, restored from backup, ...)."""
        self._leases.pop(lease_id, None)

    def _call(self, operation: str, path: str = "") -> None:
        self.calls.append((operation, path))
        queue = self.failures.get(operation)
        if queue:
            raise queue.pop(0)

    def _token_info(self, ttl: int) -> TokenInfo:
        return TokenInfo(accessor=f"accessor-{self._token}", ttl=ttl,
                         renewable=self.token_renewable, policies=("default", "s4e-read"),
                         issued_at_monotonic=self.clock(), issued_at_wall=0.0)

    def _check_token(self) -> None:
        if self._token is None or self.clock() >= self._token_expires:
            raise InvalidTokenError("the Vault token is invalid, expired or revoked (HTTP 403)",
                                    status=403)

    # -- VaultAPI ----------------------------------------------------------------------------

    @property
    def token(self) -> str | None:
        return self._token

    def use_token(self, token: str) -> None:
        self._token = token

    @property
    def address(self) -> str:
        return "https://vault.fake:8200"

    def set_deadline(self, seconds: float | None) -> None:
        """In memory nothing is slow: no request to bound."""

    def send_login(self, method: AuthMethodConfig, path: str, body: Mapping[str, Any], *,
                   tls: LoginTLS | None = None) -> TokenInfo:
        self._call("login", path)
        self._token = f"token-{next(self._logins)}"
        self._token_issued = self.clock()
        self._token_expires = self.clock() + self.token_ttl
        return self._token_info(self.token_ttl)

    def adopt_token(self, token: str, source: str) -> TokenInfo:
        self._call("adopt_token", source)
        self._token = token
        self._token_issued = self.clock()
        self._token_expires = self.clock() + self.token_ttl
        return self._token_info(self.token_ttl)

    def wrapping_lookup(self, wrapping_token: str) -> Mapping[str, Any]:
        raise AuthError("the fake Vault wraps nothing")

    def unwrap(self, wrapping_token: str) -> Any:
        raise AuthError("the fake Vault wraps nothing")

    def wrap_token(self, token: str, ttl: float) -> Mapping[str, Any]:
        raise AuthError("the fake Vault wraps nothing")

    def renew_self(self, increment: int | None = None) -> TokenInfo:
        self._call("renew_self")
        self._check_token()
        if not self.token_renewable:
            raise VaultError("token not renewable", status=400)
        end = min(self.clock() + (increment or self.token_ttl),
                  self._token_issued + self.token_max_ttl)
        self._token_expires = end
        return self._token_info(int(end - self.clock()))

    def revoke_self(self) -> None:
        self._call("revoke_self")
        self.revoked.append(str(self._token))
        self._token = None

    def read(self, path: str, args: Mapping[str, str] | None = None) -> SecretResponse:
        with self._lock:
            self._call("read", path)
            self._reading += 1
            self.most_reads_at_once = max(self.most_reads_at_once, self._reading)
        try:
            if self.read_delay:
                time.sleep(self.read_delay)
            return self._read(path)
        finally:
            with self._lock:
                self._reading -= 1

    def _read(self, path: str) -> SecretResponse:
        self._check_token()
        if path.startswith("pki/issue/"):
            return self._response(path, {"data": self._issue()})
        if path.startswith("database/creds/"):
            user = next(self._users)
            lease_id = f"{path}/lease-{user}"
            now = self.clock()
            self._leases[lease_id] = _Lease(path, now, now + self.lease_ttl,
                                            now + self.lease_max_ttl, self.lease_renewable)
            body: dict[str, Any] = {
                "lease_id": lease_id, "lease_duration": self.lease_ttl,
                "renewable": self.lease_renewable,
                "data": {"username": f"user-{user}", "password": f"pw-{user}"}}
        elif path in self.kv:
            body = {"lease_id": "", "lease_duration": 0, "renewable": False,
                    "data": {"data": self.kv[path], "metadata": {"version": 1}}}
        else:
            raise SecretNotFoundError(f"no secret at {path} (HTTP 404)", path=path, status=404)
        return self._response(path, body)

    def _issue(self) -> dict[str, Any]:
        """A leaf certificate (EC key) signed by a CA made once, as the PKI engine answers."""
        import datetime

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = datetime.datetime.fromtimestamp(self.wall(), datetime.UTC)
        pem = serialization.Encoding.PEM
        if self._ca is None:
            ca_key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake CA")])
            ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                  .public_key(ca_key.public_key()).serial_number(1)
                  .not_valid_before(now - datetime.timedelta(days=1))
                  .not_valid_after(now + datetime.timedelta(days=3650))
                  .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                  .sign(ca_key, hashes.SHA256()))
            self._ca = (ca_key, ca)
        ca_key, ca = self._ca
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app")]))
                .issuer_name(ca.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now)
                .not_valid_after(now + datetime.timedelta(seconds=self.pki_ttl))
                .sign(ca_key, hashes.SHA256()))
        ca_pem = ca.public_bytes(pem).decode().strip()
        return {"certificate": cert.public_bytes(pem).decode().strip(),
                "issuing_ca": ca_pem, "ca_chain": [ca_pem],
                "private_key": key.private_bytes(
                    pem, serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption()).decode().strip(),
                "private_key_type": "ec", "serial_number": format(cert.serial_number, "x"),
                "expiration": int(self.wall()) + self.pki_ttl}

    def list(self, path: str) -> SecretResponse:
        self._call("list", path)
        self._check_token()
        keys = self.lists.get(path)
        if keys is None:
            return SecretResponse(requested_path=path, read_path=path, envelope=None)
        return self._response(path, {"data": {"keys": keys}})

    def renew_lease(self, lease_id: str, increment: int | None = None) -> LeaseRenewal:
        self._call("renew_lease", lease_id)
        self._check_token()
        lease = self._leases.get(lease_id)
        if lease is None or self.clock() >= lease.expires:
            raise VaultError("lease not found", status=400, path="sys/leases/renew")
        lease.expires = min(self.clock() + (increment or self.lease_ttl), lease.max_expires)
        return LeaseRenewal(lease_id=lease_id, ttl=int(lease.expires - self.clock()),
                            renewable=lease.renewable)

    def revoke_lease(self, lease_id: str) -> None:
        self._call("revoke_lease", lease_id)
        self.revoked.append(lease_id)
        self._leases.pop(lease_id, None)

    def close(self) -> None:
        pass

    def _response(self, path: str, body: dict[str, Any]) -> SecretResponse:
        envelope = decode_json(json.dumps(body))
        return SecretResponse(requested_path=path, read_path=path, envelope=envelope,
                              lease_id=str(body.get("lease_id") or ""),
                              lease_duration=int(body.get("lease_duration") or 0),
                              renewable=bool(body.get("renewable")))


def _implements_vault_api(vault: FakeVault) -> VaultAPI:
    return vault  # mypy: FakeVault must stay a VaultAPI


__all__ = ["FakeVault", "ManualClock"]
