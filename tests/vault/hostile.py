"""Small misbehaving HTTP servers for the attack tests: each is a real threaded
``http.server`` on a loopback port whose handler a test scripts, and which records every
request it saw (method, path, headers, body), so a test can assert what a server never got.
"""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

Handler = Callable[["HostileHandler"], None]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HostileServer:
    address: str
    seen: list[Seen] = field(default_factory=list)


class HostileHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: Handler
    record: list[Seen]

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.record.append(Seen(self.command, self.path, dict(self.headers.items()), body))
        with suppress(BrokenPipeError, ConnectionResetError):  # the client hung up: fine
            type(self).script(self)

    do_GET = do_POST = do_PUT = do_LIST = _any

    def answer(self, status: int, body: bytes = b"{}", headers: dict[str, str] | None = None
               ) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json",
                            "Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is fine
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def hostile_server(script: Handler, *, tls: tuple[Path, Path] | None = None
                   ) -> Iterator[HostileServer]:
    """A server on 127.0.0.1 answering every request with ``script(handler)``; ``tls``:
    (certificate, key) to serve https."""
    record: list[Seen] = []
    handler = type("Scripted", (HostileHandler,), {"script": staticmethod(script),
                                                   "record": record})
    server = _QuietServer(("127.0.0.1", 0), handler)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HostileServer(f"{scheme}://127.0.0.1:{server.server_address[1]}", record)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
