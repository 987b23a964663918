"""Vault's answers mapped to the agent's errors, each with the fix spelled out.

This is where a 403 becomes "grant 'read' on path s4e/data/database in a policy attached to
this token's role; on a KV v2 mount the policy must name the data/ sub-path", a TLS failure
becomes "set vault.ca_cert to the CA that signed Vault's certificate", and a 503 becomes a
transient error the retry layer waits out. Messages never contain secret values: Vault does
not echo them in errors, and nothing here adds request bodies, tokens or lease ids.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

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
from s4e_secret_agent.vault.kv import MountInfo
from s4e_secret_agent.vault.transport import Answer, short_reason
from s4e_secret_agent.vault.types import as_int

# Statuses that waiting can fix: Vault overloaded, sealed, standby without an active node,
# a proxy in between failing, or (Enterprise) a node that has not caught up yet.
RETRYABLE_STATUSES = frozenset({412, 429, 500, 501, 502, 503, 504})


@dataclass(frozen=True)
class RequestContext:
    """What a request was for, to pick the right error and hint."""

    kind: str  # "secret" | "login" | "token" | "lease" | "wrapping" | "sys"
    requested_path: str = ""
    mount: MountInfo | None = None
    capability: str = "read"
    method: AuthMethodConfig | None = None


LEASE_CONTEXT = RequestContext("lease", capability="update")


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


def tls_error(config: VaultConfig, path: str, exc: BaseException) -> TLSError:
    """A TLS failure, with the setting that fixes it (CA, server name, client certificate)."""
    reason = short_reason(exc)
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
        elif config.tls_server_name:
            hints.append(f"check that tls_server_name {config.tls_server_name!r} is "
                         "in the certificate")
        if config.client_cert:
            hints.append("check vault.client_cert / client_key")
    return TLSError(f"TLS handshake with {config.address} failed: {reason}",
                    hint="; ".join(hints), path=path)


def map_status(answer: Answer, path: str, ctx: RequestContext, *,
               token_is_invalid: Callable[[str], bool], policies: tuple[str, ...] = ()
               ) -> VaultError:
    """The agent's error for an HTTP error status, with a hint that names the fix.

    ``token_is_invalid(path)`` is asked after a 403 on a secret (it may look the token up);
    ``policies`` are the token's, for the hint of a permission error.
    """
    status = answer.status
    text = vault_error_text(answer.text)
    detail = f": {text}" if text else ""
    if status in RETRYABLE_STATUSES:
        retry_after = parse_retry_after(answer.headers.get("Retry-After"), time.time())
        if "sealed" in text.lower():
            hint = "unseal Vault (or wait for its auto-unseal)"
        elif status == 429:
            hint = "Vault is rate limiting this client; it will be retried"
        else:
            hint = "Vault or a proxy in front of it is failing; it will be retried"
        return VaultUnavailableError(f"Vault answered HTTP {status} for {path}{detail}",
                                     hint=hint, status=status, path=path, reason=text,
                                     retry_after=retry_after)
    lowered = text.lower()
    if status == 403 and "invalid token" in lowered and ctx.kind != "login":
        return InvalidTokenError(
            f"the Vault token is invalid, expired or revoked (HTTP 403 on {path})",
            hint="log in again", status=status, path=path, reason=text)
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
            hint=hint, status=status, path=path, reason=text)
    if ctx.kind == "wrapping":
        return VaultError(f"Vault refused {path} (HTTP {status}){detail}",
                          hint="the wrapping token was already used, expired or is not a "
                               "wrapping token", status=status, path=path, reason=text)
    if status == 403:
        if ctx.kind == "token" or token_is_invalid(path):
            # The default policy always allows the token endpoints, so a 403 there (or
            # on lookup-self right after a denial) means the token itself is bad. Vault
            # before 1.17 and OpenBao do not say "invalid token" in the body.
            return InvalidTokenError(
                f"the Vault token is invalid, expired or revoked (HTTP 403 on {path})",
                hint="log in again", status=status, path=path, reason=text)
        return PermissionDeniedError(
            f"permission denied on {path} (HTTP 403)",
            hint=policy_hint(path, ctx, policies), status=status, path=path, reason=text)
    if status == 404:
        return not_found(answer, path, ctx)
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
                          status=status, path=path, reason=text)
    return VaultError(f"Vault answered HTTP {status} for {path}{detail}",
                      hint="check the path and the Vault server version", status=status,
                      path=path)


def policy_hint(path: str, ctx: RequestContext, policies: tuple[str, ...]) -> str:
    held = f" (the token has policies: {', '.join(policies)})" if policies else ""
    capability = ctx.capability
    if ctx.mount is not None and ctx.mount.kv_version == 2:
        return (f"grant {capability!r} on path \"{path}\" in a policy attached to this "
                f"token's role{held}; on a KV v2 mount the policy must name the "
                f"{ctx.mount.path}data/ sub-path, not "
                f"\"{ctx.requested_path.split('?')[0]}\"")
    return (f"grant {capability!r} on path \"{path}\" in a policy attached to this token's "
            f"role{held}")


def not_found(answer: Answer, path: str, ctx: RequestContext) -> SecretNotFoundError:
    deleted = kv2_deletion(answer.text)
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


def kv2_deletion(body: str) -> tuple[int, str, bool] | None:
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
    return as_int(metadata.get("version")), when, destroyed


def result_name(error: BaseException | None) -> str:
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
