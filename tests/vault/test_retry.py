"""The retry layer with a fake clock: no test here sleeps."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from s4e_secret_agent.errors import (
    AuthError,
    DeadlineExceededError,
    PermissionDeniedError,
    SecretNotFoundError,
    VaultUnavailableError,
)
from s4e_secret_agent.runtime.leases import backoff_cap
from s4e_secret_agent.runtime.retry import (
    DEFAULT_RETRY_AFTER_MAX,
    RetryEvent,
    next_wait,
    retry_call,
    retry_read_if,
)


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(times: int, error: Exception, result: str = "ok") -> Callable[[], str]:
    calls = {"n": 0}

    def fn() -> str:
        calls["n"] += 1
        if calls["n"] <= times:
            raise error
        return result

    return fn


def unavailable(retry_after: float | None = None) -> VaultUnavailableError:
    return VaultUnavailableError("Vault answered HTTP 503 for secret/app", status=503,
                                 hint="unseal Vault", retry_after=retry_after)


def test_backoff_doubles_from_min_to_max() -> None:
    assert [backoff_cap(n, 1.0, 300.0) for n in range(10)] == [
        1, 2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert backoff_cap(10_000, 1.0, 300.0) == 300.0


def test_waits_are_jittered_between_min_and_the_ceiling() -> None:
    assert next_wait(4, None, min_backoff=1.0, max_backoff=300.0, rng=lambda: 0.0) == 1.0
    assert next_wait(4, None, min_backoff=1.0, max_backoff=300.0, rng=lambda: 1.0) == 8.0
    assert next_wait(4, None, min_backoff=1.0, max_backoff=300.0, rng=lambda: 0.5) == 4.5


def test_retry_after_wins_when_longer() -> None:
    assert next_wait(1, unavailable(retry_after=30), min_backoff=1.0, max_backoff=300.0,
                     rng=lambda: 1.0) == 30.0
    assert next_wait(6, unavailable(retry_after=2), min_backoff=1.0, max_backoff=300.0,
                     rng=lambda: 1.0) == 32.0


def test_retries_transient_errors_until_success() -> None:
    clock = FakeClock()
    seen: list[RetryEvent] = []
    result = retry_call(failing(3, unavailable()), clock=clock, sleep=clock.sleep,
                        rng=lambda: 1.0, on_retry=seen.append)
    assert result == "ok"
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert [(e.attempt, e.wait_s) for e in seen] == [(1, 1.0), (2, 2.0), (3, 4.0)]
    assert all(isinstance(e.error, VaultUnavailableError) for e in seen)


@pytest.mark.parametrize("error", [
    AuthError("login refused", status=403),
    PermissionDeniedError("permission denied on secret/data/app", status=403),
    ValueError("a bug"),
])
def test_non_retryable_errors_raise_at_once(error: Exception) -> None:
    clock = FakeClock()
    with pytest.raises(type(error)) as caught:
        retry_call(failing(5, error), clock=clock, sleep=clock.sleep)
    assert caught.value is error
    assert clock.sleeps == []


def test_deadline_names_the_last_error_and_its_fix() -> None:
    clock = FakeClock()
    deadline = clock.now + 10.0
    with pytest.raises(DeadlineExceededError) as caught:
        retry_call(failing(100, unavailable()), deadline=deadline, clock=clock,
                   sleep=clock.sleep, rng=lambda: 1.0, what="reading secret/app")
    # 1 + 2 + 4 = 7 s, then the last wait is cut to reach the deadline exactly, one last try.
    assert clock.sleeps == [1.0, 2.0, 4.0, 3.0]
    assert clock.now == deadline
    err = caught.value
    assert "reading secret/app" in err.message and "5 attempts" in err.message
    assert "HTTP 503 for secret/app" in err.message
    assert err.hint == "unseal Vault"
    assert isinstance(err.__cause__, VaultUnavailableError)


def test_deadline_already_passed_still_tries_once() -> None:
    clock = FakeClock()
    assert retry_call(failing(0, unavailable()), deadline=clock.now - 1, clock=clock,
                      sleep=clock.sleep) == "ok"
    with pytest.raises(DeadlineExceededError):
        retry_call(failing(1, unavailable()), deadline=clock.now - 1, clock=clock,
                   sleep=clock.sleep)
    assert clock.sleeps == []


def test_retry_after_is_clamped_to_the_deadline() -> None:
    clock = FakeClock()
    with pytest.raises(DeadlineExceededError):
        retry_call(failing(100, unavailable(retry_after=600)), deadline=clock.now + 20,
                   clock=clock, sleep=clock.sleep, rng=lambda: 0.0)
    assert clock.sleeps == [20.0]


def test_stop_event_ends_the_wait_and_raises_the_last_error() -> None:
    stop = threading.Event()
    clock = FakeClock()

    def sleep_then_stop(seconds: float) -> None:
        clock.sleep(seconds)
        stop.set()

    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        raise unavailable()

    with pytest.raises(VaultUnavailableError):
        retry_call(fn, stop=stop, clock=clock, sleep=sleep_then_stop, rng=lambda: 0.0)
    assert len(calls) == 1  # no attempt after the stop


def test_stop_event_interrupts_a_real_wait_promptly() -> None:
    stop = threading.Event()
    timer = threading.Timer(0.05, stop.set)
    timer.start()
    try:
        with pytest.raises(VaultUnavailableError):
            retry_call(failing(100, unavailable()), stop=stop, min_backoff=30.0,
                       max_backoff=60.0)
    finally:
        timer.cancel()


def test_bad_backoff_settings_are_rejected() -> None:
    with pytest.raises(ValueError):
        retry_call(lambda: 1, min_backoff=0)
    with pytest.raises(ValueError):
        retry_call(lambda: 1, min_backoff=5, max_backoff=1)


# -- Retry-After cap, attempt limits, consul-template's sequence -------------------------------

A_YEAR = 31536000


def test_a_retry_after_of_a_year_is_cut_to_the_cap() -> None:
    hostile = unavailable(retry_after=A_YEAR)
    assert next_wait(1, hostile, min_backoff=1.0, max_backoff=300.0, rng=lambda: 0.0,
                     retry_after_max=120.0) == 120.0
    assert next_wait(1, hostile, min_backoff=1.0, max_backoff=300.0,
                     rng=lambda: 0.0) == DEFAULT_RETRY_AFTER_MAX == 300.0
    # The cap bounds what Retry-After asks for, never the agent's own backoff.
    assert next_wait(9, hostile, min_backoff=1.0, max_backoff=300.0, rng=lambda: 1.0,
                     retry_after_max=0.0) == 256.0


def test_a_hostile_retry_after_does_not_park_the_retries() -> None:
    clock = FakeClock()
    result = retry_call(failing(3, unavailable(retry_after=A_YEAR)), clock=clock,
                        sleep=clock.sleep, rng=lambda: 0.0, retry_after_max=2.0)
    assert result == "ok"
    assert clock.sleeps == [2.0, 2.0, 2.0]


def test_without_jitter_the_waits_are_consul_templates_sequence() -> None:
    clock = FakeClock()
    retry_call(failing(12, unavailable()), clock=clock, sleep=clock.sleep,
               min_backoff=0.25, max_backoff=60.0, jitter=False, rng=lambda: 0.0)
    assert clock.sleeps == [0.25, 0.5, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60]
    assert sum(clock.sleeps) == 303.75  # 12 retries: Vault Agent gives up after ~5 minutes


def test_max_attempts_raises_the_last_error_unchanged() -> None:
    clock = FakeClock()
    missing = SecretNotFoundError("secret 's4e/data/new' not found", status=404,
                                  path="s4e/data/new")
    calls = {"n": 0}

    def fn() -> str:
        calls["n"] += 1
        raise missing

    with pytest.raises(SecretNotFoundError) as caught:
        retry_call(fn, clock=clock, sleep=clock.sleep, max_attempts=3, jitter=False,
                   min_backoff=0.25, max_backoff=60.0, retry_if=retry_read_if)
    assert caught.value is missing
    assert calls["n"] == 3 and clock.sleeps == [0.25, 0.5]
    with pytest.raises(SecretNotFoundError):  # num_retries -1: one attempt, no retry
        retry_call(fn, clock=clock, sleep=clock.sleep, max_attempts=1, retry_if=retry_read_if)
    assert calls["n"] == 4 and clock.sleeps == [0.25, 0.5]


def test_the_deadline_ends_retries_before_max_attempts() -> None:
    clock = FakeClock()
    with pytest.raises(DeadlineExceededError):
        retry_call(failing(100, unavailable()), clock=clock, sleep=clock.sleep,
                   deadline=clock.now + 3.0, max_attempts=50, jitter=False,
                   min_backoff=0.25, max_backoff=60.0)
    assert sum(clock.sleeps) == pytest.approx(3.0)


def test_a_missing_secret_is_worth_waiting_for_a_denied_one_is_not() -> None:
    assert retry_read_if(SecretNotFoundError("missing", status=404))
    assert retry_read_if(unavailable())
    assert not retry_read_if(PermissionDeniedError("denied", status=403))
    with pytest.raises(PermissionDeniedError):
        retry_call(failing(1, PermissionDeniedError("denied", status=403)),
                   retry_if=retry_read_if, sleep=lambda s: None)
