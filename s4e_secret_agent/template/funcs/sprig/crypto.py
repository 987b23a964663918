"""Sprig's hashing and encryption (crypto.go): ``sha1sum``, ``sha256sum``, ``sha512sum``,
``adler32sum``, ``bcrypt``, ``htpasswd``, ``derivePassword``, ``encryptAES``, ``decryptAES``.

Rendered files carry password hashes and encrypted values that other programs check, so the
formats are Sprig's exactly: bcrypt hashes are ``$2a$10$...`` (Go's x/crypto, cost 10),
``derivePassword`` is the Master Password algorithm (scrypt N=32768, r=8, p=2) giving the
same password as Go for the same inputs, and ``encryptAES`` is AES-256-CBC with the password
zero-padded (or cut) to 32 bytes, a random IV in front, PKCS#7 padding, base64, so that
either side decrypts what the other encrypted. The crypto libraries load only when called.
"""

from __future__ import annotations

from s4e_secret_agent.template.signature import STRING, FuncError, GoFunc

_MASTER_PASSWORD_SEED = b"com.lyndir.masterpassword"
_PASSWORD_TEMPLATES = {
    "maximum": ("anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"),
    "long": ("CvcvnoCvcvCvcv", "CvcvCvcvnoCvcv", "CvcvCvcvCvcvno", "CvccnoCvcvCvcv",
             "CvccCvcvnoCvcv", "CvccCvcvCvcvno", "CvcvnoCvccCvcv", "CvcvCvccnoCvcv",
             "CvcvCvccCvcvno", "CvcvnoCvcvCvcc", "CvcvCvcvnoCvcc", "CvcvCvcvCvccno",
             "CvccnoCvccCvcv", "CvccCvccnoCvcv", "CvccCvccCvcvno", "CvcvnoCvccCvcc",
             "CvcvCvccnoCvcc", "CvcvCvccCvccno", "CvccnoCvcvCvcc", "CvccCvcvnoCvcc",
             "CvccCvcvCvccno"),
    "medium": ("CvcnoCvc", "CvcCvcno"),
    "short": ("Cvcn",),
    "basic": ("aaanaaan", "aannaaan", "aaannaaa"),
    "pin": ("nnnn",),
}
_TEMPLATE_CHARACTERS = {
    "V": "AEIOU",
    "C": "BCDFGHJKLMNPQRSTVWXYZ",
    "v": "aeiou",
    "c": "bcdfghjklmnpqrstvwxyz",
    "A": "AEIOUBCDFGHJKLMNPQRSTVWXYZ",
    "a": "AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
    "n": "0123456789",
    "o": "@&%?,=[]_:-+*$#!'^~;()/.",
    "x": "AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
}


def _bytes(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def _hexdigest(algorithm: str, s: str) -> str:
    import hashlib

    return hashlib.new(algorithm, _bytes(s), usedforsecurity=False).hexdigest()


def _adler32sum(s: str) -> str:
    import zlib

    return str(zlib.adler32(_bytes(s)))


def bcrypt_hash(password: str) -> str:
    """x/crypto's GenerateFromPassword(password, 10), or Sprig's error text."""
    raw = _bytes(password)
    if len(raw) > 72:
        return ("failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 "
                "bytes")
    import bcrypt

    return _text(bcrypt.hashpw(raw, bcrypt.gensalt(rounds=10, prefix=b"2a")))


def _htpasswd(username: str, password: str) -> str:
    if ":" in username:
        return f"invalid username: {username}"
    return f"{username}:{bcrypt_hash(password)}"


def derive_password(counter: int, password_type: str, password: str, user: str,
                    site: str) -> str:
    """The Master Password algorithm as Sprig implements it."""
    templates = _PASSWORD_TEMPLATES.get(password_type)
    if templates is None:
        return f"cannot find password template {password_type}"
    import hashlib
    import hmac

    user_bytes, site_bytes = _bytes(user), _bytes(site)
    salt = _MASTER_PASSWORD_SEED + len(user_bytes).to_bytes(4, "big") + user_bytes
    key = hashlib.scrypt(_bytes(password), salt=salt, n=32768, r=8, p=2, dklen=64,
                         maxmem=64 * 1024 * 1024)
    message = (_MASTER_PASSWORD_SEED + len(site_bytes).to_bytes(4, "big") + site_bytes
               + (counter & 0xFFFFFFFF).to_bytes(4, "big"))
    seed = hmac.new(key, message, hashlib.sha256).digest()
    template = templates[seed[0] % len(templates)]
    out = []
    for i, kind in enumerate(template):
        characters = _TEMPLATE_CHARACTERS[kind]
        out.append(characters[seed[i + 1] % len(characters)])
    return "".join(out)


def _aes_key(password: str) -> bytes:
    # Sprig copies the password into a 32-byte key: longer ones are cut, shorter zero-padded.
    return _bytes(password)[:32].ljust(32, b"\0")


def _encrypt_aes(password: str, plaintext: str) -> str:
    if plaintext == "":
        return ""
    import base64
    import os

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    content = _bytes(plaintext)
    padding = 16 - len(content) % 16
    content += bytes([padding]) * padding
    iv = os.urandom(16)
    encryptor = Cipher(algorithms.AES(_aes_key(password)), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(content) + encryptor.finalize()).decode()


def _decrypt_aes(password: str, encoded: str) -> str:
    if encoded == "":
        return ""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    from s4e_secret_agent.template.funcs.sprig.encoding import CorruptInput, base64_decode

    try:
        data = base64_decode(_bytes(encoded))
    except CorruptInput as exc:
        raise FuncError(str(exc)) from None
    if len(data) < 16:
        # Go slices the decode buffer, whose capacity is DecodedLen of the input.
        capacity = len(_bytes(encoded)) // 4 * 3
        if capacity < 16:
            raise FuncError("runtime error: slice bounds out of range [:16] with capacity "
                            f"{capacity}")
        raise FuncError(f"runtime error: slice bounds out of range [16:{len(data)}]")
    iv, body = data[:16], data[16:]
    if len(body) % 16:
        raise FuncError("crypto/cipher: input not full blocks")
    if not body:
        raise FuncError("runtime error: index out of range [-1]")
    decryptor = Cipher(algorithms.AES(_aes_key(password)), modes.CBC(iv)).decryptor()
    plain = decryptor.update(body) + decryptor.finalize()
    # Sprig trusts the last byte as the padding length, unchecked.
    cut = len(plain) - plain[-1]
    if cut < 0:
        raise FuncError(f"runtime error: slice bounds out of range [:{cut}]")
    return _text(plain[:cut])


def functions() -> dict[str, GoFunc]:
    return {
        "sprig_sha1sum": GoFunc(lambda s: _hexdigest("sha1", s), (STRING,)),
        "sprig_sha256sum": GoFunc(lambda s: _hexdigest("sha256", s), (STRING,)),
        "sprig_sha512sum": GoFunc(lambda s: _hexdigest("sha512", s), (STRING,)),
        "sprig_adler32sum": GoFunc(_adler32sum, (STRING,)),
        "sprig_bcrypt": GoFunc(bcrypt_hash, (STRING,)),
        "sprig_htpasswd": GoFunc(_htpasswd, (STRING, STRING)),
        "sprig_derivePassword": GoFunc(derive_password,
                                       ("uint32", STRING, STRING, STRING, STRING)),
        "sprig_encryptAES": GoFunc(_encrypt_aes, (STRING, STRING)),
        "sprig_decryptAES": GoFunc(_decrypt_aes, (STRING, STRING)),
    }
