"""What goes into a token sink file: the token, a response-wrapped copy of it, or either one
encrypted to a receiver's public key, byte for byte as Vault Agent writes them.

Vault Agent's sink server turns the token into the sink's contents in two optional steps, in
this order: with ``wrap_ttl`` it asks Vault to response-wrap the token (``sys/wrapping/wrap``,
sent with the token itself) and writes the JSON of the answer's wrap info instead (one line,
with Go's trailing newline), so the receiver must unwrap it once, within the TTL, to get the
token; with ``dh_type = "curve25519"`` it encrypts what it would have written to the public
key in ``dh_path`` (X25519 key agreement with a key pair the agent makes once, AES-256-GCM,
optionally HKDF-SHA256 over both public keys, ``aad`` as additional data) and writes the JSON
envelope of Vault's ``helper/dhutil``. Both are done again for every new token, not on
renewal. The file itself is written by :mod:`s4e_secret_agent.runtime.writer`, atomically and
with the sink's mode and owner.

Neither the token nor the wrapping token is ever logged or put in an error message.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from s4e_secret_agent.errors import WriteError
from s4e_secret_agent.runtime import writer

if TYPE_CHECKING:
    from s4e_secret_agent.config.model import SinkConfig
    from s4e_secret_agent.vault.types import VaultAPI

__all__ = ["SinkKeys", "TokenSinks", "decrypt_envelope", "wrap_info_json"]

# The fields of Vault's api.SecretWrapInfo, in the order Go's encoder writes them.
_WRAP_INFO_FIELDS = (("token", str), ("accessor", str), ("ttl", int), ("creation_time", str),
                     ("creation_path", str), ("wrapped_accessor", str))
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)")


def _go_json(value: Any) -> bytes:
    """JSON as Go's ``json.Encoder`` writes it: compact, HTML characters escaped, newline."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    text = (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return (text + "\n").encode()


def _go_time(text: str) -> str:
    """A timestamp re-encoded as Go's ``time.Time`` marshals it (RFC 3339, nanoseconds at
    most, trailing zeros of the fraction dropped, ``Z`` for a zero offset)."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return text
    base, fraction, offset = match.groups()
    digits = (fraction or ".")[1:10].rstrip("0")
    if offset in ("+00:00", "-00:00"):
        offset = "Z"
    return f"{base}{'.' + digits if digits else ''}{offset}"


def wrap_info_json(info: Mapping[str, Any]) -> bytes:
    """The sink file of a wrapped token: the wrap info as Vault Agent encodes it."""
    out: dict[str, Any] = {}
    for name, kind in _WRAP_INFO_FIELDS:
        value = info.get(name)
        if kind is int:
            out[name] = int(value) if isinstance(value, int | float) else 0
        else:
            out[name] = str(value) if value is not None else ""
    out["creation_time"] = _go_time(out["creation_time"]) or "0001-01-01T00:00:00Z"
    return _go_json(out)


@dataclass
class SinkKeys:
    """One sink's encryption keys, kept for the agent's life as Vault Agent keeps them: the
    receiver's public key (read once: trust on first use) and the agent's own key pair."""

    their_public: bytes | None = None
    our_public: bytes | None = None
    our_private: bytes | None = None


def _read_public_key(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise WriteError(f"sink public key file {path} does not exist",
                         hint="the receiver writes its curve25519_public_key there (JSON) "
                              "before the agent writes the sink") from None
    except OSError as err:
        raise WriteError(f"cannot read sink public key file {path}: {err.strerror}") from None
    try:
        decoded = json.loads(raw)
        key = base64.b64decode(decoded["curve25519_public_key"], validate=True)
    except (ValueError, KeyError, TypeError):
        raise WriteError(f"sink public key file {path} is not {{\"curve25519_public_key\": "
                         "\"<base64>\"}", hint="write the receiver's 32-byte X25519 public "
                         "key there, base64 encoded") from None
    if len(key) != 32:
        raise WriteError(f"sink public key in {path} has {len(key)} bytes, not 32")
    return key


def _hkdf_key(secret: bytes, first: bytes, second: bytes) -> bytes:
    """dhutil's DeriveSharedKey: HKDF-SHA256 with the smaller public key as salt and the
    larger as info, so both sides derive the same key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    if first == second:
        raise WriteError("the sink's public key is the agent's own")
    salt, info = (first, second) if first < second else (second, first)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret)


def encrypt_payload(payload: bytes, their_public: bytes, keys: SinkKeys, *,
                    derive_key: bool, aad: str | None) -> bytes:
    """The dhutil envelope of ``payload``: ``{"curve25519_public_key", "nonce",
    "encrypted_payload"}`` (base64), the agent's key pair made at the first call."""
    import os

    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    if keys.our_private is None or keys.our_public is None:
        private = X25519PrivateKey.generate()
        keys.our_private = private.private_bytes(Encoding.Raw, PrivateFormat.Raw,
                                                 NoEncryption())
        keys.our_public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    private = X25519PrivateKey.from_private_bytes(keys.our_private)
    secret = private.exchange(X25519PublicKey.from_public_bytes(their_public))
    key = _hkdf_key(secret, keys.our_public, their_public) if derive_key else secret
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, payload, aad.encode() if aad else None)
    return _go_json({
        "curve25519_public_key": base64.b64encode(keys.our_public).decode(),
        "nonce": base64.b64encode(nonce).decode(),
        "encrypted_payload": base64.b64encode(sealed).decode(),
    })


def decrypt_envelope(envelope: bytes, our_private: bytes, *, derive_key: bool = False,
                     aad: str | None = None) -> bytes:
    """The receiver's side of :func:`encrypt_payload` (``our_private``: the receiver's raw
    X25519 private key): what the sink file held before it was encrypted."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    decoded = json.loads(envelope)
    their_public = base64.b64decode(decoded["curve25519_public_key"])
    private = X25519PrivateKey.from_private_bytes(our_private)
    ours = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    secret = private.exchange(X25519PublicKey.from_public_bytes(their_public))
    key = _hkdf_key(secret, ours, their_public) if derive_key else secret
    return AESGCM(key).decrypt(base64.b64decode(decoded["nonce"]),
                               base64.b64decode(decoded["encrypted_payload"]),
                               aad.encode() if aad else None)


class TokenSinks:
    """The configured sinks and their encryption keys: writes a new token to every one."""

    def __init__(self, sinks: Sequence[SinkConfig]) -> None:
        self.sinks = tuple(sinks)
        self._keys = [SinkKeys() for _ in self.sinks]

    def write(self, token: str, vault: VaultAPI) -> None:
        """Write ``token`` (wrapped and/or encrypted as each sink says) to every sink file."""
        for sink, keys in zip(self.sinks, self._keys, strict=True):
            writer.write_file(sink.path, self.contents(sink, keys, token, vault),
                              mode=sink.mode, uid=sink.user, gid=sink.group)

    @staticmethod
    def contents(sink: SinkConfig, keys: SinkKeys, token: str, vault: VaultAPI) -> bytes:
        payload = token.encode()
        if sink.wrap_ttl:
            payload = wrap_info_json(vault.wrap_token(token, sink.wrap_ttl))
        if sink.dh_type:
            assert sink.dh_path is not None  # the builder requires both
            if keys.their_public is None:
                keys.their_public = _read_public_key(sink.dh_path)
            payload = encrypt_payload(payload, keys.their_public, keys,
                                      derive_key=sink.derive_key, aad=sink.aad)
        return payload
