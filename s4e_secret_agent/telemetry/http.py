"""The sidecar's small HTTP server: ``/metrics``, ``/healthz``, ``/readyz``, ``POST /v1/refresh``
and (when enabled) ``POST /v1/quit``, plus Vault Agent's ``/agent/v1/*`` aliases.

``POST /v1/refresh`` answers ``202`` with ``"refresh": "queued"`` (a refresh starts now) or
``"coalesced"`` (one was already waiting: this request joins it), and ``429`` with
``Retry-After`` within the minimum interval after a refresh started.

It runs on daemon threads, only *reads* the metrics and health state, and only *posts*
:class:`~s4e_secret_agent.runtime.events.Event` values to the runner's queue: it never touches
business state. ``http.server`` is imported here and only here, so init mode never pays for it.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from s4e_secret_agent.errors import ConfigError
from s4e_secret_agent.runtime.events import Event, RefreshOutcome, RefreshRequests

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer

    from s4e_secret_agent.telemetry.health import HealthReport, HealthState
    from s4e_secret_agent.telemetry.metrics import AgentMetrics

log = logging.getLogger(__name__)


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``:port`` (all interfaces) -> (host, port)."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(f"telemetry listen address {listen!r} is not host:port",
                          path="agent.metrics_listen",
                          hint='use e.g. "0.0.0.0:9102" or "127.0.0.1:0"')
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port_text)


MAX_BODY = 64 * 1024
#: Minimum interval between refreshes when the server is not given the runner's requests.
DEFAULT_REFRESH_INTERVAL = 5.0

_Reply = tuple[int, bytes, str, dict[str, str]]


class TelemetryServer:
    """Serves /metrics, /healthz, /readyz, POST /v1/refresh and (if enabled) POST /v1/quit.

    ``listen`` is ``host:port`` (the configuration's ``agent.metrics_listen``, default
    ``0.0.0.0:9102``); port 0 picks a free port, see :attr:`port`.

    The socket is bound in the constructor (so a busy port fails early with a ConfigError and
    ``port`` is known, also for port 0); :meth:`start` runs the daemon thread, :meth:`stop`
    shuts it down. Vault Agent's paths ``/agent/v1/metrics`` and ``/agent/v1/quit`` are served
    as aliases so that existing scrapers and ``preStop`` hooks keep working.
    """

    def __init__(
        self,
        listen: str,
        metrics: AgentMetrics,
        health: HealthState,
        events: queue.Queue[Event] | queue.SimpleQueue[Event],
        *,
        enable_quit: bool = False,
        refresh: RefreshRequests | None = None,
        on_quit: Callable[[], None] | None = None,
    ) -> None:
        import socket
        from http.server import ThreadingHTTPServer

        self.metrics = metrics
        self.health = health
        self.events = events
        self.enable_quit = enable_quit
        # Refresh requests coalesce (RefreshRequests), so a flood of POSTs is one refresh and
        # at most one event; a quit is posted once (every later one finds it on its way).
        self.refresh = refresh if refresh is not None else RefreshRequests(
            DEFAULT_REFRESH_INTERVAL, wake=lambda: self.events.put_nowait(Event.REFRESH))
        self._quit_posted = False
        # A quit must also end a wait the runner is in (a login retry honouring a long
        # Retry-After), as SIGTERM does: the runner only reads its queue between waits.
        self._on_quit = on_quit
        host, port = parse_listen(listen)
        server_class: type[ThreadingHTTPServer] = ThreadingHTTPServer
        if ":" in host:
            server_class = type("_V6Server", (ThreadingHTTPServer,),
                                {"address_family": socket.AF_INET6})
        try:
            self._server: ThreadingHTTPServer = server_class((host, port), _make_handler(self))
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {listen} for metrics and health: {exc.strerror or exc}",
                path="agent.metrics_listen",
                hint="choose a free port, or leave metrics_listen empty to disable") from None
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def start(self) -> TelemetryServer:
        if self._thread is None:
            self._thread = threading.Thread(
                # Each poll wakes the process; 0.5 s keeps an idle sidecar's CPU near zero
                # while stop() still returns quickly.
                target=self._server.serve_forever, kwargs={"poll_interval": 0.5},
                name="telemetry-http", daemon=True)
            self._thread.start()
            log.info("serving metrics and health", extra={"listen": f"{self.host}:{self.port}"})
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> TelemetryServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- request handling (called on server threads) --------------------------------------

    def handle_get(self, path: str, query: str, accept: str) -> _Reply:
        if path in ("/metrics", "/agent/v1/metrics"):
            if "format=prometheus" in query.split("&"):
                accept = ""
            body, content_type = self.metrics.exposition(accept)
            return 200, body, content_type, {}
        if path == "/healthz":
            return _json_response(self.health.liveness())
        if path == "/readyz":
            return _json_response(self.health.readiness())
        if path in ("/v1/refresh", "/v1/quit", "/agent/v1/quit"):
            if path != "/v1/refresh" and not self.enable_quit:
                return _json(404, {"error": "not found"})
            return _json(405, {"error": "use POST"})
        return _json(404, {"error": "not found"})

    def handle_post(self, path: str, client: str = "127.0.0.1") -> _Reply:
        control = path == "/v1/refresh" or (
            self.enable_quit and path in ("/v1/quit", "/agent/v1/quit"))
        if control and not _is_loopback(client):
            # Containers of the pod share its network namespace and reach the agent on
            # localhost; kubectl port-forward arrives there too. Nobody else may stop it.
            log.warning("control request from outside the pod refused",
                        extra={"path": path, "client": client})
            return _json(403, {"error": "control endpoints only accept requests from inside "
                                        "the pod (localhost)"})
        if path == "/v1/refresh":
            return self._refresh()
        if path in ("/v1/quit", "/agent/v1/quit"):
            if not self.enable_quit:
                return _json(404, {"error": "not found"})
            if self._quit_posted:
                return _json(202, {"accepted": Event.QUIT})
            return self._post_event(Event.QUIT)
        if path in ("/metrics", "/agent/v1/metrics", "/healthz", "/readyz"):
            return _json(405, {"error": "use GET"})
        return _json(404, {"error": "not found"})

    def _refresh(self) -> _Reply:
        try:
            answer = self.refresh.ask()
        except queue.Full:
            return _json(503, {"error": "busy, try again"})
        if answer.outcome == RefreshOutcome.RATE_LIMITED:
            wait = max(1, math.ceil(answer.retry_after))
            return _json(429, {"error": "a refresh started less than "
                                        f"{self.refresh.min_interval:g}s ago; try again later",
                               "retry_after_seconds": wait},
                         {"Retry-After": str(wait)})
        if answer.outcome == RefreshOutcome.QUEUED:
            log.info("control request accepted", extra={"event": Event.REFRESH})
        return _json(202, {"accepted": Event.REFRESH, "refresh": answer.outcome})

    def _post_event(self, event: Event) -> _Reply:
        try:
            self.events.put_nowait(event)
        except queue.Full:
            return _json(503, {"error": "busy, try again"})
        if event == Event.QUIT:
            self._quit_posted = True
            if self._on_quit is not None:
                self._on_quit()
        log.info("control request accepted", extra={"event": event})
        return _json(202, {"accepted": event})


def _is_loopback(address: str) -> bool:
    import ipaddress

    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> _Reply:
    return status, (json.dumps(payload) + "\n").encode(), "application/json", headers or {}


def _json_response(report: HealthReport) -> _Reply:
    return _json(200 if report.ok else 503, report.detail)


def _make_handler(owner: TelemetryServer) -> Any:
    from http.server import BaseHTTPRequestHandler

    class Handler(BaseHTTPRequestHandler):
        server_version = "s4e-secret-agent"
        sys_version = ""
        protocol_version = "HTTP/1.1"
        timeout = 10  # a slow or stalled client must not hold a server thread forever

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            self._reply(*owner.handle_get(path, query, self.headers.get("Accept", "")))

        def do_POST(self) -> None:
            # The body is never used nor logged; read it (bounded) so keep-alive stays sane.
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY:
                self.close_connection = True
                self._reply(*_json(413, {"error": "body too large"}))
                return
            if length:
                self.rfile.read(length)
            self._reply(*owner.handle_post(self.path.partition("?")[0],
                                           str(self.client_address[0])))

        def _reply(self, status: int, body: bytes, content_type: str,
                   headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            self.do_GET()

        def log_message(self, format: str, *args: Any) -> None:
            # Request line and status only; bodies and headers are never logged.
            log.debug("telemetry http: " + format, *args)

    return Handler
