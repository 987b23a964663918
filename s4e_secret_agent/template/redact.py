"""Keep secret values out of error messages.

Go's errors sometimes quote a value (``range can't iterate over <value>``, ``unknown type for
"<value>"``). Like consul-template's "redactinator", every value read from Vault during the
render is replaced by ``[redacted]`` before a message leaves the engine. We go further than
consul-template: nested values count too (a KV v2 secret's values sit under ``.Data.data``),
and so do lease ids and client tokens.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from s4e_secret_agent.template.gofmt import format_value
from s4e_secret_agent.template.values import GoStruct

REDACTED = "[redacted]"
# Shorter values (a port "80", a flag "1") would turn every digit of a line:column into
# "[redacted]" and make the message useless; they are not secrets on their own.
MIN_REDACT_LENGTH = 3


def _leaves(value: Any, out: list[str]) -> None:
    if isinstance(value, (dict, list)):
        for item in value.values() if isinstance(value, dict) else value:
            _leaves(item, out)
        if value:
            out.append(format_value(value))
    elif value is not None and not isinstance(value, bool):
        out.append(format_value(value))


def secret_strings(secrets: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for secret in secrets:
        if not isinstance(secret, GoStruct):
            continue
        _leaves(secret.fields.get("Data"), out)
        lease = secret.fields.get("LeaseID")
        if isinstance(lease, str):
            out.append(lease)
        if secret.type_name == "dependency.PemEncoded":
            out.append(str(secret.fields.get("Key", "")))  # a pkiCert private key
        auth = secret.fields.get("Auth")
        if isinstance(auth, GoStruct):
            out.append(str(auth.fields.get("ClientToken", "")))
            out.append(str(auth.fields.get("Accessor", "")))
    return [s for s in out if len(s) >= MIN_REDACT_LENGTH]


def redact_secrets(message: str, secrets: Iterable[Any], keep: Iterable[str] = ()) -> str:
    """``message`` with every secret value replaced by ``[redacted]``, except inside the
    strings of ``keep`` (template names, Vault paths): a value that happens to be part of a
    path ("app" in "app_cred.rendered") must not make the one hint a user needs unreadable."""
    shielded: dict[str, str] = {}
    for index, text in enumerate(sorted({k for k in keep if k}, key=len, reverse=True)):
        if text in message:
            placeholder = f"\x00{index}\x00"
            shielded[placeholder] = text
            message = message.replace(text, placeholder)
    for value in sorted(set(secret_strings(secrets)), key=len, reverse=True):
        if value in message:
            message = message.replace(value, REDACTED)
    for placeholder, text in shielded.items():
        message = message.replace(placeholder, text)
    return message
