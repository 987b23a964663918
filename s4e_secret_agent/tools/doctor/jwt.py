"""Service-account tokens and JWTs, decoded for display (never verified).

Most refused Kubernetes logins come down to a claim: the service account, the namespace, the
audience or the expiry. The doctor shows the claims of the token the agent would send next to
Vault's refusal, so the fix can name the value to change.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from s4e_secret_agent.config.values import format_duration


def utc(timestamp: float) -> str:
    """A Unix time as an RFC 3339 UTC timestamp."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class JwtClaims:
    subject: str
    issuer: str
    audiences: tuple[str, ...]
    expires_at: float | None
    service_account: str | None
    namespace: str | None

    def describe(self, now: float) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if self.service_account is not None:
            details["service_account"] = self.service_account
            details["namespace"] = self.namespace or "(none)"
        else:
            details["subject"] = self.subject or "(none)"
        details["audiences"] = list(self.audiences)
        details["issuer"] = self.issuer or "(none)"
        details["expires"] = self.expiry_text(now)
        return details

    def expiry_text(self, now: float) -> str:
        if self.expires_at is None:
            return "never (no exp claim: a legacy Secret-based token)"
        left = self.expires_at - now
        when = utc(self.expires_at)
        if left <= 0:
            return f"{when} (expired {format_duration(-left, coarse=True)} ago)"
        return f"{when} (in {format_duration(left, coarse=True)})"


def decode_jwt(token: str) -> JwtClaims | None:
    """The claims of a JWT without verifying it (``None`` if it is not a JWT)."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(claims, dict):
        return None
    aud = claims.get("aud")
    audiences = (aud,) if isinstance(aud, str) else tuple(str(a) for a in aud or ()) \
        if isinstance(aud, list) else ()
    exp = claims.get("exp")
    expires_at = float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) \
        else None
    subject = str(claims.get("sub") or "")
    name: str | None = None
    namespace: str | None = None
    projected = claims.get("kubernetes.io")
    if isinstance(projected, dict):
        account = projected.get("serviceaccount")
        if isinstance(account, dict) and account.get("name"):
            name = str(account["name"])
        if projected.get("namespace"):
            namespace = str(projected["namespace"])
    if name is None and claims.get("kubernetes.io/serviceaccount/service-account.name"):
        name = str(claims["kubernetes.io/serviceaccount/service-account.name"])
        namespace = str(claims.get("kubernetes.io/serviceaccount/namespace") or "") or None
    if name is None and subject.startswith("system:serviceaccount:"):
        pieces = subject.split(":")
        if len(pieces) == 4:
            namespace, name = pieces[2], pieces[3]
    return JwtClaims(subject=subject, issuer=str(claims.get("iss") or ""),
                     audiences=audiences, expires_at=expires_at, service_account=name,
                     namespace=namespace)
