"""Keep secret values out of error messages, in every form a message can show them.

Go's errors quote values: ``range can't iterate over <value>``, ``unknown type for
"<value>"``, a regexp error that repeats a pattern built from a secret. Like
consul-template's "redactinator", every value read during the render is replaced by
``[redacted]`` before a message leaves the engine. We go further than consul-template:

* nested values count (a KV v2 secret's values sit under ``.Data.data``), and so do lease
  ids, client tokens, a certificate's private key, and what ``env`` and ``file`` returned;
* a value is found in the forms errors print it: as is, Go-quoted (``%q``, ``%+q``: a PEM
  key's newlines become ``\\n``, a ``"`` becomes ``\\"``), JSON-escaped (``toJSON``,
  with and without HTML escaping) and upper/lower/title-cased;
* pieces of a value are found too: any run of at least :data:`MIN_FRAGMENT_LENGTH`
  characters of the message that also occurs in one of those forms is redacted. That covers a
  line of a PEM key, the parts of a ``split``, a ``trimPrefix`` or ``trunc`` result.

Whole values shorter than :data:`MIN_REDACT_LENGTH` are left alone (a port ``80`` would
otherwise blank every line:column), and so are pieces shorter than
:data:`MIN_FRAGMENT_LENGTH` (eight characters: shorter runs are too often ordinary words of
the message). Encodings that change every character (base64, hex, hashes) are not undone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from s4e_secret_agent.template.gofmt import format_value, go_quote
from s4e_secret_agent.template.values import GoStruct

REDACTED = "[redacted]"
# Shorter values (a port "80", a flag "1") would turn every digit of a line:column into
# "[redacted]" and make the message useless; they are not secrets on their own.
MIN_REDACT_LENGTH = 3
# Pieces of a value this long or longer are redacted wherever they appear.
MIN_FRAGMENT_LENGTH = 8
# Pieces are looked for in the first this many characters of each form of a value: a PEM
# chain is a few KiB, and the index of pieces costs memory in proportion (a multi-megabyte
# blob is still redacted whole).
MAX_FRAGMENT_SOURCE = 16 * 1024


def _leaves(value: Any, leaves: list[str], composites: list[str]) -> None:
    if isinstance(value, (dict, list)):
        for item in value.values() if isinstance(value, dict) else value:
            _leaves(item, leaves, composites)
        if value:
            composites.append(format_value(value))
    elif value is not None and not isinstance(value, bool):
        leaves.append(format_value(value))


def secret_strings(secrets: Iterable[Any]) -> tuple[list[str], list[str]]:
    """The text of every value in ``secrets`` (Vault responses as ``GoStruct``, and plain
    strings: what ``env`` and ``file`` returned), as (leaves, composites): a map or list
    printed whole (``map[password:...]``) is redacted whole, but only leaves are searched
    for pieces (a map's printed keys are ordinary words such as "metadata")."""
    leaves: list[str] = []
    composites: list[str] = []
    for secret in secrets:
        if isinstance(secret, str):
            leaves.append(secret)
            continue
        if not isinstance(secret, GoStruct):
            continue
        _leaves(secret.fields.get("Data"), leaves, composites)
        lease = secret.fields.get("LeaseID")
        if isinstance(lease, str):
            leaves.append(lease)
        if secret.type_name == "dependency.PemEncoded":
            leaves.append(str(secret.fields.get("Key", "")))  # a pkiCert private key
        auth = secret.fields.get("Auth")
        if isinstance(auth, GoStruct):
            leaves.append(str(auth.fields.get("ClientToken", "")))
            leaves.append(str(auth.fields.get("Accessor", "")))
    return ([s for s in leaves if len(s) >= MIN_REDACT_LENGTH],
            [s for s in composites if len(s) >= MIN_REDACT_LENGTH])


def renderings(value: str) -> set[str]:
    """The forms in which an error message may show ``value``."""
    from s4e_secret_agent.template.gojson import encode_string

    cases = {value, value.upper(), value.lower(), value.title()}
    forms = set(cases)
    for form in cases:
        if not _NEEDS_ESCAPING.search(form):
            continue  # every quoted form is the value itself
        # json.dumps is C: cheap for any size. Go's own quoting (%q, %+q, toJSON with its HTML
        # escapes) is a loop in Python, done for values of a sensible size.
        forms.add(json.dumps(form)[1:-1])
        forms.add(json.dumps(form, ensure_ascii=False)[1:-1])
        if len(form) <= _MAX_GO_QUOTED:
            forms.add(go_quote(form)[1:-1])
            forms.add(go_quote(form, ascii_only=True)[1:-1])
            forms.add(go_quote(form, quote="'")[1:-1])
            forms.add(encode_string(form, True)[1:-1])
            forms.add(encode_string(form, False)[1:-1])
    return {f for f in forms if len(f) >= MIN_REDACT_LENGTH}


# A character that some quoting changes (controls, non-ASCII, quotes, backslash, HTML).
_NEEDS_ESCAPING = re.compile(r"[^\x20-\x7e]|[\"'\\<>&]")
_MAX_GO_QUOTED = 64 * 1024


class Redactor:
    """Every form of a set of secret values, ready to scrub messages."""

    def __init__(self, values: Iterable[str], composites: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for value in set(values):
            forms |= renderings(value)
        self.fragments: set[str] = set()
        k = MIN_FRAGMENT_LENGTH
        for form in forms:
            text = form[:MAX_FRAGMENT_SOURCE]
            self.fragments.update(text[i:i + k] for i in range(len(text) - k + 1))
        for composite in set(composites):
            forms |= renderings(composite)
        # Longest first, so that a value is replaced whole before a shorter one inside it.
        self.forms = sorted(forms, key=len, reverse=True)

    def __call__(self, message: str) -> str:
        for form in self.forms:
            if form in message:
                message = message.replace(form, REDACTED)
        return self._scrub_fragments(message)

    def _scrub_fragments(self, message: str) -> str:
        if not self.fragments:
            return message
        k = MIN_FRAGMENT_LENGTH
        covered_until = -1
        spans: list[list[int]] = []
        for i in range(len(message) - k + 1):
            if message[i:i + k] in self.fragments:
                if spans and i <= covered_until:
                    spans[-1][1] = i + k
                else:
                    spans.append([i, i + k])
                covered_until = i + k
        for start, end in reversed(spans):
            message = message[:start] + REDACTED + message[end:]
        return message


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
    leaves, composites = secret_strings(secrets)
    message = Redactor(leaves, composites)(message)
    for placeholder, text in shielded.items():
        message = message.replace(placeholder, text)
    return message
