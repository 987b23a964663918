"""HTTP to the credential providers the cloud auth methods ask before they log in: AWS STS and
the EC2/ECS metadata services, Google's metadata server, OAuth and IAM credentials APIs, the
Azure Instance Metadata Service and Microsoft Entra ID.

Each call is one request with a short timeout and no retries of its own: a login that fails is
retried by the token keeper with the login backoff, and a transient failure (unreachable, 5xx,
429) is raised as :class:`CredentialSourceUnavailableError` so that it is retried, while an
answer that will not change (400, 403, 404) is an :class:`AuthError` naming the provider's
error code and what to fix. Link-local metadata services are asked without a proxy, as the
cloud SDKs do; public endpoints honour ``HTTPS_PROXY``/``NO_PROXY``. Response bodies hold
credentials: they are never logged or put into messages, only the provider's error fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from s4e_secret_agent.errors import AuthError, VaultUnavailableError

METADATA_TIMEOUT = 5.0
PUBLIC_TIMEOUT = 30.0


class CredentialSourceUnavailableError(VaultUnavailableError):
    """A credential provider (metadata service, STS, OAuth endpoint) did not answer: retried."""


@dataclass(frozen=True)
class ProviderAnswer:
    """One answer from a credential provider."""

    status: int
    text: str = field(repr=False)  # may hold credentials

    def json(self, what: str, hint: str) -> Mapping[str, Any]:
        """The body as a JSON object, or an :class:`AuthError` saying ``what`` was expected."""
        try:
            value = json.loads(self.text)
        except ValueError:
            value = None
        if not isinstance(value, Mapping):
            raise AuthError(f"{what} answered with something that is not a JSON object",
                            hint=hint)
        return value


def _is_link_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return (host.startswith("169.254.") or host in ("metadata", "metadata.google.internal")
            or host.startswith("fd00:ec2") or host == "localhost" or host.startswith("127."))


def error_reason(text: str) -> str:
    """The provider's own error code and message, without anything else from the body.

    Understands AWS's XML (``<Code>``, ``<Message>``), Google's JSON (``error.status``,
    ``error.message``) and OAuth errors (``error``, ``error_description``).
    """
    code = re.search(r"<Code>([^<]{1,100})</Code>", text)
    if code:
        message = re.search(r"<Message>([^<]{1,300})</Message>", text)
        return code.group(1) + (f": {message.group(1)}" if message else "")
    try:
        body = json.loads(text)
    except ValueError:
        return ""
    if not isinstance(body, Mapping):
        return ""
    error = body.get("error")
    if isinstance(error, Mapping):
        parts = [str(error.get(k)) for k in ("status", "message") if error.get(k)]
        return ": ".join(parts)[:400]
    if isinstance(error, str):
        description = body.get("error_description")
        return (f"{error}: {description}" if description else error)[:400]
    for key in ("Code", "message", "Message"):  # the EC2 and ECS credential endpoints
        if isinstance(body.get(key), str) and body.get(key) != "Success":
            return str(body[key])[:400]
    return ""


def ask(method: str, url: str, *, what: str, hint: str,
        headers: Mapping[str, str] | None = None, data: bytes | str | None = None,
        params: Mapping[str, str] | None = None, timeout: float | None = None,
        accept: tuple[int, ...] = ()) -> ProviderAnswer:
    """One request to a credential provider; ``what`` names it in messages.

    Statuses in ``accept`` are returned to the caller (for fallbacks such as IMDSv1);
    any other status of 400 and above raises.
    """
    import requests

    link_local = _is_link_local(url)
    session = requests.Session()
    session.trust_env = not link_local
    try:
        response = session.request(
            method, url, headers=dict(headers or {}), data=data, params=dict(params or {}),
            timeout=timeout or (METADATA_TIMEOUT if link_local else PUBLIC_TIMEOUT),
            allow_redirects=False)
    except requests.exceptions.RequestException as exc:
        raise CredentialSourceUnavailableError(
            f"cannot reach {what} ({type(exc).__name__})", hint=hint) from None
    finally:
        session.close()
    answer = ProviderAnswer(response.status_code, response.text)
    if answer.status < 400 or answer.status in accept:
        return answer
    reason = error_reason(answer.text)
    detail = f"{what} answered {answer.status}" + (f" ({reason})" if reason else "")
    if answer.status >= 500 or answer.status == 429:
        raise CredentialSourceUnavailableError(detail, hint=hint, status=answer.status)
    # No status on the error: it is the provider's, not Vault's (nobody asked Vault yet).
    raise AuthError(detail, hint=hint)
