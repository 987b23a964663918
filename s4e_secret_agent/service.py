"""Process-level wiring around :class:`~s4e_secret_agent.runner.Runner`.

The runner works in its own thread; the main thread only installs the signal handlers, waits,
and enforces the shutdown promise (SIGTERM/SIGINT: gone within a second even if the runner is
in the middle of a slow Vault request; files are always replaced atomically, so abandoning a
request loses nothing). Signal handlers, the HTTP server and the file watcher only post events.
"""

from __future__ import annotations

import hashlib
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
from s4e_secret_agent.runner import (
    EVENT_CONFIG_CHANGED,
    EVENT_CREDENTIALS_CHANGED,
    EVENT_REFRESH,
    EVENT_STOP,
    Runner,
    credential_path,
)

if TYPE_CHECKING:
    from s4e_secret_agent.runner import ParsedTemplate

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
        runner.events.put(EVENT_STOP)
        wake.set()

    def on_hup(signum: int, frame: FrameType | None) -> None:
        runner.events.put(EVENT_REFRESH)

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


def run_init(config: AgentConfig) -> None:
    """``init``: render every template once and return; raises AgentError on failure."""
    runner = Runner(config)
    _run_in_thread(runner, runner.run_init, grace=_STOP_GRACE)
    if runner.stop.is_set():
        raise KeyboardInterrupt
    runner.close()


def _watched_paths(config: AgentConfig, sources: ConfigSources) -> dict[str, str]:
    """Files whose change matters -> the event to post."""
    paths: dict[str, str] = {}
    credential = credential_path(config.auto_auth.method)
    if credential:
        paths[os.path.abspath(credential)] = EVENT_CREDENTIALS_CHANGED
    from s4e_secret_agent.config.load import config_file_paths

    names = [*config_file_paths(sources.config_files), sources.annotations_file]
    for name in names:
        if name:
            paths[os.path.abspath(name)] = EVENT_CONFIG_CHANGED
    for tmpl in config.templates:
        if tmpl.source:
            paths[os.path.abspath(tmpl.source)] = EVENT_CONFIG_CHANGED
    return paths


def _content_hash(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return ""


def _start_watcher(runner: Runner, paths: dict[str, str]) -> threading.Thread | None:
    """Watch the directories of ``paths`` and post the matching event when a file's *content*
    changes. Directories, not files, are watched because Kubernetes updates projected tokens
    and ConfigMaps by swapping a ``..data`` symlink; comparing content ignores unrelated
    files in the same directory and touches that change nothing."""
    if not paths:
        return None
    directories = sorted({os.path.dirname(p) for p in paths if os.path.isdir(os.path.dirname(p))})
    if not directories:
        return None
    seen = {path: _content_hash(path) for path in paths}

    def watch() -> None:
        from watchfiles import watch as watch_changes

        try:
            # step: how often the watcher thread wakes up to check; 500 ms keeps an idle
            # sidecar's CPU near zero and still notices a rotated token within a second.
            for _ in watch_changes(*directories, stop_event=runner.stop, debounce=1600,
                                   step=500, rust_timeout=5000, yield_on_timeout=False,
                                   raise_interrupt=False):
                posted: set[str] = set()
                for path, event in paths.items():
                    digest = _content_hash(path)
                    if digest != seen[path]:
                        seen[path] = digest
                        if event not in posted:
                            posted.add(event)
                            runner.events.put(event)
        except Exception as exc:  # a watcher failure must not take the agent down
            log.warning("file watching stopped: %s", exc, extra={"event": "watch_failed"})

    thread = threading.Thread(target=watch, name="file-watcher", daemon=True)
    thread.start()
    return thread


def run_sidecar(config: AgentConfig, sources: ConfigSources,
                reload_config: Callable[[], AgentConfig] | None = None,
                on_ready: Callable[[], None] | None = None) -> None:
    """``sidecar``: render, then keep everything fresh until stopped (or exit_when).

    ``on_ready`` is called once, when every template has been rendered the first time."""
    from s4e_secret_agent.runner import parse_templates, secret_labels
    from s4e_secret_agent.telemetry import AgentMetrics, HealthState, TelemetryServer

    templates: list[ParsedTemplate] = parse_templates(config)
    health = HealthState([t.config.name for t in templates])
    metrics = AgentMetrics(
        templates=[t.config.name for t in templates],
        secrets=secret_labels(templates),
        auth_method=config.auto_auth.method.type,
        actions=[(t.name, kind) for t in config.templates
                 for kind in (("command",) if t.exec else ()) + (("signal",) if t.signal else ())],
        health=health,
    )
    runner = Runner(config, metrics=metrics, health=health, reload_config=reload_config,
                    on_ready=on_ready)
    server = None
    if config.agent.metrics_listen:
        server = TelemetryServer(config.agent.metrics_listen, metrics=metrics, health=health,
                                 events=runner.events,
                                 enable_quit=config.agent.enable_quit)
        server.start()
    if config.pid_file:
        from s4e_secret_agent.writer import write_file

        write_file(config.pid_file, f"{os.getpid()}\n".encode(), mode=0o600)
    _start_watcher(runner, _watched_paths(config, sources))

    def body() -> None:
        try:
            if config.exit_after_auth:
                runner.run_init()
            else:
                runner.run_sidecar()
        finally:
            if config.agent.revoke_on_shutdown:
                if config.agent.revoke_grace > 0 and not config.exit_after_auth:
                    time.sleep(config.agent.revoke_grace)
                runner.revoke_all()

    grace = _STOP_GRACE
    if config.agent.revoke_on_shutdown:
        grace += config.agent.revoke_grace + 5.0
    try:
        _run_in_thread(runner, body, grace=grace)
    finally:
        runner.stop.set()
        if server is not None:
            server.stop()


def load_and_report(sources: ConfigSources) -> AgentConfig:
    """Load the configuration, log its warnings once, and return the frozen model."""
    from s4e_secret_agent.config.load import load_config

    loaded = load_config(sources)
    for warning in loaded.warnings:
        log.warning("%s", warning, extra={"event": "config_warning"})
    return loaded.config


__all__ = ["AgentError", "load_and_report", "run_init", "run_sidecar"]
