"""Which files the sidecar watches, and the thread that watches them.

A rotated service-account token must lead to a new login, an edited ConfigMap to a reload,
without polling: watchfiles (inotify) watches the directories of those files and this module
posts :class:`~.events.Event` values to the runner when a file's *content* changed.
Directories, not files, are watched because Kubernetes updates projected tokens and ConfigMaps
by swapping a ``..data`` symlink; comparing content ignores unrelated files in the same
directory and touches that change nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from collections.abc import Mapping

from s4e_secret_agent.config.model import AgentConfig, ConfigSources
from s4e_secret_agent.runtime.events import Event

log = logging.getLogger(__name__)


def content_digest(path: str | None) -> str:
    """SHA-256 of the file's bytes, or "" when there is no such readable file."""
    if not path:
        return ""
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return ""


def watched_paths(config: AgentConfig, sources: ConfigSources) -> dict[str, Event]:
    """Files whose change matters -> the event to post."""
    paths: dict[str, Event] = {}
    credential = config.auto_auth.method.credential_file
    if credential:
        paths[os.path.abspath(credential)] = Event.CREDENTIALS_CHANGED
    from s4e_secret_agent.config.load import config_file_paths

    for name in config_file_paths(sources.config_files):
        paths[os.path.abspath(name)] = Event.CONFIG_CHANGED
    if sources.annotations_file:
        # Watched only to say that a change is not applied (see config.load.read_annotations).
        paths[os.path.abspath(sources.annotations_file)] = Event.ANNOTATIONS_CHANGED
    for tmpl in config.templates:
        if tmpl.source:
            paths[os.path.abspath(tmpl.source)] = Event.CONFIG_CHANGED
    return paths


def start_watcher(paths: Mapping[str, Event], events: queue.SimpleQueue[Event],
                  stop: threading.Event) -> threading.Thread | None:
    """Watch the directories of ``paths`` on a daemon thread until ``stop`` is set."""
    if not paths:
        return None
    directories = sorted({os.path.dirname(p) for p in paths if os.path.isdir(os.path.dirname(p))})
    if not directories:
        return None
    seen = {path: content_digest(path) for path in paths}

    def watch() -> None:
        from watchfiles import watch as watch_changes

        try:
            # step: how often the watcher thread wakes up to check; 500 ms keeps an idle
            # sidecar's CPU near zero and still notices a rotated token within a second.
            for _ in watch_changes(*directories, stop_event=stop, debounce=1600,
                                   step=500, rust_timeout=5000, yield_on_timeout=False,
                                   raise_interrupt=False):
                posted: set[Event] = set()
                for path, event in paths.items():
                    digest = content_digest(path)
                    if digest != seen[path]:
                        seen[path] = digest
                        if event not in posted:
                            posted.add(event)
                            events.put(event)
        except Exception as exc:  # a watcher failure must not take the agent down
            log.warning("file watching stopped: %s", exc, extra={"event": "watch_failed"})

    thread = threading.Thread(target=watch, name="file-watcher", daemon=True)
    thread.start()
    return thread


__all__ = ["content_digest", "start_watcher", "watched_paths"]
