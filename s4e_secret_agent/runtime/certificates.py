"""``pkiCert``'s certificates: what Vault's PKI engine issued, what a destination file already
holds, and whether that is still good enough to keep.

Vault Agent renders TLS certificates with ``pkiCert "pki/issue/<role>" "common_name=..."``.
Issuing is not free (every call mints a new certificate and key), so consul-template reads the
template's destination file first and reuses the certificate in it while it is good, also
across restarts: a pod that restarts does not get a new certificate. Here the same rules, in
one place: the PEM blocks of an answer or a file become the template's ``.Cert``, ``.Key``,
``.CA`` and ``.CAChain``; the certificate is good until ``lease_renewal_threshold`` (0.9) of
its lifetime has passed (consul-template's rule), and then a new one is issued.

``cryptography`` is imported only when a template calls ``pkiCert``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_BLOCK = re.compile(rb"-----BEGIN ([^\n-]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)


@dataclass(frozen=True)
class IssuedCertificate:
    """The PEM blocks a template gets, and the validity of the (leaf) certificate."""

    cert: str
    key: str
    ca: str
    ca_chain: tuple[str, ...]
    not_before: float  # Unix time
    not_after: float

    def template_data(self) -> dict[str, Any]:
        """What the template engine builds ``dependency.PemEncoded`` from."""
        return {"cert": self.cert, "key": self.key, "ca": self.ca,
                "ca_chain": list(self.ca_chain), "not_before": self.not_before,
                "not_after": self.not_after}

    def good_until(self, threshold: float) -> float:
        """When to issue a new one: after ``threshold`` of its lifetime (Unix time)."""
        return self.not_before + (self.not_after - self.not_before) * threshold


def _encode(kind: str, der: bytes) -> str:
    """Go's ``pem.EncodeToMemory``: 64 base64 characters a line."""
    text = base64.b64encode(der).decode("ascii")
    lines = "".join(text[i:i + 64] + "\n" for i in range(0, len(text), 64))
    return f"-----BEGIN {kind}-----\n{lines}-----END {kind}-----\n"


def from_pem(data: bytes) -> IssuedCertificate | None:
    """consul-template's ``pemsCert``: private keys, then certificates: CA certificates go to
    ``CA`` (the first) and ``CAChain`` (each once), the other one is the certificate. None when
    there is no certificate (an empty or foreign destination file). A block that does not
    parse as a certificate is a ``ValueError``."""
    from cryptography import x509

    cert = key = ca = ""
    chain: list[str] = []
    leaf: Any = None
    for match in _BLOCK.finditer(data):
        kind = match.group(1).decode("ascii", "replace")
        try:
            der = base64.b64decode(b"".join(match.group(2).split()), validate=True)
        except ValueError:
            continue  # not a PEM block after all (Go's pem.Decode skips it too)
        block = _encode(kind, der)
        if kind.endswith("PRIVATE KEY"):
            key = block
            continue
        parsed = x509.load_der_x509_certificate(der)
        try:
            is_ca = parsed.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if is_ca:
            ca = ca or block
            if block not in chain:
                chain.append(block)
        else:
            leaf, cert = parsed, block
    if leaf is None:
        return None
    return IssuedCertificate(cert, key, ca, tuple(chain),
                             leaf.not_valid_before_utc.timestamp(),
                             leaf.not_valid_after_utc.timestamp())


def issued_pem(data: Mapping[str, Any]) -> bytes:
    """The PEM text of an issue answer's ``data``, as consul-template puts it together: every
    string value and each entry of ``ca_chain``, one per line (the leaf certificate first, so
    that the order does not depend on the answer's key order)."""
    parts: list[str] = []
    for name in ("certificate", "issuing_ca", "private_key"):
        value = data.get(name)
        if isinstance(value, str):
            parts.append(value)
    for name, value in data.items():
        if name not in ("certificate", "issuing_ca", "private_key") and isinstance(value, str):
            parts.append(value)
    chain = data.get("ca_chain")
    if isinstance(chain, list):
        parts.extend(item for item in chain if isinstance(item, str))
    return "".join(part + "\n" for part in parts).encode()


__all__ = ["IssuedCertificate", "from_pem", "issued_pem"]
