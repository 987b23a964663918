"""The agent's Vault token, from login to revocation: one owner for the whole of its life.

Everything about the token lives here: logging in with the configured auth method (and
retrying through the one retry layer when that fails), renewing it on the schedule that
:mod:`s4e_secret_agent.runtime.leases` computes, logging in again when it cannot be renewed, is
rejected, or the credential file it came from changes (a rotated service-account token), the
token sinks, and revocation at shutdown. The runner asks for nothing but "log in", "do what is
due" and "the token was rejected"; it is told through ``on_new_token`` when the token changed,
because leases belong to the token that created them.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from s4e_secret_agent.errors import (
    AgentError,
    InvalidTokenError,
    VaultError,
    VaultUnavailableError,
    is_retryable,
)
from s4e_secret_agent.runtime import leases
from s4e_secret_agent.runtime.retry import RetryEvent, retry_call
from s4e_secret_agent.runtime.watcher import content_digest
from s4e_secret_agent.vault.auth import Authenticator

if TYPE_CHECKING:
    from s4e_secret_agent.config.model import AuthMethodConfig, AutoAuthConfig
    from s4e_secret_agent.runtime.events import Reporter
    from s4e_secret_agent.runtime.sinks import TokenSinks
    from s4e_secret_agent.vault.types import TokenInfo, VaultAPI

log = logging.getLogger(__name__)


def _any_agent_error(exc: BaseException) -> bool:
    return isinstance(exc, AgentError)


class TokenKeeper:
    """Logs in, keeps the token valid, and says when it changed.

    Not thread-safe: the runner thread makes every call. ``on_new_token`` is called after
    every successful login, first or later.
    """

    def __init__(
        self,
        auto_auth: AutoAuthConfig,
        vault: VaultAPI,
        policy: leases.TimingPolicy,
        report: Reporter,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        stop: threading.Event | None = None,
        on_new_token: Callable[[], None] | None = None,
    ) -> None:
        self.auto_auth = auto_auth
        self.vault = vault
        self.policy = policy
        self.report = report
        self.clock = clock
        self.wall_clock = wall_clock
        self.rng = rng or random.Random()
        self.stop = stop or threading.Event()
        self.on_new_token = on_new_token
        self._authenticator = Authenticator(auto_auth.method)
        # The sinks' module (encryption, response wrapping) loads only when sinks exist:
        # most init containers have none, and init sits on every pod's start path.
        self._sinks: TokenSinks | None = None
        if auto_auth.sinks:
            from s4e_secret_agent.runtime.sinks import TokenSinks

            self._sinks = TokenSinks(auto_auth.sinks)
        self.lease: leases.LeaseInfo | None = None
        self.next: leases.Scheduled | None = None
        self.failures = 0
        self._credential_fingerprint = ""

    @property
    def method(self) -> AuthMethodConfig:
        return self.auto_auth.method

    @property
    def due_at(self) -> float | None:
        """When the token needs attention next (renewal or a new login); None: never."""
        return self.next.at if self.next is not None else None

    # -- login -------------------------------------------------------------------------------

    def login(self, *, deadline: float | None = None, persistent: bool = False) -> TokenInfo:
        """Log in now, retrying failures with the configured login backoff.

        Transient failures (Vault unreachable, 5xx) are retried until ``deadline`` (None: until
        stopped). ``persistent``: retry every failure, also a refused login, which an operator
        may fix without restarting the pod (a sidecar does this; init gives up at once). When
        stopped while waiting, the last error is raised.
        """
        kind = self.method.type

        def attempt() -> TokenInfo:
            try:
                info = self._authenticator.login(self.vault)
            except AgentError:
                self.report.on_auth(kind, False)
                raise
            self.report.on_auth(kind, True)
            return info

        def on_retry(event: RetryEvent) -> None:
            self.report.heartbeat(event.wait_s)  # waiting for Vault is not being stuck
            level = logging.WARNING if is_retryable(event.error) else logging.ERROR
            log.log(level, "login with %s auth failed, retrying in %.1fs: %s", kind,
                    event.wait_s, event.error, extra={"event": "login_failed",
                                                      "attempt": event.attempt})

        info: TokenInfo = retry_call(
            attempt, deadline=deadline, min_backoff=self.policy.login_backoff_min,
            max_backoff=self.policy.login_backoff_max, stop=self.stop, clock=self.clock,
            rng=self.rng.random, on_retry=on_retry, what=f"login with {kind} auth",
            retry_if=_any_agent_error if persistent else is_retryable,
            retry_after_max=self.policy.retry_after_max)
        self.lease = leases.LeaseInfo.fresh(info.ttl, info.renewable, self.clock())
        self.next = leases.next_token_action(self.lease, self.policy, self.rng)
        self.failures = 0
        self._credential_fingerprint = content_digest(self.method.credential_file)
        self._publish(info.ttl)  # the Vault client logs the login itself (accessor, ttl)
        self.write_sinks()
        if self.on_new_token is not None:
            self.on_new_token()
        return info

    def relogin(self, reason: str) -> None:
        """Replace the token with a new login (retried until it works or the agent stops)."""
        log.info("logging in again: %s", reason, extra={"event": "relogin"})
        self.report.clear_token()
        try:
            self.login(persistent=True)
        except AgentError:
            if not self.stop.is_set():
                raise
            # Stopping: the agent shuts down without a token, which is what it has.

    def token_rejected(self, where: str) -> None:
        """Vault answered 403 "invalid token" (revoked, expired, or Vault lost it)."""
        self.relogin(f"the token was rejected {where}".rstrip())

    def credentials_changed(self) -> None:
        """The credential file was written: log in again if its content really changed (a
        rotated service-account token); touches and unrelated files change nothing."""
        fingerprint = content_digest(self.method.credential_file)
        if fingerprint and fingerprint != self._credential_fingerprint:
            self.relogin("the credential file changed")

    def write_sinks(self) -> None:
        """Write the current token to every configured sink file (response-wrapped and/or
        encrypted where the sink says so, freshly for each new token, as Vault Agent does)."""
        token = self.vault.token
        if not token or self._sinks is None:
            return
        self._sinks.write(token, self.vault)

    # -- renewal -----------------------------------------------------------------------------

    def step(self) -> None:
        """Do what is due: renew the token, or log in again when renewing cannot help."""
        step = self.next
        if step is None or self.lease is None:
            return
        if step.kind == leases.Action.RELOGIN:
            self.relogin(step.reason)
            return
        lease = self.lease
        try:
            info = self.vault.renew_self(int(lease.original_ttl) or None)
        except InvalidTokenError:
            self.report.on_token_renewal(False)
            self.relogin("the token was rejected at renewal")
            return
        except VaultUnavailableError as exc:
            self.report.on_token_renewal(False)
            self.next = leases.after_renew_failure(lease, self.failures, self.clock(),
                                                   self.policy, self.rng, token=True)
            self.failures += 1
            log.warning("token renewal failed (token kept, valid for %.0fs more): %s",
                        lease.remaining(self.clock()), exc,
                        extra={"event": "token_renew_failed"})
            return
        except VaultError as exc:
            self.report.on_token_renewal(False)
            self.relogin(f"token renewal failed: {exc.message}")
            return
        self.report.on_token_renewal(True)
        recovered = self.failures > 0
        self.failures = 0
        self.lease = lease.renewed(info.ttl, self.clock(), renewable=info.renewable)
        self.next = leases.next_token_action(self.lease, self.policy, self.rng,
                                             spread=recovered)
        self._publish(info.ttl)
        log.debug("token renewed", extra={"event": "token_renewed", "ttl": info.ttl,
                                          "accessor": info.accessor})

    def _publish(self, ttl: float) -> None:
        self.report.set_token(ttl, self.wall_clock() + ttl if ttl > 0 else None)

    # -- shutdown ----------------------------------------------------------------------------

    def revoke(self) -> None:
        """``revoke_on_shutdown``: revoke the token. Best effort."""
        if not self.vault.token:
            return
        try:
            self.vault.revoke_self()
            log.info("token revoked", extra={"event": "token_revoked"})
        except VaultError as exc:
            log.warning("revoking the token failed: %s", exc)


__all__ = ["TokenKeeper"]
