"""The sidecar's :class:`~s4e_secret_agent.runtime.events.Reporter`: one place that turns what
the runtime reports into metrics and health state.

Metrics and probes must agree (``s4e_secret_agent_ready`` is what ``/readyz`` answers, a token
counted as held is a token readiness sees), so each report reaches both from here, once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from s4e_secret_agent.telemetry.health import HealthState
from s4e_secret_agent.telemetry.metrics import AgentMetrics


class TelemetryReporter:
    """Feeds :class:`AgentMetrics` and :class:`HealthState` from the runner's reports."""

    def __init__(self, metrics: AgentMetrics, health: HealthState, *,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.metrics = metrics
        self.health = health
        self._wall_clock = wall_clock

    def heartbeat(self, max_sleep: float = 0.0) -> None:
        self.health.heartbeat(max_sleep)

    def on_auth(self, method: str, ok: bool) -> None:
        self.metrics.on_auth(method, ok)

    def on_token_renewal(self, ok: bool) -> None:
        self.metrics.on_token_renewal(ok)

    def set_token(self, ttl: float, expiry_wall: float | None = None) -> None:
        if expiry_wall is None and ttl > 0:
            expiry_wall = self._wall_clock() + ttl
        self.metrics.set_token(ttl, expiry_wall)
        self.health.set_token(None if expiry_wall is None or math.isinf(expiry_wall)
                              else expiry_wall)

    def clear_token(self) -> None:
        self.metrics.clear_token()
        self.health.clear_token()

    def set_lease(self, secret: str, ttl: float, expiry_wall: float | None = None) -> None:
        self.metrics.set_lease(secret, ttl, expiry_wall)

    def on_renewal(self, secret: str, ok: bool) -> None:
        self.metrics.on_renewal(secret, ok)

    def set_certificate(self, secret: str, expiry_wall: float) -> None:
        self.metrics.set_certificate(secret, expiry_wall)

    def on_fetch(self, secret: str, ok: bool) -> None:
        self.metrics.on_fetch(secret, ok)

    def on_rotation(self, secret: str) -> None:
        self.metrics.on_rotation(secret)

    def on_render(self, template: str, ok: bool, when: float | None = None) -> None:
        self.metrics.on_render(template, ok, when)
        self.health.progress()  # one template done: a render that never ends is not
        if ok:
            self.health.mark_rendered(template)

    def on_action(self, template: str, kind: str, ok: bool) -> None:
        self.metrics.on_action(template, kind, ok)
        self.health.progress()  # a long action is work, not a hang

    def observe_request(self, operation: str, duration: float, result: str = "ok") -> None:
        self.metrics.observe_request(operation, duration, result)
        self.health.progress()  # so is a slow Vault request during an outage


__all__ = ["TelemetryReporter"]
