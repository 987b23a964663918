"""The process around the runner: threads, signal handlers, telemetry, the shutdown promise.

``init`` and ``sidecar`` start here. The runner works in its own thread; the main thread only
installs the signal handlers (in one place, restored afterwards), waits, and keeps the
shutdown promise (SIGTERM/SIGINT: gone within a second even if the runner is in the middle of
a slow Vault request; files are always replaced atomically, so abandoning a request loses
nothing). Signal handlers, the HTTP server and the file watcher only post events.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

from s4e_secret_agent.config.model import AgentConfig, ConfigSources
from s4e_secret_agent.errors import AgentError
from s4e_secret_agent.runtime.events import Event
from s4e_secret_agent.runtime.runner import Runner

if TYPE_CHECKING:
    from s4e_secret_agent.config.files import RawLayer
    from s4e_secret_agent.proxy.server import ProxyServer
    from s4e_secret_agent.telemetry.metrics import AgentMetrics

log = logging.getLogger("s4e_secret_agent")

# How long the main thread waits for the runner after SIGTERM before leaving without it.
_STOP_GRACE = 0.8


@dataclass
class _Outcome:
    error: BaseException | None = None
    done: bool = False


@contextmanager
def _signals(handlers: dict[int, Callable[[int, FrameType | None], Any]]) -> Iterator[None]:
    """Install ``handlers`` in one place and restore the previous ones afterwards."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum, handler in handlers.items():
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _run_in_thread(runner: Runner, body: Callable[[], None], *, grace: float) -> None:
    """Run ``body`` in a worker thread; SIGTERM/SIGINT set the stop event. Re-raises its error."""
    outcome = _Outcome()
    stopping = threading.Event()
    wake = threading.Event()  # set when the runner ends or a stop signal arrives

    def work() -> None:
        try:
            body()
        except BaseException as exc:  # handed to the main thread, which reports it
            outcome.error = exc
        finally:
            outcome.done = True
            wake.set()

    def on_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        runner.stop.set()
        runner.events.put(Event.STOP)
        wake.set()

    def on_hup(signum: int, frame: FrameType | None) -> None:
        # Paced and coalesced like POST /v1/refresh, but never refused: a signal too soon after
        # the last refresh is moved to the end of the interval. The lock wait is bounded since
        # this handler may have interrupted its own thread inside ask().
        runner.refresh_requests.ask(defer=True, lock_timeout=1.0)

    thread = threading.Thread(target=work, name="runner", daemon=True)
    with _signals({signal.SIGTERM: on_stop, signal.SIGINT: on_stop, signal.SIGHUP: on_hup}):
        thread.start()
        # An idle sidecar must cost next to nothing: no short polling here. Signals interrupt
        # the wait; the timeout is only a safety net.
        while not wake.wait(timeout=10.0):
            pass
        if stopping.is_set():
            thread.join(timeout=grace)
    if outcome.error is not None:
        raise outcome.error
    if stopping.is_set():
        log.info("stopped", extra={"event": "stopped"})


@contextmanager
def _pid_file(path: str | None) -> Iterator[None]:
    """Vault Agent's ``pid_file``: the agent's pid (decimal, no newline, mode 0600) while it
    runs, in every mode; removed when it ends, however it ends, unless another process wrote
    its own pid there meanwhile."""
    if not path:
        yield
        return
    from s4e_secret_agent.runtime.writer import write_file

    pid = str(os.getpid())
    write_file(path, pid.encode(), mode=0o600)
    try:
        yield
    finally:
        try:
            with open(path, encoding="ascii", errors="replace") as handle:
                ours = handle.read().strip() == pid
            if ours:
                os.remove(path)
        except OSError as exc:
            log.warning("could not remove the pid file %s: %s", path, exc.strerror or exc,
                        extra={"event": "pid_file_failed"})


def warn_plain_http(address: str) -> bool:
    """Log once (at start) when Vault is reached over plain HTTP on another host: the token,
    the login credentials and every secret then cross the network readable by anyone on the
    path. Loopback (a dev server, a local proxy that does TLS) is not warned about."""
    import ipaddress
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    if parts.scheme.lower() != "http":
        return False
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        if ipaddress.ip_address(host).is_loopback:
            return False
    except ValueError:
        pass
    log.warning("Vault is reached over plain HTTP at %s: the token and every secret cross the "
                "network unencrypted; use https:// (and vault.ca_cert)", parts.netloc,
                extra={"event": "plain_http", "host": parts.hostname or ""})
    return True


def run_init(config: AgentConfig) -> None:
    """``init``: render every template once and return; raises AgentError on failure."""
    if config.exec is not None:
        from s4e_secret_agent.errors import ConfigError

        raise ConfigError("process supervisor mode runs the app as the agent's child: use "
                          "the sidecar command", path="exec",
                          hint="s4e-secret-agent sidecar --config ...")
    warn_plain_http(config.vault.address)
    with _pid_file(config.pid_file):
        runner = Runner(config)
        _run_in_thread(runner, runner.run_init, grace=_STOP_GRACE)
        if runner.stop.is_set():
            raise KeyboardInterrupt
        runner.close()


def run_sidecar(config: AgentConfig, sources: ConfigSources,
                reload_config: Callable[[], AgentConfig] | None = None,
                on_ready: Callable[[], None] | None = None) -> int:
    """``sidecar``: render, then keep everything fresh until stopped (or exit_when).

    ``on_ready`` is called once, when every template has been rendered the first time.
    Returns the exit code: 0, or in process supervisor mode the app's when it exited by
    itself."""
    from s4e_secret_agent.runtime.runner import secret_labels
    from s4e_secret_agent.runtime.watcher import start_watcher, watched_paths
    from s4e_secret_agent.telemetry.health import HealthState, liveness_margin
    from s4e_secret_agent.telemetry.http import TelemetryServer
    from s4e_secret_agent.telemetry.metrics import AgentMetrics
    from s4e_secret_agent.telemetry.reporter import TelemetryReporter

    warn_plain_http(config.vault.address)
    all_templates = config.templates + config.env_templates
    names = [t.name for t in all_templates]
    margin = liveness_margin(config.vault.client_timeout)
    health = HealthState(names, margin=margin, startup_grace=max(120.0, margin))
    metrics = AgentMetrics(
        templates=names,
        secrets=secret_labels(all_templates),
        auth_method=config.auto_auth.method.type,
        actions=[(t.name, kind) for t in config.templates
                 for kind in (("command",) if t.exec else ()) + (("signal",) if t.signal else ())],
        ready=lambda: health.readiness().ok,
    )
    supervisor = None
    if config.exec is not None:
        from s4e_secret_agent.runtime.supervisor import Supervisor

        supervisor = Supervisor(config.exec, environ=os.environ,
                                on_exit=lambda code: runner.events.put(Event.CHILD_EXITED))
    runner = Runner(config, report=TelemetryReporter(metrics, health),
                    reload_config=reload_config, on_ready=on_ready,
                    on_variables=supervisor.apply if supervisor is not None else None)
    server = None
    if config.agent.metrics_listen:
        server = TelemetryServer(config.agent.metrics_listen, metrics=metrics, health=health,
                                 events=runner.events, refresh=runner.refresh_requests,
                                 on_quit=runner.stop.set,
                                 enable_quit=config.agent.enable_quit)
        server.start()
    proxies = _start_proxies(config, runner, metrics)
    start_watcher(watched_paths(config, sources), runner.events, runner.stop)

    # With exit_after_auth the agent renders once and leaves, as Vault Agent does (its sink
    # and template servers finish, nothing is revoked): the files it just wrote are what the
    # application starts with, so revoking their leases would hand it dead credentials.
    revoke = config.agent.revoke_on_shutdown and not config.exit_after_auth
    if config.agent.revoke_on_shutdown and config.exit_after_auth:
        log.warning("revoke_on_shutdown does not apply with exit_after_auth: the credentials "
                    "just written stay valid for the application",
                    extra={"event": "config_warning"})

    def body() -> None:
        try:
            if config.exit_after_auth:
                runner.run_init()
            else:
                runner.run_sidecar()
        finally:
            if revoke:
                if config.agent.revoke_grace > 0:
                    time.sleep(config.agent.revoke_grace)
                runner.revoke_all()

    grace = _STOP_GRACE
    if revoke:
        grace += config.agent.revoke_grace + 5.0
    try:
        with _pid_file(config.pid_file):
            _run_in_thread(runner, body, grace=grace)
    finally:
        runner.stop.set()
        for proxy in proxies:
            proxy.stop()
        if supervisor is not None:
            supervisor.close()  # the stop signal, as for a restart; SIGKILL after the grace
        if server is not None:
            server.stop()
    if supervisor is not None and supervisor.exit_code is not None:
        return supervisor.exit_code
    return 0


def _start_proxies(config: AgentConfig, runner: Runner, metrics: AgentMetrics
                   ) -> list[ProxyServer]:
    """The API proxy's listeners, started before the first login, as Vault Agent's (an app
    that calls early waits for Vault, not for a closed port)."""
    if not config.listeners:
        return []
    from s4e_secret_agent.proxy.server import ProxyServer
    from s4e_secret_agent.vault.forward import Forwarder

    forwarder = Forwarder(config.vault,
                          max_connections=config.template_config.max_connections_per_host)
    cache = None
    if config.api_proxy.cache:
        from s4e_secret_agent.proxy.cache import LeaseCache

        # One cache for every listener, as Vault Agent's.
        cache = LeaseCache(forwarder, on_lookup=metrics.on_cache_lookup,
                           on_size=metrics.set_cache_entries)
    started: list[ProxyServer] = []
    try:
        for listener in config.listeners:
            proxy = ProxyServer(
                listener, config.api_proxy, forwarder=forwarder,
                # Read from the listener's threads: the runner thread replaces the token,
                # reading the attribute is atomic.
                agent_token=lambda: runner.vault.token,
                events=runner.events, namespace=config.vault.namespace,
                on_request=metrics.on_proxy_request,
                metrics=metrics.exposition, cache=cache)
            proxy.start()
            started.append(proxy)
    except BaseException:
        for proxy in started:
            proxy.stop()
        raise
    return started


def load_and_report(sources: ConfigSources, *,
                    annotations: RawLayer | None = None) -> AgentConfig:
    """Load the configuration, log its warnings once, and return the frozen model
    (``annotations``: read before, see :func:`~s4e_secret_agent.config.load.load_config`)."""
    from s4e_secret_agent.config.load import load_config

    loaded = load_config(sources, annotations=annotations)
    for warning in loaded.warnings:
        log.warning("%s", warning, extra={"event": "config_warning"})
    return loaded.config


__all__ = ["AgentError", "load_and_report", "run_init", "run_sidecar"]
