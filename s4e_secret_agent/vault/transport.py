"""The HTTP session the Vault client sends through: TLS as configured, no automatic retries,
a bounded pool of keep-alive connections, the environment read once.

Retrying belongs to :mod:`s4e_secret_agent.runtime.retry`, the agent's one retry layer, so
urllib3's own retries are switched off here. TLS settings (CA file or directory, client
certificate, server name for SNI and verification, skip-verify) are applied once, when the
session is made. So are the proxy and CA-bundle environment variables: ``requests`` would
otherwise look them up again for every request, which costs more than a request to a nearby
Vault. At most ``max_connections`` connections are open at once (Vault Agent's
``template_config.max_connections_per_host``); more concurrent requests wait for one.
``requests`` is imported only when a session is made.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from s4e_secret_agent.config.model import VaultConfig

if TYPE_CHECKING:
    import requests


def make_session(config: VaultConfig, *, max_connections: int = 10) -> requests.Session:
    """A ``requests`` session with TLS settings applied and no automatic retries."""
    import os

    import requests
    import requests.adapters
    import requests.utils
    import urllib3

    server_name = config.tls_server_name
    quiet_insecure = config.tls_skip_verify

    class VaultHTTPAdapter(requests.adapters.HTTPAdapter):
        """No urllib3 retries; optional SNI/hostname override; quiet skip-verify warnings."""

        def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                             **pool_kwargs: Any) -> None:
            if server_name:
                pool_kwargs["server_hostname"] = server_name
                pool_kwargs["assert_hostname"] = server_name
            super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)

        def send(self, request: requests.PreparedRequest, *args: Any,
                 **kwargs: Any) -> requests.Response:
            if not quiet_insecure:
                return super().send(request, *args, **kwargs)
            # The operator chose tls_skip_verify and was warned once at start-up; urllib3
            # would otherwise warn on every single request.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                return super().send(request, *args, **kwargs)

    session = requests.Session()
    adapter = VaultHTTPAdapter(max_retries=0, pool_maxsize=max(1, max_connections),
                               pool_block=True)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    # What requests would read from the environment at every request, read once: the proxy
    # for Vault's address (HTTP(S)_PROXY, NO_PROXY, as Vault's Go client honours them) and a
    # CA bundle named by REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE.
    session.trust_env = False
    session.proxies = requests.utils.get_environ_proxies(config.address)
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    if config.tls_skip_verify:
        session.verify = False
    elif config.ca_cert:
        session.verify = config.ca_cert
    elif config.ca_path:
        session.verify = config.ca_path
    if config.client_cert:
        session.cert = ((config.client_cert, config.client_key) if config.client_key
                        else config.client_cert)
    return session


@dataclass(frozen=True)
class Answer:
    """One HTTP answer from Vault: status, headers and body text."""

    status: int
    headers: Mapping[str, str]
    text: str


def short_reason(exc: BaseException) -> str:
    """A short cause for a connection failure (no URLs with query strings, no headers)."""
    text = str(exc)
    for pattern in (r"\[Errno -?\d+\] ([^'\")]+)", r"(certificate verify failed: [^'\"(]+)",
                    r"(hostname '[^']+' doesn't match [^\")]+)",
                    r"(EOF occurred in violation of protocol)",
                    r"(read timed out|timed out|Connection aborted|Connection reset by peer)",
                    r"(\[SSL: [A-Z0-9_]+\] [^'\"(]+)"):
        found = re.search(pattern, text, re.IGNORECASE)
        if found:
            return found.group(1).strip().rstrip(".")
    return type(exc).__name__
