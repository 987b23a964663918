"""The API proxy's lease cache (``cache {}``): an app that asks twice for the same dynamic
secret gets the same lease, and the tokens it creates through the proxy are kept alive.

The rules are Vault Agent's (``agentproxyshared/cache/lease_cache.go``):

* What is cached: a 2xx JSON answer that creates a renewable token (``auth.client_token``;
  a child token only when its parent is a token the cache manages, an orphan always), and a
  renewable leased secret read with a managed token (the agent's own token, or one created
  through the proxy). Anything else passes through.
* The key of a request is a hash of its method, path and query, body, namespace and token: an
  identical request gets the stored answer (``X-Cache: HIT`` and ``Age``) while it is valid.
* Each entry is renewed in the background (at two thirds of its ttl, as Vault's lifetime
  watcher) and evicted when a renewal fails, stops extending it, or it expires. Evicting a
  token evicts the leases read with it and the tokens created under it.
* Revocations through the proxy (``auth/token/revoke*``, ``sys/leases/revoke*``) that Vault
  answers 204 evict what they revoked; ``/agent/v1/cache-clear`` evicts by token, accessor,
  lease, request path or everything.

Everything lives in this process's memory: nothing is written to disk (Vault Agent's
persistent cache is not provided), so a restarted agent starts empty.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from s4e_secret_agent.errors import VaultUnavailableError
from s4e_secret_agent.vault.forward import Forwarder

_REVOKE_TOKEN = "auth/token/revoke"
_REVOKE_SELF = "auth/token/revoke-self"
_REVOKE_ACCESSOR = "auth/token/revoke-accessor"
_REVOKE_ORPHAN = "auth/token/revoke-orphan"
_REVOKE_LEASE = ("sys/leases/revoke", "sys/revoke")
_REVOKE_PREFIX = ("sys/leases/revoke-prefix/", "sys/leases/revoke-force/",
                  "sys/revoke-prefix/", "sys/revoke-force/")
CLEAR_TYPES = ("request_path", "token", "token_accessor", "lease", "all")


class CacheClearError(Exception):
    """A cache-clear request that cannot be done; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class CachedAnswer:
    """A stored answer of Vault: what an identical request gets back."""

    status: int
    reason: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    stored_at: float


@dataclass(eq=False)
class _Entry:
    key: str
    namespace: str
    request_path: str
    answer: CachedAnswer | None  # None: the agent's own token (nothing to answer)
    token: str = ""  # a token entry: the token it holds
    accessor: str = ""
    parent: str = ""  # the managed token that created it (not for orphans)
    lease: str = ""  # a lease entry: its lease id, and the token that read it
    lease_token: str = ""
    stop: threading.Event = field(default_factory=threading.Event)


def request_key(method: str, target: str, body: bytes, token: str, namespace: str) -> str:
    """What makes two requests the same request: hashed, so the key holds no token."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), target.encode(), namespace.encode(),
                 token.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _api_path(path: str) -> str:
    return path.removeprefix("/v1/").strip("/")


def _json_field(body: bytes, name: str) -> str:
    try:
        value = json.loads(body or b"{}").get(name, "")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


class LeaseCache:
    """The entries, their renewers and the rules above. Thread-safe: the listener threads
    look up and store, each entry's renewer thread renews and evicts."""

    def __init__(self, forwarder: Forwarder, *,
                 on_lookup: Callable[[bool], None] | None = None,
                 on_size: Callable[[int], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._forwarder = forwarder
        self._on_lookup = on_lookup
        self._on_size = on_size
        self._clock = clock
        self._lock = threading.RLock()
        self._entries: dict[str, _Entry] = {}
        self._closed = False

    # -- the listener's side -----------------------------------------------------------------
    def register_agent_token(self, token: str) -> None:
        """The auto-auth token is managed: leases read with it are cached (it is renewed by
        the agent itself, not here)."""
        with self._lock:
            if self._closed or self._by_token(token) is not None:
                return
            key = "agent-token:" + hashlib.sha256(token.encode()).hexdigest()
            self._entries[key] = _Entry(key, "", "", None, token=token)

    def lookup(self, key: str) -> CachedAnswer | None:
        with self._lock:
            entry = self._entries.get(key)
            answer = entry.answer if entry is not None else None
        if self._on_lookup is not None:
            self._on_lookup(answer is not None)
        return answer

    def offer(self, key: str, *, path: str, token: str, namespace: str, request_body: bytes,
              answer: CachedAnswer, content_type: str) -> None:
        """Vault's answer to a request that missed: evict what a revocation revoked, and
        store the answer when it qualifies."""
        if answer.status == 204:
            self._after_revocation(_api_path(path), token, request_body)
            return
        if answer.status >= 300 or content_type.split(";")[0].strip() != "application/json":
            return
        try:
            secret = json.loads(answer.body)
        except ValueError:
            return
        if not isinstance(secret, dict):
            return
        auth = secret.get("auth") if isinstance(secret.get("auth"), dict) else None
        lease_id = secret.get("lease_id") or ""
        renewable = bool(secret.get("renewable")) or bool(auth and auth.get("renewable"))
        if not renewable:
            return
        entry = _Entry(key, namespace or "root/", path, answer)
        with self._lock:
            if self._closed or key in self._entries:
                return
            if lease_id:
                if self._by_token(token) is None:
                    return  # read with a token the cache does not manage
                entry.lease, entry.lease_token = str(lease_id), token
                ttl = secret.get("lease_duration")
            elif auth is not None and auth.get("client_token"):
                if not auth.get("orphan"):
                    if self._by_token(token) is None:
                        return
                    entry.parent = token
                entry.token = str(auth["client_token"])
                entry.accessor = str(auth.get("accessor") or "")
                ttl = auth.get("lease_duration")
            else:
                return
            self._entries[key] = entry
            size = len(self._answered())
        self._report_size(size)
        threading.Thread(target=self._renew, args=(entry, _seconds(ttl)),
                         name="lease-cache-renewer", daemon=True).start()

    def clear(self, body: bytes, method: str) -> None:
        """``/agent/v1/cache-clear``. Raises :class:`CacheClearError`."""
        if method not in ("POST", "PUT"):
            return
        try:
            request = json.loads(body)
        except ValueError as exc:
            raise CacheClearError(400, f"failed to parse JSON input: {exc}") from None
        if not isinstance(request, dict):
            raise CacheClearError(400, "failed to parse JSON input: expected an object")
        kind = request.get("type") or ""
        value = request.get("value") or ""
        namespace = request.get("namespace") or "root/"
        if not kind:
            raise CacheClearError(400, "failed to parse clear input: no type provided")
        if kind not in CLEAR_TYPES:
            raise CacheClearError(400, "failed to clear cache: invalid type provided")
        if kind != "all" and not value:
            what = {"request_path": "request path", "token_accessor": "token accessor"}
            raise CacheClearError(500, f"failed to clear cache: {what.get(kind, kind)} "
                                  "not provided")
        with self._lock:
            if kind == "all":
                doomed = list(self._entries.values())
            elif kind == "request_path":
                doomed = [e for e in self._entries.values() if e.answer is not None
                          and e.namespace == namespace and e.request_path.startswith(value)]
            elif kind == "token":
                doomed = [e for e in [self._by_token(value)] if e is not None]
            elif kind == "token_accessor":
                doomed = [e for e in self._entries.values()
                          if e.accessor and e.accessor == value]
            else:
                doomed = [e for e in self._entries.values() if e.lease == value]
        for entry in doomed:
            self._evict(entry)

    @property
    def size(self) -> int:
        """Stored answers (the agent's own token is not one)."""
        with self._lock:
            return len(self._answered())

    def close(self) -> None:
        with self._lock:
            self._closed = True
            doomed = list(self._entries.values())
        for entry in doomed:
            entry.stop.set()
        with self._lock:
            self._entries.clear()

    # -- internals ---------------------------------------------------------------------------
    def _answered(self) -> list[_Entry]:
        return [e for e in self._entries.values() if e.answer is not None]

    def _by_token(self, token: str) -> _Entry | None:
        if not token:
            return None
        return next((e for e in self._entries.values() if e.token == token), None)

    def _report_size(self, size: int) -> None:
        if self._on_size is not None:
            self._on_size(size)

    def _evict(self, entry: _Entry) -> None:
        """Evict the entry and, for a token, everything derived from it."""
        with self._lock:
            if self._entries.get(entry.key) is not entry:
                return
            del self._entries[entry.key]
            entry.stop.set()
            derived = [e for e in self._entries.values() if entry.token and (
                e.lease_token == entry.token or e.parent == entry.token)]
            size = len(self._answered())
        for child in derived:
            self._evict(child)
        self._report_size(size)

    def _after_revocation(self, path: str, token: str, body: bytes) -> None:
        with self._lock:
            entries = list(self._entries.values())
        doomed: list[_Entry] = []
        if path == _REVOKE_SELF:
            doomed = [e for e in entries if e.token and e.token == token]
        elif path == _REVOKE_TOKEN:
            named = _json_field(body, "token")
            doomed = [e for e in entries if named and e.token == named]
        elif path == _REVOKE_ACCESSOR:
            named = _json_field(body, "accessor")
            doomed = [e for e in entries if named and e.accessor == named]
        elif path == _REVOKE_ORPHAN:
            named = _json_field(body, "token")
            # The token's leases go; the tokens it created stay (they are orphans now).
            doomed = [e for e in entries if named and named in (e.token, e.lease_token)]
            with self._lock:
                for child in entries:
                    if named and child.parent == named:
                        child.parent = ""
        elif path in _REVOKE_LEASE:
            named = _json_field(body, "lease_id")
            doomed = [e for e in entries if named and e.lease == named]
        else:
            prefix = next((path.removeprefix(p) for p in _REVOKE_PREFIX
                           if path.startswith(p)), None)
            if prefix is not None:
                doomed = [e for e in entries if e.lease and e.lease.startswith(prefix)]
        for entry in doomed:
            self._evict(entry)

    def _renew(self, entry: _Entry, ttl: float) -> None:
        """Renew at two thirds of the ttl; a failed renewal evicts at once, one that no
        longer extends the entry (max ttl) lets it be served until it ends."""
        expires = self._clock() + ttl
        while True:
            if entry.stop.wait(max((expires - self._clock()) * 2 / 3, 0.5)):
                return
            renewed = self._renew_once(entry)
            if renewed is None:
                break
            now = self._clock()
            if now + renewed <= expires:
                if entry.stop.wait(max(now + renewed - self._clock(), 0)):
                    return
                break
            expires = now + renewed
        self._evict(entry)

    def _renew_once(self, entry: _Entry) -> float | None:
        if entry.lease:
            target, token = "/v1/sys/leases/renew", entry.lease_token
            body = json.dumps({"lease_id": entry.lease}).encode()
        else:
            target, token, body = "/v1/auth/token/renew-self", entry.token, b"{}"
        headers = [("X-Vault-Token", token), ("Content-Type", "application/json")]
        if entry.namespace not in ("", "root/"):
            headers.append(("X-Vault-Namespace", entry.namespace))
        try:
            answer = self._forwarder.forward("PUT", target, headers, body)
        except VaultUnavailableError:
            return None
        raw = b"".join(answer.body())
        if answer.status != 200:
            return None
        try:
            renewed: Any = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(renewed, dict):
            return None
        if entry.lease:
            return _seconds(renewed.get("lease_duration"))
        auth = renewed.get("auth")
        return _seconds(auth.get("lease_duration")) if isinstance(auth, dict) else None


def _seconds(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(
        value, bool) else 0.0


__all__ = ["CLEAR_TYPES", "CacheClearError", "CachedAnswer", "LeaseCache", "request_key"]
