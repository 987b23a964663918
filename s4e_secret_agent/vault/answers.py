"""What a Vault answer must be before the agent uses it.

Vault (and anything pretending to be it: a misrouted address, a broken proxy, an attacker on
the path) can send bodies that decode but break the agent later: nesting so deep that printing
it exhausts Python's recursion, a 400-digit ``lease_duration`` that overflows the timers, an
escaped lone UTF-16 surrogate that no file can hold as UTF-8, an ``auth`` that is a list. Each
is refused here, at decode, as a :class:`VaultError` naming the path and the field, so a
running sidecar logs one error and keeps the last good file.

The envelope fields the agent reads have the types Vault's Go client declares for them
(``api.Secret``, ``SecretAuth``, ``SecretWrapInfo``): a body that Go's ``json.Unmarshal`` would
refuse for them is refused here too. Where Vault Agent would quietly write U+FFFD for an
unpaired surrogate or bytes that are not UTF-8, the agent refuses the answer instead: a secret
silently changed is worse than one not updated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from s4e_secret_agent.errors import VaultError
from s4e_secret_agent.vault.types import as_int

# Deeper than any secret's structure; shallow enough that the template engine's recursive
# printers and encoders stay far below Python's recursion limit.
MAX_DEPTH = 128
# The longest time.Duration Go (and so Vault) can express: 2**63 ns, about 292 years.
MAX_DURATION_S = 9_223_372_036

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")

_STRING, _BOOL, _INT, _MAP, _LIST = "a string", "true or false", "an integer", "an object", \
    "a list of strings"
ENVELOPE_FIELDS = {"request_id": _STRING, "lease_id": _STRING, "lease_duration": _INT,
                   "renewable": _BOOL, "data": _MAP, "warnings": _LIST, "auth": _MAP,
                   "wrap_info": _MAP, "mount_type": _STRING}
AUTH_FIELDS = {"client_token": _STRING, "accessor": _STRING, "policies": _LIST,
               "token_policies": _LIST, "identity_policies": _LIST, "metadata": _MAP,
               "orphan": _BOOL, "entity_id": _STRING, "lease_duration": _INT,
               "renewable": _BOOL}
WRAP_INFO_FIELDS = {"token": _STRING, "accessor": _STRING, "ttl": _INT,
                    "creation_time": _STRING, "creation_path": _STRING,
                    "wrapped_accessor": _STRING}


def refuse(path: str, what: str) -> VaultError:
    return VaultError(f"Vault's answer for {path} is malformed: {what}; it was not used",
                      hint="check that vault.address points at Vault, not a proxy or another "
                           "server; the last good files are kept", path=path)


def decode_text(body: bytes, path: str) -> str:
    """The body as text: JSON is UTF-8 (RFC 8259), anything else is refused."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(path, f"byte {exc.start} is not UTF-8") from None


def check_structure(value: Any, text: str, path: str) -> None:
    """Nesting at most :data:`MAX_DEPTH` deep; no string (key or value) holding a lone
    surrogate. Iterative, so the check itself cannot run out of stack."""
    strings = _SURROGATE_ESCAPE.search(text) is not None
    if not strings and text.count("[") + text.count("{") <= MAX_DEPTH:
        return  # no value can nest deeper than there are brackets: the usual answer
    todo: list[tuple[Any, int]] = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
            if strings:
                for key in item:
                    _check_string(key, path)
        elif isinstance(item, list | tuple):
            children = item
        else:
            if strings:
                _check_string(item, path)
            continue
        if depth > MAX_DEPTH:
            raise refuse(path, f"nested more than {MAX_DEPTH} levels deep")
        todo.extend((child, depth + 1) for child in children)


def _check_string(item: Any, path: str) -> None:
    if isinstance(item, str) and not item.isascii():
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:
            raise refuse(path, "a string holds an unpaired UTF-16 surrogate escape "
                               "(\\ud800-\\udfff), which is not text") from None


def check_envelope(body: Any, path: str) -> None:
    """The top level is an object (or null) and the fields the agent reads have Vault's
    types; durations are within what Vault can express."""
    if body is None:
        return
    if not isinstance(body, Mapping):
        raise refuse(path, f"the top level is {_kind(body)}, not an object")
    _check_fields(body, ENVELOPE_FIELDS, "", path)
    for name, fields in (("auth", AUTH_FIELDS), ("wrap_info", WRAP_INFO_FIELDS)):
        block = body.get(name)
        if isinstance(block, Mapping):
            _check_fields(block, fields, name + ".", path)


def _check_fields(block: Mapping[str, Any], fields: Mapping[str, str], prefix: str,
                  path: str) -> None:
    for name, expected in fields.items():
        value = block.get(name)
        if value is None or _has_type(value, expected):
            continue
        if expected == _INT and _is_number(value):
            raise refuse(path, f"{prefix}{name} is not a whole number of seconds of at most "
                               f"{MAX_DURATION_S}")
        raise refuse(path, f"{prefix}{name} is {_kind(value)}, not {expected}")


def _has_type(value: Any, expected: str) -> bool:
    if expected == _STRING:
        return isinstance(value, str)
    if expected == _BOOL:
        return isinstance(value, bool)
    if expected == _MAP:
        return isinstance(value, Mapping)
    if expected == _LIST:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return duration_or_none(value) is not None


def duration_or_none(value: Any) -> int | None:
    """A JSON integer within ``[-MAX_DURATION_S, MAX_DURATION_S]`` as an int, else ``None``.
    (Vault sends -1 and 0 for "no TTL"; the agent treats negatives as 0.)"""
    if isinstance(value, bool):
        return None
    literal = getattr(value, "text", None)  # the template engine's exact JSON number
    if isinstance(literal, str):
        if not _INTEGER.fullmatch(literal) or len(literal) > 20:
            return None
        value = int(literal)
    if not isinstance(value, int) or abs(value) > MAX_DURATION_S:
        return None
    return value


def checked_duration(value: Any, field: str, path: str) -> int:
    """A TTL from a free-form ``data`` map (``lookup-self``'s ``ttl``): a number past what
    Vault can express is refused; other shapes count as 0 (no TTL), as before."""
    number = as_int(value)
    too_big = abs(number) > MAX_DURATION_S
    if not too_big and _is_number(value):
        try:
            too_big = not abs(float(getattr(value, "text", value))) <= MAX_DURATION_S
        except (TypeError, ValueError, OverflowError):
            too_big = True
    if too_big:
        raise refuse(path, f"{field} is not a whole number of seconds of at most "
                           f"{MAX_DURATION_S}")
    return number


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)) or isinstance(
        getattr(value, "text", None), str)


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if _is_number(value):
        return "a number"
    return type(value).__name__
