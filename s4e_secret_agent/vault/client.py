"""The only module that talks to Vault (the only importer of hvac).

:class:`VaultClient` is the agent's one Vault connection: one object per agent, used from one
thread. It sends requests through hvac's ``RawAdapter`` (so the raw response text is decoded by
an injected ``decode``, which lets the template engine keep JSON numbers exact) over a
``requests`` session with automatic retries switched off: retrying is the job of
:mod:`s4e_secret_agent.runtime.retry`, the single retry layer.

Every hvac/requests failure and every Vault error status is mapped here, and only here, to the
:mod:`s4e_secret_agent.errors` hierarchy, with a message that names what to fix. Messages and
log lines never contain secret values, tokens, lease ids or request bodies.

Secret reads follow consul-template (``dependency/vault_read.go``, ``vault_write.go``,
``vault_common.go``): a ``secret`` call without arguments is a GET; with ``key=value``
arguments it is a write (PUT) whose body is the arguments. Before the first read of a path the
KV version of its mount is looked up with ``GET sys/internal/ui/mounts/<path>``; on a KV v2
mount ``mount/x`` is read as ``mount/data/x`` (paths that already start with ``data/`` or
``metadata/`` after the mount are left alone) and write arguments are wrapped as
``{"data": {...}}``. When that lookup is refused or missing, the path is read as given (KV v1
behaviour), as consul-template does.
"""

from __future__ import annotations

import builtins
import email.utils
import hashlib
import json
import logging
import re
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote

from s4e_secret_agent.config.model import AuthMethodConfig, VaultConfig
from s4e_secret_agent.errors import (
    AuthError,
    InvalidTokenError,
    PermissionDeniedError,
    SecretNotFoundError,
    TLSError,
    VaultError,
    VaultUnavailableError,
)
from s4e_secret_agent.vault import auth as auth_methods

if TYPE_CHECKING:
    import requests

log = logging.getLogger("s4e_secret_agent.vault.client")

Decoder = Callable[[str], Any]

# Statuses that waiting can fix: Vault overloaded, sealed, standby without an active node,
# a proxy in between failing, or (Enterprise) a node that has not caught up yet.
_RETRYABLE_STATUSES = frozenset({412, 429, 500, 501, 502, 503, 504})


# --------------------------------------------------------------------------------------------
# Public value types


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
class LeaseInfo:
    """The result of a lease renewal: the new TTL counted from now."""

    lease_id: str = field(repr=False)
    ttl: int
    renewable: bool
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _MountInfo:
    path: str  # mount path with trailing slash, e.g. "secret/"
    type: str
    kv_version: int | None


@dataclass(frozen=True)
class _Context:
    """What a request was for, to pick the right error and hint."""

    kind: str  # "secret" | "login" | "token" | "lease" | "wrapping" | "sys"
    requested_path: str = ""
    mount: _MountInfo | None = None
    capability: str = "read"
    method: AuthMethodConfig | None = None


_LEASE_CONTEXT = _Context("lease", capability="update")

# --------------------------------------------------------------------------------------------
# Helpers


def token_hash(token: str) -> str:
    """A short, non-reversible name for a token for logs (the accessor is preferred)."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def _as_int(value: Any) -> int:
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


def _as_bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _str_tuple(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


_MULTIERROR_ITEM = re.compile(r"^\t\* (.*)$", re.MULTILINE)


def vault_error_text(body: str) -> str:
    """Vault's ``errors`` as one line; go-multierror lists are flattened ("a; b").

    Vault never echoes secret values in errors, so this text is safe to show.
    """
    try:
        decoded = json.loads(body) if body.strip() else None
    except ValueError:
        return body.strip()[:200]
    errors = decoded.get("errors") if isinstance(decoded, dict) else None
    if not isinstance(errors, list):
        return ""
    parts: list[str] = []
    for item in errors:
        text = str(item)
        items = _MULTIERROR_ITEM.findall(text)
        if items:
            parts.extend(i.strip() for i in items)
        else:
            parts.append(text.strip())
    return "; ".join(p for p in parts if p)


def _split_query(path: str) -> tuple[str, dict[str, str]]:
    """``secret/x?version=2`` -> (``secret/x``, {"version": "2"}) as consul-template parses it."""
    raw, _, query = path.strip().partition("?")
    return raw.strip("/"), dict(parse_qsl(query, keep_blank_values=True))


def kv2_read_path(raw_path: str, mount_path: str) -> str:
    """consul-template's ``shimKVv2Path``: insert ``data/`` after the mount of a KV v2 path.

    ``secret`` or ``secret/`` -> ``secret/data``; ``secret/app`` -> ``secret/data/app``; paths
    whose part after the mount already starts with ``data/`` or ``metadata/`` are unchanged.
    """
    mount = mount_path if mount_path.endswith("/") else mount_path + "/"
    if raw_path in (mount, mount.rstrip("/")):
        return mount + "data"
    rest = raw_path[len(mount):] if raw_path.startswith(mount) else raw_path
    if rest.startswith(("data/", "metadata/")):
        return raw_path
    return _join(mount, "data", rest)


def _join(*parts: str) -> str:
    segments = [s for p in parts for s in p.split("/") if s]
    return "/".join(segments)


def _short_reason(exc: BaseException) -> str:
    """A short cause for a connection failure (no URLs with query strings, no headers)."""
    text = str(exc)
    for pattern in (r"\[Errno -?\d+\] ([^'\")]+)", r"(certificate verify failed: [^'\"(]+)",
                    r"(hostname '[^']+' doesn't match [^\")]+)",
                    r"(EOF occurred in violation of protocol)",
                    r"(read timed out|timed out|Connection aborted|Connection reset by peer)",
                    r"(\[SSL: [A-Z0-9_]+\] [^'\"(]+)"):
        found = re.search(pattern, text, re.IGNORECASE)
        if found:
            return found.group(1).strip().rstrip(".")
    return type(exc).__name__


# --------------------------------------------------------------------------------------------
# Transport


def _make_session(config: VaultConfig) -> requests.Session:
    """A ``requests`` session with TLS settings applied and no automatic retries."""
    import requests
    import requests.adapters
    import urllib3

    server_name = config.tls_server_name
    quiet_insecure = config.tls_skip_verify

    class VaultHTTPAdapter(requests.adapters.HTTPAdapter):
        """No urllib3 retries; optional SNI/hostname override; quiet skip-verify warnings."""

        def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                             **pool_kwargs: Any) -> None:
            if server_name:
                pool_kwargs["server_hostname"] = server_name
                pool_kwargs["assert_hostname"] = server_name
            super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)

        def send(self, request: requests.PreparedRequest, *args: Any,
                 **kwargs: Any) -> requests.Response:
            if not quiet_insecure:
                return super().send(request, *args, **kwargs)
            # The operator chose tls_skip_verify and was warned once at start-up; urllib3
            # would otherwise warn on every single request.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                return super().send(request, *args, **kwargs)

    session = requests.Session()
    adapter = VaultHTTPAdapter(max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if config.tls_skip_verify:
        session.verify = False
    elif config.ca_cert:
        session.verify = config.ca_cert
    elif config.ca_path:
        session.verify = config.ca_path
    if config.client_cert:
        session.cert = ((config.client_cert, config.client_key) if config.client_key
                        else config.client_cert)
    return session


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    text: str


# --------------------------------------------------------------------------------------------
# The client


_NO_TOKEN = ""


class VaultClient:
    """The agent's connection to Vault. Not thread-safe: one owner thread makes every call.

    ``decode`` turns secret response bodies into Python values (default :func:`json.loads`);
    ``on_request`` is called after every HTTP request with a :class:`RequestEvent`.
    """

    def __init__(
        self,
        config: VaultConfig,
        *,
        decode: Decoder = json.loads,
        on_request: Callable[[RequestEvent], None] | None = None,
        token: str | None = None,
    ) -> None:
        import hvac.adapters

        self.config = config
        self._decode = decode
        self._on_request = on_request
        self._token: str | None = token or None
        self.token_info: TokenInfo | None = None
        self._mounts: dict[str, _MountInfo] = {}
        self._unknown_mounts: set[str] = set()
        self._auth: auth_methods.AuthMethod | None = None
        if config.tls_skip_verify:
            log.warning("TLS verification of Vault's certificate is DISABLED "
                        "(tls_skip_verify): anyone on the network path can read the secrets; "
                        "use ca_cert instead", extra={"event": "tls_skip_verify"})
        self._session = _make_session(config)
        verify: bool | str = self._session.verify if self._session.verify is not None else True
        self._adapter = hvac.adapters.RawAdapter(
            base_uri=config.address.rstrip("/"),
            token=None,  # sent per request, so login calls can go without one
            verify=verify,
            cert=self._session.cert,
            timeout=config.client_timeout,
            session=self._session,
            namespace=None,  # sent per request (login may use the method's namespace)
            ignore_exceptions=True,  # every status is mapped here
        )

    # -- token ------------------------------------------------------------------------------

    @property
    def token(self) -> str | None:
        """The current client token (for the token sink); ``None`` before login."""
        return self._token

    def use_token(self, token: str) -> None:
        """Use ``token`` for the following requests (no request is made)."""
        self._set_token(token)

    def _set_token(self, token: str | None) -> None:
        self._token = token or None
        self.token_info = None
        # A new token may see mounts differently (and earlier lookups may have failed only
        # because the old token had expired), so KV detection starts again, as Vault Agent's
        # template server does after every re-authentication.
        self._mounts.clear()
        self._unknown_mounts.clear()

    def close(self) -> None:
        self._session.close()

    def login(self, method: AuthMethodConfig) -> TokenInfo:
        """Log in with ``method`` (credential files are read now) and use the new token."""
        if self._auth is None or self._auth.config != method:
            self._auth = auth_methods.auth_method(method)
        plan = self._auth.build(self)
        if isinstance(plan, auth_methods.ExistingToken):
            previous = self._token
            self._set_token(plan.token)
            try:
                info = self.lookup_self()
            except VaultError as exc:
                self._set_token(previous)
                if not isinstance(exc, InvalidTokenError):
                    raise
                raise AuthError(f"the token from {plan.source} is not valid: {exc.message}",
                                hint="provide a valid, unexpired token", status=exc.status,
                                path="auth/token/lookup-self") from None
            log.info("using the token from %s", plan.source,
                     extra={"event": "login", "method": method.type, "accessor": info.accessor,
                            "ttl": info.ttl, "renewable": info.renewable})
            return info
        namespace = self.config.namespace or method.namespace
        body = self._call("login", "POST", plan.path, _Context("login", method=method),
                          json_body=dict(plan.body), token=_NO_TOKEN, namespace=namespace)
        auth_block = body.get("auth") if isinstance(body, Mapping) else None
        if not isinstance(auth_block, Mapping) or not auth_block.get("client_token"):
            raise AuthError(f"login at {plan.path} returned no token",
                            hint="check that the mount path is an auth method",
                            path=plan.path)
        self._set_token(str(auth_block["client_token"]))
        info = self._token_info_from_auth(auth_block, body)
        self.token_info = info
        log.info("logged in with %s", method.type,
                 extra={"event": "login", "method": method.type, "accessor": info.accessor,
                        "ttl": info.ttl, "renewable": info.renewable,
                        "policies": list(info.policies)})
        return info

    def lookup_self(self) -> TokenInfo:
        body = self._call("lookup_self", "GET", "auth/token/lookup-self", _Context("token"))
        data = body.get("data") if isinstance(body, Mapping) else None
        if not isinstance(data, Mapping):
            raise VaultError("auth/token/lookup-self returned no data",
                             path="auth/token/lookup-self")
        now_m, now_w = time.monotonic(), time.time()
        policies = _str_tuple(data.get("policies")) + tuple(
            p for p in _str_tuple(data.get("identity_policies"))
            if p not in _str_tuple(data.get("policies")))
        info = TokenInfo(
            accessor=str(data.get("accessor") or ""),
            ttl=_as_int(data.get("ttl")),
            renewable=_as_bool(data.get("renewable")),
            policies=policies,
            issued_at_monotonic=now_m,
            issued_at_wall=now_w,
            entity_id=str(data.get("entity_id")) if data.get("entity_id") else None,
            orphan=_as_bool(data.get("orphan")) if "orphan" in data else None,
            token_type=str(data.get("type") or "service"),
            warnings=_str_tuple(body.get("warnings")),
        )
        self.token_info = info
        return info

    def renew_self(self, increment: int | None = None) -> TokenInfo:
        """Renew the token; the returned TTL may be shorter than asked (max TTL reached)."""
        payload: dict[str, Any] = {} if increment is None else {"increment": int(increment)}
        body = self._call("renew_self", "POST", "auth/token/renew-self", _Context("token"),
                          json_body=payload)
        auth_block = body.get("auth") if isinstance(body, Mapping) else None
        if not isinstance(auth_block, Mapping):
            raise VaultError("auth/token/renew-self returned no auth block",
                             path="auth/token/renew-self")
        info = self._token_info_from_auth(auth_block, body)
        self.token_info = info
        return info

    def revoke_self(self) -> None:
        """Revoke the token (and its leases); the client has no token afterwards."""
        self._call("revoke_self", "POST", "auth/token/revoke-self", _Context("token"))
        self._set_token(None)

    def _token_info_from_auth(self, auth_block: Mapping[str, Any], body: Any) -> TokenInfo:
        return TokenInfo(
            accessor=str(auth_block.get("accessor") or ""),
            ttl=_as_int(auth_block.get("lease_duration")),
            renewable=_as_bool(auth_block.get("renewable")),
            policies=_str_tuple(auth_block.get("policies")),
            issued_at_monotonic=time.monotonic(),
            issued_at_wall=time.time(),
            entity_id=str(auth_block.get("entity_id")) if auth_block.get("entity_id") else None,
            orphan=_as_bool(auth_block.get("orphan")) if "orphan" in auth_block else None,
            token_type=str(auth_block.get("token_type") or "service"),
            warnings=_str_tuple(body.get("warnings") if isinstance(body, Mapping) else None),
        )

    # -- wrapping (AppRole wrapped secret-id) -----------------------------------------------

    def wrapping_lookup(self, wrapping_token: str) -> Mapping[str, Any]:
        """``sys/wrapping/lookup``: creation_path, creation_time, creation_ttl (not consumed)."""
        body = self._call("wrapping_lookup", "POST", "sys/wrapping/lookup",
                          _Context("wrapping"), json_body={"token": wrapping_token},
                          token=_NO_TOKEN)
        data = body.get("data") if isinstance(body, Mapping) else None
        return data if isinstance(data, Mapping) else {}

    def unwrap(self, wrapping_token: str) -> Any:
        """Unwrap a response-wrapping token (single use) and return the wrapped envelope."""
        return self._call("unwrap", "POST", "sys/wrapping/unwrap", _Context("wrapping"),
                          token=wrapping_token, decoder=self._decode)

    # -- secrets ----------------------------------------------------------------------------

    def read(self, path: str, args: Mapping[str, str] | None = None) -> SecretResponse:
        """What a template's ``secret "path" [k=v ...]`` returns: GET, or PUT when ``args``."""
        raw, query = _split_query(path)
        if not raw:
            raise VaultError(f"empty Vault path {path!r}", hint="give a path like secret/app")
        mount = self._mount_for(raw)
        is_v2 = mount is not None and mount.kv_version == 2
        target = kv2_read_path(raw, mount.path) if is_v2 and mount is not None else raw
        if args:
            body_args: dict[str, Any] = dict(args)
            payload = {"data": body_args} if is_v2 else body_args
            ctx = _Context("secret", requested_path=path, mount=mount, capability="update")
            envelope = self._call("write", "PUT", target, ctx, json_body=payload,
                                  decoder=self._decode)
        else:
            ctx = _Context("secret", requested_path=path, mount=mount)
            envelope = self._call("read", "GET", target, ctx, params=query or None,
                                  decoder=self._decode)
        return self._secret_response("write" if args else "read", path, target, envelope,
                                     mount.kv_version if mount else None)

    def list(self, path: str) -> SecretResponse:
        """What a template's ``secrets "path"`` returns (LIST; nothing there -> no keys)."""
        raw, _ = _split_query(path)
        ctx = _Context("secret", requested_path=path, capability="list")
        try:
            envelope = self._call("list", "LIST", raw, ctx, decoder=self._decode)
        except SecretNotFoundError:
            envelope = None
        return self._secret_response("list", path, raw, envelope, None)

    def _secret_response(self, operation: str, requested: str, read_path: str, envelope: Any,
                         kv_version: int | None) -> SecretResponse:
        env = envelope if isinstance(envelope, Mapping) else {}
        self._audit(operation, read_path, env, kv_version)
        return SecretResponse(
            requested_path=requested,
            read_path=read_path,
            envelope=envelope,
            lease_id=str(env.get("lease_id") or ""),
            lease_duration=_as_int(env.get("lease_duration")),
            renewable=_as_bool(env.get("renewable")),
            kv_version=kv_version,
            fetched_at=time.time(),
            fetched_monotonic=time.monotonic(),
            warnings=_str_tuple(env.get("warnings")),
        )

    def _mount_for(self, raw_path: str) -> _MountInfo | None:
        """The mount holding ``raw_path`` (cached per mount), or ``None`` if unknown."""
        best: _MountInfo | None = None
        for mount_path, info in self._mounts.items():
            if (raw_path + "/").startswith(mount_path) and (
                    best is None or len(mount_path) > len(best.path)):
                best = info
        if best is not None:
            return best
        if raw_path in self._unknown_mounts or self._token is None:
            # consul-template: anonymous requests cannot see ui/mounts; read as given.
            return None
        ctx = _Context("sys", requested_path=raw_path)
        try:
            body = self._call("kv_detect", "GET", f"sys/internal/ui/mounts/{raw_path}", ctx)
        except (PermissionDeniedError, SecretNotFoundError, AuthError) as exc:
            if isinstance(exc, InvalidTokenError):
                raise
            log.warning("cannot look up the mount of %s (HTTP %s); reading it as given "
                        "(KV v1 behaviour). Grant any capability under the mount to detect "
                        "KV v2", raw_path, exc.status,
                        extra={"event": "kv_detect_failed", "path": raw_path,
                               "status": exc.status})
            self._unknown_mounts.add(raw_path)
            return None
        except VaultError as exc:
            if exc.status is None or exc.status >= 500 or exc.status == 429:
                raise
            log.warning("cannot look up the mount of %s (HTTP %s); reading it as given",
                        raw_path, exc.status,
                        extra={"event": "kv_detect_failed", "path": raw_path,
                               "status": exc.status})
            self._unknown_mounts.add(raw_path)
            return None
        data = body.get("data") if isinstance(body, Mapping) else None
        if not isinstance(data, Mapping):
            self._unknown_mounts.add(raw_path)
            return None
        mount_path = str(data.get("path") or "")
        mount_type = str(data.get("type") or "")
        options = data.get("options")
        version_text = options.get("version") if isinstance(options, Mapping) else None
        kv_version: int | None = None
        if mount_type in ("kv", "generic"):
            kv_version = 2 if str(version_text or "") == "2" and mount_type == "kv" else 1
        if not mount_path:
            self._unknown_mounts.add(raw_path)
            return _MountInfo(path="", type=mount_type, kv_version=None)
        info = _MountInfo(path=mount_path if mount_path.endswith("/") else mount_path + "/",
                          type=mount_type, kv_version=kv_version)
        self._mounts[info.path] = info
        return info

    # -- leases -----------------------------------------------------------------------------

    def renew_lease(self, lease_id: str, increment: int | None = None) -> LeaseInfo:
        """``sys/leases/renew``; the returned TTL may be capped by the lease's max TTL."""
        body = self._call("renew_lease", "PUT", "sys/leases/renew", _LEASE_CONTEXT,
                          json_body={"lease_id": lease_id, "increment": increment})
        env = body if isinstance(body, Mapping) else {}
        return LeaseInfo(lease_id=str(env.get("lease_id") or lease_id),
                         ttl=_as_int(env.get("lease_duration")),
                         renewable=_as_bool(env.get("renewable")),
                         warnings=_str_tuple(env.get("warnings")))

    def revoke_lease(self, lease_id: str) -> None:
        self._call("revoke_lease", "PUT", "sys/leases/revoke", _LEASE_CONTEXT,
                   json_body={"lease_id": lease_id})

    # -- diagnostics ------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``sys/health``. Sealed (503), standby (429) etc. are answers, not errors; the HTTP
        status is added as ``status_code``."""
        answer = self._send("health", "GET", "sys/health", _Context("sys"), token=_NO_TOKEN,
                            accept_any_status=True)
        try:
            body = json.loads(answer.text) if answer.text.strip() else {}
        except ValueError:
            raise VaultError(f"sys/health answered HTTP {answer.status} with a body that is "
                             "not JSON", hint="check that vault.address points at Vault",
                             status=answer.status, path="sys/health") from None
        self._log_access("health", "sys/health", answer.status, None)
        result = dict(body) if isinstance(body, dict) else {}
        result["status_code"] = answer.status
        return result

    def capabilities_self(self, paths: Sequence[str]) -> dict[str, builtins.list[str]]:
        """The token's capabilities on each path (``sys/capabilities-self``)."""
        body = self._call("capabilities", "POST", "sys/capabilities-self",
                          _Context("sys", capability="update"), json_body={"paths": list(paths)})
        data = body.get("data") if isinstance(body, Mapping) else None
        source = data if isinstance(data, Mapping) else body if isinstance(body, Mapping) else {}
        result: dict[str, builtins.list[str]] = {}
        for path in paths:
            caps = source.get(path)
            if caps is None and len(paths) == 1:
                caps = source.get("capabilities")
            result[path] = [str(c) for c in caps] if isinstance(caps, list) else []
        return result

    # -- the one request function -----------------------------------------------------------

    def _call(self, operation: str, method: str, path: str, ctx: _Context, *,
              json_body: Any = None, params: Mapping[str, str] | None = None,
              token: str | None = None, namespace: str | None = None,
              decoder: Decoder | None = None) -> Any:
        """Send, map errors, decode the body (``None`` for an empty body)."""
        answer = self._send(operation, method, path, ctx, json_body=json_body, params=params,
                            token=token, namespace=namespace)
        if not answer.text.strip():
            self._log_access(operation, path, answer.status, None)
            return None
        try:
            decoded = (decoder or json.loads)(answer.text)
        except ValueError:
            raise VaultError(f"Vault answered {path} with a body that is not JSON",
                             hint="check that vault.address points at Vault, not a proxy "
                                  "error page", status=answer.status, path=path) from None
        lease_ttl: int | None = None
        if isinstance(decoded, Mapping):
            auth_block = decoded.get("auth")
            if isinstance(auth_block, Mapping):
                lease_ttl = _as_int(auth_block.get("lease_duration"))
            elif "lease_duration" in decoded:
                lease_ttl = _as_int(decoded.get("lease_duration"))
        self._log_access(operation, path, answer.status, lease_ttl)
        return decoded

    def _send(self, operation: str, method: str, path: str, ctx: _Context, *,
              json_body: Any = None, params: Mapping[str, str] | None = None,
              token: str | None = None, namespace: str | None = None,
              accept_any_status: bool = False) -> _Answer:
        import requests

        use_token = self._token if token is None else token
        headers: dict[str, str] = {}
        if use_token:
            headers["X-Vault-Token"] = use_token
        ns = namespace if namespace is not None else self.config.namespace
        if ns:
            headers["X-Vault-Namespace"] = ns
        kwargs: dict[str, Any] = {}
        if json_body is not None:
            kwargs["json"] = json_body
        if params:
            kwargs["params"] = dict(params)
        started = time.monotonic()
        status: int | None = None
        error: VaultError | None = None
        try:
            try:
                response = self._adapter.request(method, "v1/" + quote(path, safe="/"),
                                                 headers=headers, **kwargs)
            except requests.exceptions.SSLError as exc:
                raise self._tls_error(path, exc) from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                raise VaultUnavailableError(
                    f"cannot reach Vault at {self.config.address} ({_short_reason(exc)}) "
                    f"for {path}",
                    hint="check vault.address / VAULT_ADDR, the network path and that Vault is "
                         "running", path=path) from None
            except requests.exceptions.RequestException as exc:
                raise VaultError(f"request to Vault for {path} failed: {type(exc).__name__}",
                                 hint="check vault.address / VAULT_ADDR", path=path) from None
            status = response.status_code
            answer = _Answer(status, response.headers, response.text)
            if status >= 400 and not accept_any_status:
                raise self._map_status(answer, path, ctx)
            return answer
        except VaultError as exc:
            error = exc
            self._log_access(operation, path, status, None, error=exc)
            raise
        finally:
            self._report(RequestEvent(operation=operation, path=path, status=status,
                                      duration_s=time.monotonic() - started,
                                      result=_result_name(error)))

    def _report(self, event: RequestEvent) -> None:
        if self._on_request is None:
            return
        try:
            self._on_request(event)
        except Exception:  # a metrics bug must not break talking to Vault
            log.exception("on_request callback failed", extra={"event": "callback_failed"})

    def _audit(self, operation: str, path: str, env: Mapping[str, Any],
               kv_version: int | None) -> None:
        """The audit trail: one info line per secret access (which path, which KV version or
        lease TTL), so operators can tell which pod read what and when. Never values or ids."""
        extra: dict[str, Any] = {"event": "secret_access", "operation": operation,
                                 "path": path, "result": "ok"}
        data = env.get("data")
        metadata = data.get("metadata") if kv_version == 2 and isinstance(data, Mapping) else None
        if isinstance(metadata, Mapping) and metadata.get("version") is not None:
            extra["kv_version"] = 2
            extra["version"] = _as_int(metadata.get("version"))
        elif kv_version is not None:
            extra["kv_version"] = kv_version
        if env.get("lease_id"):
            extra["lease_ttl"] = _as_int(env.get("lease_duration"))
            extra["renewable"] = _as_bool(env.get("renewable"))
        log.info("vault %s %s", operation, path, extra=extra)

    def _log_access(self, operation: str, path: str, status: int | None,
                    lease_ttl: int | None, *, error: VaultError | None = None) -> None:
        extra = {"event": "vault_request", "operation": operation, "path": path,
                 "status": status, "lease_ttl": lease_ttl}
        if error is None:
            log.debug("vault %s %s -> %s", operation, path, status, extra=extra)
        else:
            extra["result"] = _result_name(error)
            log.info("vault %s %s failed: %s", operation, path, error.message, extra=extra)

    # -- error mapping ----------------------------------------------------------------------

    def _tls_error(self, path: str, exc: BaseException) -> TLSError:
        reason = _short_reason(exc)
        lowered = reason.lower()
        if "wrong version number" in lowered:
            hints = ["vault.address uses https:// but the server speaks plain HTTP (or the "
                     "other way round)"]
        elif "eof occurred" in lowered or ("alert" in lowered and "certificate" in lowered):
            # The server hung up or alerted during the handshake: typically it requires a
            # client certificate we did not send (or does not accept the one we sent).
            hints = ["the server ended the TLS handshake: if it requires client certificates, "
                     "set vault.client_cert / client_key (VAULT_CLIENT_CERT / "
                     "VAULT_CLIENT_KEY)"]
        else:
            hints = ["set vault.ca_cert / VAULT_CACERT to the CA file that signed Vault's "
                     "certificate"]
            if "mismatch" in lowered or "hostname" in lowered:
                hints.append("set vault.tls_server_name / VAULT_TLS_SERVER_NAME to a name in "
                             "the certificate")
            elif self.config.tls_server_name:
                hints.append(f"check that tls_server_name {self.config.tls_server_name!r} is "
                             "in the certificate")
            if self.config.client_cert:
                hints.append("check vault.client_cert / client_key")
        return TLSError(f"TLS handshake with {self.config.address} failed: {reason}",
                        hint="; ".join(hints), path=path)

    def _map_status(self, answer: _Answer, path: str, ctx: _Context) -> VaultError:
        status = answer.status
        text = vault_error_text(answer.text)
        detail = f": {text}" if text else ""
        if status in _RETRYABLE_STATUSES:
            retry_after = parse_retry_after(answer.headers.get("Retry-After"), time.time())
            if "sealed" in text.lower():
                hint = "unseal Vault (or wait for its auto-unseal)"
            elif status == 429:
                hint = "Vault is rate limiting this client; it will be retried"
            else:
                hint = "Vault or a proxy in front of it is failing; it will be retried"
            return VaultUnavailableError(f"Vault answered HTTP {status} for {path}{detail}",
                                         hint=hint, status=status, path=path,
                                         retry_after=retry_after)
        lowered = text.lower()
        if status == 403 and "invalid token" in lowered and ctx.kind != "login":
            return InvalidTokenError(
                f"the Vault token is invalid, expired or revoked (HTTP 403 on {path})",
                hint="log in again", status=status, path=path)
        if ctx.kind == "login" and ctx.method is not None:
            mount = auth_methods.mount_path(ctx.method)
            if status in (404, 405):
                hint = f"enable the auth method at {mount} or fix auto_auth.method.mount_path"
            else:
                hint = auth_methods.login_hint(ctx.method)
                if status == 403 and lowered == "permission denied":
                    # Vault answers a login to a path where nothing is mounted the same way.
                    hint += (f"; also check that a {ctx.method.type} auth method is enabled "
                             f"at {mount}")
            return AuthError(
                f"login with {ctx.method.type} at {path} refused (HTTP {status}){detail}",
                hint=hint, status=status, path=path)
        if ctx.kind == "wrapping":
            return VaultError(f"Vault refused {path} (HTTP {status}){detail}",
                              hint="the wrapping token was already used, expired or is not a "
                                   "wrapping token", status=status, path=path)
        if status == 403:
            if ctx.kind == "token" or self._token_is_invalid(path):
                # The default policy always allows the token endpoints, so a 403 there (or
                # on lookup-self right after a denial) means the token itself is bad. Vault
                # before 1.17 and OpenBao do not say "invalid token" in the body.
                return InvalidTokenError(
                    f"the Vault token is invalid, expired or revoked (HTTP 403 on {path})",
                    hint="log in again", status=status, path=path)
            return PermissionDeniedError(
                f"permission denied on {path} (HTTP 403)",
                hint=self._policy_hint(path, ctx), status=status, path=path)
        if status == 404:
            return self._not_found(answer, path, ctx)
        if status == 400:
            if ctx.kind == "lease":
                hint = "the lease is gone (expired, revoked or unknown): read the secret again"
            elif ctx.kind == "token":
                hint = ("the token cannot be renewed (not renewable, past its max TTL, or a "
                        "batch/root token): log in again")
            else:
                hint = ("fix the request: check the path and arguments against the secrets "
                        "engine's documentation")
            return VaultError(f"Vault rejected {path} (HTTP 400){detail}", hint=hint,
                              status=status, path=path)
        return VaultError(f"Vault answered HTTP {status} for {path}{detail}",
                          hint="check the path and the Vault server version", status=status,
                          path=path)

    def _token_is_invalid(self, denied_path: str) -> bool:
        """After a 403 on a secret path: does the token itself still work?

        Vault 1.17+ says "invalid token" in the 403 body, but OpenBao and older Vault only say
        "permission denied". ``lookup-self`` is allowed by every token's default policy, so
        if it is refused too the token is invalid and a re-login (not a policy fix) helps.
        """
        if not self._token:
            return False
        try:
            answer = self._send("lookup_self", "GET", "auth/token/lookup-self",
                                _Context("token"))
        except InvalidTokenError:
            return True
        except VaultError:
            return False
        self._log_access("lookup_self", "auth/token/lookup-self", answer.status, None)
        return False

    def _policy_hint(self, path: str, ctx: _Context) -> str:
        policies = ""
        if self.token_info is not None and self.token_info.policies:
            policies = f" (the token has policies: {', '.join(self.token_info.policies)})"
        capability = ctx.capability
        if ctx.mount is not None and ctx.mount.kv_version == 2:
            return (f"grant {capability!r} on path \"{path}\" in a policy attached to this "
                    f"token's role{policies}; on a KV v2 mount the policy must name the "
                    f"{ctx.mount.path}data/ sub-path, not "
                    f"\"{ctx.requested_path.split('?')[0]}\"")
        return (f"grant {capability!r} on path \"{path}\" in a policy attached to this token's "
                f"role{policies}")

    def _not_found(self, answer: _Answer, path: str, ctx: _Context) -> SecretNotFoundError:
        deleted = _kv2_deletion(answer.text)
        if deleted is not None:
            version, when, destroyed = deleted
            what = "destroyed" if destroyed else f"deleted at {when}"
            return SecretNotFoundError(
                f"KV v2 secret {path} version {version} was {what}",
                hint=("write a new version or undelete it (kv undelete -versions="
                      f"{version}) if this was a mistake" if not destroyed
                      else "write a new version of the secret"),
                status=404, path=path)
        hint = "check the path (and the mount) exists"
        if ctx.mount is None and ctx.kind == "secret":
            hint += ("; if it is on a KV v2 mount, the token may lack access to "
                     "sys/internal/ui/mounts, so the data/ prefix could not be added: write "
                     "the path with data/ (mount/data/key)")
        return SecretNotFoundError(f"no secret at {path} (HTTP 404)", hint=hint, status=404,
                                   path=path)


def _kv2_deletion(body: str) -> tuple[int, str, bool] | None:
    """(version, deletion_time, destroyed) when a KV v2 404 body says the version is gone."""
    try:
        decoded = json.loads(body) if body.strip() else None
    except ValueError:
        return None
    data = decoded.get("data") if isinstance(decoded, dict) else None
    metadata = data.get("metadata") if isinstance(data, dict) else None
    if not isinstance(metadata, dict):
        return None
    when = str(metadata.get("deletion_time") or "")
    destroyed = metadata.get("destroyed") is True
    if not when and not destroyed:
        return None
    return _as_int(metadata.get("version")), when, destroyed


def _result_name(error: BaseException | None) -> str:
    if error is None:
        return "ok"
    for cls, name in ((VaultUnavailableError, "unavailable"), (TLSError, "tls_error"),
                      (AuthError, "auth_failed"), (InvalidTokenError, "invalid_token"),
                      (PermissionDeniedError, "denied"), (SecretNotFoundError, "not_found")):
        if isinstance(error, cls):
            return name
    if isinstance(error, VaultError) and error.status == 400:
        return "bad_request"
    return "error"


def new_client(
    address: str,
    token: str | None = None,
    *,
    ca_cert: str | None = None,
    namespace: str | None = None,
    timeout: float = 30.0,
) -> Any:
    """A plain ``hvac.Client`` (used by admin-side code such as ``bootstrap``)."""
    import hvac

    verify: bool | str = ca_cert if ca_cert else True
    return hvac.Client(url=address, token=token, verify=verify, namespace=namespace,
                       timeout=timeout)
