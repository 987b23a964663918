"""A fault-injecting HTTP/1.1 reverse proxy to put between the agent (or hvac) and OpenBao.

Requests pass through unchanged unless a rule matches their path (a regex searched in the path
without the query string, optionally limited to one method). The first active matching rule, in
the order added, decides what happens: answer an error status (500/502/503/429, optionally with
``Retry-After``), answer exactly what a sealed Vault answers, wait before passing through, close
the connection without an answer, close it half-way through the response body, or pass through
(to exempt a path from a broader rule added later). A rule applies a number of ``times``, for
``seconds``, or until cleared; rules can be added and cleared while requests are flowing.

Every request is logged (method, path with query keys but no values, status, fault, timing) so
tests can count the calls the agent made. Bodies and headers (tokens) are never logged.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# Headers that describe one hop of the connection, not the message (RFC 9110 section 7.6.1).
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "transfer-encoding", "upgrade", "content-length"})

SEALED_BODY = b'{"errors":["Vault is sealed"]}\n'


@dataclass(frozen=True)
class Fault:
    """What to do with a matching request. Build with the helpers below, not directly."""

    kind: str  # "status", "delay", "drop", "drop_mid_body", "pass"
    status: int = 0
    body: bytes = b""
    retry_after: str | None = None
    delay: float = 0.0

    @property
    def label(self) -> str:
        if self.kind == "status":
            return "sealed" if self.body == SEALED_BODY else f"status:{self.status}"
        return self.kind


def status(code: int, *, retry_after: float | str | None = None,
           message: str = "injected fault") -> Fault:
    """Answer ``code`` with a Vault-style ``{"errors": [message]}`` body."""
    body = json.dumps({"errors": [message]}).encode() + b"\n"
    return Fault("status", status=code, body=body,
                 retry_after=None if retry_after is None else _header_number(retry_after))


def sealed() -> Fault:
    """What a sealed Vault answers on every API path: 503 ``{"errors":["Vault is sealed"]}``."""
    return Fault("status", status=503, body=SEALED_BODY)


def delay(seconds: float) -> Fault:
    """Wait ``seconds``, then pass the request through."""
    return Fault("delay", delay=seconds)


def drop() -> Fault:
    """Close the connection without answering (after reading the request)."""
    return Fault("drop")


def drop_mid_body() -> Fault:
    """Forward the request, send the headers and half the body, then close the connection."""
    return Fault("drop_mid_body")


def passthrough() -> Fault:
    """Let matching requests through untouched (exempts them from rules added after this one)."""
    return Fault("pass")


def _header_number(value: float | str) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class Rule:
    """A path regex, an optional method, a fault and how long it applies."""

    pattern: re.Pattern[str]
    fault: Fault
    method: str | None = None
    remaining: int | None = None
    until: float | None = None
    hits: int = 0

    def active(self, now: float) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.until is None or now < self.until

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and bool(self.pattern.search(path))


@dataclass(frozen=True)
class RequestRecord:
    """One request seen by the proxy. ``status`` is None when no response was sent."""

    method: str
    path: str
    status: int | None
    fault: str | None
    started: float
    duration: float

    @property
    def injected(self) -> bool:
        return self.fault is not None and self.fault != "delay"


@dataclass
class _State:
    rules: list[Rule] = field(default_factory=list)
    log: list[RequestRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: set[socket.socket] = field(default_factory=set)
    accepted: int = 0


def loggable_path(raw: str) -> str:
    """The path with the query's keys kept and its values dropped (values may be secrets)."""
    parts = urlsplit(raw)
    keys = [key for key, _ in parse_qsl(parts.query, keep_blank_values=True)]
    return parts.path + ("?" + "&".join(keys) if keys else "")


class FaultProxy:
    """The proxy: ``address`` is what the agent/hvac should use instead of ``upstream``.

    ``ca_cert`` is needed when ``upstream`` is HTTPS (the proxy itself listens on plain HTTP).
    """

    def __init__(self, upstream: str, *, ca_cert: str | None = None,
                 upstream_timeout: float = 60.0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream must be an http(s) URL, got {upstream!r}")
        self.upstream = upstream.rstrip("/")
        self._upstream_host = parts.hostname
        self._upstream_port = parts.port or (443 if parts.scheme == "https" else 80)
        self._upstream_tls: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self._upstream_tls = ssl.create_default_context(cafile=ca_cert)
        self._upstream_timeout = upstream_timeout
        self._state = _State()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- rules -----------------------------------------------------------------------------

    def add_rule(self, path: str, fault: Fault, *, times: int | None = None,
                 seconds: float | None = None, method: str | None = None) -> Rule:
        """Apply ``fault`` to requests whose path matches ``path`` (regex, ``re.search``).

        ``times``: only the next N matching requests; ``seconds``: only for that long from now;
        neither: until :meth:`clear`.
        """
        rule = Rule(re.compile(path), fault, method.upper() if method else None, times,
                    None if seconds is None else time.monotonic() + seconds)
        with self._state.lock:
            self._state.rules.append(rule)
        return rule

    def fail(self, path: str, code: int = 503, *, retry_after: float | str | None = None,
             times: int | None = None, seconds: float | None = None,
             method: str | None = None) -> Rule:
        return self.add_rule(path, status(code, retry_after=retry_after), times=times,
                             seconds=seconds, method=method)

    def remove(self, rule: Rule) -> None:
        with self._state.lock, contextlib.suppress(ValueError):
            self._state.rules.remove(rule)

    def clear(self) -> None:
        """Remove every rule: everything passes through from now on."""
        with self._state.lock:
            self._state.rules.clear()

    def _pick(self, method: str, path: str) -> Fault | None:
        now = time.monotonic()
        with self._state.lock:
            self._state.rules = [r for r in self._state.rules if r.active(now)]
            for rule in self._state.rules:
                if rule.matches(method, path):
                    rule.hits += 1
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    return rule.fault
        return None

    # -- request log -----------------------------------------------------------------------

    @property
    def log(self) -> list[RequestRecord]:
        with self._state.lock:
            return list(self._state.log)

    def clear_log(self) -> None:
        with self._state.lock:
            self._state.log.clear()

    def count(self, path: str | None = None, *, method: str | None = None,
              injected: bool | None = None) -> int:
        """How many logged requests match ``path`` (regex), ``method`` and ``injected``."""
        pattern = re.compile(path) if path else None
        return sum(
            1 for record in self.log
            if (pattern is None or pattern.search(record.path))
            and (method is None or record.method == method.upper())
            and (injected is None or record.injected == injected)
        )

    def _record(self, record: RequestRecord) -> None:
        with self._state.lock:
            self._state.log.append(record)

    @property
    def accepted_connections(self) -> int:
        """Client connections accepted so far (keep-alive clients reuse one)."""
        with self._state.lock:
            return self._state.accepted

    # -- upstream --------------------------------------------------------------------------

    def _forward(self, method: str, path: str, headers: Iterable[tuple[str, str]],
                 body: bytes | None) -> tuple[int, list[tuple[str, str]], bytes]:
        connection: http.client.HTTPConnection
        if self._upstream_tls is not None:
            connection = http.client.HTTPSConnection(
                self._upstream_host, self._upstream_port, timeout=self._upstream_timeout,
                context=self._upstream_tls)
        else:
            connection = http.client.HTTPConnection(
                self._upstream_host, self._upstream_port, timeout=self._upstream_timeout)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() not in HOP_BY_HOP and name.lower() != "host":
                    connection.putheader(name, value)
            connection.putheader("Host", f"{self._upstream_host}:{self._upstream_port}")
            connection.putheader("Content-Length", str(len(body or b"")))
            connection.putheader("Connection", "close")
            connection.endheaders(body or None)
            response = connection.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
            return response.status, kept, data
        finally:
            connection.close()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        server = _ProxyServer(("127.0.0.1", 0), _handler_for(self), self._state)
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def close_client_connections(self) -> None:
        """Hang up on every client connection currently open (idle keep-alive ones included)."""
        with self._state.lock:
            open_sockets = list(self._state.connections)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self.close_client_connections()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 state: _State) -> None:
        super().__init__(address, handler)
        self.state = state

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self.state.lock:
            self.state.connections.add(request)
            self.state.accepted += 1
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.state.lock:
                self.state.connections.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (and the faults themselves) are expected here; a bug in the
        # proxy is not, and its traceback must reach the test output.
        if not isinstance(sys.exc_info()[1], _Dropped | ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Dropped(Exception):
    """The handler closed the connection on purpose."""


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class ProxyHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 120  # idle keep-alive connections end eventually

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _read_body(self) -> bytes | None:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks: list[bytes] = []
                while True:
                    size_line = self.rfile.readline(65537)
                    size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        # Skip trailers up to the blank line that ends the message.
                        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline(65537)
            length = self.headers.get("Content-Length")
            if length:
                return self.rfile.read(int(length))
            return None

        def _hang_up(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            raise _Dropped

        def _send(self, code: int, headers: Iterable[tuple[str, str]], body: bytes,
                  *, truncate: bool = False) -> None:
            self.send_response(code)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if truncate:
                self.wfile.write(body[: len(body) // 2])
                self._hang_up()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _handle(self) -> None:
            started = time.time()
            clock = time.monotonic()
            path = loggable_path(self.path)
            body = self._read_body()
            fault = proxy._pick(self.command, urlsplit(self.path).path)
            label = None if fault is None or fault.kind == "pass" else fault.label
            recorded = False

            def record(status: int | None) -> None:
                # Recorded before the client sees the answer, so a test that just got its
                # response always finds the request in the log.
                nonlocal recorded
                if not recorded:
                    recorded = True
                    proxy._record(RequestRecord(self.command, path, status, label, started,
                                                time.monotonic() - clock))

            try:
                if fault is not None and fault.kind == "delay":
                    time.sleep(fault.delay)
                if fault is not None and fault.kind == "status":
                    headers = [("Content-Type", "application/json"),
                               ("Cache-Control", "no-store")]
                    if fault.retry_after is not None:
                        headers.append(("Retry-After", fault.retry_after))
                    record(fault.status)
                    self._send(fault.status, headers, fault.body)
                    return
                if fault is not None and fault.kind == "drop":
                    record(None)
                    self._hang_up()
                try:
                    code, headers_out, data = proxy._forward(
                        self.command, self.path, self.headers.items(), body)
                except OSError:
                    record(502)
                    self._send(502, [("Content-Type", "application/json")],
                               b'{"errors":["fault proxy: upstream unreachable"]}\n')
                    return
                record(code)
                self._send(code, headers_out, data,
                           truncate=fault is not None and fault.kind == "drop_mid_body")
            except _Dropped:
                pass
            finally:
                record(None)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_LIST = _handle

    return ProxyHandler
