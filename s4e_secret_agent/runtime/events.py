"""The two directions in which the runtime talks to the rest of the process.

Inward: :class:`Event`, what signal handlers, the file watcher and the HTTP server post to the
runner's queue. They only post; the runner thread alone acts on them, so no business state is
ever touched from another thread. Refresh requests first pass :class:`RefreshRequests`, which
coalesces and paces them, so a flood of them is one refresh, not one each.

Outward: :class:`Reporter`, what the runner and the token keeper tell about their work
(logins, renewals, reads, renders, actions, Vault requests, liveness). Telemetry implements
it (metrics and health, fed from one place); init mode, which serves no metrics, uses
:class:`NullReporter`. Reporting is one way: nothing the runtime decides depends on it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Event(StrEnum):
    """Something that happened outside the runner thread and that the runner must react to."""

    STOP = "stop"  # SIGTERM/SIGINT: stop now
    QUIT = "quit"  # POST /v1/quit (agent API): stop now
    REFRESH = "refresh"  # a refresh became pending (RefreshRequests): read every secret again
    CREDENTIALS_CHANGED = "credentials_changed"  # the login's credential file changed
    CONFIG_CHANGED = "config_changed"  # a config or template file changed
    ANNOTATIONS_CHANGED = "annotations_changed"  # the pod's annotations file changed
    CHILD_EXITED = "child_exited"  # process supervisor mode: the app exited by itself


class RefreshOutcome(StrEnum):
    """What became of one refresh request (``POST /v1/refresh`` or SIGHUP)."""

    QUEUED = "queued"  # a refresh starts as soon as the runner gets to it
    COALESCED = "coalesced"  # a refresh was already waiting: this request joins it
    DEFERRED = "deferred"  # too soon after the last one: it starts when the interval ends
    RATE_LIMITED = "rate_limited"  # too soon after the last one: refused, ask again later


@dataclass(frozen=True)
class RefreshAnswer:
    outcome: RefreshOutcome
    retry_after: float = 0.0  # seconds until a refresh may start again


class RefreshRequests:
    """The one pending refresh: requests from any thread coalesce into it, at most one starts
    per ``min_interval``.

    Every refresh reads every secret again, which mints new dynamic credentials (a database
    user, a certificate) and runs the templates' commands; an unbounded queue of them is a
    way to flood Vault, the database and the application from inside the pod. So at most one
    refresh is ever waiting, whatever the number of requests, and none starts within
    ``min_interval`` of the previous start. A request that comes too soon is refused
    (``defer=False``: the HTTP endpoint, whose caller can be told to come back) or moved to
    the end of the interval (``defer=True``: a signal, which cannot be answered and must not
    be lost).

    Requesters call :meth:`ask` (thread-safe; ``wake`` is called once for each request that
    makes a refresh pending, so the runner's queue holds at most one refresh event); the
    runner thread calls :meth:`due_at` and :meth:`take`.
    """

    def __init__(self, min_interval: float, *, wake: Callable[[], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.min_interval = max(0.0, min_interval)
        self._wake = wake
        self._clock = clock
        self._lock = threading.Lock()
        self._pending_at: float | None = None  # when the waiting refresh may start
        self._last_start = -math.inf

    def ask(self, *, defer: bool = False, notify: bool = True,
            lock_timeout: float = -1) -> RefreshAnswer:
        """One request. ``lock_timeout``: a signal handler passes a bound, since it may have
        interrupted its own thread inside this method (a request that cannot get the lock
        then joins the one being made)."""
        if not self._lock.acquire(timeout=lock_timeout):
            return RefreshAnswer(RefreshOutcome.COALESCED)
        try:
            now = self._clock()
            allowed = self._last_start + self.min_interval
            if self._pending_at is not None:
                return RefreshAnswer(RefreshOutcome.COALESCED,
                                     max(0.0, self._pending_at - now))
            if now < allowed and not defer:
                return RefreshAnswer(RefreshOutcome.RATE_LIMITED, allowed - now)
            self._pending_at = max(now, allowed)
            answer = (RefreshAnswer(RefreshOutcome.QUEUED) if now >= allowed
                      else RefreshAnswer(RefreshOutcome.DEFERRED, allowed - now))
        finally:
            self._lock.release()
        if notify:
            self._wake()
        return answer

    def pending(self) -> bool:
        with self._lock:
            return self._pending_at is not None

    def due_at(self) -> float:
        """When the waiting refresh may start (``inf``: none is waiting)."""
        with self._lock:
            return math.inf if self._pending_at is None else self._pending_at

    def take(self) -> bool:
        """The runner starts the waiting refresh if it is due; True when it did."""
        with self._lock:
            now = self._clock()
            if self._pending_at is None or self._pending_at > now:
                return False
            self._pending_at = None
            self._last_start = now
            return True


class Reporter(Protocol):
    """What the runtime reports. ``secret`` is a Vault path as written in a template, never a
    value; ``template`` a template name; ``ttl`` seconds (0: no expiry)."""

    def heartbeat(self, max_sleep: float = 0.0) -> None:
        """The loop is alive and may go quiet for up to ``max_sleep`` seconds."""

    def on_auth(self, method: str, ok: bool) -> None:
        """A login attempt with ``method`` finished."""

    def on_token_renewal(self, ok: bool) -> None:
        """A renewal of the agent's token finished."""

    def set_token(self, ttl: float, expiry_wall: float | None = None) -> None:
        """The agent holds a token valid for ``ttl`` seconds (until ``expiry_wall``)."""

    def clear_token(self) -> None:
        """The agent holds no valid token (it is logging in again)."""

    def set_lease(self, secret: str, ttl: float, expiry_wall: float | None = None) -> None:
        """The secret's lease now lasts ``ttl`` seconds."""

    def on_renewal(self, secret: str, ok: bool) -> None:
        """A lease renewal finished."""

    def set_certificate(self, secret: str, expiry_wall: float) -> None:
        """The certificate ``pkiCert`` issued at ``secret`` (or found) ends at ``expiry_wall``."""

    def on_fetch(self, secret: str, ok: bool) -> None:
        """A read of the secret finished."""

    def on_rotation(self, secret: str) -> None:
        """The secret's lease was replaced by a new one (new dynamic credentials)."""

    def on_render(self, template: str, ok: bool, when: float | None = None) -> None:
        """A template was rendered and written (``ok``) or failed."""

    def on_action(self, template: str, kind: str, ok: bool) -> None:
        """A post-render action (``command`` or ``signal``) finished."""

    def observe_request(self, operation: str, duration: float, result: str = "ok") -> None:
        """One HTTP request to Vault finished (``result``: the Vault client's result name)."""


class NullReporter:
    """Reports nowhere: init mode has no metrics server and no probes."""

    def heartbeat(self, max_sleep: float = 0.0) -> None:
        pass

    def on_auth(self, method: str, ok: bool) -> None:
        pass

    def on_token_renewal(self, ok: bool) -> None:
        pass

    def set_token(self, ttl: float, expiry_wall: float | None = None) -> None:
        pass

    def clear_token(self) -> None:
        pass

    def set_lease(self, secret: str, ttl: float, expiry_wall: float | None = None) -> None:
        pass

    def on_renewal(self, secret: str, ok: bool) -> None:
        pass

    def set_certificate(self, secret: str, expiry_wall: float) -> None:
        pass

    def on_fetch(self, secret: str, ok: bool) -> None:
        pass

    def on_rotation(self, secret: str) -> None:
        pass

    def on_render(self, template: str, ok: bool, when: float | None = None) -> None:
        pass

    def on_action(self, template: str, kind: str, ok: bool) -> None:
        pass

    def observe_request(self, operation: str, duration: float, result: str = "ok") -> None:
        pass


__all__ = ["Event", "NullReporter", "RefreshAnswer", "RefreshOutcome", "RefreshRequests",
           "Reporter"]
