"""The lease cache's rules against a small Vault stand-in that hands out short leases and
tokens and records renewals: only answers obtained with a managed token are kept, an identical
request is answered from memory, entries are renewed in the background and evicted when a
renewal fails or they expire, evicting a token evicts what was obtained with it, and the
metrics count hits, misses and entries."""

from __future__ import annotations

import http.server
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from s4e_secret_agent.config.model import ApiProxyConfig, ListenerConfig, VaultConfig
from s4e_secret_agent.proxy.cache import LeaseCache
from s4e_secret_agent.proxy.server import ProxyServer
from s4e_secret_agent.telemetry.metrics import AgentMetrics
from s4e_secret_agent.vault.forward import Forwarder
from tests.test_proxy_server import AGENT_TOKEN, _call


@dataclass
class FakeVault:
    """Leases of ``ttl`` seconds; ``renew_ok`` decides the renewals' fate."""

    ttl: int = 2
    renew_ok: bool = True
    renewals: list[str] = field(default_factory=list)
    issued: int = 0
    address: str = ""


def _handler(vault: FakeVault) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            vault.issued += 1
            n, path = vault.issued, self.path
            answer: dict[str, Any]
            if path == "/v1/sys/leases/renew":
                vault.renewals.append(body["lease_id"])
                if not vault.renew_ok:
                    return self._send(400, {"errors": ["lease not found"]})
                answer = {"lease_id": body["lease_id"], "lease_duration": vault.ttl,
                          "renewable": True}
            elif path == "/v1/auth/token/renew-self":
                vault.renewals.append("token")
                answer = {"auth": {"client_token": self.headers["X-Vault-Token"],
                                   "lease_duration": vault.ttl, "renewable": True}}
            elif path.startswith("/v1/auth/token/create"):
                answer = {"auth": {"client_token": f"child-{n}", "accessor": f"acc-{n}",
                                   "lease_duration": vault.ttl, "renewable": True,
                                   "orphan": path.endswith("-orphan")}}
            elif path.startswith("/v1/creds/static"):
                answer = {"lease_id": f"creds/static/{n}", "lease_duration": vault.ttl,
                          "renewable": False, "data": {"n": n}}
            elif path.startswith("/v1/creds"):
                answer = {"lease_id": f"creds/dyn/{n}", "lease_duration": vault.ttl,
                          "renewable": True, "data": {"n": n}}
            else:
                answer = {"data": {"n": n}}
            self._send(200, answer)

        def _send(self, status: int, answer: dict[str, Any]) -> None:
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = _any

    return Handler


@pytest.fixture
def vault() -> Iterator[FakeVault]:
    record = FakeVault()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(record))
    server.daemon_threads = True
    record.address = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield record
    server.shutdown()
    server.server_close()


@pytest.fixture
def metrics() -> AgentMetrics:
    return AgentMetrics()


@pytest.fixture
def proxy(vault: FakeVault, metrics: AgentMetrics) -> Iterator[ProxyServer]:
    forwarder = Forwarder(VaultConfig(address=vault.address))
    cache = LeaseCache(forwarder, on_lookup=metrics.on_cache_lookup,
                       on_size=metrics.set_cache_entries)
    server = ProxyServer(ListenerConfig(address="127.0.0.1:0", tls_disable=True),
                         ApiProxyConfig(use_auto_auth_token=True, cache=True),
                         forwarder=forwarder, agent_token=lambda: AGENT_TOKEN,
                         events=queue.SimpleQueue(), cache=cache)
    server.start()
    yield server
    server.stop()
    forwarder.close()


def _n(proxy: ProxyServer, path: str, token: str | None = None) -> Any:
    status, _, raw = _call(proxy, "GET", path, headers={"X-Vault-Token": token} if token
                           else None)
    assert status == 200, raw
    answer = json.loads(raw)
    return answer.get("data", {}).get("n") if "data" in answer else answer


def _eventually(check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_only_renewable_leases_read_with_a_managed_token_are_cached(
        proxy: ProxyServer) -> None:
    assert _n(proxy, "/v1/creds/a") == _n(proxy, "/v1/creds/a")  # the agent's token
    assert _n(proxy, "/v1/creds/a?x=1") != _n(proxy, "/v1/creds/a")  # another request
    assert _n(proxy, "/v1/creds/a", "stranger") != _n(proxy, "/v1/creds/a", "stranger")
    assert _n(proxy, "/v1/creds/static") != _n(proxy, "/v1/creds/static")
    assert _n(proxy, "/v1/kv") != _n(proxy, "/v1/kv")  # no lease


def test_tokens_created_through_the_proxy_are_managed(proxy: ProxyServer) -> None:
    _, _, raw = _call(proxy, "POST", "/v1/auth/token/create", b"{}")
    child = json.loads(raw)["auth"]["client_token"]
    _, _, again = _call(proxy, "POST", "/v1/auth/token/create", b"{}")
    assert json.loads(again)["auth"]["client_token"] == child
    # A non-orphan child of a stranger's token is not managed; its leases pass through.
    _, _, raw = _call(proxy, "POST", "/v1/auth/token/create", b"{}",
                      {"X-Vault-Token": "stranger"})
    _, _, again = _call(proxy, "POST", "/v1/auth/token/create", b"{}",
                        {"X-Vault-Token": "stranger"})
    assert raw != again
    assert _n(proxy, "/v1/creds/b", child) == _n(proxy, "/v1/creds/b", child)
    # Clearing the token evicts the leases read with it.
    lease = _n(proxy, "/v1/creds/b", child)
    status, _, _ = _call(proxy, "POST", "/agent/v1/cache-clear",
                         json.dumps({"type": "token", "value": child}).encode())
    assert status == 200
    assert _n(proxy, "/v1/creds/b", child) != lease


def test_entries_are_renewed_then_evicted_when_a_renewal_fails(
        proxy: ProxyServer, vault: FakeVault, metrics: AgentMetrics) -> None:
    first = _n(proxy, "/v1/creds/c")
    _eventually(lambda: len(vault.renewals) >= 2)  # renewed at 2/3 of the 2 s ttl, twice
    assert _n(proxy, "/v1/creds/c") == first
    assert b"s4e_secret_agent_proxy_cache_entries 1.0" in metrics.exposition("")[0]
    vault.renew_ok = False
    count = len(vault.renewals)
    _eventually(lambda: len(vault.renewals) > count)
    _eventually(lambda: proxy.cache is not None and proxy.cache.size == 0)
    assert _n(proxy, "/v1/creds/c") != first
    text = metrics.exposition("")[0]
    assert b's4e_secret_agent_proxy_cache_lookups_total{result="hit"}' in text


def test_revocations_through_the_proxy_evict(proxy: ProxyServer) -> None:
    first = _n(proxy, "/v1/creds/d")
    _, _, raw = _call(proxy, "GET", "/v1/creds/d")
    lease = json.loads(raw)["lease_id"]
    assert proxy.cache is not None and proxy.cache.size == 1
    # The stand-in answers 200, not 204: not a revocation, nothing evicted.
    _call(proxy, "PUT", "/v1/sys/leases/revoke", json.dumps({"lease_id": lease}).encode())
    assert _n(proxy, "/v1/creds/d") == first
    proxy.cache.clear(json.dumps({"type": "request_path", "value": "/v1/creds"}).encode(),
                      "POST")
    assert proxy.cache.size == 0
