"""A small local HTTP server standing in for a cloud credential provider (STS, the EC2/ECS
metadata services, Google's metadata server and APIs, Azure IMDS, Entra ID) in the auth
method tests: it records every request and answers with what the test's function returns
(recorded answers from the providers' documentation)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Seen:
    """One request as the provider received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lowercase names
    body: bytes
    raw_path: str = ""

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


Answer = tuple[int, str | bytes, dict[str, str]]
Responder = Callable[[Seen], Answer]


@dataclass
class StandIn:
    url: str
    requests: list[Seen] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]


@contextmanager
def standin(respond: Responder) -> Iterator[StandIn]:
    """Serve ``respond`` on a free loopback port until the block ends."""
    seen: list[Seen] = []

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Seen(self.command, parts.path, parse_qs(parts.query),
                           {k.lower(): v for k, v in self.headers.items()}, body, self.path)
            seen.append(request)
            status, payload, headers = respond(request)
            data = payload.encode() if isinstance(payload, str) else payload
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _handle

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StandIn(url=f"http://127.0.0.1:{server.server_address[1]}", requests=seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class RecordingVault:
    """What an auth method may ask of the Vault client while it builds a login (its address;
    no wrapping): the login itself is checked from the plan the method returns."""

    address: str = "https://vault.example.com:8200"

    def wrapping_lookup(self, wrapping_token: str) -> dict[str, object]:
        raise AssertionError("no wrapping here")

    def unwrap(self, wrapping_token: str) -> object:
        raise AssertionError("no wrapping here")
