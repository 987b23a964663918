"""Raw forwarding of an app's request to Vault, for the API proxy.

The API proxy passes requests through without understanding them, so it cannot use the
client's typed methods; but it must reach Vault exactly as the agent does (the address, the
TLS settings, the CA, the client certificate, the HTTP proxy from the environment), so it
sends through a session from :func:`~.transport.make_session`, like the client. It has its own
pool of connections: an app's slow request never holds a connection the agent's own renewals
need. Redirects are handed back to the app, never followed here, so the token a request
carries goes only to the configured Vault. The response body is streamed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from s4e_secret_agent.config.model import VaultConfig
from s4e_secret_agent.errors import VaultUnavailableError
from s4e_secret_agent.vault.transport import make_session, short_reason

if TYPE_CHECKING:
    import requests

# Headers that describe one HTTP connection, not the request or answer: never passed on.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"})
_CHUNK = 64 * 1024


@dataclass
class ForwardedResponse:
    """Vault's answer: status, headers (hop-by-hop ones removed) and the body as it arrives."""

    status: int
    reason: str
    headers: Sequence[tuple[str, str]]
    _response: requests.Response

    def body(self) -> Iterator[bytes]:
        try:
            yield from self._response.raw.stream(_CHUNK, decode_content=False)
        finally:
            self._response.close()

    def close(self) -> None:
        self._response.close()


class Forwarder:
    """Sends requests to Vault as they came, through the agent's TLS settings."""

    def __init__(self, config: VaultConfig, *, max_connections: int = 10) -> None:
        self._base = config.address.rstrip("/")
        self._timeout = config.client_timeout
        self._session = make_session(config, max_connections=max_connections)

    def forward(self, method: str, target: str, headers: Mapping[str, str] | Sequence[
            tuple[str, str]], body: bytes) -> ForwardedResponse:
        """``target`` is the request's path and query (``/v1/secret/data/app?version=2``).
        Raises :class:`VaultUnavailableError` when Vault cannot be reached."""
        import requests

        if not target.startswith("/"):
            target = "/" + target
        items = headers.items() if isinstance(headers, Mapping) else headers
        # Accept-Encoding: identity, so the body and its length pass through unchanged.
        sent = {name: value for name, value in items
                if name.lower() not in HOP_BY_HOP and name.lower() not in (
                    "host", "content-length", "accept-encoding")}
        sent["Accept-Encoding"] = "identity"
        try:
            response = self._session.request(
                method, self._base + target, headers=sent, data=body or None,
                allow_redirects=False, stream=True, timeout=self._timeout)
        except requests.RequestException as exc:
            raise VaultUnavailableError(f"cannot reach Vault: {short_reason(exc)}") from None
        raw_headers = response.raw.headers
        pairs = [(name, value) for name, value in raw_headers.items()
                 if name.lower() not in HOP_BY_HOP]
        return ForwardedResponse(response.status_code, response.reason or "", pairs,
                                 response)

    def close(self) -> None:
        self._session.close()


__all__ = ["HOP_BY_HOP", "ForwardedResponse", "Forwarder"]
