"""The one retry layer: exponential backoff with jitter, a deadline and a stop event.

Every wait for Vault in the agent goes through :func:`retry_call` (built on tenacity). Only
errors for which :func:`s4e_secret_agent.errors.is_retryable` is true are retried (connection
failures, timeouts, 5xx, 429, sealed/standby); anything else is raised at once, because waiting
cannot fix a wrong role or a missing policy.

Waits follow Vault Agent's auto-auth defaults (1 s doubling up to 5 min). Each wait is drawn
uniformly between ``min_backoff`` and the current exponential ceiling ("full jitter" with a
floor), so a fleet of pods that lost Vault at the same moment does not come back in lockstep,
and no wait is shorter than ``min_backoff``; ``jitter=False`` waits the ceiling itself
(consul-template's sequence for secret reads: 250 ms, 500 ms, ... up to 1 min). A
``Retry-After`` from Vault (carried in :attr:`VaultError.retry_after`) is honoured when it asks
for a longer wait, but never beyond ``retry_after_max``: a server (or anything posing as one)
answering "come back in a year" must not park the agent for a year. ``max_attempts`` bounds
the number of attempts (Vault Agent's ``vault.retry.num_retries`` plus the first one); the
deadline bounds the time, whichever comes first.

Clock, sleep and random source are injectable, so the behaviour is testable without sleeping.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from s4e_secret_agent.errors import (
    AgentError,
    DeadlineExceededError,
    SecretNotFoundError,
    VaultError,
    is_retryable,
)
from s4e_secret_agent.runtime.leases import backoff_cap

if TYPE_CHECKING:
    import tenacity

T = TypeVar("T")

DEFAULT_MIN_BACKOFF = 1.0
DEFAULT_MAX_BACKOFF = 300.0
# The longest wait a Retry-After may impose (agent.max_retry_after).
DEFAULT_RETRY_AFTER_MAX = 300.0


@dataclass(frozen=True)
class RetryEvent:
    """Passed to ``on_retry`` before each wait: which attempt failed, why, how long we wait."""

    attempt: int
    error: BaseException
    wait_s: float


class _Stopped(Exception):
    """Raised inside the retry loop when the stop event is set between attempts."""


def retry_read_if(exc: BaseException) -> bool:
    """Whether a failed secret read is worth another attempt: what :func:`is_retryable` says,
    and a 404 too, because the secret may be written a moment later (a pipeline or an operator
    that writes it after the pod started). consul-template retries a missing secret like any
    other failure; a 403 (the policy) or a 400 (the request) cannot fix itself and fails at
    once."""
    return is_retryable(exc) or isinstance(exc, SecretNotFoundError)


def next_wait(attempt: int, error: BaseException | None, *, min_backoff: float,
              max_backoff: float, rng: Callable[[], float], jitter: bool = True,
              retry_after_max: float = DEFAULT_RETRY_AFTER_MAX) -> float:
    """Seconds to wait after the ``attempt``-th failure, before any deadline clamp."""
    ceiling = backoff_cap(attempt - 1, min_backoff, max_backoff)
    wait = min_backoff + rng() * max(0.0, ceiling - min_backoff) if jitter else ceiling
    retry_after = error.retry_after if isinstance(error, VaultError) else None
    if retry_after is not None:
        wait = max(wait, min(float(retry_after), retry_after_max))
    return wait


def retry_call(
    fn: Callable[[], T],
    *,
    deadline: float | None = None,
    min_backoff: float = DEFAULT_MIN_BACKOFF,
    max_backoff: float = DEFAULT_MAX_BACKOFF,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] | None = None,
    rng: Callable[[], float] = random.random,
    on_retry: Callable[[RetryEvent], None] | None = None,
    what: str = "the Vault request",
    retry_if: Callable[[BaseException], bool] = is_retryable,
    max_attempts: int | None = None,
    jitter: bool = True,
    retry_after_max: float = DEFAULT_RETRY_AFTER_MAX,
) -> T:
    """Call ``fn`` until it succeeds, a non-retryable error occurs, the deadline passes, or
    ``stop`` is set.

    ``deadline`` is an absolute time on ``clock`` (``None``: retry forever). The last wait is
    shortened so that one final attempt happens at the deadline; if that fails too,
    :class:`DeadlineExceededError` is raised naming the last error and its fix. When ``stop``
    is set the last error is raised unchanged (the caller is shutting down and knows why).
    ``sleep`` defaults to ``stop.wait`` (so a stop interrupts a wait at once) or
    :func:`time.sleep`. ``what`` names the operation in the deadline message. ``retry_if``
    says which errors are retried (default: the transient ones); a sidecar that must keep
    trying to log in until an operator fixes a role passes a wider one. ``max_attempts``
    (``None``: no limit) ends the retries after that many attempts in all: the last error is
    then raised unchanged, as a non-retryable one would be. ``jitter=False`` waits each
    ceiling exactly; ``retry_after_max`` caps what a ``Retry-After`` may ask for.
    """
    if min_backoff <= 0 or max_backoff < min_backoff:
        raise ValueError("need 0 < min_backoff <= max_backoff")
    if max_attempts is not None and max_attempts < 1:
        raise ValueError("need max_attempts >= 1")
    do_sleep = _sleeper(sleep, stop)
    started = clock()
    waits: list[float] = []
    errors: list[BaseException] = []
    # Most calls succeed at once: tenacity (and what it imports) loads at the first failure.
    try:
        return fn()
    except Exception as exc:
        errors.append(exc)
        if not retry_if(exc) or max_attempts == 1:
            raise
    import tenacity

    already_made = [errors[0]]  # tenacity's first attempt is the one that just failed

    def attempt_once() -> T:
        if already_made:
            raise already_made.pop()
        if stop is not None and stop.is_set():
            raise _Stopped()
        try:
            return fn()
        except Exception as exc:
            errors.append(exc)
            raise

    def wait_strategy(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        wait = next_wait(state.attempt_number, error, min_backoff=min_backoff,
                         max_backoff=max_backoff, rng=rng, jitter=jitter,
                         retry_after_max=retry_after_max)
        if deadline is not None:
            wait = max(0.0, min(wait, deadline - clock()))
        waits.append(wait)
        return wait

    def stop_strategy(state: tenacity.RetryCallState) -> bool:
        if stop is not None and stop.is_set():
            return True
        if max_attempts is not None and state.attempt_number >= max_attempts:
            return True
        return deadline is not None and clock() >= deadline

    def before_sleep(state: tenacity.RetryCallState) -> None:
        if on_retry is None or state.outcome is None:
            return
        error = state.outcome.exception()
        if error is not None:
            on_retry(RetryEvent(attempt=state.attempt_number, error=error,
                                wait_s=waits[-1] if waits else 0.0))

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(retry_if),
        wait=wait_strategy,
        stop=stop_strategy,
        sleep=_discard_result(do_sleep),
        before_sleep=before_sleep,
        reraise=False,
    )
    try:
        return retrying(attempt_once)
    except _Stopped:
        raise errors[-1] from None
    except tenacity.RetryError:
        stopped = stop is not None and stop.is_set()
        if stopped or (max_attempts is not None and len(errors) >= max_attempts):
            raise errors[-1] from None
        raise _deadline_error(what, errors[-1], clock() - started, len(errors)) from errors[-1]


def _sleeper(sleep: Callable[[float], None] | None,
             stop: threading.Event | None) -> Callable[[float], object]:
    """The given sleep, else the stop event's wait (a stop ends it at once), else time.sleep."""
    if sleep is not None:
        return sleep
    if stop is not None:
        return stop.wait
    return time.sleep


def _discard_result(sleep: Callable[[float], object]) -> Callable[[float], None]:
    """``Event.wait`` returns a bool; tenacity wants a sleep that returns nothing."""

    def do_sleep(seconds: float) -> None:
        sleep(seconds)

    return do_sleep


def _deadline_error(what: str, last: BaseException, elapsed: float,
                    attempts: int) -> DeadlineExceededError:
    hint = last.hint if isinstance(last, AgentError) and last.hint else (
        "check that Vault is reachable from this pod and unsealed, or raise the deadline")
    return DeadlineExceededError(
        f"gave up on {what} after {elapsed:.0f}s and {attempts} attempts; last error: "
        f"{last.message if isinstance(last, AgentError) else type(last).__name__}",
        hint=hint,
    )
