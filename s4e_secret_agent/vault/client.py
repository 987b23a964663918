"""The agent's one connection to Vault: :class:`VaultClient`.

Every request the agent makes goes through one method here (:meth:`VaultClient._send`): the
token and namespace headers, the timing reported to metrics, the audit trail of secret access,
and the mapping of every failure to the agent's errors (:mod:`.errors`). Response bodies are
decoded by an injected ``decode`` (the template engine's, which keeps JSON numbers exact). The
transport
(:mod:`.transport`) bounds each request in time and size and refuses redirects to anywhere
else; :mod:`.answers` refuses bodies that decode but that the agent could not use safely.
Every request ends by ``vault.client_timeout`` and, in init mode, by ``agent.deadline``
(:meth:`VaultClient.set_deadline`), including a server that trickles its answer.

Secret reads follow consul-template (``dependency/vault_read.go``, ``vault_write.go``,
``vault_common.go``): a ``secret`` call without arguments is a GET; with ``key=value``
arguments it is a write (PUT) whose body is the arguments; KV v2 paths get ``data/`` inserted
after the mount (:mod:`.kv`). Messages and log lines never contain secret values, tokens, lease
ids or request bodies.

The client does not decide anything about the token's life: the token keeper
(:mod:`s4e_secret_agent.runtime.token`) logs in, renews and tells the client which token to use.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from s4e_secret_agent.config.model import AuthMethodConfig, VaultConfig
from s4e_secret_agent.errors import (
    AuthError,
    DeadlineExceededError,
    InvalidTokenError,
    PermissionDeniedError,
    SecretNotFoundError,
    VaultError,
    VaultUnavailableError,
)
from s4e_secret_agent.vault.answers import (
    check_envelope,
    check_structure,
    checked_duration,
    decode_text,
    refuse,
)
from s4e_secret_agent.vault.errors import (
    LEASE_CONTEXT,
    RequestContext,
    map_status,
    result_name,
    tls_error,
)
from s4e_secret_agent.vault.kv import (
    MountInfo,
    kv2_list_path,
    kv2_read_path,
    longest_mount,
    mount_from_answer,
    split_query,
)
from s4e_secret_agent.vault.transport import (
    DEFAULT_MAX_RESPONSE_BYTES,
    Answer,
    Transport,
    short_reason,
)
from s4e_secret_agent.vault.types import (
    LeaseRenewal,
    LoginTLS,
    RequestEvent,
    SecretResponse,
    TokenInfo,
    as_bool,
    as_int,
    str_tuple,
)

log = logging.getLogger("s4e_secret_agent.vault.client")

Decoder = Callable[[str], Any]

_NO_TOKEN = ""
# How long a request started at (or after) init's deadline may still take.
LAST_ATTEMPT_S = 1.0


def token_hash(token: str) -> str:
    """A short, non-reversible name for a token for logs (the accessor is preferred)."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:12]


class VaultClient:
    """The agent's connection to Vault.

    :meth:`read` and :meth:`list` may run on several threads at once (the runner fetches
    independent secrets in parallel, over at most ``max_connections`` connections); every
    other call, and every change of the token, belongs to the runner thread.
    ``decode`` turns secret response bodies into Python values (default :func:`json.loads`);
    ``on_request`` is called after every HTTP request with a :class:`RequestEvent`.
    ``max_response_bytes`` bounds the size of any answer.
    """

    def __init__(
        self,
        config: VaultConfig,
        *,
        decode: Decoder = json.loads,
        on_request: Callable[[RequestEvent], None] | None = None,
        token: str | None = None,
        max_connections: int = 10,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.config = config
        self._decode = decode
        self._on_request = on_request
        self._token: str | None = token or None
        self.token_info: TokenInfo | None = None
        self._mounts: dict[str, MountInfo] = {}
        self._unknown_mounts: set[str] = set()
        # Parallel reads share the mount table: one lookup per mount, not one per thread.
        # Lookups under different first path segments (different mounts) run side by side.
        self._lookup_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        if config.tls_skip_verify:
            log.warning("TLS verification of Vault's certificate is DISABLED "
                        "(tls_skip_verify): anyone on the network path can read the secrets; "
                        "use ca_cert instead", extra={"event": "tls_skip_verify"})
        self._transport = Transport(config, max_connections=max_connections,
                                    max_response_bytes=max_response_bytes)
        # The end of init's deadline on time.monotonic(); None: only client_timeout bounds.
        self._deadline_at: float | None = None

    @property
    def address(self) -> str:
        """Vault's address as configured (the gce auth method puts it in its audience)."""
        return self.config.address

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
        self._transport.close()

    def set_deadline(self, seconds: float | None) -> None:
        """Every following request must end within ``seconds`` from now (init's
        ``agent.deadline``); past it, a request raises :class:`DeadlineExceededError`.
        ``None``: no deadline (sidecar mode), only ``client_timeout`` bounds a request."""
        self._deadline_at = None if seconds is None else time.monotonic() + seconds

    def send_login(self, method: AuthMethodConfig, path: str,
                   body: Mapping[str, Any], *, tls: LoginTLS | None = None) -> TokenInfo:
        """``POST <path>`` with the credentials an auth method built; use the new token.

        ``tls``: the cert method's own CA and client certificate for this request only
        (read from their files now, so a renewed certificate is presented).
        """
        namespace = self.config.namespace or method.namespace
        answer = self._call("login", "POST", path, RequestContext("login", method=method),
                            json_body=dict(body), token=_NO_TOKEN, namespace=namespace,
                            tls=tls)
        auth_block = answer.get("auth") if isinstance(answer, Mapping) else None
        if not isinstance(auth_block, Mapping) or not auth_block.get("client_token"):
            raise AuthError(f"login at {path} returned no token",
                            hint="check that the mount path is an auth method", path=path)
        self._set_token(str(auth_block["client_token"]))
        info = self._token_info_from_auth(auth_block, answer)
        self.token_info = info
        log.info("logged in with %s", method.type,
                 extra={"event": "login", "method": method.type, "accessor": info.accessor,
                        "ttl": info.ttl, "renewable": info.renewable,
                        "policies": list(info.policies)})
        return info

    def adopt_token(self, token: str, source: str) -> TokenInfo:
        """Use a token given as is (token file, ``VAULT_TOKEN``): look it up, keep it if valid."""
        previous = self._token
        self._set_token(token)
        try:
            info = self.lookup_self()
        except VaultError as exc:
            self._set_token(previous)
            if not isinstance(exc, InvalidTokenError):
                raise
            raise AuthError(f"the token from {source} is not valid: {exc.message}",
                            hint="provide a valid, unexpired token", status=exc.status,
                            path="auth/token/lookup-self") from None
        log.info("using the token from %s", source,
                 extra={"event": "login", "method": "token", "accessor": info.accessor,
                        "ttl": info.ttl, "renewable": info.renewable})
        return info


    def lookup_self(self) -> TokenInfo:
        body = self._call("lookup_self", "GET", "auth/token/lookup-self", RequestContext("token"))
        data = body.get("data") if isinstance(body, Mapping) else None
        if not isinstance(data, Mapping):
            raise VaultError("auth/token/lookup-self returned no data",
                             path="auth/token/lookup-self")
        now_m, now_w = time.monotonic(), time.time()
        policies = str_tuple(data.get("policies")) + tuple(
            p for p in str_tuple(data.get("identity_policies"))
            if p not in str_tuple(data.get("policies")))
        info = TokenInfo(
            accessor=str(data.get("accessor") or ""),
            ttl=checked_duration(data.get("ttl"), "data.ttl", "auth/token/lookup-self"),
            renewable=as_bool(data.get("renewable")),
            policies=policies,
            issued_at_monotonic=now_m,
            issued_at_wall=now_w,
            entity_id=str(data.get("entity_id")) if data.get("entity_id") else None,
            orphan=as_bool(data.get("orphan")) if "orphan" in data else None,
            token_type=str(data.get("type") or "service"),
            warnings=str_tuple(body.get("warnings")),
        )
        self.token_info = info
        return info

    def renew_self(self, increment: int | None = None) -> TokenInfo:
        """Renew the token; the returned TTL may be shorter than asked (max TTL reached)."""
        payload: dict[str, Any] = {} if increment is None else {"increment": int(increment)}
        body = self._call("renew_self", "POST", "auth/token/renew-self", RequestContext("token"),
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
        self._call("revoke_self", "POST", "auth/token/revoke-self", RequestContext("token"))
        self._set_token(None)

    def _token_info_from_auth(self, auth_block: Mapping[str, Any], body: Any) -> TokenInfo:
        return TokenInfo(
            accessor=str(auth_block.get("accessor") or ""),
            ttl=as_int(auth_block.get("lease_duration")),
            renewable=as_bool(auth_block.get("renewable")),
            policies=str_tuple(auth_block.get("policies")),
            issued_at_monotonic=time.monotonic(),
            issued_at_wall=time.time(),
            entity_id=str(auth_block.get("entity_id")) if auth_block.get("entity_id") else None,
            orphan=as_bool(auth_block.get("orphan")) if "orphan" in auth_block else None,
            token_type=str(auth_block.get("token_type") or "service"),
            warnings=str_tuple(body.get("warnings") if isinstance(body, Mapping) else None),
        )

    def wrapping_lookup(self, wrapping_token: str) -> Mapping[str, Any]:
        """``sys/wrapping/lookup``: creation_path, creation_time, creation_ttl (not consumed)."""
        body = self._call("wrapping_lookup", "POST", "sys/wrapping/lookup",
                          RequestContext("wrapping"), json_body={"token": wrapping_token},
                          token=_NO_TOKEN)
        data = body.get("data") if isinstance(body, Mapping) else None
        return data if isinstance(data, Mapping) else {}

    def unwrap(self, wrapping_token: str) -> Any:
        """Unwrap a response-wrapping token (single use) and return the wrapped envelope."""
        return self._call("unwrap", "POST", "sys/wrapping/unwrap", RequestContext("wrapping"),
                          token=wrapping_token, decoder=self._decode)

    def wrap_token(self, token: str, ttl: float) -> Mapping[str, Any]:
        """Response-wrap ``token`` (``sys/wrapping/wrap``, sent with that token, as Vault Agent's
        sink does) and return the answer's ``wrap_info``: the single-use wrapping token, its
        accessor, ttl, creation_time and creation_path. Unwrapping it gives ``{"token": ...}``.
        """
        answer = self._call("wrap", "POST", "sys/wrapping/wrap", RequestContext("wrapping"),
                            json_body={"token": token}, token=token,
                            headers={"X-Vault-Wrap-TTL": f"{max(int(ttl), 1)}s"})
        info = answer.get("wrap_info") if isinstance(answer, Mapping) else None
        if not isinstance(info, Mapping) or not info.get("token"):
            raise VaultError("Vault answered sys/wrapping/wrap without a wrapping token",
                             hint="check that vault.address points at Vault, not a proxy",
                             path="sys/wrapping/wrap")
        return info

    def read(self, path: str, args: Mapping[str, str] | None = None) -> SecretResponse:
        """What a template's ``secret "path" [k=v ...]`` returns: GET, or PUT when ``args``."""
        raw, query = split_query(path)
        if not raw:
            raise VaultError(f"empty Vault path {path!r}", hint="give a path like secret/app")
        mount = self._mount_for(raw)
        is_v2 = mount is not None and mount.kv_version == 2
        target = kv2_read_path(raw, mount.path) if is_v2 and mount is not None else raw
        if args:
            body_args: dict[str, Any] = dict(args)
            payload = {"data": body_args} if is_v2 else body_args
            ctx = RequestContext("secret", requested_path=path, mount=mount, capability="update")
            envelope = self._call("write", "PUT", target, ctx, json_body=payload,
                                  decoder=self._decode)
        else:
            ctx = RequestContext("secret", requested_path=path, mount=mount)
            envelope = self._call("read", "GET", target, ctx, params=query or None,
                                  decoder=self._decode)
        return self._secret_response("write" if args else "read", path, target, envelope,
                                     mount.kv_version if mount else None)

    def list(self, path: str) -> SecretResponse:
        """What a template's ``secrets "path"`` returns (LIST; nothing there -> no keys)."""
        raw, _ = split_query(path)
        mount = self._mount_for(raw)
        # consul-template lists a KV v2 folder under the mount's metadata/ sub-path.
        target = kv2_list_path(raw, mount.path) if mount is not None and \
            mount.kv_version == 2 else raw
        ctx = RequestContext("secret", requested_path=path, mount=mount, capability="list")
        try:
            envelope = self._call("list", "LIST", target, ctx, decoder=self._decode)
        except SecretNotFoundError:
            envelope = None
        return self._secret_response("list", path, target, envelope,
                                     mount.kv_version if mount else None)

    def _secret_response(self, operation: str, requested: str, read_path: str, envelope: Any,
                         kv_version: int | None) -> SecretResponse:
        env = envelope if isinstance(envelope, Mapping) else {}
        self._audit(operation, read_path, env, kv_version)
        return SecretResponse(
            requested_path=requested,
            read_path=read_path,
            envelope=envelope,
            lease_id=str(env.get("lease_id") or ""),
            lease_duration=as_int(env.get("lease_duration")),
            renewable=as_bool(env.get("renewable")),
            kv_version=kv_version,
            fetched_at=time.time(),
            fetched_monotonic=time.monotonic(),
            warnings=str_tuple(env.get("warnings")),
        )

    def _mount_for(self, raw_path: str) -> MountInfo | None:
        """The mount holding ``raw_path`` (looked up once per mount), or ``None`` if unknown."""
        first = raw_path.split("/", 1)[0]
        with self._locks_lock:
            lock = self._lookup_locks.setdefault(first, threading.Lock())
        with lock:
            return self._lookup_mount(raw_path)

    def _lookup_mount(self, raw_path: str) -> MountInfo | None:
        best = longest_mount(raw_path, self._mounts)
        if best is not None:
            return best
        if raw_path in self._unknown_mounts or self._token is None:
            # consul-template: anonymous requests cannot see ui/mounts; read as given.
            return None
        ctx = RequestContext("sys", requested_path=raw_path)
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
        info = mount_from_answer(body)
        if info is None or not info.path:
            self._unknown_mounts.add(raw_path)
            return info if info is None else MountInfo(path="", type=info.type, kv_version=None)
        self._mounts[info.path] = info
        return info

    def renew_lease(self, lease_id: str, increment: int | None = None) -> LeaseRenewal:
        """``sys/leases/renew``; the returned TTL may be capped by the lease's max TTL."""
        body = self._call("renew_lease", "PUT", "sys/leases/renew", LEASE_CONTEXT,
                          json_body={"lease_id": lease_id, "increment": increment})
        env = body if isinstance(body, Mapping) else {}
        return LeaseRenewal(lease_id=str(env.get("lease_id") or lease_id),
                         ttl=as_int(env.get("lease_duration")),
                         renewable=as_bool(env.get("renewable")),
                         warnings=str_tuple(env.get("warnings")))

    def revoke_lease(self, lease_id: str) -> None:
        self._call("revoke_lease", "PUT", "sys/leases/revoke", LEASE_CONTEXT,
                   json_body={"lease_id": lease_id})

    def health(self) -> dict[str, Any]:
        """``sys/health``. Sealed (503), standby (429) etc. are answers, not errors; the HTTP
        status is added as ``status_code``."""
        answer = self._send("health", "GET", "sys/health", RequestContext("sys"), token=_NO_TOKEN,
                            accept_any_status=True)
        try:
            body = self._decode_body(answer, "sys/health", json.loads)
        except VaultError as exc:
            raise VaultError(f"sys/health answered HTTP {answer.status} with a body that is "
                             f"not usable JSON ({exc.message})",
                             hint="check that vault.address points at Vault",
                             status=answer.status, path="sys/health") from None
        body = {} if body is None else body
        self._log_access("health", "sys/health", answer.status, None)
        result = dict(body) if isinstance(body, dict) else {}
        result["status_code"] = answer.status
        return result

    def capabilities_self(self, paths: Sequence[str]) -> dict[str, builtins.list[str]]:
        """The token's capabilities on each path (``sys/capabilities-self``)."""
        body = self._call("capabilities", "POST", "sys/capabilities-self",
                          RequestContext("sys", capability="update"),
                          json_body={"paths": list(paths)})
        data = body.get("data") if isinstance(body, Mapping) else None
        source = data if isinstance(data, Mapping) else body if isinstance(body, Mapping) else {}
        result: dict[str, builtins.list[str]] = {}
        for path in paths:
            caps = source.get(path)
            if caps is None and len(paths) == 1:
                caps = source.get("capabilities")
            result[path] = [str(c) for c in caps] if isinstance(caps, list) else []
        return result

    def _call(self, operation: str, method: str, path: str, ctx: RequestContext, *,
              json_body: Any = None, params: Mapping[str, str] | None = None,
              token: str | None = None, namespace: str | None = None,
              decoder: Decoder | None = None, headers: Mapping[str, str] | None = None,
              tls: LoginTLS | None = None) -> Any:
        """Send, map errors, decode the body (``None`` for an empty body)."""
        answer = self._send(operation, method, path, ctx, json_body=json_body, params=params,
                            token=token, namespace=namespace, headers=headers, tls=tls)
        try:
            decoded = self._decode_body(answer, path, decoder or json.loads)
            check_envelope(decoded, path)
        except VaultError as exc:
            self._log_access(operation, path, answer.status, None, error=exc)
            raise
        if decoded is None:
            self._log_access(operation, path, answer.status, None)
            return None
        lease_ttl: int | None = None
        if isinstance(decoded, Mapping):
            auth_block = decoded.get("auth")
            if isinstance(auth_block, Mapping):
                lease_ttl = as_int(auth_block.get("lease_duration"))
            elif "lease_duration" in decoded:
                lease_ttl = as_int(decoded.get("lease_duration"))
        self._log_access(operation, path, answer.status, lease_ttl)
        return decoded

    def _decode_body(self, answer: Answer, path: str, decoder: Decoder) -> Any:
        """The body decoded, ``None`` when empty; a :class:`VaultError` naming ``path`` when
        it is not UTF-8, not JSON, or not safe to use (:mod:`.answers`)."""
        text = decode_text(answer.body, path)
        if not text.strip():
            return None
        try:
            decoded = decoder(text)
        except RecursionError:
            raise refuse(path, "nested too deeply to decode") from None
        except ValueError:
            raise VaultError(f"Vault answered {path} with a body that is not JSON",
                             hint="check that vault.address points at Vault, not a proxy "
                                  "error page", status=answer.status, path=path) from None
        check_structure(decoded, text, path)
        return decoded

    def _send(self, operation: str, method: str, path: str, ctx: RequestContext, *,
              json_body: Any = None, params: Mapping[str, str] | None = None,
              token: str | None = None, namespace: str | None = None,
              accept_any_status: bool = False,
              headers: Mapping[str, str] | None = None,
              tls: LoginTLS | None = None) -> Answer:
        import requests

        use_token = self._token if token is None else token
        # X-Vault-Request: true, as Vault's Go client and hvac send it (a Vault Agent or proxy
        # listener may require it as a guard against server-side request forgery).
        headers = {"X-Vault-Request": "true", **(headers or {})}
        if use_token:
            headers["X-Vault-Token"] = use_token
        ns = namespace if namespace is not None else self.config.namespace
        if ns:
            headers["X-Vault-Namespace"] = ns
        cert: tuple[str, str] | None = None
        verify: str | None = None
        if tls is not None:
            # A fresh connection, closed after the answer: a kept-alive one would present the
            # certificate of its handshake, not the one in the files now.
            headers["Connection"] = "close"
            if tls.client_cert and tls.client_key:
                cert = (tls.client_cert, tls.client_key)
            if tls.ca_cert and not self.config.tls_skip_verify:
                verify = tls.ca_cert
        started = time.monotonic()
        at = started + self.config.client_timeout
        by_deadline = False
        if self._deadline_at is not None:
            # The retry layer makes its last attempt at the deadline: it gets a moment, so
            # that it fails for its real reason (connection refused, 503), not for lack of time.
            until = max(self._deadline_at, started + LAST_ATTEMPT_S)
            if until < at:
                at, by_deadline = until, True
        status: int | None = None
        error: VaultError | None = None
        url_path = quote(path, safe="/")
        while "//" in url_path:  # Vault reads a double slash as one; so does its CLI
            url_path = url_path.replace("//", "/")
        try:
            try:
                answer = self._transport.send(method, url_path, at=at, headers=headers,
                                              json_body=json_body, params=params,
                                              cert=cert, verify=verify)
            except requests.exceptions.SSLError as exc:
                if time.monotonic() < at:
                    raise tls_error(self.config, path, exc) from None
                raise self._out_of_time(path, started, by_deadline, exc) from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                    requests.exceptions.ChunkedEncodingError, TimeoutError) as exc:
                if time.monotonic() >= at:
                    raise self._out_of_time(path, started, by_deadline, exc) from None
                if isinstance(exc, requests.exceptions.ChunkedEncodingError):
                    raise VaultUnavailableError(
                        f"Vault's answer for {path} broke off before its end "
                        f"({short_reason(exc)})",
                        hint="check the network path and any proxy in front of Vault",
                        path=path) from None
                raise VaultUnavailableError(
                    f"cannot reach Vault at {self.config.address} ({short_reason(exc)}) "
                    f"for {path}",
                    hint="check vault.address / VAULT_ADDR, the network path and that Vault is "
                         "running", path=path) from None
            except requests.exceptions.RequestException as exc:
                raise VaultError(f"request to Vault for {path} failed: {type(exc).__name__}",
                                 hint="check vault.address / VAULT_ADDR", path=path) from None
            status = answer.status
            if status >= 400 and not accept_any_status:
                raise map_status(answer, path, ctx, token_is_invalid=self._token_is_invalid,
                                 policies=self.token_info.policies if self.token_info else ())
            return answer
        except VaultError as exc:
            error = exc
            self._log_access(operation, path, status, None, error=exc)
            raise
        finally:
            self._report(RequestEvent(operation=operation, path=path, status=status,
                                      duration_s=time.monotonic() - started,
                                      result=result_name(error)))

    def _out_of_time(self, path: str, started: float, by_deadline: bool,
                     exc: BaseException) -> VaultUnavailableError | DeadlineExceededError:
        """The error for a request that used up its time: init's deadline (not retried:
        exit 7) or ``client_timeout`` (retried)."""
        took = time.monotonic() - started
        if by_deadline:
            return DeadlineExceededError(
                f"agent.deadline passed while waiting {took:.1f}s for Vault's answer for "
                f"{path} ({short_reason(exc)})",
                hint="Vault or a proxy in front of it answers too slowly; check the network "
                     "path, or raise agent.deadline (--deadline)")
        return VaultUnavailableError(
            f"the request to Vault for {path} timed out after {took:.1f}s "
            f"(vault.client_timeout is {self.config.client_timeout:g}s)",
            hint="Vault or a proxy in front of it answers too slowly; it will be retried "
                 "(raise vault.client_timeout if Vault is just slow)", path=path)

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
            extra["version"] = as_int(metadata.get("version"))
        elif kv_version is not None:
            extra["kv_version"] = kv_version
        if env.get("lease_id"):
            extra["lease_ttl"] = as_int(env.get("lease_duration"))
            extra["renewable"] = as_bool(env.get("renewable"))
        log.info("vault %s %s", operation, path, extra=extra)

    def _log_access(self, operation: str, path: str, status: int | None,
                    lease_ttl: int | None, *, error: VaultError | None = None) -> None:
        extra = {"event": "vault_request", "operation": operation, "path": path,
                 "status": status, "lease_ttl": lease_ttl}
        if error is None:
            log.debug("vault %s %s -> %s", operation, path, status, extra=extra)
        else:
            extra["result"] = result_name(error)
            log.info("vault %s %s failed: %s", operation, path, error.message, extra=extra)

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
                                RequestContext("token"))
        except InvalidTokenError:
            return True
        except VaultError:
            return False
        self._log_access("lookup_self", "auth/token/lookup-self", answer.status, None)
        return False


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


__all__ = ["RequestEvent", "VaultClient", "new_client", "token_hash"]
