"""The HTTP session the Vault client sends through, and what it will not accept from the other
end: TLS as configured, no automatic retries, a bounded pool of keep-alive connections, the
environment read once, a time bound on every request, a size bound on every answer, and
redirects only to where the request was meant to go.

Retrying belongs to :mod:`s4e_secret_agent.runtime.retry`, the agent's one retry layer, so
urllib3's own retries are switched off here. TLS settings (CA file or directory, client
certificate, server name for SNI and verification, skip-verify) are applied once, when the
session is made. So are the proxy and CA-bundle environment variables: ``requests`` would
otherwise look them up again for every request, which costs more than a request to a nearby
Vault. At most ``max_connections`` connections are open at once (Vault Agent's
``template_config.max_connections_per_host``); more concurrent requests wait for one.

Why the extra bounds. A socket read timeout restarts with every byte, so a server (or a proxy)
that sends one byte every few seconds would hold a request, and ``init`` with it, forever; each
request therefore has an end time (:class:`RequestDeadlines`) and every read, write and the
connect are given only the time left. An answer is read in chunks and refused once it exceeds
``max_response_bytes`` (Vault's own default request size limit, 32 MiB), so a hostile body never
sits in memory whole. Redirects follow Vault's Go client (one redirect, on 301, 302 or 307,
the same request again, never https to http) and go further: only to the same scheme, host and
port, so the token, the namespace and a login's credentials never reach another server.
``requests`` is imported only when a session is made.
"""

from __future__ import annotations

import http.client
import io
import re
import socket
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from s4e_secret_agent.config.model import VaultConfig
from s4e_secret_agent.errors import VaultError

if TYPE_CHECKING:
    import requests

# Vault's default max_request_size is 32 MiB; no answer of a real Vault comes near it.
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
# The statuses Vault's Go client follows (once), resending the same request.
REDIRECT_STATUSES = frozenset({301, 302, 307})
_CHUNK = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


class RequestDeadlines:
    """The end time of the request each thread is sending (``time.monotonic()``), read by the
    connections of one session while they connect, send and receive."""

    def __init__(self) -> None:
        self._local = threading.local()

    def current(self) -> float | None:
        at: float | None = getattr(self._local, "at", None)
        return at

    @contextmanager
    def bound(self, at: float) -> Iterator[None]:
        previous = self.current()
        self._local.at = at
        try:
            yield
        finally:
            self._local.at = previous

    def time_left(self, base: float | None) -> float | None:
        """The socket timeout for this thread's next operation (see :func:`time_left`)."""
        at = self.current()
        return base if at is None else time_left(at, base)


def time_left(at: float, base: float | None) -> float:
    """The socket timeout for an operation that must end by ``at``: ``base`` cut to the time
    left; ``TimeoutError`` when none is left."""
    left = at - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left if base is None else min(base, left)


class _DeadlineReader(io.RawIOBase):
    """A socket's reads, each given only the time left until the request's end."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, at: float) -> None:
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._at = at
        self._base = sock.gettimeout()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(time_left(self._at, self._base))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def _bounded_classes(deadlines: RequestDeadlines) -> tuple[type[Any], type[Any]]:
    """HTTP and HTTPS connection pools whose connections keep to the request's end time."""
    import urllib3.connection
    import urllib3.connectionpool

    class BoundedResponse(http.client.HTTPResponse):
        def __init__(self, sock: socket.socket, debuglevel: int = 0,
                     method: str | None = None, url: str | None = None) -> None:
            super().__init__(sock, debuglevel, method, url)
            at = deadlines.current()
            if at is not None:
                # The raw socket file underneath keeps the socket open for the response
                # (http.client's way of handing a closing connection to its response).
                raw = self.fp.detach()
                self.fp = io.BufferedReader(_DeadlineReader(raw, sock, at))

    def bounded(base: type[Any]) -> type[Any]:
        class BoundedConnection(base):  # type: ignore[misc]
            response_class = BoundedResponse

            def send(self, data: Any) -> None:
                if self.sock is not None:
                    self.sock.settimeout(deadlines.time_left(self.timeout))
                super().send(data)

        return BoundedConnection

    class HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
        ConnectionCls = bounded(urllib3.connection.HTTPConnection)

    class HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
        ConnectionCls = bounded(urllib3.connection.HTTPSConnection)

    return HTTPPool, HTTPSPool


def make_session(config: VaultConfig, *, max_connections: int = 10,
                 deadlines: RequestDeadlines | None = None) -> requests.Session:
    """A ``requests`` session with TLS settings applied and no automatic retries; with
    ``deadlines``, its connections keep to the end time of the request being sent."""
    import os

    import requests
    import requests.adapters
    import requests.utils
    import urllib3

    server_name = config.tls_server_name
    quiet_insecure = config.tls_skip_verify
    pools = _bounded_classes(deadlines) if deadlines is not None else None

    def use_bounded_pools(manager: Any) -> None:
        if pools is not None and type(manager) in (urllib3.PoolManager, urllib3.ProxyManager):
            manager.pool_classes_by_scheme = {"http": pools[0], "https": pools[1]}

    class VaultHTTPAdapter(requests.adapters.HTTPAdapter):
        """No urllib3 retries; optional SNI/hostname override; quiet skip-verify warnings."""

        def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                             **pool_kwargs: Any) -> None:
            if server_name:
                pool_kwargs["server_hostname"] = server_name
                pool_kwargs["assert_hostname"] = server_name
            super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)
            use_bounded_pools(self.poolmanager)

        def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
            manager = super().proxy_manager_for(proxy, **proxy_kwargs)
            use_bounded_pools(manager)
            return manager

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
    """One HTTP answer from Vault: status, headers and the body as received."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def text(self) -> str:
        """The body as text for messages (bytes that are not UTF-8 replaced)."""
        return self.body.decode("utf-8", "replace")


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of ``url``, the port filled in from the scheme."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme, 0)


def describe_origin(url: str) -> str:
    """``scheme://host:port`` of ``url``: where, without path or query (which may hold
    anything)."""
    scheme, host, port = origin(url)
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}"


class Transport:
    """Sends one Vault request: at most one redirect to the same origin, the whole exchange
    within its end time, the answer read up to ``max_response_bytes``.

    The ``requests`` and ``urllib3`` exceptions of a failed exchange are raised as they are
    (the client maps them); answers that are refused here raise :class:`VaultError`.
    """

    def __init__(self, config: VaultConfig, *, max_connections: int = 10,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        self.base_url = config.address.rstrip("/")
        self.max_response_bytes = max_response_bytes
        self.deadlines = RequestDeadlines()
        self.session = make_session(config, max_connections=max_connections,
                                    deadlines=self.deadlines)

    def close(self) -> None:
        self.session.close()

    def send(self, method: str, path: str, *, at: float, headers: Mapping[str, str],
             json_body: Any = None, params: Mapping[str, str] | None = None,
             cert: tuple[str, str] | None = None, verify: str | None = None) -> Answer:
        """``method /v1/<path>``, finished by ``at`` (``time.monotonic()``). ``cert`` and
        ``verify`` replace the session's client certificate and CA for this request only (an
        auth method with its own TLS material)."""
        url = f"{self.base_url}/v1/{path}"
        for hop in range(2):
            with self.deadlines.bound(at):
                answer = self._exchange(method, url, path, at, headers, json_body, params,
                                        cert, verify)
            if isinstance(answer, Answer):
                return answer
            target = answer
            if hop == 1:
                raise VaultError(
                    f"Vault redirected {path} a second time (to {describe_origin(target)}); "
                    "at most one redirect is followed",
                    hint="check vault.address: it should name Vault (or its load balancer), "
                         "not something that redirects", path=path)
            self._check_redirect(path, url, target)
            url = target
        raise AssertionError("unreachable")

    def _check_redirect(self, path: str, url: str, target: str) -> None:
        here, there = origin(url), origin(target)
        if here == there:
            return
        where = describe_origin(target)
        if here[0] == "https" and there[0] != "https":
            raise VaultError(
                f"refused the redirect of {path} to {where}: from https to plain http the "
                "token would travel unencrypted",
                hint="check vault.address and the proxy in front of Vault", path=path)
        raise VaultError(
            f"refused the redirect of {path} to {where}: redirects are followed only to "
            f"{describe_origin(url)} itself, so the token and request body never reach "
            "another server",
            hint="set vault.address to the active Vault node or to a load balancer in front "
                 "of the cluster (a standby node redirects when it does not forward requests)",
            path=path)

    def _exchange(self, method: str, url: str, path: str, at: float,
                  headers: Mapping[str, str], json_body: Any,
                  params: Mapping[str, str] | None, cert: tuple[str, str] | None = None,
                  verify: str | None = None) -> Answer | str:
        """One request: the answer, or the absolute URL a followable redirect points to."""
        left = self.deadlines.time_left(None)
        extra: dict[str, Any] = {}
        if cert is not None:
            extra["cert"] = cert
        if verify is not None:
            extra["verify"] = verify
        response = self.session.request(method, url, headers=dict(headers), json=json_body,
                                        params=dict(params) if params else None,
                                        timeout=(left, left), stream=True,
                                        allow_redirects=False, **extra)
        try:
            status = response.status_code
            location = response.headers.get("Location")
            if status in REDIRECT_STATUSES and location:
                return urljoin(url, location)
            return Answer(status, response.headers, self._read_body(response, path))
        finally:
            response.close()

    def _read_body(self, response: requests.Response, path: str) -> bytes:
        limit = self.max_response_bytes
        declared = response.headers.get("Content-Length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise self._too_large(path, f"declares {int(declared)} bytes")
        body = bytearray()
        for chunk in response.iter_content(_CHUNK):
            body += chunk
            if len(body) > limit:
                raise self._too_large(path, f"went past {limit} bytes")
        return bytes(body)

    def _too_large(self, path: str, what: str) -> VaultError:
        return VaultError(
            f"Vault's answer for {path} {what}, more than the {self.max_response_bytes} "
            "bytes the agent accepts; it was not read",
            hint="check vault.address points at Vault (no real Vault answer is this large), "
                 "or the secret at this path", path=path)


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
