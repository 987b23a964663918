"""Sprig's key and certificate generators: ``genPrivateKey``, ``genCA``, ``genCAWithKey``,
``genSelfSignedCert``, ``genSelfSignedCertWithKey``, ``genSignedCert``,
``genSignedCertWithKey`` and ``buildCustomCert``.

Templates mint throw-away TLS material with these, and what they write must be what Go's
crypto/x509 would write, so that the same tools accept it: PEM blocks of the same types
(``RSA PRIVATE KEY`` PKCS#1 for RSA 4096, ``EC PRIVATE KEY`` for P-256, ``DSA PRIVATE KEY``,
PKCS#8 ``PRIVATE KEY`` for Ed25519), RSA 2048 keys for generated certificates, a random
128-bit serial, the subject holding only the common name, the same extensions in Go's order
and criticality (key usage, server and client auth, basic constraints, a subject key id on
CAs, the CA's key id on signed certificates, alternative names), signatures as Go picks
them. The ``cryptography`` package is imported only when one of these is called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from s4e_secret_agent.template.gofmt import format_value
from s4e_secret_agent.template.signature import INT, LIST, STRING, FuncError, GoFunc
from s4e_secret_agent.template.values import GoStruct

CERTIFICATE = "sprig.certificate"
# Go's asn1 uses a PrintableString for a name with only these characters.
_PRINTABLE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")


def _without_dsa_warnings(fn: Callable[..., GoStruct | str]) -> Callable[..., GoStruct | str]:
    """Run ``fn`` with cryptography's DSA deprecation warning silenced: Sprig still makes and
    reads DSA keys, and a warning must not turn into a template error."""
    def call(*args: Any) -> GoStruct | str:
        import warnings

        from cryptography.utils import CryptographyDeprecationWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return fn(*args)

    return call


def _certificate(cert: str, key: str) -> GoStruct:
    return GoStruct(CERTIFICATE, {"Cert": cert, "Key": key}, pointer=False)


def _pem_encode(block_type: str, der: bytes) -> str:
    import base64

    body = base64.b64encode(der).decode("ascii")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {block_type}-----\n" + "".join(line + "\n" for line in lines) + \
        f"-----END {block_type}-----\n"


def _pem_decode(data: str) -> tuple[str, bytes] | None:
    """The first PEM block of ``data`` (Go's pem.Decode), or None."""
    import base64
    import binascii
    import re

    match = re.search(r"-----BEGIN ([^\n]*?)-----\r?\n(.*?)-----END \1-----", data, re.S)
    if match is None:
        return None
    body = match.group(2)
    if ":" in body.split("\n\n", 1)[0] and "\n\n" in body:
        body = body.split("\n\n", 1)[1]  # skip RFC 1421 headers
    try:
        return match.group(1), base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def pem_for_key(key: Any) -> str:
    """Sprig's pemBlockForKey: PKCS#1, SEC 1 and DSA blocks, PKCS#8 for anything else."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

    if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, dsa.DSAPrivateKey)):
        fmt = serialization.PrivateFormat.TraditionalOpenSSL
    else:
        fmt = serialization.PrivateFormat.PKCS8
    pem: bytes = key.private_bytes(serialization.Encoding.PEM, fmt,
                                   serialization.NoEncryption())
    return pem.decode("ascii")


def _generate_private_key(kind: str) -> str:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

    key: Any
    if kind in ("", "rsa"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    elif kind == "dsa":
        key = dsa.generate_parameters(key_size=2048).generate_private_key()
    elif kind == "ecdsa":
        key = ec.generate_private_key(ec.SECP256R1())
    elif kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        return "Unknown type " + kind
    return pem_for_key(key)


def parse_private_key_pem(text: str) -> Any:
    """Sprig's parsePrivateKeyPEM; raises FuncError with its messages."""
    from cryptography.hazmat.primitives import serialization

    block = _pem_decode(text)
    if block is None:
        raise FuncError("no PEM data in input")
    block_type, der = block
    if block_type == "PRIVATE KEY":
        try:
            return serialization.load_der_private_key(der, password=None)
        except (ValueError, TypeError) as exc:
            raise FuncError(f"decoding PEM as PKCS#8: {_x509_error(exc)}") from None
    if not block_type.endswith(" PRIVATE KEY"):
        raise FuncError(f"no private key data in PEM block of type {block_type}")
    kind = block_type[:-12]
    if kind not in ("RSA", "EC", "DSA"):
        raise FuncError(f"invalid private key type {block_type}")
    try:
        return serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError) as exc:
        raise FuncError(f"parsing {kind} private key from PEM: {_x509_error(exc)}") from None


def _x509_error(exc: Exception) -> str:
    # crypto/x509's parsers have many detailed messages; cryptography's differ. The cause is
    # always a key Go would not read either, so the message names it generically.
    del exc
    return "x509: malformed private key"


def _net_ips(ips: list[Any] | None) -> list[Any]:
    import ipaddress

    out = []
    for ip in ips or []:
        if not isinstance(ip, str):
            raise FuncError(f"error parsing ip: {format_value(ip)} is not a string")
        try:
            if "%" in ip:
                raise ValueError(ip)
            address: Any = ipaddress.ip_address(ip)
        except ValueError:
            raise FuncError(f"error parsing ip: {ip}") from None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # Go stores it as a 4-byte IPv4 address
        out.append(address)
    return out


def _dns_names(names: list[Any] | None) -> list[str]:
    out = []
    for name in names or []:
        if not isinstance(name, str):
            raise FuncError("error processing alternate dns name: "
                            f"{format_value(name)} is not a string")
        out.append(name)
    return out


def _name(cn: str) -> Any:
    from cryptography import x509
    from cryptography.x509.name import _ASN1Type
    from cryptography.x509.oid import NameOID

    if cn == "":
        return x509.Name([])
    kind = _ASN1Type.PrintableString if set(cn) <= _PRINTABLE else _ASN1Type.UTF8String
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn, _type=kind)])


def _key_id(public_key: Any) -> bytes:
    # Go 1.25+ derives a missing subject key id from the truncated SHA-256 of the key bits.
    import hashlib

    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(_subject_public_key_bits(der)).digest()[:20]


def _subject_public_key_bits(spki: bytes) -> bytes:
    """The BIT STRING contents (without the unused-bits byte) of a SubjectPublicKeyInfo."""
    def read(data: bytes, pos: int) -> tuple[int, int, int]:
        tag = data[pos]
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[pos:pos + count], "big")
            pos += count
        return tag, pos, length

    _, pos, _ = read(spki, 0)  # the outer SEQUENCE
    _, pos, length = read(spki, pos)  # the algorithm identifier
    pos += length
    _, pos, length = read(spki, pos)  # the BIT STRING
    return spki[pos + 1:pos + length]


def _signing_hash(key: Any) -> Any:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

    if isinstance(key, rsa.RSAPrivateKey):
        return hashes.SHA256()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = key.curve.key_size
        return hashes.SHA512() if size > 384 else hashes.SHA384() if size > 256 else \
            hashes.SHA256()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, dsa.DSAPrivateKey):
        raise FuncError("error creating certificate: x509: certificate private key does not "
                        "implement crypto.Signer")
    raise FuncError("error creating certificate: x509: only RSA, ECDSA and Ed25519 keys "
                    "supported")


def _certificate_and_key(cn: str, ips: list[Any] | None, dns: list[Any] | None, days: int,
                         key: Any, *, is_ca: bool = False, signer: Any = None,
                         issuer: Any = None) -> GoStruct:
    import datetime
    import secrets

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID

    addresses = _net_ips(ips)
    names = _dns_names(dns)
    serial = secrets.randbits(128)
    signing_key = key if signer is None else signer
    digest = _signing_hash(signing_key)
    public_key = key.public_key()
    if not isinstance(public_key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey,
                                   ed25519.Ed25519PublicKey)):
        go_type = ("*dsa.PublicKey" if isinstance(public_key, dsa.DSAPublicKey)
                   else "*ecdh.PublicKey")
        raise FuncError(f"error creating certificate: x509: unsupported public key type: "
                        f"{go_type}")
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    subject = _name(cn)
    issuer_name = subject if issuer is None else issuer.subject
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer_name)
               .public_key(public_key)
               .serial_number(serial)
               .not_valid_before(now)
               .not_valid_after(now + datetime.timedelta(days=days)))
    builder = builder.add_extension(x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=True,
        data_encipherment=False, key_agreement=False, key_cert_sign=is_ca, crl_sign=False,
        encipher_only=False, decipher_only=False), critical=True)
    builder = builder.add_extension(x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    builder = builder.add_extension(x509.BasicConstraints(ca=is_ca, path_length=None),
                                    critical=True)
    if is_ca:
        builder = builder.add_extension(x509.SubjectKeyIdentifier(_key_id(public_key)),
                                        critical=False)
    if issuer is not None and issuer.subject.public_bytes() != subject.public_bytes():
        try:
            issuer_key_id = issuer.extensions.get_extension_for_class(
                x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            issuer_key_id = b""
        if issuer_key_id:
            builder = builder.add_extension(x509.AuthorityKeyIdentifier(
                issuer_key_id, None, None), critical=False)
    if addresses or names:
        general: list[Any] = [x509.DNSName(n) for n in names]
        general += [x509.IPAddress(a) for a in addresses]
        # Go marks the alternative names critical when the subject is empty (RFC 5280).
        builder = builder.add_extension(x509.SubjectAlternativeName(general),
                                        critical=cn == "")
    cert = builder.sign(signing_key, digest)
    from cryptography.hazmat.primitives import serialization

    return _certificate(_pem_encode("CERTIFICATE", cert.public_bytes(
        serialization.Encoding.DER)), pem_for_key(key))


def _rsa_2048() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_from_pem(text: str) -> Any:
    try:
        return parse_private_key_pem(text)
    except FuncError as exc:
        raise FuncError(f"parsing private key: {exc}") from None


def _gen_ca(cn: str, days: int) -> GoStruct:
    return _certificate_and_key(cn, None, None, days, _rsa_2048(), is_ca=True)


def _gen_ca_with_key(cn: str, days: int, key_pem: str) -> GoStruct:
    return _certificate_and_key(cn, None, None, days, _key_from_pem(key_pem), is_ca=True)


def _gen_self_signed(cn: str, ips: list[Any], dns: list[Any], days: int) -> GoStruct:
    return _certificate_and_key(cn, ips, dns, days, _rsa_2048())


def _gen_self_signed_with_key(cn: str, ips: list[Any], dns: list[Any], days: int,
                              key_pem: str) -> GoStruct:
    return _certificate_and_key(cn, ips, dns, days, _key_from_pem(key_pem))


def _signer(ca: GoStruct) -> tuple[Any, Any]:
    from cryptography import x509

    block = _pem_decode(str(ca.fields.get("Cert", "")))
    if block is None:
        raise FuncError("unable to decode certificate")
    try:
        issuer = x509.load_der_x509_certificate(block[1])
    except ValueError:
        raise FuncError("error parsing certificate: decodedSignerCert.Bytes: x509: malformed "
                        "certificate") from None
    try:
        signer = parse_private_key_pem(str(ca.fields.get("Key", "")))
    except FuncError as exc:
        raise FuncError(f"error parsing private key: {exc}") from None
    return issuer, signer


def _gen_signed(cn: str, ips: list[Any], dns: list[Any], days: int, ca: GoStruct
                ) -> GoStruct:
    key = _rsa_2048()
    issuer, signer = _signer(ca)
    return _certificate_and_key(cn, ips, dns, days, key, signer=signer, issuer=issuer)


def _gen_signed_with_key(cn: str, ips: list[Any], dns: list[Any], days: int, ca: GoStruct,
                         key_pem: str) -> GoStruct:
    key = _key_from_pem(key_pem)
    issuer, signer = _signer(ca)
    return _certificate_and_key(cn, ips, dns, days, key, signer=signer, issuer=issuer)


def _build_custom_cert(b64cert: str, b64key: str) -> GoStruct:
    from cryptography import x509

    from s4e_secret_agent.template.funcs.sprig.encoding import CorruptInput, base64_decode

    def raw(s: str) -> bytes:
        return s.encode("utf-8", "surrogateescape")

    try:
        cert = base64_decode(raw(b64cert))
    except CorruptInput:
        raise FuncError("unable to decode base64 certificate") from None
    try:
        key = base64_decode(raw(b64key))
    except CorruptInput:
        raise FuncError("unable to decode base64 private key") from None
    cert_text = cert.decode("utf-8", "surrogateescape")
    key_text = key.decode("utf-8", "surrogateescape")
    block = _pem_decode(cert_text)
    if block is None:
        raise FuncError("unable to decode certificate")
    try:
        x509.load_der_x509_certificate(block[1])
    except ValueError:
        raise FuncError("error parsing certificate: decodedCert.Bytes: x509: malformed "
                        "certificate") from None
    try:
        parse_private_key_pem(key_text)
    except FuncError as exc:
        raise FuncError(f"error parsing private key: {exc}") from None
    return _certificate(cert_text, key_text)


def functions() -> dict[str, GoFunc]:
    quiet = _without_dsa_warnings
    return {
        "sprig_genPrivateKey": GoFunc(quiet(_generate_private_key), (STRING,)),
        "sprig_genCA": GoFunc(quiet(_gen_ca), (STRING, INT)),
        "sprig_genCAWithKey": GoFunc(quiet(_gen_ca_with_key), (STRING, INT, STRING)),
        "sprig_genSelfSignedCert": GoFunc(quiet(_gen_self_signed), (STRING, LIST, LIST, INT)),
        "sprig_genSelfSignedCertWithKey": GoFunc(quiet(_gen_self_signed_with_key),
                                                 (STRING, LIST, LIST, INT, STRING)),
        "sprig_genSignedCert": GoFunc(quiet(_gen_signed),
                                      (STRING, LIST, LIST, INT, CERTIFICATE)),
        "sprig_genSignedCertWithKey": GoFunc(quiet(_gen_signed_with_key),
                                             (STRING, LIST, LIST, INT, CERTIFICATE, STRING)),
        "sprig_buildCustomCert": GoFunc(quiet(_build_custom_cert), (STRING, STRING)),
    }
