"""The API proxy's listener against a small Vault stand-in that records what reaches it: the
agent's token is added (or forced) as configured, connection headers stop at the proxy, a
body without a length streams through chunked, redirects reach the client unfollowed, an
unreachable Vault is Vault's 500, the agent's token never shows in a lookup, and the
listener's own limits (body size, X-Vault-Request), TLS and unix socket mode hold."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import queue
import socket
import ssl
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from s4e_secret_agent.config.model import ApiProxyConfig, ListenerConfig, VaultConfig
from s4e_secret_agent.proxy import server as proxy_module
from s4e_secret_agent.proxy.server import ProxyServer
from s4e_secret_agent.runtime.events import Event
from s4e_secret_agent.tools.devserver import free_port
from s4e_secret_agent.vault.forward import Forwarder
from tests.testbed.kubernetes import make_tls_files

AGENT_TOKEN = "s.agent-token-value"


@dataclass
class Upstream:
    """What reached the stand-in: (method, path, headers, body) per request."""

    seen: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    address: str = ""


class _UpstreamHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream: Upstream

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.upstream.seen.append((self.command, self.path, dict(self.headers.items()), body))
        if self.path.startswith("/v1/stream"):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(64):
                self.wfile.write(b"x" * 16384)
            self.close_connection = True
            return
        if self.path.startswith("/v1/moved"):
            self.send_response(307)
            self.send_header("Location", "http://elsewhere.example/v1/x")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/v1/auth/token/lookup-self"):
            answer = {"request_id": "r", "lease_id": "", "lease_duration": 0,
                      "renewable": False, "warnings": None, "mount_type": "token",
                      "data": {"id": self.headers.get("X-Vault-Token"), "accessor": "acc",
                               "policies": ["app"]}}
        else:
            answer = {"data": {"token_seen": self.headers.get("X-Vault-Token")}}
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _any


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    record = Upstream()
    handler = type("Handler", (_UpstreamHandler,), {"upstream": record})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    record.address = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield record
    server.shutdown()
    server.server_close()


def _proxy(vault_address: str, listener: ListenerConfig | None = None,
           api_proxy: ApiProxyConfig | None = None,
           events: queue.SimpleQueue[Event] | None = None) -> ProxyServer:
    forwarder = Forwarder(VaultConfig(address=vault_address))
    proxy = ProxyServer(listener or ListenerConfig(address="127.0.0.1:0", tls_disable=True),
                        api_proxy or ApiProxyConfig(use_auto_auth_token=True),
                        forwarder=forwarder, agent_token=lambda: AGENT_TOKEN,
                        events=events or queue.SimpleQueue())
    proxy.start()
    return proxy


@pytest.fixture
def proxied(upstream: Upstream) -> Iterator[ProxyServer]:
    proxy = _proxy(upstream.address)
    yield proxy
    proxy.stop()
    proxy.forwarder.close()


def _call(proxy: ProxyServer, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    host, port = proxy.address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, \
            response.read()
    finally:
        conn.close()


def test_the_agents_token_is_added_only_when_the_client_sends_none(
        proxied: ProxyServer, upstream: Upstream) -> None:
    status, headers, body = _call(proxied, "GET", "/v1/secret/data/app?version=2")
    assert status == 200 and json.loads(body)["data"]["token_seen"] == AGENT_TOKEN
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store"
    assert upstream.seen[-1][1] == "/v1/secret/data/app?version=2"
    _, _, body = _call(proxied, "GET", "/v1/x", headers={"X-Vault-Token": "client"})
    assert json.loads(body)["data"]["token_seen"] == "client"


def test_force_replaces_the_clients_token(upstream: Upstream) -> None:
    proxy = _proxy(upstream.address, api_proxy=ApiProxyConfig(True, True))
    try:
        _, _, body = _call(proxy, "GET", "/v1/x", headers={"X-Vault-Token": "client"})
        assert json.loads(body)["data"]["token_seen"] == AGENT_TOKEN
    finally:
        proxy.stop()


def test_without_auto_auth_no_token_is_added(upstream: Upstream) -> None:
    proxy = _proxy(upstream.address, api_proxy=ApiProxyConfig())
    try:
        _, _, body = _call(proxy, "GET", "/v1/x")
        assert json.loads(body)["data"]["token_seen"] is None
    finally:
        proxy.stop()


def test_connection_headers_stop_at_the_proxy_and_bodies_pass(
        proxied: ProxyServer, upstream: Upstream) -> None:
    status, _, _ = _call(proxied, "PUT", "/v1/kv/x", body=b'{"a":1}',
                         headers={"Connection": "keep-alive", "Keep-Alive": "timeout=5",
                                  "Accept-Encoding": "gzip", "X-Custom": "kept"})
    assert status == 200
    method, _, headers, body = upstream.seen[-1]
    assert (method, body) == ("PUT", b'{"a":1}')
    assert "Keep-Alive" not in headers and headers["X-Custom"] == "kept"
    assert headers["Accept-Encoding"] == "identity"


def test_a_chunked_request_body_is_forwarded_whole(proxied: ProxyServer,
                                                   upstream: Upstream) -> None:
    host, port = proxied.address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("POST", "/v1/kv/x", body=iter([b'{"a":', b'"b"}']),
                     headers={"Transfer-Encoding": "chunked"}, encode_chunked=True)
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    assert upstream.seen[-1][3] == b'{"a":"b"}'


def test_a_body_without_length_streams_through(proxied: ProxyServer) -> None:
    status, headers, body = _call(proxied, "GET", "/v1/stream")
    assert status == 200 and headers.get("transfer-encoding") == "chunked"
    assert body == b"x" * 16384 * 64


def test_redirects_reach_the_client_unfollowed(proxied: ProxyServer,
                                               upstream: Upstream) -> None:
    count = len(upstream.seen)
    status, headers, _ = _call(proxied, "GET", "/v1/moved")
    assert status == 307 and headers["location"] == "http://elsewhere.example/v1/x"
    assert len(upstream.seen) == count + 1


def test_the_agents_token_is_hidden_from_a_lookup(proxied: ProxyServer) -> None:
    status, _, body = _call(proxied, "GET", "/v1/auth/token/lookup-self")
    answer = json.loads(body)
    assert status == 200 and AGENT_TOKEN.encode() not in body
    assert "id" not in answer["data"] and "accessor" not in answer["data"]
    assert answer["data"]["policies"] == ["app"]
    # Somebody else's token: their own business.
    _, _, body = _call(proxied, "GET", "/v1/auth/token/lookup-self",
                       headers={"X-Vault-Token": "client"})
    assert json.loads(body)["data"]["id"] == "client"


def test_an_unreachable_vault_is_a_500_in_vaults_error_shape() -> None:
    proxy = _proxy(f"http://127.0.0.1:{free_port()}")
    try:
        status, headers, body = _call(proxy, "GET", "/v1/x")
        assert status == 500 and headers["content-type"] == "application/json"
        assert json.loads(body)["errors"][0].startswith("failed to get the response: ")
    finally:
        proxy.stop()


def test_the_listeners_limits(upstream: Upstream, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(proxy_module, "MAX_REQUEST_BYTES", 1024)
    proxy = _proxy(upstream.address, listener=ListenerConfig(
        address="127.0.0.1:0", tls_disable=True, require_request_header=True))
    try:
        count = len(upstream.seen)
        assert _call(proxy, "GET", "/v1/x")[0] == 412
        assert _call(proxy, "POST", "/v1/x", body=b"x" * 2048,
                     headers={"X-Vault-Request": "true"})[0] == 413
        assert _call(proxy, "GET", "/v1/x", headers={"X-Vault-Request": "true"})[0] == 200
        assert len(upstream.seen) == count + 1
    finally:
        proxy.stop()


def test_quit_only_when_enabled(upstream: Upstream) -> None:
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    closed = _proxy(upstream.address, events=events)
    enabled = _proxy(upstream.address, events=events, listener=ListenerConfig(
        address="127.0.0.1:0", tls_disable=True, enable_quit=True))
    try:
        assert _call(closed, "POST", "/agent/v1/quit")[0] == 404
        assert _call(enabled, "GET", "/agent/v1/quit")[0] == 405
        assert events.empty()
        assert _call(enabled, "POST", "/agent/v1/quit")[0] == 200
        assert events.get(timeout=5) == Event.QUIT
        assert _call(enabled, "POST", "/agent/v1/cache-clear", body=b'{"type":"all"}')[:3:2] \
            == (200, b"")
    finally:
        closed.stop()
        enabled.stop()


def test_a_tls_listener_with_its_minimum_version(upstream: Upstream, tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    proxy = _proxy(upstream.address, listener=ListenerConfig(
        address="127.0.0.1:0", tls_cert_file=str(tls.server_cert),
        tls_key_file=str(tls.server_key), tls_min_version="tls13"))
    host, port = proxy.address.rsplit(":", 1)
    try:
        context = ssl.create_default_context(cafile=str(tls.ca_cert))
        conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=30)
        conn.request("GET", "/v1/x")
        assert conn.getresponse().status == 200
        conn.close()
        old = ssl.create_default_context(cafile=str(tls.ca_cert))
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(ssl.SSLError), socket.create_connection((host, int(port)), 10) as raw, \
                old.wrap_socket(raw, server_hostname="127.0.0.1"):
            pass
    finally:
        proxy.stop()


def test_a_unix_socket_gets_its_mode_and_replaces_a_stale_one(upstream: Upstream,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "agent.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()
    proxy = _proxy(upstream.address, listener=ListenerConfig(
        type="unix", address=str(path), tls_disable=True, socket_mode=0o600,
        socket_user=os.getuid(), socket_group=os.getgid()))
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        client = socket.socket(socket.AF_UNIX)
        client.settimeout(10)
        client.connect(str(path))
        client.sendall(b"GET /v1/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := client.recv(65536):
            received += chunk
        client.close()
        assert received.startswith(b"HTTP/1.1 200") and AGENT_TOKEN.encode() in received
    finally:
        proxy.stop()
    assert not path.exists()
