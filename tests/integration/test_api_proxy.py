"""The API proxy against the real thing: ``bao agent`` and our ``sidecar`` run the same HCL
config (a listener, ``api_proxy``) against one live OpenBao, and an app-like client (hvac, or
raw HTTP) that holds no token of its own talks only to the listener. Both answer with the same
status codes, bodies and the headers that matter; both add the agent's token, replace it with
``force``, hide the agent's token from lookups, serve the quit endpoint only when enabled, and
forward over a unix socket."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import pytest

from s4e_secret_agent.tools.devserver import bao_binary, free_port
from tests.integration.conftest import agent_env, token_file_auth_hcl
from tests.integration.sidecar import wait_for
from tests.testbed.openbao import OpenBaoServer
from tests.testbed.postgres import PostgresCluster

pytestmark = pytest.mark.integration

WHO = ("bao", "ours")


def _config(server: OpenBaoServer, base: Path, listener: str, proxy: str) -> Path:
    config = base / "agent.hcl"
    config.write_text(token_file_auth_hcl(server, base) + f'''{listener}
{proxy}
''')
    return config


class Agent:
    def __init__(self, who: str, config: Path, base: Path, address: str) -> None:
        self.who, self.base, self.address = who, base, address
        log = (base / "agent.log").open("wb")
        if who == "bao":
            env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
            env["HOME"] = str(base)
            argv = [bao_binary(), "agent", f"-config={config}"]
        else:
            env = agent_env()
            argv = [sys.executable, "-m", "s4e_secret_agent", "sidecar", "--config",
                    str(config), "--metrics-listen", "127.0.0.1:0", "--log-format", "json"]
        with log:
            self.process = subprocess.Popen(argv, cwd=base, env=env, stdout=log,
                                            stderr=subprocess.STDOUT)

    def log(self) -> str:
        return (self.base / "agent.log").read_text(errors="replace")[-3000:]

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        if self.address.startswith("/"):
            conn: http.client.HTTPConnection = _UnixConnection(self.address)
        else:
            host, port = self.address.rsplit(":", 1)
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
        data = None if body is None else json.dumps(body).encode()
        try:
            conn.request(method, path, body=data, headers=headers or {})
            response = conn.getresponse()
            return (response.status, {k.lower(): v for k, v in response.getheaders()},
                    response.read())
        finally:
            conn.close()

    def wait_ready(self, *, logged_in: bool) -> None:
        """The listener answers (``logged_in``: with the agent's token added)."""
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(self.log())
            try:
                status = self.request("GET", "/v1/auth/token/lookup-self")[0]
                return status == 200 if logged_in else status > 0
            except OSError:
                return False
        wait_for(ready, timeout=60, interval=0.2, what=f"{self.who} agent's listener")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


@pytest.fixture
def agents(request: pytest.FixtureRequest, openbao: OpenBaoServer,
           tmp_path: Path) -> Iterator[dict[str, Agent]]:
    """Both agents on the same config: ``listener`` and ``proxy`` blocks from the test's
    ``proxy_config`` marker (``ADDRESS`` replaced by each one's free port or socket)."""
    marker = request.node.get_closest_marker("proxy_config")
    listener, proxy = marker.args if marker else ("", "api_proxy { use_auto_auth_token = true }")
    started: dict[str, Agent] = {}
    try:
        for who in WHO:
            base = tmp_path / who
            base.mkdir()
            address = (str(base / "agent.sock") if "unix" in listener
                       else f"127.0.0.1:{free_port()}")
            text = listener or 'listener "tcp" {\n address = "ADDRESS"\n tls_disable = true\n}'
            config = _config(openbao, base, text.replace("ADDRESS", address), proxy)
            started[who] = Agent(who, config, base, address)
        for agent in started.values():
            agent.wait_ready(logged_in="use_auto_auth_token" in proxy)
        yield started
    finally:
        for agent in started.values():
            agent.stop()


_VARYING = frozenset({"request_id", "lease_id", "created_time", "version", "creation_time",
                      "issue_time", "ttl", "expire_time", "last_renewal_time",
                      "last_renewal"})


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in _VARYING}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _body(raw: bytes) -> Any:
    """A Vault answer without what differs between any two requests (ids, times)."""
    return _scrub(json.loads(raw)) if raw.strip() else None


def _same(agents: dict[str, Agent], method: str, path: str, body: Any = None,
          headers: dict[str, str] | None = None) -> tuple[int, Any]:
    answers = {who: agent.request(method, path, body, headers) for who, agent in agents.items()}
    (bao_status, bao_headers, bao_raw), (status, ours_headers, raw) = answers["bao"], \
        answers["ours"]
    assert status == bao_status, (path, bao_raw, raw)
    assert _body(raw) == _body(bao_raw), path
    for header in ("content-type", "cache-control"):
        assert ours_headers.get(header) == bao_headers.get(header), (path, header)
    return status, _body(raw)


def test_a_client_without_a_token_reads_and_writes_kv_through_the_listener(
        agents: dict[str, Agent], openbao: OpenBaoServer) -> None:
    status, _ = _same(agents, "POST", "/v1/secret/data/proxy-kv", {"data": {"k": "v"}})
    assert status == 200
    status, body = _same(agents, "GET", "/v1/secret/data/proxy-kv")
    assert status == 200 and body["data"]["data"] == {"k": "v"}
    assert _same(agents, "GET", "/v1/secret/data/no-such-secret")[0] == 404
    assert _same(agents, "GET", "/v1/secret/data/proxy-kv",
                 headers={"X-Vault-Token": "not-a-token"})[0] == 403
    assert _same(agents, "LIST", "/v1/secret/metadata/")[0] == 200
    # hvac, pointed at the listener with no token, as an app would be.
    for agent in agents.values():
        client = hvac.Client(url=f"http://{agent.address}")
        client.token = ""  # an app holding no token (not even VAULT_TOKEN)
        read = client.secrets.kv.v2.read_secret_version(path="proxy-kv", mount_point="secret",
                                                        raise_on_deleted_version=True)
        assert read["data"]["data"] == {"k": "v"}


def test_the_agents_token_is_hidden_from_lookups(agents: dict[str, Agent]) -> None:
    status, body = _same(agents, "GET", "/v1/auth/token/lookup-self")
    assert status == 200 and "id" not in body["data"] and "accessor" not in body["data"]
    assert body["data"]["policies"] == ["root"]


def test_the_agent_endpoints(agents: dict[str, Agent]) -> None:
    assert _same(agents, "POST", "/agent/v1/quit")[0] == 404  # enable_quit not set
    for agent in agents.values():
        status, _, body = agent.request("POST", "/agent/v1/cache-clear", {"type": "all"})
        assert (status, body) == (200, b"")


@pytest.mark.proxy_config('listener "tcp" {\n address = "ADDRESS"\n tls_disable = true\n'
                          ' agent_api { enable_quit = true }\n}',
                          'api_proxy { use_auto_auth_token = "force" }')
def test_force_replaces_the_clients_token_and_quit_stops_the_agent(
        agents: dict[str, Agent]) -> None:
    status, body = _same(agents, "GET", "/v1/auth/token/lookup-self",
                         headers={"X-Vault-Token": "not-a-token"})
    assert status == 200 and body["data"]["policies"] == ["root"]
    assert _same(agents, "GET", "/agent/v1/quit")[0] == 405
    for agent in agents.values():
        status, _, _ = agent.request("POST", "/agent/v1/quit")
        assert status == 200
        assert agent.process.wait(timeout=30) == 0, agent.log()


@pytest.mark.proxy_config('listener "unix" {\n address = "ADDRESS"\n tls_disable = true\n}',
                          'api_proxy { use_auto_auth_token = true }')
def test_a_unix_socket_listener(agents: dict[str, Agent]) -> None:
    status, body = _same(agents, "GET", "/v1/auth/token/lookup-self")
    assert status == 200 and body["data"]["policies"] == ["root"]


@pytest.mark.proxy_config('listener "tcp" {\n address = "ADDRESS"\n tls_disable = true\n}',
                          "template {\n destination = \"out\"\n contents = \"x\"\n}")
def test_without_api_proxy_the_clients_own_token_is_forwarded(
        agents: dict[str, Agent], openbao: OpenBaoServer) -> None:
    assert _same(agents, "GET", "/v1/secret/data/proxy-kv")[0] in (400, 403)
    status, body = _same(agents, "GET", "/v1/auth/token/lookup-self",
                         headers={"X-Vault-Token": openbao.root_token})
    # Not the agent's token: nothing is hidden.
    assert status == 200 and body["data"]["id"] == openbao.root_token


def test_dynamic_database_credentials_through_the_listener(
        agents: dict[str, Agent], s4e_database: PostgresCluster) -> None:
    for agent in agents.values():
        client = hvac.Client(url=f"http://{agent.address}")
        client.token = ""  # an app holding no token (not even VAULT_TOKEN)
        creds = client.read("database/creds/s4e-app")
        assert creds["lease_id"] and creds["lease_duration"] > 0
        assert s4e_database.can_login(creds["data"]["username"], creds["data"]["password"])


_CACHED = ('listener "tcp" {\n address = "ADDRESS"\n tls_disable = true\n}',
           "cache {}\napi_proxy { use_auto_auth_token = true }")


def _lease(agent: Agent, path: str = "/v1/database/creds/s4e-app") -> tuple[str, str]:
    status, headers, raw = agent.request("GET", path)
    assert status == 200, (agent.who, raw)
    return json.loads(raw)["lease_id"], headers.get("x-cache", "")


@pytest.mark.proxy_config(*_CACHED)
def test_the_lease_cache_gives_the_same_lease_until_cleared_or_revoked(
        agents: dict[str, Agent], s4e_database: PostgresCluster) -> None:
    for agent in agents.values():
        first, miss = _lease(agent)
        again, hit = _lease(agent)
        assert (again, miss, hit) == (first, "MISS", "HIT"), agent.who
        status, _, raw = agent.request("POST", "/agent/v1/cache-clear",
                                       {"type": "lease", "value": first})
        assert (status, raw) == (200, b""), agent.who
        cleared, _ = _lease(agent)
        assert cleared != first, agent.who
        assert _lease(agent)[0] == cleared
        status, _, raw = agent.request("PUT", "/v1/sys/leases/revoke", {"lease_id": cleared})
        assert status == 204, (agent.who, raw)
        assert _lease(agent)[0] not in (cleared, first), agent.who


@pytest.mark.proxy_config(*_CACHED)
def test_the_lease_cache_keeps_created_tokens_and_answers_bad_clears_alike(
        agents: dict[str, Agent]) -> None:
    for agent in agents.values():
        body = {"policies": ["default"], "ttl": "1h"}
        answers = [agent.request("POST", "/v1/auth/token/create", body) for _ in range(2)]
        tokens = [json.loads(raw)["auth"]["client_token"] for _, _, raw in answers]
        assert tokens[0] == tokens[1], agent.who
        status, _, _ = agent.request("POST", "/v1/auth/token/revoke", {"token": tokens[0]})
        assert status == 204
        _, _, raw = agent.request("POST", "/v1/auth/token/create", body)
        assert json.loads(raw)["auth"]["client_token"] != tokens[0], agent.who
    for clear in ({"type": "nonsense"}, {"value": "x"}, {"type": "all"},
                  {"type": "token", "value": "unknown"}):
        assert _same(agents, "POST", "/agent/v1/cache-clear", clear)[0] in (200, 400), clear
    statuses = {who: agent.request("POST", "/agent/v1/cache-clear", "{")[0]
                for who, agent in agents.items()}
    assert statuses["ours"] == statuses["bao"]
