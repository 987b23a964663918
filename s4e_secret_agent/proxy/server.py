"""The listeners of the API proxy: one HTTP server per ``listener`` block (TCP or unix socket,
plain or TLS), forwarding every request to Vault as Vault Agent's proxy does.

What a request gets, as in Vault Agent (``agentproxyshared/cache/handler.go`` and
``api_proxy.go``): with ``use_auto_auth_token`` a request without ``X-Vault-Token`` carries the
agent's token; with ``"force"`` the client's token is dropped and the agent's used. Status,
headers and body of Vault's answer come back unchanged (the body streamed), except that a
token lookup or renewal made with the agent's token has the token and its accessor removed,
so an app never learns the agent's token. Vault that cannot be reached is a 500 with Vault's
error shape. Beside the proxy: ``/agent/v1/quit`` (404 unless ``agent_api.enable_quit``, 405
unless POST), ``/agent/v1/cache-clear`` and ``/agent/v1/metrics``. With ``cache {}`` the answers go
through the lease cache (:mod:`.cache`): a hit is answered from memory, a miss is forwarded
and offered to the cache (such an answer is read whole, then sent with its length).

Each connection is served by its own thread; the threads only read the agent's current token
(through a callable) and post :class:`~s4e_secret_agent.runtime.events.Event` values.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import logging
import os
import queue
import socket
import socketserver
import ssl
import stat
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from s4e_secret_agent.config.model import ApiProxyConfig, ListenerConfig
from s4e_secret_agent.errors import ConfigError, VaultUnavailableError
from s4e_secret_agent.proxy.cache import CacheClearError, CachedAnswer, LeaseCache, request_key
from s4e_secret_agent.runtime.events import Event
from s4e_secret_agent.vault.forward import Forwarder

log = logging.getLogger(__name__)

# Vault's default max_request_size.
MAX_REQUEST_BYTES = 32 * 1024 * 1024
_TOKEN_HEADER = "X-Vault-Token"
_TLS_VERSIONS = {"tls10": ssl.TLSVersion.TLSv1, "tls11": ssl.TLSVersion.TLSv1_1,
                 "tls12": ssl.TLSVersion.TLSv1_2, "tls13": ssl.TLSVersion.TLSv1_3}
# Token endpoints whose answer holds the token asked about (and its accessor).
_SELF_PATHS = ("auth/token/lookup-self", "auth/token/renew-self")
_OTHER_PATHS = ("auth/token/lookup", "auth/token/renew")


class _RequestTooLarge(Exception):
    pass


def _json_error(message: str) -> bytes:
    return json.dumps({"errors": [message]}).encode() + b"\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds a connection may stay silent (a slow client frees its thread)
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are logged below, without their query strings

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def handle(self) -> None:
        try:
            super().handle()
        except (ssl.SSLError, OSError) as exc:
            log.debug("proxy connection closed: %s", type(exc).__name__,
                      extra={"event": "proxy_connection_closed"})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        proxy = self.server.proxy
        path = urlsplit(self.path).path
        if path == "/agent/v1/quit":
            self._quit(proxy)
        elif path == "/agent/v1/cache-clear":
            self._cache_clear(proxy)
        elif path == "/agent/v1/metrics" and proxy.metrics is not None:
            body, content_type = proxy.metrics(self.headers.get("Accept", ""))
            self._reply(200, body, content_type)
        else:
            self._forward(proxy)

    def _quit(self, proxy: ProxyServer) -> None:
        self._drain()
        if not proxy.listener.enable_quit:
            self._reply(404, b"")
        elif self.command != "POST":
            self._reply(405, b"")
        else:
            log.info("quit requested on the API proxy listener", extra={"event": "quit"})
            self._reply(200, b"")
            proxy.events.put(Event.QUIT)

    def _cache_clear(self, proxy: ProxyServer) -> None:
        if proxy.cache is None:
            self._drain()
            self._reply(200, b"")
            return
        try:
            body = self._read_body()
            proxy.cache.clear(body, self.command)
        except (_RequestTooLarge, ValueError):
            self.close_connection = True
            self._reply(400, _json_error("malformed request body"), "application/json")
            return
        except CacheClearError as exc:
            self._reply(exc.status, _json_error(exc.message), "application/json")
            return
        self._reply(200, b"")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            size = 0
            while True:
                line = self.rfile.readline(1024)
                length = int(line.split(b";")[0].strip() or b"0", 16)
                if length == 0:
                    while self.rfile.readline(1024).strip():
                        pass  # trailers
                    return b"".join(parts)
                size += length
                if size > MAX_REQUEST_BYTES:
                    raise _RequestTooLarge
                parts.append(self.rfile.read(length))
                self.rfile.readline(16)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            raise _RequestTooLarge
        return self.rfile.read(length) if length > 0 else b""

    def _drain(self) -> None:
        try:
            self._read_body()
        except (_RequestTooLarge, ValueError):
            self.close_connection = True

    def _reply(self, status: int, body: bytes, content_type: str = "") -> None:
        self.send_response_only(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self, proxy: ProxyServer) -> None:
        if proxy.listener.require_request_header and \
                self.headers.get_all("X-Vault-Request") != ["true"]:
            self._drain()
            self._reply(412, _json_error("missing 'X-Vault-Request' header"),
                        "application/json")
            return
        try:
            body = self._read_body()
        except _RequestTooLarge:
            self.close_connection = True
            self._reply(413, _json_error("request body too large"), "application/json")
            return
        except ValueError:
            self.close_connection = True
            self._reply(400, _json_error("malformed request body"), "application/json")
            return
        headers = [(k, v) for k, v in self.headers.items()]
        settings = proxy.api_proxy
        if settings.force_auto_auth_token:
            headers = [(k, v) for k, v in headers if k.lower() != _TOKEN_HEADER.lower()]
        token = next((v for k, v in headers if k.lower() == _TOKEN_HEADER.lower()), "")
        agent_token = proxy.agent_token() if settings.use_auto_auth_token else None
        if not token and agent_token:
            token = agent_token
            headers = [(k, v) for k, v in headers if k.lower() != _TOKEN_HEADER.lower()]
            headers.append((_TOKEN_HEADER, token))
        if proxy.namespace and not any(k.lower() == "x-vault-namespace" for k, _ in headers):
            headers.append(("X-Vault-Namespace", proxy.namespace))
        path = urlsplit(self.path).path
        log.debug("proxying %s %s", self.command, path,
                  extra={"event": "proxy_request", "method": self.command, "path": path})
        cache, key, namespace = proxy.cache, "", ""
        if cache is not None:
            if agent_token:
                cache.register_agent_token(agent_token)
            namespace = next((v for k, v in headers if k.lower() == "x-vault-namespace"), "")
            key = request_key(self.command, self.path, body, token, namespace)
            cached = cache.lookup(key)
            if cached is not None:
                self._send_cached(cached)
                return
        try:
            answer = proxy.forwarder.forward(self.command, self.path, headers, body)
        except VaultUnavailableError as exc:
            proxy.count("error")
            self._reply(500, _json_error(f"failed to get the response: {exc.message}"),
                        "application/json")
            return
        proxy.count("client_error" if answer.status >= 400 else "success")
        if cache is not None and answer.status < 300 and not _asks_about_agent_token(
                path, body, agent_token or "\0"):
            raw = b"".join(answer.body()) if answer.status != 204 else b""
            stored = CachedAnswer(answer.status, answer.reason, list(answer.headers), raw,
                                  time.time())
            content_type = next((v for k, v in answer.headers
                                 if k.lower() == "content-type"), "")
            cache.offer(key, path=path, token=token, namespace=namespace, request_body=body,
                        answer=stored, content_type=content_type)
            self._send_stored(stored, {"X-Cache": "MISS"})
            return
        if agent_token and token == agent_token and answer.status == 200 and \
                _asks_about_agent_token(path, body, agent_token):
            raw = b"".join(answer.body())
            redacted = _redact_token(raw)
            self.send_response_only(answer.status, answer.reason)
            for name, value in answer.headers:
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(redacted)))
            self.end_headers()
            self.wfile.write(redacted)
            return
        self._relay(answer)

    def _send_cached(self, cached: CachedAnswer) -> None:
        age = max(int(time.time() - cached.stored_at), 0)
        self._send_stored(cached, {"X-Cache": "HIT", "Age": str(age)})

    def _send_stored(self, stored: CachedAnswer, extra: dict[str, str]) -> None:
        self.send_response_only(stored.status, stored.reason)
        for name, value in stored.headers:
            if name.lower() not in ("content-length", "age", "x-cache"):
                self.send_header(name, value)
        for name, value in extra.items():
            self.send_header(name, value)
        if stored.status != 204:
            self.send_header("Content-Length", str(len(stored.body)))
        self.end_headers()
        if self.command != "HEAD" and stored.status != 204:
            self.wfile.write(stored.body)

    def _relay(self, answer: Any) -> None:
        self.send_response_only(answer.status, answer.reason)
        sized = False
        for name, value in answer.headers:
            sized = sized or name.lower() == "content-length"
            self.send_header(name, value)
        no_body = self.command == "HEAD" or answer.status in (204, 304) or answer.status < 200
        if not sized and not no_body:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if no_body:
            answer.close()
            return
        for chunk in answer.body():
            if not chunk:
                continue
            if sized:
                self.wfile.write(chunk)
            else:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        if not sized:
            self.wfile.write(b"0\r\n\r\n")


def _asks_about_agent_token(path: str, body: bytes, agent_token: str) -> bool:
    """A lookup or renewal of the agent's own token (``-self``, or naming it in the body)."""
    api_path = path.removeprefix("/v1/").strip("/")
    if any(api_path == p or api_path.endswith("/" + p) for p in _SELF_PATHS):
        return True
    if any(api_path == p or api_path.endswith("/" + p) for p in _OTHER_PATHS):
        try:
            named = json.loads(body or b"{}").get("token", "")
        except (ValueError, AttributeError):
            return False
        return named in ("", agent_token)
    return False


def _redact_token(raw: bytes) -> bytes:
    """The answer without the token and its accessor (``data`` of a lookup, ``auth`` of a
    renewal), as Vault Agent strips them."""
    try:
        envelope = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(envelope, dict):
        return raw
    data = envelope.get("data")
    auth = envelope.get("auth")
    if isinstance(data, dict):
        data.pop("id", None)
        data.pop("accessor", None)
    elif isinstance(auth, dict):
        auth["client_token"] = ""
        auth["accessor"] = ""
    # The fields of a Vault API secret, as Vault Agent writes the redacted answer back.
    shaped = {key: envelope.get(key, default) for key, default in (
        ("request_id", ""), ("lease_id", ""), ("lease_duration", 0), ("renewable", False),
        ("data", None), ("warnings", None))}
    for key in ("auth", "wrap_info"):
        if envelope.get(key) is not None:
            shaped[key] = envelope[key]
    return json.dumps(shaped).encode()


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: ProxyServer


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    proxy: ProxyServer


class ProxyServer:
    """One listener. ``agent_token`` returns the agent's current token (or None);
    ``on_request`` is told the outcome of each proxied request (success, client_error for an
    error status from Vault, error when Vault could not be reached); ``metrics`` renders the
    metrics for ``/agent/v1/metrics``."""

    def __init__(self, listener: ListenerConfig, api_proxy: ApiProxyConfig, *,
                 forwarder: Forwarder, agent_token: Callable[[], str | None],
                 events: queue.SimpleQueue[Event], namespace: str | None = None,
                 on_request: Callable[[str], None] | None = None,
                 metrics: Callable[[str], tuple[bytes, str]] | None = None,
                 cache: LeaseCache | None = None) -> None:
        self.listener = listener
        self.api_proxy = api_proxy
        self.forwarder = forwarder
        self.agent_token = agent_token
        self.events = events
        self.namespace = namespace
        self.metrics = metrics
        self.cache = cache
        self._on_request = on_request
        self._server: _Server | _UnixServer | None = None
        self._thread: threading.Thread | None = None

    def count(self, result: str) -> None:
        if self._on_request is not None:
            self._on_request(result)

    @property
    def address(self) -> str:
        """Where it listens: host:port (the real port when 0 was configured) or the path."""
        assert self._server is not None
        if self.listener.type == "unix":
            return self.listener.address
        bound = self._server.socket.getsockname()
        return f"{bound[0]}:{bound[1]}"

    def start(self) -> None:
        """Bind and serve in a background thread. Raises ConfigError when binding fails."""
        try:
            server = self._bind()
        except OSError as err:
            raise ConfigError(f"cannot listen on {self.listener.address}: {err.strerror}",
                              path="listener",
                              hint="pick a free port, or a directory the agent may "
                                   "write the socket to") from None
        server.proxy = self
        if not self.listener.tls_disable:
            server.socket = self._tls_context().wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="api-proxy",
                                        kwargs={"poll_interval": 0.5}, daemon=True)
        self._thread.start()
        scheme = "unix" if self.listener.type == "unix" else (
            "http" if self.listener.tls_disable else "https")
        log.info("API proxy listening on %s://%s", scheme, self.address,
                 extra={"event": "proxy_listening", "address": self.address,
                        "auto_auth_token": ("force" if self.api_proxy.force_auto_auth_token
                                            else self.api_proxy.use_auto_auth_token)})

    def _bind(self) -> _Server | _UnixServer:
        if self.listener.type == "unix":
            return self._bind_unix()
        host, _, port = self.listener.address.rpartition(":")
        host = host.strip("[]") or "0.0.0.0"  # what ":8200" means, as in Go

        class Server(_Server):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

        return Server((host, int(port)), _Handler)

    def _bind_unix(self) -> _UnixServer:
        path = self.listener.address
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)  # left by an earlier run
        server = _UnixServer(path, _Handler)
        try:
            if self.listener.socket_mode is not None:
                os.chmod(path, self.listener.socket_mode)
            if self.listener.socket_user is not None or self.listener.socket_group is not None:
                from s4e_secret_agent.runtime.writer import resolve_owner

                uid, gid = resolve_owner(self.listener.socket_user, self.listener.socket_group)
                os.chown(path, uid, gid)
        except (OSError, ConfigError):
            server.server_close()
            raise
        return server

    def _tls_context(self) -> ssl.SSLContext:
        listener = self.listener
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = _TLS_VERSIONS[listener.tls_min_version]
        context.maximum_version = _TLS_VERSIONS[listener.tls_max_version]
        try:
            assert listener.tls_cert_file is not None
            context.load_cert_chain(listener.tls_cert_file, listener.tls_key_file)
            if listener.tls_client_ca_file and not listener.tls_disable_client_certs:
                context.load_verify_locations(listener.tls_client_ca_file)
                context.verify_mode = (ssl.CERT_REQUIRED
                                       if listener.tls_require_and_verify_client_cert
                                       else ssl.CERT_OPTIONAL)
        except (OSError, ssl.SSLError) as err:
            raise ConfigError(f"cannot load the listener's TLS files: {err}",
                              path="listener.tls_cert_file",
                              hint="check tls_cert_file, tls_key_file and "
                                   "tls_client_ca_file") from None
        return context

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self.cache is not None:
            self.cache.close()  # the renewers stop; nothing is kept
        if self.listener.type == "unix":
            with contextlib.suppress(OSError):
                os.unlink(self.listener.address)
        self._server = None


__all__ = ["MAX_REQUEST_BYTES", "ProxyServer"]
