"""Certificates described for a failed TLS handshake: subject, issuer, names, validity.

When Vault's certificate does not verify, the useful facts are in the certificate that did
not verify (who issued it, which names it holds), which the ``ssl`` module does not describe.
The doctor reads it with ``cryptography``, loaded only here.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    issuer: str
    names: tuple[str, ...]  # subjectAltName entries: "DNS:vault.example", "IP:10.0.0.1"
    not_before: dt.datetime | None
    not_after: dt.datetime | None

    def describe(self) -> dict[str, Any]:
        return {"subject": self.subject or "(empty)", "issuer": self.issuer or "(empty)",
                "names": list(self.names),
                "valid_until": self.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
                if self.not_after else "(unknown)"}


def _name_text(name: Any) -> str:
    """``CN=vault, O=S4E``: attributes in certificate order, short names where there are."""
    parts = []
    for attribute in name:
        key = getattr(attribute, "rfc4514_attribute_name", "") or attribute.oid.dotted_string
        value = attribute.value
        parts.append(f"{key}={value.decode('latin-1') if isinstance(value, bytes) else value}")
    return ", ".join(parts)


def _alt_names(certificate: Any) -> tuple[str, ...]:
    from cryptography import x509

    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    names = []
    for entry in extension.value:
        if isinstance(entry, x509.DNSName):
            names.append(f"DNS:{entry.value}")
        elif isinstance(entry, x509.IPAddress):
            names.append(f"IP:{entry.value}")
        elif isinstance(entry, x509.UniformResourceIdentifier):
            names.append(f"URI:{entry.value}")
        elif isinstance(entry, x509.RFC822Name):
            names.append(f"email:{entry.value}")
    return tuple(names)


def parse_certificate(der: bytes) -> CertificateInfo | None:
    """Subject, issuer, subjectAltNames and validity of a DER certificate (``None`` if the
    bytes are not one)."""
    from cryptography import x509

    try:
        certificate = x509.load_der_x509_certificate(der)
        return CertificateInfo(_name_text(certificate.subject), _name_text(certificate.issuer),
                               _alt_names(certificate), certificate.not_valid_before_utc,
                               certificate.not_valid_after_utc)
    except ValueError:
        return None


_PEM_BLOCK = re.compile(
    r"-----BEGIN CERTIFICATE-----\s*(.*?)\s*-----END CERTIFICATE-----", re.DOTALL)


def pem_certificates(text: str) -> list[CertificateInfo]:
    """Every certificate in a PEM bundle that could be decoded."""
    found = []
    for block in _PEM_BLOCK.findall(text):
        try:
            der = base64.b64decode("".join(block.split()), validate=True)
        except (ValueError, binascii.Error):
            continue
        info = parse_certificate(der)
        if info is not None:
            found.append(info)
    return found
