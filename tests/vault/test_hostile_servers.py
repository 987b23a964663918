"""Attacks from the network side, against the real client over real sockets: redirects that
try to carry the token or a login's credentials to another server, answers that trickle or
never end. Each server is a small scripted ``http.server`` (:mod:`tests.vault.hostile`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from s4e_secret_agent.config.model import AuthMethodConfig, VaultConfig
from s4e_secret_agent.errors import DeadlineExceededError, VaultError, VaultUnavailableError
from s4e_secret_agent.vault.client import VaultClient
from tests.testbed.kubernetes import make_tls_files
from tests.vault.hostile import HostileHandler, HostileServer, hostile_server

TOKEN = "hvs.the-agents-own-token"
SECRET_ID = "approle-secret-id-never-elsewhere"
KV1_MOUNT = b'{"data": {"path": "secret/", "type": "kv", "options": {"version": "1"}}}'
GOOD = b'{"data": {"password": "p1"}, "lease_duration": 60}'


def client(address: str, **config: object) -> VaultClient:
    return VaultClient(VaultConfig(address=address, **config), token=TOKEN)  # type: ignore[arg-type]


def good_vault(handler: HostileHandler) -> None:
    handler.answer(200, KV1_MOUNT if "ui/mounts" in handler.path else GOOD)


def redirect_to(target: str) -> Callable[[HostileHandler], None]:
    def script(handler: HostileHandler) -> None:
        if "ui/mounts" in handler.path:
            handler.answer(200, KV1_MOUNT)
        else:
            handler.answer(307, b"", {"Location": target + handler.path})
    return script


def assert_never_saw_secrets(server: HostileServer) -> None:
    for seen in server.seen:
        assert "X-Vault-Token" not in seen.headers and "Authorization" not in seen.headers
        assert TOKEN.encode() not in seen.body and SECRET_ID.encode() not in seen.body


def test_redirect_to_another_host_is_refused_and_the_token_stays_home() -> None:
    with hostile_server(good_vault) as elsewhere, \
            hostile_server(redirect_to(elsewhere.address)) as vault:
        agent = client(vault.address)
        with pytest.raises(VaultError) as refused:
            agent.read("secret/app")
        agent.close()
    message = str(refused.value)
    assert "secret/app" in message and elsewhere.address in message, message
    assert TOKEN not in message
    assert elsewhere.seen == []


def test_a_login_body_is_never_resent_to_another_host() -> None:
    with hostile_server(good_vault) as elsewhere, \
            hostile_server(redirect_to(elsewhere.address)) as vault:
        agent = client(vault.address)
        method = AuthMethodConfig(type="approle", mount_path="approle", params={"role_id": "r"})
        with pytest.raises(VaultError, match="auth/approle/login"):
            agent.send_login(method, "auth/approle/login",
                             {"role_id": "r", "secret_id": SECRET_ID})
        agent.close()
    assert SECRET_ID.encode() in vault.seen[0].body  # it was sent where it was meant to go
    assert elsewhere.seen == []
    assert_never_saw_secrets(elsewhere)


def test_https_to_http_on_the_same_host_is_refused(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path)
    with hostile_server(good_vault) as plain:
        port = plain.address.rsplit(":", 1)[1]
        with hostile_server(redirect_to(f"http://127.0.0.1:{port}"),
                            tls=(tls.server_cert, tls.server_key)) as vault:
            agent = client(vault.address, ca_cert=str(tls.ca_cert))
            with pytest.raises(VaultError, match="from https to plain http") as refused:
                agent.read("secret/app")
            agent.close()
    assert f"http://127.0.0.1:{port}" in str(refused.value)
    assert plain.seen == []


def test_one_redirect_on_the_same_origin_is_followed_with_the_token() -> None:
    def script(handler: HostileHandler) -> None:
        if "ui/mounts" in handler.path:
            handler.answer(200, KV1_MOUNT)
        elif handler.path.startswith("/v1/moved/"):
            handler.answer(200, GOOD)
        else:
            handler.answer(307, b"", {"Location": "/v1/moved/" + handler.path[4:]})
    with hostile_server(script) as vault:
        agent = client(vault.address)
        assert agent.read("secret/app").data == {"password": "p1"}
        agent.close()
    reads = [s for s in vault.seen if "ui/mounts" not in s.path]
    assert [s.path for s in reads] == ["/v1/secret/app", "/v1/moved/secret/app"]
    assert all(s.headers.get("X-Vault-Token") == TOKEN for s in reads)


def test_a_redirect_loop_stops_after_one_redirect() -> None:
    def loop(handler: HostileHandler) -> None:
        if "ui/mounts" in handler.path:
            handler.answer(200, KV1_MOUNT)
        else:
            handler.answer(302, b"", {"Location": handler.path})
    with hostile_server(loop) as vault:
        agent = client(vault.address)
        with pytest.raises(VaultError, match="redirected secret/app a second time"):
            agent.read("secret/app")
        agent.close()
    assert len([s for s in vault.seen if "ui/mounts" not in s.path]) == 2


def trickle(handler: HostileHandler) -> None:
    """Headers at once, then the body one byte every 0.5 s: each read is quick, the answer
    never ends."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    for _ in range(200):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.5)


def trickle_headers(handler: HostileHandler) -> None:
    """The status line and then one header byte every 0.5 s."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    for _ in range(200):
        handler.wfile.write(b"X")
        handler.wfile.flush()
        time.sleep(0.5)


@pytest.mark.parametrize("script", [trickle, trickle_headers], ids=["body", "headers"])
def test_client_timeout_bounds_a_trickling_answer(
        script: Callable[[HostileHandler], None]) -> None:
    with hostile_server(script) as vault:
        agent = client(vault.address, client_timeout=2.0)
        started = time.monotonic()
        with pytest.raises(VaultUnavailableError, match="timed out"):
            agent.lookup_self()
        took = time.monotonic() - started
        agent.close()
    assert took < 4.0, took


def test_the_deadline_bounds_a_trickling_answer_with_deadline_exceeded() -> None:
    with hostile_server(trickle) as vault:
        agent = client(vault.address, client_timeout=60.0)
        agent.set_deadline(1.5)
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError, match="auth/token/lookup-self"):
            agent.lookup_self()
        took = time.monotonic() - started
        agent.close()
    assert took < 3.5, took


def endless(handler: HostileHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(b'{"data": {"password": "')
    chunk = b"x" * (1024 * 1024)
    for _ in range(1024):  # 1 GiB unless the client hangs up
        handler.wfile.write(chunk)


def test_an_endless_body_is_refused_at_the_limit() -> None:
    with hostile_server(endless) as vault:
        agent = VaultClient(VaultConfig(address=vault.address), token=TOKEN,
                            max_response_bytes=4 * 1024 * 1024)
        started = time.monotonic()
        with pytest.raises(VaultError, match="more than the 4194304 bytes") as refused:
            agent.lookup_self()
        agent.close()
    assert "auth/token/lookup-self" in str(refused.value)
    assert time.monotonic() - started < 10


def test_a_declared_huge_body_is_refused_before_reading() -> None:
    def huge(handler: HostileHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(10 * 1024 ** 3))
        handler.end_headers()
        handler.wfile.write(b"{")
    with hostile_server(huge) as vault:
        agent = client(vault.address)
        with pytest.raises(VaultError, match="declares 10737418240 bytes"):
            agent.lookup_self()
        agent.close()


def test_a_body_cut_short_is_a_transient_vault_error() -> None:
    def cut(handler: HostileHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(b'{"data": {"ttl": 6')
        handler.close_connection = True
    with hostile_server(cut) as vault:
        agent = client(vault.address)
        with pytest.raises(VaultUnavailableError, match="auth/token/lookup-self"):
            agent.lookup_self()
        agent.close()
