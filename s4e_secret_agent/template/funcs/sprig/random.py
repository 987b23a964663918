"""Sprig's random values: ``randAlphaNum``, ``randAlpha``, ``randAscii``, ``randNumeric``
(goutils' crypto-random strings), ``randInt``, ``randBytes`` and ``uuidv4``.

Templates use them to mint passwords and tokens, so the output has exactly Sprig's form: the
same character classes (``randAscii`` is ``' '`` to ``'~'``), the same length, base64 for
``randBytes``, a version-4 UUID in lower case; a negative count is an empty string as in
goutils. Everything comes from the operating system's CSPRNG.
"""

from __future__ import annotations

import string

from s4e_secret_agent.template.signature import INT, FuncError, GoFunc

# Random output larger than this is refused (a template never needs megabytes of noise).
MAX_RANDOM_LENGTH = 16 * 1024 * 1024

_ALPHA = string.ascii_uppercase + string.ascii_lowercase
_ASCII = "".join(chr(c) for c in range(32, 127))


def _random_string(alphabet: str, count: int) -> str:
    import secrets

    if count <= 0:
        return ""
    if count > MAX_RANDOM_LENGTH:
        raise FuncError("random string is too large")
    return "".join(secrets.choice(alphabet) for _ in range(count))


def _rand_int(low: int, high: int) -> int:
    import secrets

    from s4e_secret_agent.template.funcs.sprig.conversion import wrap_int64

    span = wrap_int64(high - low)  # Go's int subtraction wraps around
    if span <= 0:
        raise FuncError("invalid argument to Intn")
    return wrap_int64(low + secrets.randbelow(span))


def _rand_bytes(count: int) -> str:
    import base64
    import os

    if count < 0:
        raise FuncError("runtime error: makeslice: len out of range")
    if count > MAX_RANDOM_LENGTH:
        raise FuncError("random string is too large")
    return base64.b64encode(os.urandom(count)).decode("ascii")


def _uuidv4() -> str:
    import uuid

    return str(uuid.uuid4())


def functions() -> dict[str, GoFunc]:
    return {
        "sprig_randAlphaNum": GoFunc(lambda n: _random_string(_ALPHA + string.digits, n),
                                     (INT,)),
        "sprig_randAlpha": GoFunc(lambda n: _random_string(_ALPHA, n), (INT,)),
        "sprig_randAscii": GoFunc(lambda n: _random_string(_ASCII, n), (INT,)),
        "sprig_randNumeric": GoFunc(lambda n: _random_string(string.digits, n), (INT,)),
        "sprig_randInt": GoFunc(_rand_int, (INT, INT)),
        "sprig_randBytes": GoFunc(_rand_bytes, (INT,)),
        "sprig_uuidv4": GoFunc(_uuidv4, ()),
    }
