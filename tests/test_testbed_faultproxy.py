"""The fault-injecting proxy in front of a real OpenBao, observed through real hvac/requests."""

from __future__ import annotations

import time
from collections.abc import Iterator

import hvac
import hvac.exceptions
import pytest
import requests

from tests.testbed import faultproxy
from tests.testbed.faultproxy import FaultProxy
from tests.testbed.openbao import OpenBaoServer

pytestmark = pytest.mark.integration

KV_PATH = r"^/v1/secret/data/proxy-check$"


@pytest.fixture
def client(openbao: OpenBaoServer, fault_proxy: FaultProxy) -> hvac.Client:
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path="proxy-check", secret={"k": "v"})
    return hvac.Client(url=fault_proxy.address, token=openbao.root_token)


def _read(client: hvac.Client) -> dict:  # type: ignore[type-arg]
    return client.secrets.kv.v2.read_secret_version(  # type: ignore[no-any-return]
        path="proxy-check", raise_on_deleted_version=True)["data"]["data"]


def test_passes_through_and_logs_without_faults(client: hvac.Client,
                                                fault_proxy: FaultProxy) -> None:
    assert _read(client) == {"k": "v"}
    [record] = fault_proxy.log
    assert (record.method, record.path, record.status, record.fault) == (
        "GET", "/v1/secret/data/proxy-check", 200, None)
    assert not record.injected and record.duration >= 0


def test_injected_503_is_seen_once_then_requests_pass(client: hvac.Client,
                                                      fault_proxy: FaultProxy) -> None:
    fault_proxy.fail(KV_PATH, 503, times=1)
    with pytest.raises(hvac.exceptions.VaultDown, match="injected fault"):
        _read(client)
    assert _read(client) == {"k": "v"}
    assert [(r.status, r.fault) for r in fault_proxy.log] == [(503, "status:503"), (200, None)]
    assert fault_proxy.count(KV_PATH, injected=True) == 1
    assert fault_proxy.count(KV_PATH, method="GET") == 2


def test_429_with_retry_after(client: hvac.Client, fault_proxy: FaultProxy) -> None:
    fault_proxy.fail(KV_PATH, 429, retry_after=7, times=2)
    with pytest.raises(hvac.exceptions.RateLimitExceeded):
        _read(client)
    response = requests.get(fault_proxy.address + "/v1/secret/data/proxy-check", timeout=10)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json() == {"errors": ["injected fault"]}
    assert fault_proxy.count(KV_PATH, injected=True) == 2


@pytest.mark.parametrize("code,error", [(500, hvac.exceptions.InternalServerError),
                                        (502, hvac.exceptions.BadGateway)])
def test_other_error_statuses(client: hvac.Client, fault_proxy: FaultProxy, code: int,
                              error: type[Exception]) -> None:
    fault_proxy.fail(KV_PATH, code, times=1)
    with pytest.raises(error):
        _read(client)
    assert fault_proxy.log[-1].status == code


def test_sealed_answer_matches_a_sealed_vault(openbao: OpenBaoServer, client: hvac.Client,
                                              fault_proxy: FaultProxy) -> None:
    fault_proxy.add_rule(r"^/v1/", faultproxy.sealed(), times=1)
    with pytest.raises(hvac.exceptions.VaultDown, match="Vault is sealed"):
        _read(client)
    assert fault_proxy.log[-1].fault == "sealed"
    fault_proxy.add_rule(r"^/v1/", faultproxy.sealed(), times=1)
    injected = requests.get(fault_proxy.address + "/v1/secret/data/proxy-check", timeout=10)
    assert injected.status_code == 503
    assert injected.json() == {"errors": ["Vault is sealed"]}
    assert injected.headers["Content-Type"] == "application/json"


def test_dropped_connection_is_a_connection_error(client: hvac.Client,
                                                  fault_proxy: FaultProxy) -> None:
    fault_proxy.add_rule(KV_PATH, faultproxy.drop(), times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        _read(client)
    assert _read(client) == {"k": "v"}
    dropped = fault_proxy.log[0]
    assert (dropped.status, dropped.fault, dropped.injected) == (None, "drop", True)


def test_connection_dropped_mid_body(client: hvac.Client, fault_proxy: FaultProxy) -> None:
    fault_proxy.add_rule(KV_PATH, faultproxy.drop_mid_body(), times=1)
    with pytest.raises((requests.exceptions.ConnectionError,
                        requests.exceptions.ChunkedEncodingError)):
        _read(client)
    assert fault_proxy.log[0].fault == "drop_mid_body"
    assert _read(client) == {"k": "v"}


def test_latency_then_pass_through(client: hvac.Client, fault_proxy: FaultProxy) -> None:
    fault_proxy.add_rule(KV_PATH, faultproxy.delay(0.3), times=1)
    started = time.monotonic()
    assert _read(client) == {"k": "v"}
    assert time.monotonic() - started >= 0.3
    record = fault_proxy.log[0]
    assert record.fault == "delay" and not record.injected and record.duration >= 0.3


def test_rules_by_method_duration_order_and_clear(client: hvac.Client,
                                                  fault_proxy: FaultProxy) -> None:
    fault_proxy.fail(KV_PATH, 503, method="POST")
    assert _read(client) == {"k": "v"}  # GET is not affected
    fault_proxy.add_rule(KV_PATH, faultproxy.passthrough(), times=1)
    fault_proxy.fail(r"^/v1/secret/", 500)
    assert _read(client) == {"k": "v"}  # the earlier pass-through rule wins once
    with pytest.raises(hvac.exceptions.InternalServerError):
        _read(client)
    fault_proxy.clear()
    assert _read(client) == {"k": "v"}
    fault_proxy.fail(KV_PATH, 503, seconds=0.2)
    with pytest.raises(hvac.exceptions.VaultDown):
        _read(client)
    time.sleep(0.25)
    assert _read(client) == {"k": "v"}


def test_keep_alive_and_chunked_request_bodies(openbao: OpenBaoServer,
                                               fault_proxy: FaultProxy) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"data": {"chunked": '
        yield b'"yes"}}'

    headers = {"X-Vault-Token": openbao.root_token}
    url = fault_proxy.address + "/v1/secret/data/proxy-chunked"
    with requests.Session() as session:
        written = session.post(url, data=chunks(), headers=headers, timeout=10)
        assert written.status_code == 200
        for _ in range(3):
            read = session.get(url, headers=headers, timeout=10)
            assert read.json()["data"]["data"] == {"chunked": "yes"}
    assert fault_proxy.accepted_connections == 1
    assert fault_proxy.count(r"proxy-chunked") == 4


def test_log_keeps_query_keys_but_not_values(client: hvac.Client,
                                             fault_proxy: FaultProxy) -> None:
    client.secrets.kv.v2.list_secrets(path="")
    requests.get(fault_proxy.address + "/v1/sys/health?standbyok=true&token=sekret", timeout=10)
    seen = [(r.method, r.path) for r in fault_proxy.log]
    assert seen == [("LIST", "/v1/secret/metadata"), ("GET", "/v1/sys/health?standbyok&token")]
    assert "sekret" not in repr(fault_proxy.log)


def test_proxies_to_a_tls_upstream(openbao_tls: OpenBaoServer) -> None:
    with FaultProxy(openbao_tls.address, ca_cert=openbao_tls.ca_cert) as proxy:
        health = hvac.Client(url=proxy.address).sys.read_health_status(method="GET")
        assert health["sealed"] is False
        assert proxy.log[0].status == 200
