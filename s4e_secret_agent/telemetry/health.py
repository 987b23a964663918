"""Liveness and readiness: what ``/healthz`` and ``/readyz`` answer.

Kubernetes restarts a sidecar whose liveness probe fails and keeps traffic away from a pod
that is not ready, so both must mean exactly what they say: alive means the runner thread is
still making progress (not "the process exists", and never "Vault answers": restarting the
agent cannot bring Vault back); ready means every template has been rendered once, and it
stays so (a Vault outage, an expired token) because the last good files keep the application
running. The runner thread writes this state (through
:class:`~s4e_secret_agent.telemetry.reporter.TelemetryReporter`), the HTTP server reads it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

#: The margin never goes below this (a render of many templates, a slow disk).
MIN_MARGIN = 15.0


def liveness_margin(client_timeout: float) -> float:
    """How long the loop may go without news beyond what it announced: one and a half Vault
    request timeouts (90 s with the default 60 s), at least :data:`MIN_MARGIN`."""
    return max(MIN_MARGIN, 1.5 * client_timeout)


@dataclass(frozen=True)
class HealthReport:
    """Answer of a probe: ``ok`` and a small JSON-able ``detail`` (names only, no secrets)."""

    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)


class HealthState:
    """Liveness and readiness, written by the runner thread, read by the HTTP server.

    Liveness: the runner calls :meth:`heartbeat` every loop iteration saying how long it may
    legitimately stay away (its planned sleep plus the work it is about to do). It is *stuck*
    when no heartbeat arrives within that time plus ``margin``. Before the first heartbeat
    ``startup_grace`` applies. :meth:`progress` (called for each finished Vault request,
    render and action) extends the deadline to at least ``margin`` from now, so a long cycle
    of slow requests during a Vault outage is not mistaken for a hang; a request or a render
    that never returns is. ``margin`` exceeds the Vault client's request timeout
    (:func:`liveness_margin`).

    Readiness: every configured template has rendered at least once (the token is reported
    in the detail when it is not valid, but does not make the pod unready).
    """

    def __init__(
        self,
        templates: Iterable[str] = (),
        *,
        margin: float = 90.0,
        startup_grace: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._wall_clock = wall_clock
        self._margin = margin
        self._templates = tuple(dict.fromkeys(templates))
        self._rendered: set[str] = set()
        self._last_beat = clock()
        self._allowed = startup_grace
        self._beats = 0
        self._has_token = False
        self._token_expiry = 0.0  # wall clock; math.inf: never expires

    def heartbeat(self, max_sleep: float = 0.0) -> None:
        """The loop is alive and may go quiet for up to ``max_sleep`` seconds (plus margin)."""
        with self._lock:
            self._last_beat = self._clock()
            self._allowed = max(0.0, max_sleep) + self._margin
            self._beats += 1

    def progress(self) -> None:
        """Work finished (a Vault request, an action): alive for at least ``margin`` more."""
        with self._lock:
            now = self._clock()
            deadline = max(self._last_beat + self._allowed, now + self._margin)
            self._last_beat = now
            self._allowed = deadline - now

    def mark_rendered(self, template: str) -> None:
        with self._lock:
            self._rendered.add(template)

    def set_token(self, expiry_wall: float | None) -> None:
        """The agent holds a token expiring at ``expiry_wall`` (None: never expires)."""
        with self._lock:
            self._has_token = True
            self._token_expiry = math.inf if expiry_wall is None else expiry_wall

    def clear_token(self) -> None:
        with self._lock:
            self._has_token = False
            self._token_expiry = 0.0

    def token_valid(self) -> bool:
        with self._lock:
            return self._has_token and self._token_expiry > self._wall_clock()

    def liveness(self) -> HealthReport:
        with self._lock:
            silent = self._clock() - self._last_beat
            allowed = self._allowed
            beats = self._beats
        detail: dict[str, Any] = {
            "seconds_since_heartbeat": round(silent, 3),
            "allowed_seconds": round(allowed, 3),
        }
        if silent > allowed:
            detail["status"] = "stuck" if beats else "not started"
            return HealthReport(False, detail)
        detail["status"] = "ok"
        return HealthReport(True, detail)

    def readiness(self) -> HealthReport:
        with self._lock:
            pending = [t for t in self._templates if t not in self._rendered]
            has_token = self._has_token
            expiry = self._token_expiry
        if not pending and (self._templates or has_token):
            # The files are there and stay there: an outage after this point must not take
            # the pod out of its Services.
            if not has_token:
                return HealthReport(True, {"status": "ready", "token": "none"})
            if expiry <= self._wall_clock():
                return HealthReport(True, {"status": "ready", "token": "expired"})
            return HealthReport(True, {"status": "ready"})
        if not has_token:
            return HealthReport(False, {"status": "not ready", "reason": "not authenticated"})
        if expiry <= self._wall_clock():
            return HealthReport(False, {"status": "not ready", "reason": "token expired"})
        return HealthReport(False, {"status": "not ready",
                                    "reason": "templates not rendered yet",
                                    "pending_templates": pending})
