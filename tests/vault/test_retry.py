"""The retry layer with a fake clock: no test here sleeps."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from s4e_secret_agent.errors import (
    AuthError,
    DeadlineExceededError,
    PermissionDeniedError,
    VaultUnavailableError,
)
from s4e_secret_agent.runtime.leases import backoff_cap
from s4e_secret_agent.runtime.retry import RetryEvent, next_wait, retry_call


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
