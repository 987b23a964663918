"""Token sink contents without a server: the dhutil envelope both ways (against a receiver
key made here, as a receiver would), Go's JSON form of the wrap info, and the sink file's
mode kept."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from s4e_secret_agent.config.model import SinkConfig
from s4e_secret_agent.errors import WriteError
from s4e_secret_agent.runtime.sinks import (
    SinkKeys,
    TokenSinks,
    decrypt_envelope,
    wrap_info_json,
)


def _receiver(tmp_path: Path) -> tuple[bytes, Path]:
    private = X25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    path = tmp_path / "dh.json"
    path.write_text(json.dumps({"curve25519_public_key": base64.b64encode(public).decode()}))
    return private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()), path


class _NoVault:
    def wrap_token(self, token: str, ttl: float) -> dict[str, Any]:
        raise AssertionError("not asked to wrap")


@pytest.mark.parametrize(("derive_key", "aad"), [(False, None), (True, None), (True, "ctx"),
                                                 (False, "ctx")])
def test_encrypted_sink_decrypts_to_the_token(tmp_path: Path, derive_key: bool,
                                              aad: str | None) -> None:
    private, dh_path = _receiver(tmp_path)
    sink = SinkConfig(path=str(tmp_path / "sink"), mode=0o600, dh_type="curve25519",
                      dh_path=str(dh_path), derive_key=derive_key, aad=aad)
    sinks = TokenSinks([sink])
    sinks.write("s.token-one", _NoVault())  # type: ignore[arg-type]
    raw = (tmp_path / "sink").read_bytes()
    assert b"s.token-one" not in raw and raw.endswith(b"}\n")
    assert list(json.loads(raw)) == ["curve25519_public_key", "nonce", "encrypted_payload"]
    assert decrypt_envelope(raw, private, derive_key=derive_key, aad=aad) == b"s.token-one"
    assert stat.S_IMODE((tmp_path / "sink").stat().st_mode) == 0o600
    # The agent's key pair is made once: the next token comes with the same public key.
    sinks.write("s.token-two", _NoVault())  # type: ignore[arg-type]
    second = (tmp_path / "sink").read_bytes()
    assert json.loads(second)["curve25519_public_key"] == json.loads(raw)[
        "curve25519_public_key"]
    assert decrypt_envelope(second, private, derive_key=derive_key, aad=aad) == b"s.token-two"


def test_wrong_aad_does_not_decrypt(tmp_path: Path) -> None:
    from cryptography.exceptions import InvalidTag

    private, dh_path = _receiver(tmp_path)
    sink = SinkConfig(path=str(tmp_path / "s"), dh_type="curve25519", dh_path=str(dh_path),
                      aad="right")
    TokenSinks([sink]).write("t", _NoVault())  # type: ignore[arg-type]
    with pytest.raises(InvalidTag):
        decrypt_envelope((tmp_path / "s").read_bytes(), private, aad="wrong")


def test_a_missing_public_key_file_names_it(tmp_path: Path) -> None:
    sink = SinkConfig(path=str(tmp_path / "s"), dh_type="curve25519",
                      dh_path=str(tmp_path / "none.json"))
    with pytest.raises(WriteError, match=r"none\.json does not exist") as err:
        TokenSinks([sink]).write("secret-token", _NoVault())  # type: ignore[arg-type]
    assert "secret-token" not in str(err.value)
    assert not (tmp_path / "s").exists()


def test_wrap_info_is_written_as_go_encodes_it() -> None:
    text = wrap_info_json({"token": "s.wrap", "accessor": "acc", "ttl": 300,
                           "creation_time": "2026-01-02T03:04:05.120000+00:00",
                           "creation_path": "sys/wrapping/wrap"})
    assert text == (b'{"token":"s.wrap","accessor":"acc","ttl":300,'
                    b'"creation_time":"2026-01-02T03:04:05.12Z",'
                    b'"creation_path":"sys/wrapping/wrap","wrapped_accessor":""}\n')


def test_sink_keys_start_empty() -> None:
    assert SinkKeys() == SinkKeys(None, None, None)
