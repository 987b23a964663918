"""AWS Signature Version 4, as the AWS SDKs sign a request: the canonical request, the string
to sign, the derived signing key and the ``Authorization`` header.

The ``aws`` auth method of type ``iam`` proves an identity by handing Vault a signed
``sts:GetCallerIdentity`` request, which Vault forwards to STS; STS checks the signature. This
module is pure (``hashlib``/``hmac``, the time passed in) so that AWS's published signing
examples can check it byte for byte.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
# What the SDKs never sign: they may change on the way without breaking the signature.
_UNSIGNED_HEADERS = frozenset({"authorization", "user-agent", "x-amzn-trace-id"})


@dataclass(frozen=True)
class AwsCredentials:
    """An access key pair and, for temporary credentials, the session token."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(default="", repr=False)
    source: str = ""  # where they were found, for logs and messages


def amz_date(moment: datetime) -> str:
    """``X-Amz-Date``: the UTC time as ``YYYYMMDDTHHMMSSZ``."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_uri(path: str) -> str:
    """The path with every segment URI-encoded once (``/`` when empty)."""
    return "/".join(_encode(segment) for segment in (path or "/").split("/")) or "/"


def canonical_query(query: str) -> str:
    """``key=value`` pairs, each part encoded, sorted by key then value."""
    if not query:
        return ""
    pairs = []
    for item in query.split("&"):
        key, _, value = item.partition("=")
        pairs.append((_encode(_unquote(key)), _encode(_unquote(value))))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _unquote(text: str) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(text)


def _header_value(value: str) -> str:
    return re.sub(r"\s+", " ", value.strip())


def host_header(url: str) -> str:
    """``Host`` as a client sends it: the authority without a default port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port and not ((parts.scheme == "https" and parts.port == 443)
                           or (parts.scheme == "http" and parts.port == 80)):
        host = f"{host}:{parts.port}"
    return host


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """The key derived for one day, region and service."""
    key = hmac.new(f"AWS4{secret_access_key}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@dataclass(frozen=True)
class SignedRequest:
    """The headers of the request as signed (including ``Authorization``), and the parts a
    reader checks the signature with."""

    headers: Mapping[str, str]
    canonical_request: str
    string_to_sign: str
    signed_headers: str
    signature: str


def sign(method: str, url: str, headers: Mapping[str, str], body: bytes,
         credentials: AwsCredentials, *, region: str, service: str,
         moment: datetime) -> SignedRequest:
    """Sign ``method url`` with ``headers`` and ``body`` at ``moment``.

    ``X-Amz-Date`` (and ``X-Amz-Security-Token`` for temporary credentials) are added and
    signed, as are ``Host`` and ``Content-Length`` (when there is a body); every header given
    is signed except ``Authorization`` and ``User-Agent``. The returned headers do not carry
    ``Host`` or ``Content-Length``, which an HTTP client derives from the URL and the body.
    """
    parts = urlsplit(url)
    stamp = amz_date(moment)
    sent = dict(headers)
    sent["X-Amz-Date"] = stamp
    if credentials.session_token:
        sent["X-Amz-Security-Token"] = credentials.session_token
    signed: dict[str, str] = {"host": host_header(url)}
    if body:
        signed["content-length"] = str(len(body))
    for name, value in sent.items():
        lower = name.lower()
        if lower not in _UNSIGNED_HEADERS:
            signed[lower] = _header_value(value)
    names = sorted(signed)
    signed_headers = ";".join(names)
    canonical = "\n".join([
        method.upper(),
        canonical_uri(parts.path),
        canonical_query(parts.query),
        "".join(f"{name}:{signed[name]}\n" for name in names),
        signed_headers,
        hashlib.sha256(body).hexdigest(),
    ])
    date = stamp[:8]
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join([ALGORITHM, stamp, scope,
                                hashlib.sha256(canonical.encode()).hexdigest()])
    signature = hmac.new(signing_key(credentials.secret_access_key, date, region, service),
                         string_to_sign.encode(), hashlib.sha256).hexdigest()
    sent["Authorization"] = (f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
                             f"SignedHeaders={signed_headers}, Signature={signature}")
    return SignedRequest(headers=sent, canonical_request=canonical,
                         string_to_sign=string_to_sign, signed_headers=signed_headers,
                         signature=signature)
