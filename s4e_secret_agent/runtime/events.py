"""The two directions in which the runtime talks to the rest of the process.

Inward: :class:`Event`, what signal handlers, the file watcher and the HTTP server post to the
runner's queue. They only post; the runner thread alone acts on them, so no business state is
ever touched from another thread.

Outward: :class:`Reporter`, what the runner and the token keeper tell about their work
(logins, renewals, reads, renders, actions, Vault requests, liveness). Telemetry implements
it (metrics and health, fed from one place); init mode, which serves no metrics, uses
:class:`NullReporter`. Reporting is one way: nothing the runtime decides depends on it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class Event(StrEnum):
    """Something that happened outside the runner thread and that the runner must react to."""

    STOP = "stop"  # SIGTERM/SIGINT: stop now
    QUIT = "quit"  # POST /v1/quit (agent API): stop now
    REFRESH = "refresh"  # SIGHUP or POST /v1/refresh: read every secret again
    CREDENTIALS_CHANGED = "credentials_changed"  # the login's credential file changed
    CONFIG_CHANGED = "config_changed"  # a config or template file changed
    ANNOTATIONS_CHANGED = "annotations_changed"  # the pod's annotations file changed


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


__all__ = ["Event", "NullReporter", "Reporter"]
