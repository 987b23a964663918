"""Telemetry: real HTTP against the real server on port 0, scraped and parsed like Prometheus."""

from __future__ import annotations

import http.client
import json
import math
import queue
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from s4e_secret_agent.errors import (
    AuthError,
    ConfigError,
    InvalidTokenError,
    PermissionDeniedError,
    SecretNotFoundError,
    TLSError,
    VaultError,
    VaultUnavailableError,
)
from s4e_secret_agent.runtime.events import Event, RefreshOutcome, RefreshRequests
from s4e_secret_agent.telemetry.health import HealthState
from s4e_secret_agent.telemetry.http import TelemetryServer, parse_listen
from s4e_secret_agent.telemetry.metrics import (
    CACHE_RESULTS,
    COMPAT_METRICS,
    METRICS,
    OPERATIONS,
    OTHER,
    PROXY_RESULTS,
    REQUEST_RESULTS,
    AgentMetrics,
    metrics_reference_markdown,
)
from s4e_secret_agent.telemetry.reporter import TelemetryReporter
from s4e_secret_agent.vault.errors import result_name
from tests.testbed.openbao import OpenBaoServer

TEMPLATES = ("app.env", "db.properties")
SECRETS = ("secret/data/s4e/app", "database/creds/s4e-core")
METHOD = "kubernetes"
ROOT = Path(__file__).resolve().parent.parent


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Agent:
    """The objects the runner would create, wired to a real server on a free port."""

    def __init__(self, *, enable_quit: bool = False, wall: FakeClock | None = None,
                 mono: FakeClock | None = None) -> None:
        self.wall = wall or FakeClock(1_800_000_000.0)
        self.mono = mono or FakeClock(1000.0)
        self.health = HealthState(TEMPLATES, margin=5.0, startup_grace=10.0, clock=self.mono,
                                  wall_clock=self.wall)
        self.metrics = AgentMetrics(
            templates=TEMPLATES, secrets=SECRETS, auth_method=METHOD,
            actions=[("app.env", "signal"), ("db.properties", "command")],
            ready=lambda: self.health.readiness().ok, wall_clock=self.wall)
        self.report = TelemetryReporter(self.metrics, self.health, wall_clock=self.wall)
        self.events: queue.Queue[Event] = queue.Queue()
        self.server = TelemetryServer("127.0.0.1:0", metrics=self.metrics, health=self.health,
                                      events=self.events, enable_quit=enable_quit)

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> tuple[int, bytes, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read(), resp.getheader("Content-Type", "")
        finally:
            conn.close()

    def scrape(self) -> dict[str, Any]:
        """{family name: Metric} as Prometheus' Python parser sees it."""
        status, body, content_type = self.request("GET", "/metrics")
        assert status == 200
        assert content_type.startswith("text/plain")
        return {f.name: f for f in text_string_to_metric_families(body.decode())}

    def value(self, family: str, sample: str | None = None, **labels: str) -> float:
        metric = self.scrape()[family]
        for s in metric.samples:
            if (sample is None or s.name == sample) and s.labels == labels:
                return float(s.value)
        raise AssertionError(f"no sample {sample or family}{labels}")


@pytest.fixture
def agent() -> Iterator[Agent]:
    a = Agent()
    with a.server:
        yield a


def family_name(spec_name: str, spec_type: str) -> str:
    return spec_name.removesuffix("_total") if spec_type == "counter" else spec_name


def test_every_series_exists_with_zero_before_any_event(agent: Agent) -> None:
    families = agent.scrape()
    for spec in METRICS:
        assert family_name(spec.name, spec.type) in families, spec.name
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families.values() for s in f.samples}

    def has(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    for result in ("success", "failure"):
        assert has("s4e_secret_agent_auth_total", method=METHOD, result=result) == 0
        for secret in SECRETS:
            assert has("s4e_secret_agent_lease_renewals_total", secret=secret,
                       result=result) == 0
            assert has("s4e_secret_agent_secret_fetches_total", secret=secret,
                       result=result) == 0
        for template in TEMPLATES:
            assert has("s4e_secret_agent_template_renders_total", template=template,
                       result=result) == 0
        assert has("s4e_secret_agent_actions_total", template="app.env", kind="signal",
                   result=result) == 0
        assert has("s4e_secret_agent_actions_total", template="db.properties",
                   kind="command", result=result) == 0
    for secret in SECRETS:
        assert has("s4e_secret_agent_secret_rotations_total", secret=secret) == 0
        assert has("s4e_secret_agent_lease_ttl_seconds", secret=secret) == 0
        assert has("s4e_secret_agent_lease_expiry_timestamp_seconds", secret=secret) == 0
    for template in TEMPLATES:
        assert has("s4e_secret_agent_template_last_render_timestamp_seconds",
                   template=template) == 0
    for op in OPERATIONS:
        assert has("s4e_secret_agent_vault_requests_total", operation=op, result="success") == 0
        assert has("s4e_secret_agent_vault_request_duration_seconds_count", operation=op) == 0
    assert has("s4e_secret_agent_ready") == 0
    assert has("s4e_secret_agent_authenticated") == 0
    assert has("s4e_secret_agent_token_ttl_seconds") == 0
    build = [s for s in families["s4e_secret_agent_build_info"].samples]
    assert len(build) == 1 and build[0].value == 1
    assert set(build[0].labels) == {"version", "python"}
    assert not any(name.endswith("_created") for name, _ in samples)


def test_vault_agent_compatible_names_are_exposed_exactly(agent: Agent) -> None:
    agent.report.on_auth(METHOD, ok=True)
    agent.report.on_token_renewal(ok=True)
    agent.report.on_token_renewal(ok=False)
    agent.report.on_auth(METHOD, ok=False)
    agent.report.on_auth(METHOD, ok=False)
    agent.report.set_token(ttl=3600)
    _, body, _ = agent.request("GET", "/metrics")
    text = body.decode()
    # As Vault's go-metrics Prometheus sink writes them: counters without a _total suffix.
    assert "# TYPE vault_agent_auth_success counter\nvault_agent_auth_success 2.0\n" in text
    assert "# TYPE vault_agent_auth_failure counter\nvault_agent_auth_failure 3.0\n" in text
    assert "# TYPE vault_agent_authenticated gauge\nvault_agent_authenticated 1.0\n" in text
    assert agent.value("s4e_secret_agent_auth", method=METHOD, result="failure") == 2
    assert agent.value("s4e_secret_agent_token_renewals", result="success") == 1
    assert {m.name for m in COMPAT_METRICS} <= set(re.findall(r"^(vault_agent_\w+) ", text,
                                                              re.MULTILINE))


def test_openmetrics_when_asked_and_parseable(agent: Agent) -> None:
    agent.report.on_fetch(SECRETS[0], ok=True)
    status, body, content_type = agent.request(
        "GET", "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert status == 200
    assert content_type.startswith("application/openmetrics-text")
    text = body.decode()
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in openmetrics_families(text)}
    fetches = families["s4e_secret_agent_secret_fetches"]
    assert any(s.labels == {"secret": SECRETS[0], "result": "success"} and s.value == 1
               for s in fetches.samples)
    assert families["vault_agent_auth_success"].type == "unknown"
    # Vault Agent's path and its ?format=prometheus switch work too.
    status, body, content_type = agent.request(
        "GET", "/agent/v1/metrics?format=prometheus",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert status == 200 and content_type.startswith("text/plain")
    assert b"vault_agent_auth_success 0.0" in body


def test_token_and_lease_ttls_count_down_at_scrape_time(agent: Agent) -> None:
    agent.report.set_token(ttl=600)
    assert agent.value("s4e_secret_agent_token_ttl_seconds") == 600
    assert agent.value("s4e_secret_agent_token_expiry_timestamp_seconds") == agent.wall.now + 600
    assert agent.value("s4e_secret_agent_authenticated") == 1
    agent.report.set_lease(SECRETS[1], ttl=3600)
    agent.wall.now += 100
    assert agent.value("s4e_secret_agent_token_ttl_seconds") == 500
    assert agent.value("s4e_secret_agent_lease_ttl_seconds", secret=SECRETS[1]) == 3500
    agent.wall.now += 600
    assert agent.value("s4e_secret_agent_token_ttl_seconds") == 0
    assert agent.value("s4e_secret_agent_authenticated") == 0
    # A token that never expires (ttl 0, like a root token) is +Inf, not "expired".
    agent.report.set_token(ttl=0)
    assert math.isinf(agent.value("s4e_secret_agent_token_ttl_seconds"))
    assert agent.value("s4e_secret_agent_authenticated") == 1
    agent.report.clear_token()
    assert agent.value("s4e_secret_agent_authenticated") == 0
    # A static secret has no lease: 0, which the documented alerts exclude.
    agent.report.set_lease(SECRETS[0], ttl=0)
    assert agent.value("s4e_secret_agent_lease_expiry_timestamp_seconds",
                       secret=SECRETS[0]) == 0


def test_counters_and_histogram_follow_events(agent: Agent) -> None:
    m = agent.metrics
    m.on_fetch(SECRETS[1], ok=True)
    m.on_fetch(SECRETS[1], ok=False)
    m.on_renewal(SECRETS[1], ok=True)
    m.on_rotation(SECRETS[1])
    m.on_render("app.env", ok=True, when=1_800_000_123.5)
    m.on_render("app.env", ok=False)
    m.on_action("app.env", "signal", ok=True)
    m.observe_request("read", 0.004, "ok")
    m.observe_request("read", 2.0, result_name(VaultUnavailableError("down")))
    assert agent.value("s4e_secret_agent_secret_fetches", secret=SECRETS[1],
                       result="failure") == 1
    assert agent.value("s4e_secret_agent_lease_renewals", secret=SECRETS[1],
                       result="success") == 1
    assert agent.value("s4e_secret_agent_secret_rotations", secret=SECRETS[1]) == 1
    assert agent.value("s4e_secret_agent_template_renders", template="app.env",
                       result="failure") == 1
    assert agent.value("s4e_secret_agent_template_last_render_timestamp_seconds",
                       template="app.env") == 1_800_000_123.5
    assert agent.value("s4e_secret_agent_actions", template="app.env", kind="signal",
                       result="success") == 1
    assert agent.value("s4e_secret_agent_vault_requests", operation="read",
                       result="unavailable") == 1
    assert agent.value("s4e_secret_agent_vault_requests", operation="read",
                       result="success") == 1
    duration = "s4e_secret_agent_vault_request_duration_seconds"
    assert agent.value(duration, duration + "_count", operation="read") == 2
    assert agent.value(duration, duration + "_bucket", operation="read", le="0.005") == 1
    assert agent.value(duration, duration + "_bucket", operation="read", le="30.0") == 2


def test_request_result_labels_are_bounded() -> None:
    """The Vault client's result names are the label values (its "ok" counts as success)."""
    def request_result(error: BaseException | None) -> str:
        name = result_name(error)
        return "success" if name == "ok" else name

    assert request_result(None) == "success"
    assert request_result(InvalidTokenError("x")) == "invalid_token"
    assert request_result(PermissionDeniedError("x")) == "denied"
    assert request_result(SecretNotFoundError("x")) == "not_found"
    assert request_result(VaultUnavailableError("x")) == "unavailable"
    assert request_result(TLSError("x")) == "tls_error"
    assert request_result(AuthError("x")) == "auth_failed"
    assert request_result(VaultError("x", status=400)) == "bad_request"
    assert request_result(RuntimeError("x")) == "error"
    assert {request_result(e) for e in (None, InvalidTokenError("x"), TLSError("x"))} <= set(
        REQUEST_RESULTS)


def test_label_values_are_exactly_the_configured_names(agent: Agent) -> None:
    """Feed a full day of events; no label value may be anything but configuration."""
    m = agent.metrics
    lease_id = "database/creds/s4e-core/Xy12AbCdEfGhIjKlMnOpQr"
    password = "A1a-Zp9qW2e3R4t5Y6u7"
    for secret in SECRETS:
        m.on_fetch(secret, ok=True)
        m.set_lease(secret, ttl=3600)
        m.on_renewal(secret, ok=False)
        m.on_rotation(secret)
    for template in TEMPLATES:
        m.on_render(template, ok=True)
        m.on_action(template, "command", ok=False)
    m.on_auth(METHOD, ok=True)
    m.set_token(ttl=60)
    m.observe_request("renew_lease", 0.01, "denied")
    m.observe_request("read", 0.01, "teapot")  # unknown result -> "error"
    allowed = {
        "secret": set(SECRETS), "template": set(TEMPLATES), "method": {METHOD},
        "result": {"success", "failure", *REQUEST_RESULTS, *PROXY_RESULTS, *CACHE_RESULTS},
        "kind": {"command", "signal"}, "operation": set(OPERATIONS),
        "le": None, "version": None, "python": None,
    }
    _, body, _ = agent.request("GET", "/metrics")
    assert lease_id.encode() not in body and password.encode() not in body
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            for label, value in sample.labels.items():
                assert label in allowed, (sample.name, label)
                expected = allowed[label]
                if expected is not None:
                    assert value in expected, (sample.name, label, value)


def test_unconfigured_label_values_are_capped() -> None:
    m = AgentMetrics(templates=["t"], secrets=[], auth_method="approle")
    for i in range(250):
        m.on_fetch(f"kv/dynamic/{i}", ok=True)
    body, _ = m.exposition()
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    secrets = {s.labels["secret"] for s in families["s4e_secret_agent_secret_fetches"].samples}
    assert OTHER in secrets
    assert len(secrets) == 201  # 200 accepted values plus the overflow bucket


def test_healthz_turns_503_when_heartbeats_stop(agent: Agent) -> None:
    status, body, _ = agent.request("GET", "/healthz")
    assert status == 200  # within the start-up grace
    agent.health.heartbeat(max_sleep=30)
    agent.mono.now += 34  # slept 30 s plus 4 of the 5 s margin: still fine
    status, body, _ = agent.request("GET", "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    agent.mono.now += 2
    status, body, content_type = agent.request("GET", "/healthz")
    assert status == 503 and content_type == "application/json"
    detail = json.loads(body)
    assert detail["status"] == "stuck" and detail["seconds_since_heartbeat"] == 36
    agent.health.heartbeat(max_sleep=1)
    assert agent.request("GET", "/healthz")[0] == 200


def test_finished_vault_requests_keep_a_slow_cycle_alive(agent: Agent) -> None:
    """During an outage every request takes its full timeout; that is progress, not a hang."""
    agent.health.heartbeat(max_sleep=0)
    for _ in range(5):
        agent.mono.now += 4.5  # each request times out after 4.5 s (margin is 5 s)
        agent.report.observe_request("read", 4.5, "unavailable")
        assert agent.request("GET", "/healthz")[0] == 200
    agent.mono.now += 5.5  # the next request never returns
    status, body, _ = agent.request("GET", "/healthz")
    assert status == 503 and json.loads(body)["status"] == "stuck"


def test_progress_never_shortens_an_announced_sleep(agent: Agent) -> None:
    agent.health.heartbeat(max_sleep=30)
    agent.report.on_action("app.env", "signal", ok=True)
    agent.mono.now += 34
    assert agent.request("GET", "/healthz")[0] == 200


def test_healthz_fails_when_the_loop_never_starts() -> None:
    a = Agent()
    with a.server:
        a.mono.now += 11
        status, body, _ = a.request("GET", "/healthz")
    assert status == 503 and json.loads(body)["status"] == "not started"


def test_readyz_transitions(agent: Agent) -> None:
    def readyz() -> tuple[int, dict[str, Any]]:
        status, body, _ = agent.request("GET", "/readyz")
        return status, json.loads(body)

    assert readyz() == (503, {"status": "not ready", "reason": "not authenticated"})
    agent.report.on_auth(METHOD, ok=True)
    agent.report.set_token(ttl=120)
    status, detail = readyz()
    assert status == 503 and detail["pending_templates"] == list(TEMPLATES)
    agent.report.on_render("app.env", ok=True)
    agent.report.on_render("db.properties", ok=False)
    assert readyz()[1]["pending_templates"] == ["db.properties"]
    assert agent.value("s4e_secret_agent_ready") == 0
    agent.report.on_render("db.properties", ok=True)
    assert readyz() == (200, {"status": "ready"})
    assert agent.value("s4e_secret_agent_ready") == 1
    # Vault unreachable past the token's expiry: the files stay, so does readiness (taking
    # the pod out of its Services would not bring Vault back).
    agent.wall.now += 121
    assert readyz() == (200, {"status": "ready", "token": "expired"})
    assert agent.value("s4e_secret_agent_ready") == 1
    agent.report.clear_token()
    assert readyz() == (200, {"status": "ready", "token": "none"})


def test_refresh_posts_an_event_and_quit_is_404_unless_enabled(agent: Agent) -> None:
    status, body, _ = agent.request("POST", "/v1/refresh", body=b"ignored")
    assert status == 202 and json.loads(body) == {"accepted": "refresh", "refresh": "queued"}
    assert agent.events.get_nowait() == Event.REFRESH
    assert agent.request("GET", "/v1/refresh")[0] == 405
    for path in ("/v1/quit", "/agent/v1/quit"):
        assert agent.request("POST", path)[0] == 404
        assert agent.request("GET", path)[0] == 404
    assert agent.events.empty()
    assert agent.request("GET", "/nothing-here")[0] == 404
    assert agent.request("POST", "/metrics")[0] == 405


def test_quit_posts_an_event_when_enabled() -> None:
    a = Agent(enable_quit=True)
    with a.server:
        assert a.request("GET", "/v1/quit")[0] == 405
        assert a.request("POST", "/v1/quit")[0] == 202
        assert a.request("POST", "/agent/v1/quit")[0] == 202  # Vault Agent's path
    assert a.events.get_nowait() == Event.QUIT
    assert a.events.empty()  # one quit is on its way; later ones add nothing


def test_quit_also_ends_a_wait_of_the_runner() -> None:
    stopped = threading.Event()
    a = Agent(enable_quit=True)
    a.server.stop()
    server = TelemetryServer("127.0.0.1:0", metrics=a.metrics, health=a.health,
                             events=a.events, enable_quit=True, on_quit=stopped.set)
    with server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("POST", "/agent/v1/quit")
        assert conn.getresponse().status == 202
        conn.close()
    assert stopped.is_set()


def _non_loopback_address() -> str | None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.254", 9))  # UDP connect sends nothing; it picks a route
        address = str(probe.getsockname()[0])
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def test_control_endpoints_refuse_clients_outside_the_pod() -> None:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    a = Agent(enable_quit=True)
    a.server.stop()
    server = TelemetryServer("0.0.0.0:0", metrics=a.metrics, health=a.health, events=a.events,
                             enable_quit=True)
    with server:
        for path in ("/v1/refresh", "/v1/quit", "/agent/v1/quit"):
            conn = http.client.HTTPConnection(address, server.port, timeout=10)
            conn.request("POST", path)
            resp = conn.getresponse()
            assert resp.status == 403, path
            assert b"inside the pod" in resp.read()
            conn.close()
        # Metrics and probes are for everyone (Prometheus, the kubelet).
        with urllib.request.urlopen(f"http://{address}:{server.port}/metrics",
                                    timeout=10) as resp:
            assert resp.status == 200
    assert a.events.empty()


def test_a_burst_of_refresh_requests_is_one_refresh_then_429_until_the_interval_ends() -> None:
    a = Agent()
    a.server.stop()
    clock = FakeClock(50.0)
    requests = RefreshRequests(5.0, clock=clock, wake=lambda: a.events.put(Event.REFRESH))
    server = TelemetryServer("127.0.0.1:0", metrics=a.metrics, health=a.health,
                             events=a.events, refresh=requests)

    def post() -> tuple[int, dict[str, Any], str | None]:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            conn.request("POST", "/v1/refresh")
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read()), resp.getheader("Retry-After")
        finally:
            conn.close()

    with server:
        assert post() == (202, {"accepted": "refresh", "refresh": "queued"}, None)
        for _ in range(20):  # the runner has not started it yet: they join it
            assert post() == (202, {"accepted": "refresh", "refresh": "coalesced"}, None)
        assert a.events.get_nowait() == Event.REFRESH and a.events.empty()
        assert requests.take()  # the runner starts it
        clock.now += 1.2
        status, body, retry_after = post()
        assert (status, retry_after, body["retry_after_seconds"]) == (429, "4", 4)
        assert a.events.empty() and not requests.pending()
        clock.now += 3.8
        assert post()[1]["refresh"] == "queued"
        assert a.events.get_nowait() == Event.REFRESH


def test_a_signal_too_soon_is_deferred_to_the_end_of_the_interval_not_dropped() -> None:
    clock = FakeClock(10.0)
    woken: list[int] = []
    requests = RefreshRequests(5.0, clock=clock, wake=lambda: woken.append(1))
    assert requests.ask(defer=True).outcome == RefreshOutcome.QUEUED
    assert requests.take()
    clock.now += 2
    answer = requests.ask(defer=True)
    assert (answer.outcome, answer.retry_after) == (RefreshOutcome.DEFERRED, 3.0)
    assert requests.ask(defer=True).outcome == RefreshOutcome.COALESCED
    assert requests.due_at() == 15.0 and not requests.take()
    clock.now = 15.0
    assert requests.take() and requests.due_at() == math.inf
    assert len(woken) == 2  # one wake-up per refresh made pending, none per request


def test_oversized_body_is_refused_without_reading_it(agent: Agent) -> None:
    status, _, _ = agent.request("POST", "/v1/refresh", body=b"x" * (70 * 1024))
    assert status == 413
    assert agent.events.empty()


def test_stop_is_prompt_and_frees_the_port() -> None:
    a = Agent()
    a.server.start()
    port = a.server.port
    assert port > 0 and a.server.url == f"http://127.0.0.1:{port}"
    started = time.monotonic()
    a.server.stop()
    assert time.monotonic() - started < 2
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_busy_port_is_a_config_error(agent: Agent) -> None:
    where = f"agent.metrics_listen: cannot listen on 127.0.0.1:{agent.server.port}"
    with pytest.raises(ConfigError, match=where):
        TelemetryServer(f"127.0.0.1:{agent.server.port}", metrics=agent.metrics,
                        health=agent.health, events=queue.Queue())


def test_ipv6_loopback_listen_works() -> None:
    a = Agent()
    a.server.stop()  # only its metrics and health are used here
    try:
        server = TelemetryServer("[::1]:0", metrics=a.metrics, health=a.health,
                                 events=a.events)
    except ConfigError:
        pytest.skip("no IPv6 loopback on this machine")
    with server, urllib.request.urlopen(server.url + "/healthz", timeout=5) as resp:
        assert resp.status == 200


@pytest.mark.parametrize(("text", "expected"), [
    ("0.0.0.0:9102", ("0.0.0.0", 9102)), (":9102", ("0.0.0.0", 9102)),
    ("[::]:0", ("::", 0)), ("127.0.0.1:0", ("127.0.0.1", 0))])
def test_parse_listen(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["9102", "host:", "host:99999", "host:http"])
def test_parse_listen_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="is not host:port"):
        parse_listen(text)


def test_import_does_not_load_prometheus_client_http_server_or_subprocess() -> None:
    """Init mode imports these modules but never serves metrics: it must not pay for them."""
    code = ("import sys, s4e_secret_agent.telemetry.metrics, s4e_secret_agent.runtime.actions;"
            "print(sorted(m for m in sys.modules if m.startswith(('prometheus_client', "
            "'http.server', 'wsgiref', 'subprocess', 'tempfile'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_committed_metrics_reference_is_current() -> None:
    doc = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    begin, end = "<!-- BEGIN GENERATED METRICS -->\n", "<!-- END GENERATED METRICS -->"
    assert begin in doc and end in doc
    committed = doc.split(begin, 1)[1].split(end, 1)[0]
    assert committed == metrics_reference_markdown(), (
        "docs/metrics.md is stale: run python docs/gen_metrics_reference.py")


def _exposed_names() -> set[str]:
    names = {m.name for m in COMPAT_METRICS}
    for spec in METRICS:
        names.add(spec.name)
        if spec.type == "histogram":
            names.update(spec.name + suffix for suffix in ("_bucket", "_sum", "_count"))
    return names


@pytest.mark.parametrize("page", ["metrics.md", "health.md", "actions.md"])
def test_documented_yaml_parses_and_names_real_metrics(page: str) -> None:
    import yaml

    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL):
        assert list(yaml.safe_load_all(block)), block
    exposed = _exposed_names()
    for name in re.findall(r"\b((?:s4e_secret_agent|vault_agent)_[a-z_]+)", text):
        assert name in exposed, f"{page} mentions {name}, which the agent does not expose"


@pytest.mark.integration
def test_vault_client_requests_are_counted_against_real_openbao(openbao: OpenBaoServer) -> None:
    from s4e_secret_agent.config.model import VaultConfig
    from s4e_secret_agent.vault.client import VaultClient

    path = f"secret/data/s4e-telemetry-{uuid.uuid4().hex[:8]}"
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path=path.removeprefix("secret/data/"), secret={"password": "not-a-label-value"})
    metrics = AgentMetrics(templates=["app.env"], secrets=[path], auth_method="token")
    client = VaultClient(VaultConfig(address=openbao.address, client_timeout=10.0),
                         on_request=metrics.on_vault_request, token=openbao.root_token)
    try:
        client.read(path)
        with pytest.raises(SecretNotFoundError):
            client.read(path + "-missing")
    finally:
        client.close()
    body, _ = metrics.exposition()
    assert b"not-a-label-value" not in body
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    requests = {(s.labels["operation"], s.labels["result"]): s.value
                for s in families["s4e_secret_agent_vault_requests"].samples}
    assert requests[("read", "success")] == 1
    assert requests[("read", "not_found")] == 1
    # Every operation the client reported is one the metrics know from the start.
    assert {op for op, _ in requests} == set(OPERATIONS)
